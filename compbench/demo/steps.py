"""Resumable demo steps: each writes one directory under the demo's ``--out``, whole or not at all, and is
skipped on a later run when that directory is present with the same fingerprint.

A step's fingerprint hashes everything that decides its output: its settings, the fingerprints of the steps it
reads, the compbench version. The step builds its directory under ``OUT/.demo/staging/``, which is renamed into
place when it is complete; only then is its record (``OUT/.demo/steps/<name>.json``, holding the fingerprint)
written. A directory without its record, or with another fingerprint, is rebuilt.

Independent steps run in worker processes (:class:`Workers`, one torch thread each): every step is seeded and
single-threaded, so where it runs does not change what it writes.
"""

from __future__ import annotations

import hashlib
import json
import os
import queue
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
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
class Job:
    """A step to run: ``make(directory)`` fills an empty directory and may return a small JSON-ready report.

    ``make`` must be picklable (a module-level function or a ``functools.partial`` of one) to run in a worker.
    """

    name: str  # the directory, relative to the demo's out
    identity: dict[str, Any]
    make: Callable[[Path], dict[str, Any] | None]
    label: str = ""
    report: Callable[[Done], str] | None = field(default=None, compare=False)


@dataclass(frozen=True)
class Done:
    """A finished step: its directory, fingerprint, whether this run reused it, what it reported."""

    path: Path
    fingerprint: str
    reused: bool
    seconds: float
    info: dict[str, Any]


def record_path(out: Path, name: str) -> Path:
    return out / STATE_DIR / "steps" / f"{name}.json"


def finished(out: Path, job: Job) -> Done | None:
    """The step's earlier result, if its directory and record are there with this fingerprint."""
    path, print_ = out / job.name, fingerprint(job.identity)
    record = record_path(out, job.name)
    if not path.is_dir() or not record.is_file():
        return None
    document = read_json_strict(record)
    if not isinstance(document, dict) or document.get("fingerprint") != print_:
        return None
    return Done(path, print_, True, 0.0, document.get("info") or {})


def execute(out: Path, job: Job) -> Done:
    """Make the step in a staging directory, rename it into place, then write its record."""
    target = out / job.name
    if ".." in Path(job.name).parts or Path(job.name).is_absolute():
        raise ConfigError(f"step {job.name!r} would leave the demo directory")
    staging = out / STATE_DIR / "staging" / job.name
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir(parents=True)
    record_path(out, job.name).unlink(missing_ok=True)
    start = time.perf_counter()
    info = job.make(staging) or {}
    seconds = time.perf_counter() - start
    if target.exists():
        shutil.rmtree(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    os.replace(staging, target)
    print_ = fingerprint(job.identity)
    write_json(record_path(out, job.name), {"format": RECORD_FORMAT, "fingerprint": print_,
                                             "identity": job.identity, "info": info, "seconds": round(seconds, 3)})
    return Done(target, print_, False, seconds, info)


def _worker_setup() -> None:
    import warnings

    import torch
    from transformers.utils import logging as transformers_logging

    torch.set_num_threads(1)
    transformers_logging.disable_progress_bar()
    warnings.filterwarnings("ignore", category=FutureWarning)


def _run_in_worker(out: Path, job: Job) -> Done:
    return execute(out, job)


class Workers:
    """Runs jobs, ``count`` at a time in worker processes (spawned once, on first use), or inline with one.

    A failing job, or an interrupted run, terminates the workers at once (what they were making stays in
    staging, and is redone next time)."""

    def __init__(self, count: int):
        self.count = max(1, count)
        self._pool = None

    def run(self, out: Path, jobs: Sequence[Job], on_done: Callable[[Job, Done], None]) -> list[Done]:
        """Every job's result, in job order; finished ones are reused without running."""
        results: dict[int, Done] = {}
        todo = []
        for i, job in enumerate(jobs):
            found = finished(out, job)
            if found is not None:
                results[i] = found
                on_done(job, found)
            else:
                todo.append(i)
        if self.count == 1 or len(todo) < 2:
            for i in todo:
                results[i] = execute(out, jobs[i])
                on_done(jobs[i], results[i])
            return [results[i] for i in range(len(jobs))]
        finished_jobs: queue.SimpleQueue = queue.SimpleQueue()
        pool = self._start()
        try:
            for i in todo:
                pool.apply_async(_run_in_worker, (out, _picklable(jobs[i])),
                                 callback=lambda done, i=i: finished_jobs.put((i, done, None)),
                                 error_callback=lambda error, i=i: finished_jobs.put((i, None, error)))
            for _ in todo:
                i, done, error = finished_jobs.get()
                if error is not None:
                    raise error
                results[i] = done
                on_done(jobs[i], done)
        except BaseException:
            self.terminate()
            raise
        return [results[i] for i in range(len(jobs))]

    def _start(self):
        if self._pool is None:
            import multiprocessing

            self._pool = multiprocessing.get_context("spawn").Pool(self.count, initializer=_worker_setup)
        return self._pool

    def terminate(self) -> None:
        if self._pool is not None:
            self._pool.terminate()
            self._pool.join()
            self._pool = None

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
            self._pool.join()
            self._pool = None


def _picklable(job: Job) -> Job:
    """The job without its report formatter (which stays in the main process)."""
    return Job(job.name, job.identity, job.make, job.label)
