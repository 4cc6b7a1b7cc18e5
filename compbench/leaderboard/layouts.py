"""The paper's table layouts, filled from the store's entries, from the paper's reported numbers, and as their
difference.

Entries share a table only when their release hash, split, tokenizer and multi-reference setting agree (a
:class:`Group`); every table of a group says which settings it holds and which base models it averages. Rows
follow the method registry (the paper's order and blocks); columns follow the task registry.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import cached_property

from compbench.efficiency import BYTES_PER_PARAM_16BIT, method_efficiency
from compbench.leaderboard.paper import JUDGE, PAPER_STATUS, PaperTable, paper_reference
from compbench.leaderboard.stats import Bootstrap, Score, leader_and_ties, mean_of
from compbench.leaderboard.store import Entry, SettingsKey, Store, architecture_of, model_order, model_slug
from compbench.leaderboard.table import Cell, Column, Row, Table
from compbench.methods import BLOCK_TITLES, METHODS, MethodSpec
from compbench.schemas import METRIC_LABELS
from compbench.tasks import (
    FAMILY_TITLES,
    LANGUAGES,
    MAIN_FAMILIES,
    REGISTRY,
    family_metric,
    tasks_in_family,
)

MB = 2**20
JUDGE_TITLE = "LLM-J"
OOD_TASK = next(t for t in REGISTRY.values() if t.kind == "ood")
#: The in-domain sub-task the out-of-domain set mirrors (SAMSum sum+tr-es <-> DialogSum sum+tr-es).
IN_DOMAIN_TASK = next(t for t in REGISTRY.values()
                      if t.kind == "compositional" and t.main == OOD_TASK.main and t.auxiliary == OOD_TASK.auxiliary)
THREE_WAY_FAMILY = next(t.family for t in REGISTRY.values() if t.kind == "compositional" and len(t.auxiliary) == 2)
ABLATION_BLOCKS = {"separate": "Separate parameters per compositional task", "shared": "Shared parameters"}


# ------------------------------------------------------------------------------------------- targets
@dataclass(frozen=True)
class Target:
    """What a column scores: a family (averaged over its sub-tasks) or one sub-task."""

    id: str
    span: str

    @property
    def subtasks(self) -> list[str]:
        return [self.id] if self.id in REGISTRY else [t.id for t in tasks_in_family(self.id)]

    @property
    def metric(self) -> str:
        return REGISTRY[self.id].metric if self.id in REGISTRY else family_metric(self.id)

    def main_column(self, title: str | None = None) -> Column:
        return Column(f"{self.id}:{self.metric}", title or METRIC_LABELS[self.metric], self.span, "score")

    def judge_column(self) -> Column:
        return Column(f"{self.id}:{JUDGE}", JUDGE_TITLE, self.span, "judge")


def family_target(family: str) -> Target:
    return Target(family, FAMILY_TITLES.get(family, family))


def subtask_title(subtask: str) -> str:
    task = REGISTRY[subtask]
    if task.language and task.family != "ood":
        return LANGUAGES[task.language]
    return task.tone or subtask


MAIN_TARGETS = [family_target(f) for f in MAIN_FAMILIES]
OOD_TARGETS = [Target(IN_DOMAIN_TASK.id, "In-domain (DialogSum)"), Target(OOD_TASK.id, FAMILY_TITLES["ood"])]
THREE_WAY_TARGETS = [family_target(THREE_WAY_FAMILY)]


# -------------------------------------------------------------------------------------------- groups
@dataclass
class Group:
    """Entries that may share a table (same release hash, split, tokenizer and multi-reference setting)."""

    key: SettingsKey
    entries: list[Entry]
    boot: Bootstrap = field(repr=False)

    @cached_property
    def models(self) -> list[str]:
        return model_order({e.model for e in self.entries})

    @cached_property
    def _by_method_model(self) -> dict[tuple[str, str], Entry]:
        return {(e.method, e.model): e for e in self.entries}

    def entry(self, method: str, model: str) -> Entry | None:
        return self._by_method_model.get((method, model))

    def covers(self, method: str, targets: Iterable[Target], models: list[str]) -> bool:
        """Whether some entry of ``method`` on ``models`` scored any sub-task of ``targets``."""
        wanted = {s for t in targets for s in t.subtasks}
        return any(wanted & set(e.results.subtasks) for m in models if (e := self.entry(method, m)))

    def score(self, method: str, target: Target, models: list[str]) -> Score:
        return self.boot.score([[(self.entry(method, m), s) for s in target.subtasks] for m in models])

    def judge(self, method: str, target: Target, models: list[str]) -> tuple[Cell, set[tuple[str, str]]]:
        """The mean LLM-J score over ``models`` and the judges (model, prompt version) behind it. Partial when a
        model lacks it, the family was judged on some sub-tasks only, or two judges would be mixed."""
        values, intervals, judges = [], [], set()
        for m in models:
            entry = self.entry(method, m)
            metrics = None
            if entry is not None:
                metrics = (entry.results.subtasks.get(target.id) if target.id in REGISTRY
                           else entry.results.families.get(target.id))
            judge = metrics.judge if metrics is not None else None
            complete = judge is not None and (target.id in REGISTRY or metrics.complete)
            values.append(judge.score if complete else None)
            intervals.append(judge.ci if complete else None)
            if complete:
                judges.add((judge.model, judge.prompt_version))
        score = mean_of(values)
        ci = intervals[0] if len(models) == 1 and intervals[0] is not None else None
        partial = (score.partial or len(judges) > 1) and score.value is not None
        return Cell(value=score.value, partial=partial, ci=(ci.low, ci.high) if ci else None), judges


def groups_of(store: Store) -> list[Group]:
    config = store.config
    boot = Bootstrap(config.seed if config else 0, config.bootstrap if config else 1000)
    keys: dict[SettingsKey, list[Entry]] = {}
    for entry in store.entries:
        keys.setdefault(entry.key, []).append(entry)
    return [Group(key, keys[key], boot) for key in sorted(keys, key=lambda k: k.slug)]


# ---------------------------------------------------------------------------------------- entry tables
def _score_cell(score: Score) -> Cell:
    return Cell(value=score.value, ci=score.ci, partial=score.partial and score.value is not None)


def _mark(rows: list[Row], column: Column, scores: list[Score]) -> None:
    """Bold the leader of a score column and mark what a paired bootstrap cannot separate from it."""
    best, ties = leader_and_ties(scores)
    for i in [*([best] if best is not None else []), *ties]:
        cell = rows[i].cells[column.key]
        rows[i].cells[column.key] = Cell(cell.value, cell.ci, leader=i == best, tied=i != best)


def _notes(group: Group, models: list[str], averaged: str = "languages or tones") -> list[str]:
    boot = group.boot
    return [f"Settings: {group.key.describe()}.",
            f"Averaged over base models ({', '.join(models)}) and {averaged}.",
            f"Intervals: 95% stratified bootstrap, {boot.resamples} resamples, seed {boot.seed} "
            "(the scorer's resample indices)."]


def score_table(table_id: str, title: str, group: Group, methods: list[tuple[MethodSpec, str, str]],
                targets: list[Target], models: list[str], notes: list[str], block_titles: dict[str, str],
                column_title: Callable[[Target], str | None] = lambda t: None) -> Table:
    """Rows ``(spec, label, block)`` that have data x each target's main metric (+ LLM-J where any row has it)."""
    methods = [m for m in methods if group.covers(m[0].id, targets, models)]
    rows = [Row(spec.id, label, block) for spec, label, block in methods]
    columns: list[Column] = []
    judges_used: set[tuple[str, str]] = set()
    for target in targets:
        main = target.main_column(column_title(target))
        scores = [group.score(row.key, target, models) for row in rows]
        for row, score in zip(rows, scores, strict=True):
            row.cells[main.key] = _score_cell(score)
        columns.append(main)
        _mark(rows, main, scores)
        judged = [group.judge(row.key, target, models) for row in rows]
        if any(cell.value is not None for cell, _ in judged):
            judge = target.judge_column()
            columns.append(judge)
            for row, (cell, judges) in zip(rows, judged, strict=True):
                row.cells[judge.key] = cell
                judges_used |= judges
    if judges_used:
        notes = [*notes, "LLM-J: " + "; ".join(f"{m} (prompt {v})" for m, v in sorted(judges_used))
                 + ", as the results report it (not recomputed, not ranked)."]
    return Table(table_id, title, "entries", columns, rows, notes, block_titles)


