"""Render a :class:`~compbench.leaderboard.table.Table` as Markdown, CSV, LaTeX or an HTML fragment.

Every piece of text is escaped for its format, whatever its origin (titles and notes can hold base-model names
from submissions): Markdown escapes its punctuation and the pipe, LaTeX its special characters, HTML its markup,
and a CSV text cell that a spreadsheet would run as a formula gets a leading apostrophe. Output is
deterministic: fixed decimals, the table's own row and column order, ``\\n`` line ends.
"""

from __future__ import annotations

import csv
import html
import io
import re

from compbench.leaderboard.table import (
    DECLARED_MARK,
    PARTIAL_MARK,
    TIED_MARK,
    Cell,
    Column,
    Row,
    Table,
    display,
    display_ci,
)

_SPACE = re.compile(r"\s+")
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]#|~$])")
_MD_ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
_LATEX = {"\\": r"\textbackslash{}", "{": r"\{", "}": r"\}", "$": r"\$", "&": r"\&", "#": r"\#",
          "^": r"\^{}", "_": r"\_", "%": r"\%", "~": r"\textasciitilde{}", "<": r"\textless{}",
          ">": r"\textgreater{}", "|": r"\textbar{}", "†": r"$^\dagger$", "≈": r"$\approx$"}
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _one_line(text: str) -> str:
    return _SPACE.sub(" ", text).strip()


def md_escape(text: str) -> str:
    """Plain text for a Markdown table cell or paragraph: one line, ``& < >`` as entities (no raw HTML can
    form), the other punctuation Markdown acts on backslash-escaped."""
    text = re.sub("[&<>]", lambda m: _MD_ENTITIES[m.group()], _one_line(text))
    return _MD_SPECIAL.sub(r"\\\1", text)


def latex_escape(text: str) -> str:
    return "".join(_LATEX.get(ch, ch) for ch in _one_line(text))


def csv_text(text: str) -> str:
    """A text cell a spreadsheet shows as text: a leading ``= + - @`` (a formula) gets an apostrophe."""
    text = _one_line(text)
    return "'" + text if text.startswith(_FORMULA_START) else text


def html_escape(text: str) -> str:
    return html.escape(text, quote=True)


def _marks(cell: Cell) -> str:
    return (TIED_MARK if cell.tied else "") + (PARTIAL_MARK if cell.partial else "") + (
        DECLARED_MARK if cell.declared else "")


def _blocks(table: Table) -> list[tuple[str, list[Row]]]:
    """Rows grouped by consecutive block; a single block gets no block header."""
    blocks: list[tuple[str, list[Row]]] = []
    for row in table.rows:
        if not blocks or blocks[-1][0] != row.block:
            blocks.append((row.block, []))
        blocks[-1][1].append(row)
    return blocks


def _header(column: Column) -> str:
    return f"{column.span} {column.title}".strip()


def _notes(table: Table) -> list[str]:
    return [*table.notes, *table.legend()]


# -------------------------------------------------------------------------------------------- Markdown
def _md_cell(column: Column, cell: Cell) -> str:
    text = display(column, cell)
    if not text:
        return "–"
    text = md_escape(text) if column.kind == "text" else text
    if cell.leader:
        text = f"**{text}**"
    if cell.ci is not None:
        text += " " + display_ci(cell)  # digits, commas and brackets that reference no link
    marks = _marks(cell)
    return f"{text} {marks}" if marks else text


def to_markdown(table: Table) -> str:
    lines = [f"### {md_escape(table.title)}", ""]
    header = [md_escape(table.label_title), *(md_escape(_header(c)) for c in table.columns)]
    lines.append("| " + " | ".join(header) + " |")
    lines.append("|" + "|".join(["---"] + ["---" if c.kind == "text" else "---:" for c in table.columns]) + "|")
    blocks = _blocks(table)
    for block, rows in blocks:
        if len(blocks) > 1 and block:
            title = table.block_titles.get(block, block)
            lines.append("| " + " | ".join([f"*{md_escape(title)}*"] + [""] * len(table.columns)) + " |")
        for row in rows:
            cells = [md_escape(row.label), *(_md_cell(c, row.cell(c.key)) for c in table.columns)]
            lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    lines.extend(f"- {md_escape(note)}" for note in _notes(table))
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------------------------------------- CSV
def _csv_number(column: Column, value: float) -> str:
    if column.kind == "passes":
        return f"{value:g}"
    if column.kind == "params":
        return f"{value:.0f}"
    return f"{value:.2f}"


def to_csv(table: Table) -> str:
    """One row per table row: block, label, then per column its value (+ interval bounds and a mark column
    where the column has them). Numbers carry no marks; text cells are guarded against formula injection."""
    with_ci = {c.key for c in table.columns if any(r.cell(c.key).ci for r in table.rows)}
    with_mark = {c.key for c in table.columns if any(_marks(r.cell(c.key)) or r.cell(c.key).leader
                                                     for r in table.rows)}
    header = ["block", table.label_title]
    for c in table.columns:
        header.append(_header(c))
        if c.key in with_ci:
            header += [f"{_header(c)} CI low", f"{_header(c)} CI high"]
        if c.key in with_mark:
            header.append(f"{_header(c)} mark")
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([csv_text(h) for h in header])
    for row in table.rows:
        out = [csv_text(row.block), csv_text(row.label)]
        for c in table.columns:
            cell = row.cell(c.key)
            if cell.value is None:
                out.append("")
            elif isinstance(cell.value, str):
                out.append(csv_text(cell.value))
            else:
                out.append(_csv_number(c, cell.value))
            if c.key in with_ci:
                out += [f"{cell.ci[0]:.2f}", f"{cell.ci[1]:.2f}"] if cell.ci else ["", ""]
            if c.key in with_mark:
                out.append(",".join(m for m, on in (("leader", cell.leader), ("tied", cell.tied),
                                                      ("partial", cell.partial), ("declared", cell.declared))
                                    if on))
        writer.writerow(out)
    return buffer.getvalue()


