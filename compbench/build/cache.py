"""The generation cache: every output a generator produced, keyed by ``generation.base.cache_key``.

One SQLite file. A key is the hash of the generator's identity (id, revision, settings) and the input text, so a
cache can be shared by builds and releases safely. Failures (``None``) are cached too: the generators are
deterministic, so asking again would fail again. Each batch is committed as soon as it is generated, which is what
lets a killed build resume where it stopped.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from pathlib import Path

from compbench.fileio import cache_root

CACHE_FILE = "generations.sqlite"
_QUERY_CHUNK = 500


def default_cache_dir() -> Path:
    """Where generations are cached by default: :func:`compbench.fileio.cache_root`."""
    return cache_root()


class GenerationCache:
    """A persistent mapping ``key -> output | None`` (None = a recorded generation failure)."""

    def __init__(self, directory: str | Path):
        self.path = Path(directory) / CACHE_FILE
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path)
        self._db.execute("CREATE TABLE IF NOT EXISTS generations (key TEXT PRIMARY KEY, output TEXT)")
        self._db.commit()

    def lookup(self, keys: Sequence[str]) -> dict[str, str | None]:
        """The cached outputs among ``keys`` (absent keys are left out; failures map to None)."""
        found: dict[str, str | None] = {}
        unique = list(dict.fromkeys(keys))
        for start in range(0, len(unique), _QUERY_CHUNK):
            chunk = unique[start:start + _QUERY_CHUNK]
            marks = ",".join("?" * len(chunk))
            for key, output in self._db.execute(f"SELECT key, output FROM generations WHERE key IN ({marks})", chunk):
                found[key] = output
        return found

    def store(self, items: Iterable[tuple[str, str | None]]) -> None:
        """Record outputs and commit at once, so that they survive the build being killed right after."""
        with self._db:
            self._db.executemany("INSERT OR REPLACE INTO generations (key, output) VALUES (?, ?)", list(items))

    def __len__(self) -> int:
        return self._db.execute("SELECT COUNT(*) FROM generations").fetchone()[0]

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> GenerationCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
