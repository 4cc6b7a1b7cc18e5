"""Optional extras: a command that needs one that is not installed says which one to install.

The core install (``pip install compbench``) scores, compares, lists tasks and methods, accounts efficiency for
named architectures and builds the leaderboard, without torch. Extras bring the rest; see ``pyproject.toml``.
"""

from __future__ import annotations

import importlib.util

from compbench.errors import ConfigError

#: extra -> the importable modules it provides (checked in this order).
EXTRAS: dict[str, tuple[str, ...]] = {
    "build": ("torch", "transformers", "peft", "safetensors", "sentencepiece"),
    "train": ("torch", "transformers", "peft", "safetensors", "nevergrad"),
    "evaluate": ("torch", "transformers", "peft", "safetensors"),
    "ctranslate2": ("ctranslate2",),
    "judge": ("openai",),
    "ray": ("ray",),
    "vllm": ("vllm",),
}


def missing_modules(extra: str) -> list[str]:
    return [name for name in EXTRAS[extra] if importlib.util.find_spec(name) is None]


def require_extra(extra: str, what: str) -> None:
    """Raise a :class:`ConfigError` naming the extra to install when any of its modules is missing."""
    missing = missing_modules(extra)
    if missing:
        raise ConfigError(f"{what} needs the [{extra}] extra ({', '.join(missing)} not installed): "
                          f"pip install 'compbench[{extra}]'")