# ----------------------------------------------------------------------------------------------- LaTeX
def _latex_cell(column: Column, cell: Cell) -> str:
    text = display(column, cell)
    if not text:
        return "--"
    text = latex_escape(text)
    if cell.leader:
        text = rf"\textbf{{{text}}}"
    if cell.ci is not None:
        text += rf" {{\scriptsize {latex_escape(display_ci(cell))}}}"
    marks = "".join(m for m, on in ((r"\approx", cell.tied), (r"\dagger", cell.partial), ("*", cell.declared))
                    if on)
    return text + (f"$^{{{marks}}}$" if marks else "")


def _spans(columns: list[Column]) -> list[tuple[str, int]]:
    runs: list[tuple[str, int]] = []
    for c in columns:
        if runs and runs[-1][0] == c.span:
            runs[-1] = (c.span, runs[-1][1] + 1)
        else:
            runs.append((c.span, 1))
    return runs


def to_latex(table: Table) -> str:
    """A ``table`` environment with a booktabs ``tabular``: spanning family headers, block rules."""
    n = len(table.columns) + 1
    align = "l" + "".join("l" if c.kind == "text" else "r" for c in table.columns)
    caption = " ".join(latex_escape(t) for t in [table.title + ".", *_notes(table)])
    lines = [r"\begin{table}[t]", r"\centering", rf"\caption{{{caption}}}", rf"\begin{{tabular}}{{{align}}}",
             r"\toprule"]
    spans = _spans(table.columns)
    if any(span for span, _ in spans):
        head, rules, col = [""], [], 2
        for span, width in spans:
            head.append(rf"\multicolumn{{{width}}}{{c}}{{{latex_escape(span)}}}" if width > 1 else latex_escape(span))
            if span:
                rules.append(rf"\cmidrule(lr){{{col}-{col + width - 1}}}")
            col += width
        lines.append(" & ".join(head) + r" \\")
        lines.append(" ".join(rules))
    lines.append(" & ".join([latex_escape(table.label_title), *(latex_escape(c.title) for c in table.columns)])
                 + r" \\")
    lines.append(r"\midrule")
    blocks = _blocks(table)
    for i, (block, rows) in enumerate(blocks):
        if len(blocks) > 1 and block:
            if i:
                lines.append(r"\midrule")
            title = latex_escape(table.block_titles.get(block, block))
            lines.append(rf"\multicolumn{{{n}}}{{l}}{{\textit{{{title}}}}} \\")
        for row in rows:
            lines.append(" & ".join([latex_escape(row.label), *(_latex_cell(c, row.cell(c.key))
                                                                  for c in table.columns)]) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}", r"\end{table}"]
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------------------------------------ HTML
def _html_cell(column: Column, cell: Cell) -> str:
    text = display(column, cell)
    classes = [name for name, on in (("leader", cell.leader), ("tied", cell.tied), ("partial", cell.partial),
                                     ("declared", cell.declared)) if on]
    attr = f' class="{" ".join(classes)}"' if classes else ""
    if not text:
        return "<td>–</td>"
    body = html_escape(text)
    if column.kind == "text" and column.key == "link" and re.match(r"^https?://", text):
        body = f'<a href="{html_escape(text)}" rel="nofollow noopener noreferrer">{body}</a>'
    if cell.ci is not None:
        body += f' <span class="ci">{html_escape(display_ci(cell))}</span>'
    marks = _marks(cell)
    if marks:
        body += f' <span class="mark">{html_escape(marks)}</span>'
    return f"<td{attr}>{body}</td>"


def to_html(table: Table) -> str:
    """A ``<table>`` fragment (two header rows when columns have spans), notes in a list below it."""
    n = len(table.columns) + 1
    lines = ['<table class="lb-table">',
             f"<caption>{html_escape(table.title)}</caption>", "<thead>"]
    spans = _spans(table.columns)
    if any(span for span, _ in spans):
        cells = ['<th scope="col"></th>'] + [f'<th scope="colgroup" colspan="{w}">{html_escape(s)}</th>'
                                             for s, w in spans]
        lines.append("<tr>" + "".join(cells) + "</tr>")
    lines.append("<tr>" + "".join(f'<th scope="col">{html_escape(t)}</th>'
                                  for t in [table.label_title, *(c.title for c in table.columns)]) + "</tr>")
    lines += ["</thead>", "<tbody>"]
    blocks = _blocks(table)
    for block, rows in blocks:
        if len(blocks) > 1 and block:
            lines.append(f'<tr class="block"><th colspan="{n}" scope="rowgroup">'
                         f"{html_escape(table.block_titles.get(block, block))}</th></tr>")
        for row in rows:
            lines.append(f'<tr><th scope="row">{html_escape(row.label)}</th>'
                         + "".join(_html_cell(c, row.cell(c.key)) for c in table.columns) + "</tr>")
    lines += ["</tbody>", "</table>", '<ul class="notes">']
    lines += [f"<li>{html_escape(note)}</li>" for note in _notes(table)]
    lines.append("</ul>")
    return "\n".join(lines) + "\n"


FORMATS = {"md": to_markdown, "csv": to_csv, "tex": to_latex}
