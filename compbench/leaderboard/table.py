"""One table object that every format renders: columns with a kind, rows in blocks, cells with their marks.

Cells carry numbers, never formatted text; :func:`display` formats them one way for every renderer (fixed
decimals), so Markdown, CSV, LaTeX and HTML show the same figures and golden tests compare exact text.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from compbench.efficiency import format_count

Kind = Literal["text", "score", "judge", "delta", "passes", "params", "mb"]
Source = Literal["entries", "paper", "difference"]

PARTIAL_MARK = "†"
TIED_MARK = "≈"
DECLARED_MARK = "*"


@dataclass(frozen=True)
class Column:
    key: str
    title: str
    span: str = ""  # the header above a run of columns (a family), as the paper's two-level headers
    kind: Kind = "score"


@dataclass(frozen=True)
class Cell:
    value: float | str | None = None
    ci: tuple[float, float] | None = None
    partial: bool = False  # averages an incomplete set of sub-tasks or models: never shown as complete
    leader: bool = False  # the best complete value of its column
    tied: bool = False  # a paired bootstrap cannot separate it from the leader
    declared: bool = False  # an efficiency figure as the results declared it (compbench cannot compute it)


EMPTY = Cell()


@dataclass
class Row:
    key: str  # method id (or entry id in the entries table)
    label: str
    block: str = ""
    cells: dict[str, Cell] = field(default_factory=dict)

    def cell(self, column: str) -> Cell:
        return self.cells.get(column, EMPTY)


@dataclass
class Table:
    id: str
    title: str
    source: Source
    columns: list[Column]
    rows: list[Row]
    notes: list[str] = field(default_factory=list)  # settings, what is averaged, legend
    block_titles: dict[str, str] = field(default_factory=dict)
    label_title: str = "Method"

    @property
    def has_marks(self) -> tuple[bool, bool, bool]:
        cells = [c for r in self.rows for c in r.cells.values()]
        return any(c.partial for c in cells), any(c.tied for c in cells), any(c.declared for c in cells)

    def legend(self) -> list[str]:
        """What the marks in this table mean (only the marks it uses)."""
        partial, tied, declared = self.has_marks
        lines = []
        if any(c.leader for r in self.rows for c in r.cells.values()):
            lines.append("Bold: the best complete value of the column (the leader).")
        if tied:
            lines.append(f"{TIED_MARK}: tied with the leader: the 95% interval of a paired bootstrap on per-example "
                         "differences contains 0.")
        if partial:
            lines.append(f"{PARTIAL_MARK}: partial: averages an incomplete set of sub-tasks or base models; "
                         "never ranked.")
        if declared:
            lines.append(f"{DECLARED_MARK}: as declared by the results (compbench cannot compute it for this base "
                         "model offline).")
        return lines


def display(column: Column, cell: Cell) -> str:
    """The cell's text without marks: fixed decimals per kind; empty when there is no value."""
    v = cell.value
    if v is None:
        return ""
    if column.kind == "text" or isinstance(v, str):
        return str(v)
    if column.kind == "delta":
        return f"{v:+.2f}"
    if column.kind == "passes":
        return f"{v:g}x"
    if column.kind == "params":
        return format_count(v)
    return f"{v:.2f}"


def display_ci(cell: Cell) -> str:
    return "" if cell.ci is None else f"[{cell.ci[0]:.2f}, {cell.ci[1]:.2f}]"