def _registry_rows(predicate: Callable[[MethodSpec], bool]) -> list[tuple[MethodSpec, str, str]]:
    return [(spec, spec.label, spec.block) for spec in METHODS.values() if predicate(spec)]


def ablation_rows() -> list[tuple[MethodSpec, str, str]]:
    """Table 4's order: per parameter sharing, each calibration kind with then without the LoRAs."""
    specs = [s for s in METHODS.values() if s.calibration is not None]
    kinds = list(dict.fromkeys(s.calibration for s in specs))
    specs.sort(key=lambda s: (s.shared, kinds.index(s.calibration), s.block == "ablation"))
    return [(s, s.short, "shared" if s.shared else "separate") for s in specs]


EFFICIENCY_COLUMNS = [Column("passes", "Inference passes", kind="passes"),
                      Column("params", "Additional params", kind="params"),
                      Column("mb", "Additional storage (MB)", kind="mb")]


def efficiency_cells(group: Group, method: str, models: list[str]) -> dict[str, Cell]:
    """Passes, additional parameters and MB of ``method`` averaged over ``models``: computed from the registry
    where compbench knows the architecture, else as the entry's results declared them (marked)."""
    figures, declared = [], False
    for model in models:
        arch = architecture_of(model)
        if arch is not None:
            figures.append(method_efficiency(method, arch))
            continue
        entry = group.entry(method, model)
        figures.append(entry.results.efficiency if entry else None)
        declared = declared or entry is not None
    cells = {}
    for column, attr, scale in (("passes", "inference_passes", 1), ("params", "additional_params", 1),
                                ("mb", "additional_bytes", 1 / MB)):
        values = [getattr(c, attr) if c is not None else None for c in figures]
        score = mean_of([v * scale if v is not None else None for v in values])
        cells[column] = Cell(score.value, partial=score.partial and score.value is not None, declared=declared)
    return cells


