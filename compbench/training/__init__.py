"""Training on built splits: single-task and joint-expert LoRAs, Learnable Calibration, merge coefficients.

Every trainer reads :class:`~compbench.training.data.Example` rows, formats them with the base model's chat
template (loss on response tokens only, :mod:`compbench.training.formatting`) and runs the shared, resumable
loop of :mod:`compbench.training.loop`. :mod:`compbench.training.bundles` writes the results as adapter bundles.
"""
