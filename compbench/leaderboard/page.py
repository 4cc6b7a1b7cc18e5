"""The static leaderboard page: one ``index.html`` with its data, script and style inline.

Python computes everything (scores, intervals, tie marks, Pareto plots); the page only renders. The data is a
JSON document inside ``<script type="application/json">`` with ``<``, ``>``, ``&`` and U+2028/9 escaped, so no
submitted text can close the script element; the script writes every text with ``textContent``. A
Content-Security-Policy ``<meta>`` allows only the page's own inline script and style (by their sha256) and
no request to any origin, so the page opens the same from ``file://`` and from any static host.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import re
from importlib import resources
from typing import Any

from compbench import __version__
from compbench.leaderboard.layouts import (
    MAIN_TARGETS,
    OOD_TARGETS,
    THREE_WAY_TARGETS,
    Group,
    Target,
    efficiency_cells,
)
from compbench.leaderboard.pareto import Point, to_svg
from compbench.leaderboard.render import html_escape, to_html
from compbench.leaderboard.stats import Score, leader_and_ties
from compbench.leaderboard.store import Entry
from compbench.leaderboard.table import Table
from compbench.methods import BLOCK_TITLES, METHODS
from compbench.schemas import METRIC_KEYS, METRIC_LABELS
from compbench.tasks import REGISTRY

GENERATOR = "compbench leaderboard"
MEAN = "mean"
MEAN_TITLE = "Mean of the four families"
_JSON_ESCAPES = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}


def _asset(name: str) -> str:
    return resources.files("compbench.leaderboard").joinpath("assets", name).read_text(encoding="utf-8")


def script_json(document: Any) -> str:
    """JSON safe inside ``<script type="application/json">``: sorted keys, markup characters escaped."""
    text = json.dumps(document, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return re.sub("[<>&\u2028\u2029]", lambda m: _JSON_ESCAPES[m.group()], text)


def _csp_hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii") + "'"


# --------------------------------------------------------------------------------------------- payload
def board_targets(group: Group) -> list[Target]:
    """The board's score columns: the four families, then the three-way and out-of-domain sets where scored."""
    candidates = [*MAIN_TARGETS, *THREE_WAY_TARGETS, OOD_TARGETS[1]]
    return [t for t in candidates if any(set(t.subtasks) & set(e.results.subtasks) for e in group.entries)]


def _mean_tree(entries: list[Entry | None]) -> list:
    """Mean over models of the mean over the four families of the mean over their sub-tasks."""
    return [[[(entry, s) for s in t.subtasks] for t in MAIN_TARGETS] for entry in entries]


def _score_json(score: Score) -> dict[str, Any]:
    return {"value": None if score.value is None else round(score.value, 4),
            "ci": None if score.ci is None else [round(score.ci[0], 4), round(score.ci[1], 4)],
            "partial": bool(score.partial and score.value is not None)}


def _entry_scores(group: Group, entry: Entry, targets: list[Target]) -> dict[str, Score]:
    scores = {t.id: group.boot.score([[(entry, s) for s in t.subtasks]]) for t in targets}
    scores[MEAN] = group.boot.score(_mean_tree([entry]))
    return scores


def _marks(entries: list[Entry], scores: dict[str, dict[str, Score]], columns: list[str]) -> dict[str, Any]:
    out = {}
    for column in columns:
        best, ties = leader_and_ties([scores[e.id][column] for e in entries])
        out[column] = {"leader": None if best is None else entries[best].id, "tied": [entries[i].id for i in ties]}
    return out


def _subtask_json(entry: Entry) -> list[dict[str, Any]]:
    rows = []
    for subtask in [s for s in REGISTRY if s in entry.results.subtasks]:
        m = entry.results.subtasks[subtask]
        ci = m.ci.get(m.main_metric)
        judge = m.judge
        rows.append({
            "id": subtask, "family": REGISTRY[subtask].family, "n": m.n, "missing": m.missing,
            "metric": METRIC_LABELS[m.main_metric], "main": m.main, "ci": [ci.low, ci.high] if ci else None,
            **{key: getattr(m, key) for key in METRIC_KEYS},
            "judge": None if judge is None else {"score": judge.score, "n": judge.n, "model": judge.model,
                                                 "prompt_version": judge.prompt_version,
                                                 "unparseable": judge.unparseable, "failed": judge.failed}})
    return rows


def group_payload(group: Group) -> dict[str, Any]:
    targets = board_targets(group)
    order = list(METHODS)
    entries = sorted(group.entries, key=lambda e: (order.index(e.method), group.models.index(e.model), e.id))
    scores = {e.id: _entry_scores(group, e, targets) for e in entries}
    columns = [t.id for t in targets] + [MEAN]
    marks = {"": _marks(entries, scores, columns)}
    for model in group.models:
        marks[model] = _marks([e for e in entries if e.model == model], scores, columns)
    items = []
    for e in entries:
        spec, meta, r = METHODS[e.method], e.metadata, e.results
        cost = efficiency_cells(group, e.method, [e.model])
        items.append({
            "id": e.id, "method": e.method, "label": spec.label, "short": spec.short, "block": spec.block,
            "block_title": BLOCK_TITLES[spec.block], "order": order.index(e.method), "model": e.model,
            "base_model": meta.base_model, "authors": meta.authors, "link": meta.link, "date": meta.date,
            "description": meta.description, "compbench_version": meta.compbench_version,
            "scores": {k: _score_json(v) for k, v in scores[e.id].items()},
            "judge": {t.id: group.judge(e.method, t, [e.model])[0].value for t in targets},
            "efficiency": {k: c.value for k, c in cost.items()} | {"declared": cost["passes"].declared},
            "scoring": r.scoring.model_dump(mode="json"),
            "subtasks": _subtask_json(e),
        })
    return {
        "id": group.key.slug, "title": group.key.describe(), "models": group.models,
        "settings": {"release_hash": group.key.release_hash, "split": group.key.split,
                     "tokenizer": group.key.tokenizer, "multi_ref": group.key.multi_ref},
        "bootstrap": {"seed": group.boot.seed, "resamples": group.boot.resamples},
        "targets": [{"id": t.id, "title": t.span, "metric_label": METRIC_LABELS[t.metric],
                     "judge": any(item["judge"][t.id] is not None for item in items)} for t in targets],
        "entries": items, "marks": marks,
    }