def efficiency_table(group: Group, table_id: str = "table3") -> Table:
    """Table 3 for the group's methods: passes, additional parameters and MB, averaged over its base models."""
    rows = [Row(spec.id, spec.label, spec.block, efficiency_cells(group, spec.id, group.models))
            for spec in METHODS.values() if any(group.entry(spec.id, m) for m in group.models)]
    notes = [f"Settings: {group.key.describe()}.",
             f"Averaged over base models ({', '.join(group.models)}); computed from the method registry "
             f"(compbench.efficiency) at 16 bits ({BYTES_PER_PARAM_16BIT} bytes per parameter, MB = 2**20 bytes)."]
    return Table(table_id, "Table 3: efficiency", "entries", list(EFFICIENCY_COLUMNS), rows, notes,
                 dict(BLOCK_TITLES))


def entries_table(group: Group) -> Table:
    columns = [Column(key, title, kind="text") for key, title in (
        ("method", "Method"), ("base_model", "Base model"), ("authors", "Authors"), ("date", "Date"),
        ("link", "Link"), ("compbench", "compbench"), ("subtasks", "Sub-tasks"))]
    rows = []
    for entry in sorted(group.entries, key=lambda e: e.id):
        meta = entry.metadata
        values = {"method": METHODS[entry.method].label, "base_model": meta.base_model,
                  "authors": ", ".join(meta.authors), "date": meta.date, "link": meta.link or "",
                  "compbench": meta.compbench_version, "subtasks": str(len(entry.results.subtasks))}
        rows.append(Row(entry.id, entry.id, cells={k: Cell(v) for k, v in values.items()}))
    return Table("entries", "Entries", "entries", columns, rows, [f"Settings: {group.key.describe()}."],
                 label_title="Entry")


