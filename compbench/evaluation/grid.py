"""``compbench run-grid GRID.yaml``: bundles x base models x sub-tasks, every result written, finished ones skipped.

The grid file (YAML, checked strictly; relative paths are relative to the file)::

    data: ./release                  # release directory or Hub dataset id (required)
    out: ./grid-runs                 # one run directory per model and bundle: OUT/<model>/<label> (required)
    split: test
    subtasks: [sum+tr, reply+tone]   # ids or families; default: what each bundle serves
    limit: null                      # first N rows per sub-task
    batch_size: 16
    max_new_tokens: 256
    dtype: float32
    device: cpu
    seed: 0
    bootstrap: 1000
    models:
      - name: llama-3.2-1b           # the label of the model in paths and tables
        base_model: /models/Llama-3.2-1B-Instruct     # local directory or Hub id
        revision: null
        bundles:
          - zero-shot                # an adapter-free method by id (zero-shot, icl) ...
          - icl
          - bundles/llama/main-sum   # ... or a bundle directory (label: its directory name)
          - {bundle: bundles/llama/lc-sum-tr-es, label: lc-es}

Each (model, bundle) is one :func:`compbench.evaluation.runner.evaluate` run over the grid's sub-tasks that the
bundle serves. A run whose directory already holds complete results of the same evaluation is skipped without
loading anything; a killed run resumes from the generation cache. :func:`table2` lays out what the grid has.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel as Schema
from pydantic import ConfigDict, Field, ValidationError, model_validator

from compbench.errors import ConfigError, InputError
from compbench.fileio import read_text_strict
from compbench.methods import METHODS, get_method
from compbench.schemas import BUNDLE_MANIFEST_NAME, Results
from compbench.tasks import MAIN_FAMILIES, REGISTRY, tasks_in_family


class _Strict(Schema):
    model_config = ConfigDict(extra="forbid")


class GridBundle(_Strict):
    bundle: str | None = None
    method: str | None = None
    label: str | None = None

    @model_validator(mode="after")
    def _one_of(self) -> GridBundle:
        if (self.bundle is None) == (self.method is None):
            raise ValueError("give exactly one of 'bundle' (a directory) or 'method' (zero-shot, icl)")
        return self


class GridModel(_Strict):
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.+-]*$")
    base_model: str
    revision: str | None = None
    bundles: list[str | GridBundle]


class Grid(_Strict):
    data: str
    out: str
    split: str = "test"
    subtasks: list[str] = Field(default_factory=list)
    limit: int | None = Field(default=None, ge=1)
    batch_size: int = Field(default=16, ge=1)
    max_new_tokens: int = Field(default=256, ge=1)
    dtype: str = "float32"
    device: str = "cpu"
    seed: int = 0
    bootstrap: int = Field(default=1000, ge=0)
    models: list[GridModel] = Field(min_length=1)


@dataclass(frozen=True)
class Cell:
    """One evaluation of the grid: a model, a bundle (or method), where it writes."""

    model: str
    base_model: str
    revision: str | None
    bundle: Path | None
    method: str | None
    label: str
    out: Path


@dataclass
class GridRun:
    cell: Cell
    status: str  # "ran", "finished before", "serves none of the grid's sub-tasks"
    results: Results | None = None


@dataclass
class GridReport:
    grid: Grid
    runs: list[GridRun] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"runs": [{"model": r.cell.model, "label": r.cell.label, "out": str(r.cell.out), "status": r.status,
                          "method": r.results.method if r.results else None} for r in self.runs],
                "table": table2([r.results for r in self.runs if r.results],
                                [m.name for m in self.grid.models], [r.cell.model for r in self.runs if r.results])}


def read_grid(path: str | Path) -> tuple[Grid, list[Cell]]:
    """Parse and check a grid file; relative paths are taken relative to it."""
    path = Path(path)
    try:
        document = yaml.safe_load(read_text_strict(path))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise InputError(f"invalid YAML ({getattr(exc, 'problem', None) or exc})", path,
                         mark.line + 1 if mark else None) from None
    try:
        grid = Grid.model_validate(document)
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(part) for part in error["loc"]) or "(top level)"
        raise InputError(f"invalid grid at {where}: {error['msg']}", path) from None
    root = path.resolve().parent
    grid = grid.model_copy(update={"data": _local(root, grid.data), "out": str(root / grid.out)})
    cells = []
    for model in grid.models:
        labels: set[str] = set()
        for entry in model.bundles:
            if isinstance(entry, str):
                entry = GridBundle(method=entry) if entry in METHODS else GridBundle(bundle=entry)
            if entry.method is not None:
                spec = get_method(entry.method)
                if spec.needs_adapters or spec.learned:
                    raise InputError(f"model {model.name}: method {entry.method!r} needs a bundle directory", path)
            bundle = Path(_local(root, entry.bundle)) if entry.bundle is not None else None
            if bundle is not None and not (bundle / BUNDLE_MANIFEST_NAME).is_file():
                raise InputError(f"model {model.name}: no adapter bundle at {entry.bundle} (no {BUNDLE_MANIFEST_NAME})",
                                 path)
            label = entry.label or (bundle.name if bundle is not None else entry.method)
            if label in labels:
                raise InputError(f"model {model.name}: two bundles are labelled {label!r}; give one a 'label'", path)
            labels.add(label)
            cells.append(Cell(model=model.name, base_model=_local(root, model.base_model), revision=model.revision,
                              bundle=bundle, method=entry.method, label=label, out=Path(grid.out) / model.name / label))
    return grid, cells


def _local(root: Path, value: str) -> str:
    """``value`` relative to the grid file when that path exists there (a directory), else as given (a Hub id)."""
    candidate = root / value
    return str(candidate) if not Path(value).is_absolute() and candidate.exists() else value


def run_grid(path: str | Path, *, progress: bool = True, engine: Any = None, engine_options: dict[str, Any] | None = None,
             cache_dir: str | Path | None = None, echo=None) -> GridReport:
    """Run every cell of the grid that is not finished yet; returns what ran and every result the grid has.

    ``engine`` is an :class:`~compbench.evaluation.engine.Engine`, or a name (``local``, ``vllm``, ``ray``) made
    with ``engine_options`` on the grid's device and batch size and closed at the end; default: in process.
    """
    from compbench.evaluation.engine import close_engine, evaluation_engine
    from compbench.evaluation.runner import prepare

    grid, cells = read_grid(path)
    # Every cell is checked (bundle, sub-tasks, base model, shapes) before the first one runs and before an
    # engine (a Ray instance, a vLLM engine) starts.
    prepared = [(cell, prepare(cell.bundle, data=grid.data, method=cell.method, base_model=cell.base_model,
                               revision=cell.revision, subtasks=grid.subtasks or None, split=grid.split,
                               out=cell.out, limit=grid.limit, batch_size=grid.batch_size,
                               max_new_tokens=grid.max_new_tokens, device=grid.device, dtype=grid.dtype,
                               seed=grid.seed, bootstrap=grid.bootstrap, check_device=False,
                               only_servable=True)) for cell in cells]
    if engine is not None and not isinstance(engine, str):
        if engine_options:
            raise ConfigError("engine_options go with an engine name (local, vllm, ray)")
        return _run_cells(path, grid, prepared, engine, progress, cache_dir, echo)
    made = evaluation_engine(engine or "local", device=grid.device, batch_size=grid.batch_size, cache_dir=cache_dir,
                             **(engine_options or {}))
    try:
        return _run_cells(path, grid, prepared, made, progress, cache_dir, echo)
    finally:
        close_engine(made)


def _run_cells(path: str | Path, grid: Grid, prepared_cells: list, engine: Any, progress: bool,
               cache_dir: str | Path | None, echo) -> GridReport:
    from compbench.evaluation.runner import run_prepared

    report = GridReport(grid)
    to_run = [p for _, p in prepared_cells if p.subtasks and not p.finished]
    if to_run and callable(getattr(engine, "prepare", None)):
        # every plan of every cell left to run, at once: a vLLM engine learns the largest LoRA rank it must serve
        engine.prepare([plan for p in to_run for plan in p.plans()])
    for cell, prepared in prepared_cells:
        if not prepared.subtasks:
            report.runs.append(GridRun(cell, "serves none of the grid's sub-tasks"))
        elif prepared.finished:
            report.runs.append(GridRun(cell, "finished before", _read_results(cell.out)))
        else:
            if echo:
                echo(f"{cell.model} / {cell.label}: {len(prepared.subtasks)} sub-task(s)")
            evaluation = run_prepared(prepared, engine=engine, cache_dir=cache_dir, progress=progress,
                                      command=f"compbench run-grid {path}")
            report.runs.append(GridRun(cell, "ran", evaluation.results))
        if echo:
            echo(f"{cell.model} / {cell.label}: {report.runs[-1].status} ({cell.out})")
    return report


def _read_results(out: Path) -> Results:
    from compbench.evaluation.runner import RESULTS_FILE

    return Results.model_validate_json(read_text_strict(out / RESULTS_FILE))


# --------------------------------------------------------------------------------------------- Table 2
def table2(results: list[Results], models: list[str], result_models: list[str]) -> dict[str, Any]:
    """The paper's Table 2 layout of ``results``: methods (registry order) x families, main metric in percent.

    A cell averages every (base model, sub-task) result of the family, the paper's "averaged over models and
    languages or tones"; it is ``complete`` only when every model of the grid has every sub-task of the family.
    ``result_models`` names each result's model (the grid's model name).
    """
    from compbench.methods import METHODS

    values: dict[tuple[str, str], dict[tuple[str, str], float]] = {}
    families: list[str] = list(MAIN_FAMILIES)
    for result, model in zip(results, result_models, strict=True):
        for subtask, metrics in result.subtasks.items():
            family = REGISTRY[subtask].family
            if family not in families:
                families.append(family)
            values.setdefault((result.method or "?", family), {}).setdefault((model, subtask), metrics.main)
    rows = []
    for method in [m for m in METHODS if any((m, f) in values for f in families)]:
        cells = {}
        for family in families:
            found = values.get((method, family), {})
            expected = len(models) * len(tasks_in_family(family))
            cells[family] = None if not found else {
                "main": round(sum(found.values()) / len(found), 4), "n": len(found), "expected": expected,
                "complete": len(found) == expected}
        rows.append({"method": method, "label": METHODS[method].label, "block": METHODS[method].block,
                     "families": cells})
    return {"models": models, "families": families, "rows": rows}


def render_table2(table: dict[str, Any]) -> str:
    """Plain-text Table 2: one line per method, grouped by the paper's blocks; partial cells show ``(k/n)``."""
    from compbench.methods import BLOCK_TITLES
    from compbench.tasks import family_metric

    families = table["families"]
    header = ["Method", *(f"{f} ({'R-L' if family_metric(f) == 'rougeL' else 'W-R'})" for f in families)]
    lines: list[list[str]] = []
    block = None
    partial = False
    for row in table["rows"]:
        if row["block"] != block:
            block = row["block"]
            lines.append([f"-- {BLOCK_TITLES[block]}"])
        cells = []
        for family in families:
            cell = row["families"][family]
            if cell is None:
                cells.append("-")
            else:
                partial |= not cell["complete"]
                cells.append(f"{cell['main']:.2f}" + ("" if cell["complete"] else f" ({cell['n']}/{cell['expected']})"))
        lines.append([row["label"], *cells])
    widths = [max([len(header[i])] + [len(line[i]) for line in lines if len(line) > 1]) for i in range(len(header))]
    out = ["  ".join(h.ljust(w) if i == 0 else h.rjust(w) for i, (h, w) in enumerate(zip(header, widths, strict=True)))]
    for line in lines:
        if len(line) == 1:
            out.append(line[0])
        else:
            out.append("  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                                 for i, (c, w) in enumerate(zip(line, widths, strict=True))))
    models = ", ".join(table["models"])
    out.append(f"main metric in percent, averaged over base models ({models}) and each family's sub-tasks")
    if partial:
        out.append("(k/n): partial average of k of the n (base model, sub-task) results the family needs")
    return "\n".join(out)
