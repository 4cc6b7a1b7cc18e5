"""Does the demo's Table 2 show the paper's ordering? Read off the leaderboard's ``table2.csv``.

The paper reports that on compositional tasks multi-step LoRA usage, the joint-expert LoRA and Learnable
Calibration (LC, LC++) score above the single adapters (main-task, auxiliary-task LoRA) and the plain merges
(linear, concat, TIES, DARE, Slerp). Both groups are read off the method registry: the candidates are the
``inefficient`` and ``ours`` blocks, the comparators the single-LoRA baselines and the merges that learn nothing.
Table 4's ablation: each calibration on top of the single-task LoRAs against the same calibration without them
(the registry's ``ablation`` block and their partners). Point estimates are compared, per column.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from compbench.methods import METHODS, MethodSpec


def is_candidate(spec: MethodSpec) -> bool:
    return spec.block in ("inefficient", "ours")


def is_comparator(spec: MethodSpec) -> bool:
    return (spec.block == "baselines" and spec.combine == "adapter") or (spec.block == "merges" and not spec.learned)


@dataclass(frozen=True)
class Ordering:
    """One candidate in one column: its score, the best comparator and that comparator's score."""

    column: str
    method: str
    score: float
    best_label: str
    best_score: float

    @property
    def holds(self) -> bool:
        return self.score > self.best_score


def read_table2(path: Path) -> tuple[list[str], dict[str, dict[str, float]]]:
    """The columns of ``table2.csv`` and each method label's scores in them (empty cells left out)."""
    with open(path, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    fields = list(rows[0]) if rows else []
    columns = [f for f in fields if f not in ("block", "Method") and not f.endswith((" CI low", " CI high", " mark"))]
    scores = {row["Method"]: {c: float(row[c]) for c in columns if row.get(c)} for row in rows}
    return columns, scores


def orderings(path: Path) -> list[Ordering]:
    """Every candidate method against the best comparator, per column of ``path`` (a ``table2.csv``)."""
    columns, scores = read_table2(path)
    found: list[Ordering] = []
    for column in columns:
        comparators = [(scores[s.label][column], s.label) for s in METHODS.values()
                       if is_comparator(s) and column in scores.get(s.label, {})]
        if not comparators:
            continue
        best_score, best_label = max(comparators)
        found += [Ordering(column, s.label, scores[s.label][column], best_label, best_score)
                  for s in METHODS.values() if is_candidate(s) and column in scores.get(s.label, {})]
    return found


def ablation_orderings(path: Path) -> list[Ordering]:
    """Each calibration with LoRAs against the same without them, per column of ``path`` (a ``table4.csv``,
    whose rows carry the methods' short labels)."""
    columns, scores = read_table2(path)
    found: list[Ordering] = []
    for without in (s for s in METHODS.values() if s.block == "ablation"):
        (spec,) = [s for s in METHODS.values() if s.block != "ablation" and s.calibration == without.calibration
                   and s.shared == without.shared and s.combine == "calibration"]
        found += [Ordering(c, spec.short, scores[spec.short][c], without.short, scores[without.short][c])
                  for c in columns if c in scores.get(spec.short, {}) and c in scores.get(without.short, {})]
    return found


def format_orderings(found: list[Ordering]) -> str:
    """A small table: each candidate's margin over the best single adapter or plain merge, per column."""
    columns = list(dict.fromkeys(o.column for o in found))
    methods = list(dict.fromkeys(o.method for o in found))
    cell = {(o.method, o.column): f"{o.score - o.best_score:+.2f} {'above' if o.holds else 'NOT above'}"
            for o in found}
    width = max(map(len, methods)) + 2
    lines = ["Paper's ordering: multi-step, joint-expert, LC and LC++ above every single adapter and plain merge",
             "(margin over the best of them, point estimates):",
             f"{'':<{width}}" + "".join(f"{c:>24}" for c in columns)]
    lines += [f"{m:<{width}}" + "".join(f"{cell.get((m, c), '-'):>24}" for c in columns) for m in methods]
    held = sum(o.holds for o in found)
    lines.append(f"Holds in {held} of {len(found)} cells.")
    return "\n".join(lines)


def format_ablation(found: list[Ordering]) -> str:
    """One line: in how many cells calibration on top of the LoRAs beats the same calibration without them."""
    held = [o for o in found if o.holds]
    line = (f"Table 4: calibration on top of the LoRAs above the same calibration without them in {len(held)} of "
            f"{len(found)} cells")
    missed = [f"{o.method} in {o.column} ({o.score - o.best_score:+.2f})" for o in found if not o.holds]
    return line + (f"; not: {', '.join(missed)}." if missed else ".")