def group_tables(group: Group) -> list[Table]:
    """Every table of one group, in a fixed order."""
    models = group.models
    main_rows = _registry_rows(lambda s: s.block != "ablation")
    all_rows = _registry_rows(lambda s: True)
    tables = [
        score_table("table2", "Table 2: compositional multi-tasking", group, main_rows, MAIN_TARGETS, models,
                    _notes(group, models), dict(BLOCK_TITLES)),
        efficiency_table(group),
        score_table("table4", "Table 4: effect of pre-existing adapters", group, ablation_rows(), MAIN_TARGETS,
                    models, _notes(group, models), ABLATION_BLOCKS),
        score_table("table5", "Table 5: in-domain and out-of-domain", group, all_rows, OOD_TARGETS, models,
                    _notes(group, models, "nothing else (one sub-task per column)"), dict(BLOCK_TITLES)),
        score_table("table6", "Table 6: three-way tasks", group, all_rows, THREE_WAY_TARGETS, models,
                    _notes(group, models, "languages"), dict(BLOCK_TITLES)),
    ]
    for model in models:
        tables.append(score_table(f"model-{model_slug(model)}", f"Base model {model}", group, all_rows,
                                  MAIN_TARGETS + THREE_WAY_TARGETS + OOD_TARGETS[1:], [model],
                                  _notes(group, [model]), dict(BLOCK_TITLES)))
    for family in (*MAIN_FAMILIES, THREE_WAY_FAMILY):
        targets = [Target(t.id, FAMILY_TITLES[family]) for t in tasks_in_family(family)]
        tables.append(score_table(
            f"subtasks-{family.replace('+', '-')}", f"{FAMILY_TITLES[family]} per sub-task", group, all_rows, targets,
            models, _notes(group, models, "nothing else (one sub-task per column)"), dict(BLOCK_TITLES),
            column_title=lambda t: f"{subtask_title(t.id)} {METRIC_LABELS[t.metric]}"))
    tables = [t for t in tables if t.rows]
    tables.extend(difference_tables(tables, models))
    tables.append(entries_table(group))
    return tables


# ----------------------------------------------------------------------------------------- the paper
def _paper_block(table_id: str, method: str) -> tuple[str, str]:
    spec = METHODS[method]
    if table_id == "table4":
        return spec.short, "shared" if spec.shared else "separate"
    return spec.label, spec.block


def _paper_score_table(paper: PaperTable, title: str, columns: list[Column], block_titles: dict[str, str],
                       table_id: str | None = None) -> Table:
    rows = []
    for i, prow in enumerate(paper.rows):
        label, block = _paper_block(paper.id, prow.method)
        key = prow.method if prow.label is None else f"{prow.method}#{i}"
        row = Row(key, prow.label or label, block)
        for column in columns:
            target, metric = column.key.rsplit(":", 1)
            value = prow.scores.get(target, {}).get(metric)
            if value is not None:
                row.cells[column.key] = Cell(value)
        rows.append(row)
    reference = paper_reference()
    notes = [f"{paper.paper_table} of {reference.source}: {PAPER_STATUS}.", paper.caption,
             f"The paper averages the conversational versions of {', '.join(reference.models)}; "
             f"LLM-J: {reference.judge}."]
    return Table(table_id or f"paper-{paper.id}", title, "paper", columns, rows, notes, block_titles)


