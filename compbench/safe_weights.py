"""The one way compbench turns a pickled PyTorch state dict into safetensors: tensors only, never arbitrary code.

``torch.load(weights_only=True)`` rebuilds tensors and plain containers and refuses every other pickled
object; the result must be a flat mapping of names to tensors. Each tensor is cloned so that none shares
storage (safetensors refuses shared tensors), and the file is written atomically.
"""

from __future__ import annotations

from pathlib import Path

from compbench.errors import InputError
from compbench.fileio import atomic_path


def pickled_state_to_safetensors(source: str | Path, target: str | Path) -> Path:
    """Read ``source`` (a pickled state dict) weights-only and write its tensors to ``target``."""
    import torch
    from safetensors.torch import save_file

    source, target = Path(source), Path(target)
    if not source.is_file():
        raise InputError("no pickled weights to convert", source)
    try:
        state = torch.load(source, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 -- any unpickling failure is the user's file, reported plainly
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(f"refusing to load: not a weights-only checkpoint ({reason})", source) from None
    if not isinstance(state, dict) or not all(isinstance(k, str) and isinstance(v, torch.Tensor)
                                              for k, v in state.items()):
        raise InputError("expected a flat mapping of tensor names to tensors (a state dict)", source)
    tensors = {key: value.detach().clone().contiguous() for key, value in state.items()}
    with atomic_path(target) as tmp:
        save_file(tensors, str(tmp), metadata={"format": "pt"})
    return target
