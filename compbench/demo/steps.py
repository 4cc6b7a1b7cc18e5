"""Resumable demo steps: each writes one directory under the demo's ``--out``, whole or not at all, and is
skipped on a later run when that directory is present with the same fingerprint.

A step's fingerprint hashes everything that decides its output: its settings, the fingerprints of the steps it
reads, the compbench version. The step builds its directory under ``OUT/.demo/staging/``, which is renamed into
place when it is complete; only then is its record (``OUT/.demo/steps/<name>.json``, holding the fingerprint)
written. A directory without its record, or with another fingerprint, is rebuilt.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from compbench import __version__
from compbench.errors import ConfigError
from compbench.fileio import read_json_strict, write_json

STATE_DIR = ".demo"
RECORD_FORMAT = "compbench-demo-step/1"


def fingerprint(identity: dict[str, Any]) -> str:
    """The sha256 of a step's identity (canonical JSON, with the compbench version)."""
    text = json.dumps({"compbench": __version__, **identity}, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class Done:
    """A finished step: its directory, fingerprint, whether this run reused it, what it reported."""

    path: Path
    fingerprint: str
    reused: bool
    seconds: float
    info: dict[str, Any]


class Steps:
    """The steps of one demo directory."""

    def __init__(self, out: Path):
        self.out = out
        self.state = out / STATE_DIR

    def _record_path(self, name: str) -> Path:
        return self.state / "steps" / f"{name}.json"

    def done(self, name: str, identity: dict[str, Any]) -> Done | None:
        """The step's earlier result, if its directory and record are there with this fingerprint."""
        path, print_ = self.out / name, fingerprint(identity)
        record_path = self._record_path(name)
        if not path.is_dir() or not record_path.is_file():
            return None
        record = read_json_strict(record_path)
        if not isinstance(record, dict) or record.get("fingerprint") != print_:
            return None
        return Done(path, print_, True, 0.0, record.get("info") or {})

    def run(self, name: str, identity: dict[str, Any], make: Callable[[Path], dict[str, Any] | None]) -> Done:
        """Reuse the step ``name`` (a path relative to ``out``) or make it: ``make(directory)`` fills an empty
        directory and may return a small JSON-ready report, kept in the step's record."""
        found = self.done(name, identity)
        if found is not None:
            return found
        target = self.out / name
        if not target.resolve().is_relative_to(self.out.resolve()) or ".." in Path(name).parts:
            raise ConfigError(f"step {name!r} would leave the demo directory")
        staging = self.state / "staging" / name
        if staging.exists():
            shutil.rmtree(staging)
        staging.mkdir(parents=True)
        self._record_path(name).unlink(missing_ok=True)
        start = time.perf_counter()
        info = make(staging) or {}
        seconds = time.perf_counter() - start
        if target.exists():
            shutil.rmtree(target)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(staging, target)
        print_ = fingerprint(identity)
        write_json(self._record_path(name), {"format": RECORD_FORMAT, "fingerprint": print_, "identity": identity,
                                              "info": info, "seconds": round(seconds, 3)})
        return Done(target, print_, False, seconds, info)
