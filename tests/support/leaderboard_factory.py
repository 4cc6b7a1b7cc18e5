"""Results directories with known scores, made by the real scorer, for leaderboard tests.

Every example's reference is four words of its own; a prediction is either the reference itself (every ROUGE
F-measure, and so weighted ROUGE, is exactly 1) or a word that appears in no reference (exactly 0). A sub-task
where ``k`` of its ``n`` examples are predicted right therefore scores exactly ``100 * k / n`` on every metric,
and family and model averages are known by construction.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from pathlib import Path

from compbench import __version__
from compbench.leaderboard.store import (
    EXAMPLES_NAME,
    METADATA_NAME,
    PREDICTIONS_NAME,
    RESULTS_NAME,
    architecture_of,
)
from compbench.schemas import Efficiency
from compbench.scoring import score
from compbench.tasks import MAIN_SUBTASKS, REGISTRY
from tests.support.release_factory import row, write_jsonl, write_release

N_EXAMPLES = 20  # at least compbench.metrics.bootstrap.MIN_N_FOR_INTERVAL, so that intervals and ties exist
BLOCK = 4  # the pattern of right and wrong examples repeats every BLOCK examples: scores are 25 * k percent
THREE_WAY = tuple(t.id for t in REGISTRY.values() if t.family == "sum+tone+tr")
OOD = tuple(t.id for t in REGISTRY.values() if t.kind == "ood")
ALL_SUBTASKS = (*MAIN_SUBTASKS, *THREE_WAY, *OOD)
WRONG = "zzzz"


def reference(subtask: str, i: int) -> str:
    stem = subtask.replace("+", "").replace("-", "")
    return f"{stem}w{i}a {stem}w{i}b {stem}w{i}c {stem}w{i}d"


def make_release(root: Path, subtasks: Iterable[str] = ALL_SUBTASKS, n: int = N_EXAMPLES) -> tuple[Path, list[dict]]:
    rows = [row(s, f"src{i}", reference(s, i)) for s in subtasks for i in range(n)]
    return write_release(root, rows), rows


def predictions(rows: list[dict], right: Callable[[str], int], subtasks: Iterable[str] | None = None) -> list[dict]:
    """For each sub-task (all, or ``subtasks``): in every block of :data:`BLOCK` examples, the first
    ``right(subtask)`` right and the rest wrong."""
    wanted = set(subtasks) if subtasks is not None else None
    out = []
    for r in rows:
        if wanted is not None and r["subtask"] not in wanted:
            continue
        i = int(r["source_id"].removeprefix("src"))
        out.append({"id": r["id"], "prediction": r["reference"] if i % BLOCK < right(r["subtask"]) else WRONG})
    return out


def metadata(method: str, base_model: str, **fields) -> dict:
    doc = {"method": method, "base_model": base_model, "authors": ["Ada Tester"], "link": "https://example.org/run",
           "date": "2025-01-02", "compbench_version": __version__, "description": "A test entry."}
    doc.update(fields)
    return doc


def write_results_dir(out: Path, release: Path, rows: list[dict], method: str, base_model: str,
                      right: Callable[[str], int], subtasks: Iterable[str] | None = None, bootstrap: int = 200,
                      **meta) -> Path:
    """What an evaluation run writes (predictions, results, per-example scores) plus ``metadata.json``."""
    out.mkdir(parents=True, exist_ok=True)
    subtasks = None if subtasks is None else sorted(set(subtasks))
    write_jsonl(out / PREDICTIONS_NAME, predictions(rows, right, subtasks))
    # A base model compbench does not know gets a declared efficiency (no lookup of its config).
    declared = None if architecture_of(base_model) else Efficiency(inference_passes=1, additional_params=7,
                                                                   additional_bytes=14)
    report = score(out / PREDICTIONS_NAME, data=str(release), method=method, base_model=base_model,
                   bootstrap=bootstrap, workers=1, efficiency=declared, subtasks=subtasks)
    report.write(out=out / RESULTS_NAME)
    assert (out / EXAMPLES_NAME).is_file()
    (out / METADATA_NAME).write_text(json.dumps(metadata(method, base_model, **meta), indent=2) + "\n")
    return out


def snapshot(root: Path) -> dict[str, object]:
    """Every path under ``root`` with its bytes (files), target (links) or None (directories)."""
    out: dict[str, object] = {}
    if not root.exists():
        return out
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if path.is_symlink():
            out[rel] = ("link", str(path.readlink()))
        elif path.is_dir():
            out[rel] = None
        else:
            out[rel] = path.read_bytes()
    return out
