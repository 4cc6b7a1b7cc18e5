"""LoRA adapters: PEFT-format I/O, merges, calibration."""