def _main_columns(targets: list[Target]) -> list[Column]:
    return [c for t in targets for c in (t.main_column(), t.judge_column())]


def paper_tables() -> list[Table]:
    """The paper's Tables 2, A1, 3, 4, 5 and 6, as printed, labelled as reported by the paper."""
    ref = paper_reference()
    extended = []
    for target in MAIN_TARGETS:
        metrics = ("rouge1", "rouge2", "rougeL") if target.metric == "rougeL" else (target.metric,)
        extended += [Column(f"{target.id}:{m}", METRIC_LABELS[m], target.span) for m in metrics]
    t3 = ref.table("table3")
    rows3 = []
    for prow in t3.rows:
        e = prow.efficiency
        rows3.append(Row(prow.method, METHODS[prow.method].label, METHODS[prow.method].block, {
            "passes": Cell(float(e.inference_passes)), "params": Cell(e.additional_params),
            "mb": Cell(e.additional_mb)}))
    columns3 = [Column(c.key, c.title, kind="text" if c.key == "params" else c.kind) for c in EFFICIENCY_COLUMNS]
    table3 = Table("paper-table3", "Table 3 (paper): efficiency", "paper", columns3, rows3,
                   [f"Table 3 of {ref.source}: {PAPER_STATUS}.", t3.caption], dict(BLOCK_TITLES))
    return [
        _paper_score_table(ref.table("table2"), "Table 2 (paper): compositional multi-tasking",
                           _main_columns(MAIN_TARGETS), dict(BLOCK_TITLES)),
        _paper_score_table(ref.table("table2"), "Table A1 (paper): standard metrics", extended,
                           dict(BLOCK_TITLES), "paper-tableA1"),
        table3,
        _paper_score_table(ref.table("table4"), "Table 4 (paper): effect of pre-existing adapters",
                           _main_columns(MAIN_TARGETS), ABLATION_BLOCKS),
        _paper_score_table(ref.table("table5"), "Table 5 (paper): in-domain and out-of-domain",
                           _main_columns(OOD_TARGETS), dict(BLOCK_TITLES)),
        _paper_score_table(ref.table("table6"), "Table 6 (paper): three-way tasks",
                           _main_columns(THREE_WAY_TARGETS), dict(BLOCK_TITLES)),
    ]


def difference_tables(tables: list[Table], models: list[str]) -> list[Table]:
    """Entries minus the paper, for every entries table with a paper counterpart and rows in both."""
    paper = {t.id: t for t in paper_tables()}
    reference = paper_reference()
    out = []
    for table in tables:
        counterpart = paper.get(f"paper-{table.id}")
        if counterpart is None or table.id == "table3":
            continue
        keys = [r.key for r in counterpart.rows]
        theirs = {r.key: r for r in counterpart.rows if keys.count(r.key) == 1}  # Table 6's two aux-lora rows: no
        paper_columns = {c.key for c in counterpart.columns}
        columns = [Column(c.key, c.title, c.span, "delta") for c in table.columns if c.key in paper_columns]
        rows = []
        for row in table.rows:
            if row.key not in theirs:
                continue
            diff = Row(row.key, row.label, row.block)
            for column in columns:
                mine, ref = row.cell(column.key), theirs[row.key].cell(column.key)
                if isinstance(mine.value, float) and isinstance(ref.value, float):
                    diff.cells[column.key] = Cell(mine.value - ref.value, partial=mine.partial)
            rows.append(diff)
        if not rows:
            continue
        notes = [table.notes[0], f"Entries minus the paper's numbers ({PAPER_STATUS}).",
                 f"Entries average {', '.join(models)}; the paper averages {', '.join(reference.models)}."]
        if set(models) != set(reference.models):
            notes.append("The base models differ from the paper's: a difference mixes model and method effects.")
        out.append(Table(f"vs-paper-{table.id}", f"{table.title}: difference from the paper", "difference",
                         columns, rows, notes, table.block_titles))
    return out