def payload(groups: list[Group], files: dict[str, list[str]]) -> dict[str, Any]:
    return {"generator": GENERATOR, "compbench_version": __version__, "mean_title": MEAN_TITLE,
            "groups": [group_payload(g) for g in groups], "files": files}


# ---------------------------------------------------------------------------------------------- Pareto
def point_label(short: str, passes: float | None) -> str:
    """A method's short label, with its inference passes when it needs more than one (storage hides them)."""
    return f"{short} ({passes:g} passes)" if passes is not None and passes > 1 else short


def pareto_points(group: Group, measure: str, model: str = "") -> list[Point]:
    """Methods averaged over the group's models (or on ``model`` alone) with a complete score and cost."""
    models = [model] if model else group.models
    target = next((t for t in board_targets(group) if t.id == measure), None)
    points = []
    for spec in METHODS.values():
        if not any(group.entry(spec.id, m) for m in models):
            continue
        if measure == MEAN:
            score = group.boot.score(_mean_tree([group.entry(spec.id, m) for m in models]))
        else:
            score = group.score(spec.id, target, models)
        cost = efficiency_cells(group, spec.id, models)
        storage = cost["mb"]
        if score.complete and storage.value is not None and not storage.partial:
            points.append(Point(spec.id, point_label(spec.short, cost["passes"].value), float(storage.value),
                                float(score.value)))
    return points


def measure_title(group: Group, measure: str) -> str:
    if measure == MEAN:
        return MEAN_TITLE
    target = next(t for t in board_targets(group) if t.id == measure)
    return f"{target.span} {METRIC_LABELS[target.metric]}"


def group_figures(group: Group) -> list[tuple[str, str, str, str]]:
    """``(group, model, measure, svg)`` for every filter state of the board."""
    out = []
    for model in ["", *group.models]:
        for measure in [MEAN, *(t.id for t in board_targets(group))]:
            title = f"{measure_title(group, measure)} vs storage ({model or 'averaged over base models'})"
            element = f"pareto-{group.key.slug}-{model or 'all'}-{measure}"
            svg = to_svg(pareto_points(group, measure, model), title, measure_title(group, measure),
                         re.sub(r"[^A-Za-z0-9_.-]", "-", element))
            out.append((group.key.slug, model, measure, svg))
    return out


# ------------------------------------------------------------------------------------------------ HTML
def _figure_html(group: str, model: str, measure: str, svg: str) -> str:
    return (f'<figure class="pareto" data-group="{html_escape(group)}" data-model="{html_escape(model)}" '
            f'data-measure="{html_escape(measure)}" hidden>\n{svg}\n</figure>')


def _section(source: str, title: str, tables: list[Table], links: dict[str, str]) -> str:
    parts = [f"<h3>{html_escape(title)}</h3>"]
    for table in tables:
        parts.append(f'<div class="table-block" id="{html_escape(source)}--{html_escape(table.id)}">')
        parts.append(to_html(table))
        base = links.get(table.id)
        if base:
            parts.append('<p class="files">' + " ".join(
                f'<a href="{html_escape(base)}.{ext}">{ext}</a>' for ext in ("md", "csv", "tex")) + "</p>")
        parts.append("</div>")
    return "\n".join(parts)


def page_html(document: dict[str, Any], figures: list[tuple[str, str, str, str]], paper_svg: str,
              paper: list[Table], groups: list[tuple[str, list[Table]]], links: dict[str, dict[str, str]]) -> str:
    """The whole page. ``links[source][table id]`` is a table's file path without extension, relative."""
    style, script = _asset("leaderboard.css"), _asset("leaderboard.js")
    csp = (f"default-src 'none'; script-src {_csp_hash(script)}; style-src {_csp_hash(style)}; img-src data:; "
           "base-uri 'none'; form-action 'none'")
    tables_html = [_section(slug, f"Entries: {title}", tables, links.get(slug, {})) for slug, title, tables in
                   ((slug, next(g["title"] for g in document["groups"] if g["id"] == slug), tables)
                    for slug, tables in groups)]
    values = {
        "CSP": html.escape(csp, quote=False),  # in a double-quoted attribute: its single quotes stay as they are
        "STYLE": style, "SCRIPT": script, "PAYLOAD": script_json(document),
        "VERSION": html_escape(__version__),
        "FIGURES": "\n".join(_figure_html(*f) for f in figures),
        "PAPER_FIGURE": paper_svg,
        "PAPER_TABLES": _section("paper", "Tables", paper, links.get("paper", {})),
        "GROUP_TABLES": "\n".join(tables_html) or "<p>No entries yet.</p>",
    }
    return re.sub(r"@@([A-Z_]+)@@", lambda m: values[m.group(1)], _asset("page.html"))
