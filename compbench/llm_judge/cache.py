"""A persistent cache of the judge's answers: one SQLite file, WAL mode, one writer, one commit per answer.

Only answers the server gave are stored (parseable or not: at temperature 0 the same request gets the same
answer); requests that failed are not, so a rerun asks them again. Keys are :attr:`JudgeRequest.key`. The file
holds no API key and no endpoint.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime, timezone
from pathlib import Path

from compbench.errors import ConfigError
from compbench.fileio import cache_root

CACHE_FILE = "judge/answers.sqlite3"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS answers (
    key TEXT PRIMARY KEY,
    model TEXT NOT NULL,
    prompt_version TEXT NOT NULL,
    answer TEXT NOT NULL,
    created TEXT NOT NULL
)
"""


def default_cache_path(cache_dir: str | Path | None = None) -> Path:
    return (Path(cache_dir) if cache_dir is not None else cache_root()) / CACHE_FILE


class AnswerCache:
    """Read and write answers by request key. Use it from one thread (the one that owns the connection)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, timeout=30.0)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(_SCHEMA)
            self._db.commit()
        except (OSError, sqlite3.Error) as exc:
            raise ConfigError(f"cannot open the judge cache ({exc})", self.path) from None

    def get_many(self, keys: list[str]) -> dict[str, str]:
        """The cached answers among ``keys``."""
        found: dict[str, str] = {}
        unique = list(dict.fromkeys(keys))
        for start in range(0, len(unique), 500):
            chunk = unique[start:start + 500]
            rows = self._db.execute(f"SELECT key, answer FROM answers WHERE key IN ({','.join('?' * len(chunk))})",
                                    chunk)
            found.update(rows)
        return found

    def put(self, key: str, model: str, prompt_version: str, answer: str) -> None:
        """Store one answer and commit at once, so a killed run loses none that arrived."""
        self._db.execute("INSERT OR REPLACE INTO answers VALUES (?, ?, ?, ?, ?)",
                         (key, model, prompt_version, answer, datetime.now(timezone.utc).isoformat()))
        self._db.commit()

    def __len__(self) -> int:
        return self._db.execute("SELECT COUNT(*) FROM answers").fetchone()[0]

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> AnswerCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
