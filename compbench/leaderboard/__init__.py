"""The leaderboard: a store of accepted entries, the paper's tables, a static page, and submissions.

- :func:`load_store` / :func:`init_store`: the store (``leaderboard/`` in this repository) and its pinned release;
- :func:`submit`: validate a results directory without trusting it (scores recomputed from its predictions) and
  add it as an entry;
- :func:`build_leaderboard`: the tables (Markdown, CSV, LaTeX), the page and the Pareto plots, in one directory;
- :func:`paper_reference`: the paper's reported numbers, a reference set never mixed with entries.

Nothing here imports torch. docs/leaderboard.md describes the store, the table rules and what "tied" means.
"""

from __future__ import annotations

import importlib
from typing import Any

_PUBLIC = {
    "load_store": "compbench.leaderboard.store",
    "init_store": "compbench.leaderboard.store",
    "EntryMetadata": "compbench.leaderboard.store",
    "StoreConfig": "compbench.leaderboard.store",
    "submit": "compbench.leaderboard.submit",
    "build_leaderboard": "compbench.leaderboard.site",
    "paper_reference": "compbench.leaderboard.paper",
    "paper_tables": "compbench.leaderboard.layouts",
    "group_tables": "compbench.leaderboard.layouts",
    "groups_of": "compbench.leaderboard.layouts",
}


def __getattr__(name: str) -> Any:
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module 'compbench.leaderboard' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


__all__ = list(_PUBLIC)
