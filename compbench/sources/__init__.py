"""Source loaders: each public dataset the benchmark is built from, read from the Hub or from its original files.

A loader is one module with ``NAME``, ``LOCAL_FILES`` (split -> original file name inside ``DIR/<NAME>/``),
``load_local(sources_dir, split, **options)`` and ``load_hub(location, split, **options)``, both returning
:class:`~compbench.sources.base.Example` lists in source order. Register a new source in ``LOADERS``.
"""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

from compbench.errors import ConfigError
from compbench.sources import dialogsum, persona_chat, samsum, sound_natural, ted
from compbench.sources.base import Example, HubLocation

LOADERS: dict[str, ModuleType] = {module.NAME: module for module in (dialogsum, persona_chat, ted, sound_natural, samsum)}


def get_loader(name: str) -> ModuleType:
    try:
        return LOADERS[name]
    except KeyError:
        raise ConfigError(f"unknown source {name!r} (known: {', '.join(LOADERS)})") from None


def local_path(name: str, sources_dir: str | Path, split: str) -> Path:
    """Where ``--sources-dir`` must hold the original file of this source split."""
    return Path(sources_dir) / name / get_loader(name).LOCAL_FILES[split]


def load_examples(name: str, split: str, *, sources_dir: str | Path | None = None,
                  location: HubLocation | None = None, **options: str) -> list[Example]:
    """The examples of one source split: from ``sources_dir`` when given, else from the Hub ``location``."""
    loader = get_loader(name)
    if sources_dir is not None:
        return loader.load_local(sources_dir, split, **options)
    if location is None:
        raise ConfigError(f"source {name!r}: no Hub location and no --sources-dir")
    return loader.load_hub(location, split, **options)


__all__ = ["Example", "HubLocation", "LOADERS", "get_loader", "load_examples", "local_path"]
