"""``build_leaderboard``: a store -> one static directory (the page, every table in three formats, the plots).

Output::

    OUT/index.html                       the page (opens from file:// and any static host)
    OUT/leaderboard.json                 the page's data, for other tools
    OUT/tables/paper/<table>.{md,csv,tex}        the paper's reported numbers
    OUT/tables/<settings>/<table>.{md,csv,tex}   one directory per group of comparable results
    OUT/tables/<source>/tables.md                every table of that directory in one Markdown file
    OUT/figures/pareto-<source>.{png,svg}        quality vs storage (matplotlib)

The directory is written beside ``OUT`` under a temporary name and swapped in at the end; an existing ``OUT``
is replaced only if a previous build wrote it (its ``leaderboard.json`` says so).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from compbench.efficiency import PAPER_MODELS, average, efficiency
from compbench.errors import ConfigError
from compbench.leaderboard.layouts import Group, group_tables, groups_of, paper_tables
from compbench.leaderboard.page import (
    GENERATOR,
    MEAN_TITLE,
    group_figures,
    page_html,
    pareto_points,
    payload,
    point_label,
)
from compbench.leaderboard.paper import PAPER_STATUS, paper_reference
from compbench.leaderboard.pareto import Point, to_svg, write_files
from compbench.leaderboard.render import FORMATS, to_markdown
from compbench.leaderboard.store import DEFAULT_STORE, load_store
from compbench.leaderboard.table import Table
from compbench.methods import METHODS
from compbench.tasks import MAIN_FAMILIES, family_metric

SITE_DIR = "site"
PAGE_NAME = "index.html"
DATA_NAME = "leaderboard.json"


@dataclass(frozen=True)
class BuildReport:
    out: Path
    entries: int
    groups: list[str]
    tables: int
    files: list[str]


def paper_points() -> list[Point]:
    """The paper's Table 2 quality (mean of the four families' main scores) against the storage compbench
    computes for each method, averaged over the paper's three base models."""
    costs = average(efficiency(m) for m in PAPER_MODELS)
    points = []
    for row in paper_reference().table("table2").rows:
        scores = [row.scores[f][family_metric(f)] for f in MAIN_FAMILIES]
        cost = costs[row.method]
        points.append(Point(row.method, point_label(METHODS[row.method].short, cost["inference_passes"]),
                            cost["additional_bytes"] / 2**20, sum(scores) / len(scores)))
    return points


def _check_out(out: Path) -> None:
    if not out.exists():
        return
    if not out.is_dir() or out.is_symlink():
        raise ConfigError("--out must be a directory that a previous build wrote, or a new path", out)
    if not any(out.iterdir()):
        return
    try:
        previous = json.loads((out / DATA_NAME).read_text(encoding="utf-8")).get("generator")
    except (OSError, ValueError, AttributeError):
        previous = None
    if previous != GENERATOR:
        raise ConfigError("this directory exists and was not written by `compbench leaderboard build`; "
                          "choose a new --out (the build replaces the whole directory)", out)


def _write_tables(root: Path, source: str, tables: list[Table]) -> dict[str, str]:
    """Each table as .md/.csv/.tex plus one tables.md; returns table id -> relative path stem."""
    links = {}
    for table in tables:
        for ext, render in FORMATS.items():
            path = root / "tables" / source / f"{table.id}.{ext}"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(render(table), encoding="utf-8", newline="\n")
        links[table.id] = f"tables/{source}/{table.id}"
    combined = "\n".join(to_markdown(t) for t in tables)
    (root / "tables" / source / "tables.md").write_text(combined, encoding="utf-8", newline="\n")
    return links


def _write_site(stage: Path, groups: list[Group]) -> tuple[int, list[str]]:
    paper = paper_tables()
    links = {"paper": _write_tables(stage, "paper", paper)}
    per_group = []
    for group in groups:
        tables = group_tables(group)
        links[group.key.slug] = _write_tables(stage, group.key.slug, tables)
        per_group.append((group.key.slug, tables))
    figures = []
    paper_title = f"The paper's quality vs storage ({PAPER_STATUS})"
    write_files(paper_points(), paper_title, MEAN_TITLE, stage / "figures" / "pareto-paper")
    for group in groups:
        points = pareto_points(group, "mean")
        write_files(points, f"Quality vs storage: {group.key.describe()}", MEAN_TITLE,
                    stage / "figures" / f"pareto-{group.key.slug}")
        figures.extend(group_figures(group))
    files = {source: sorted(f"{stem}.{ext}" for stem in stems.values() for ext in FORMATS)
             for source, stems in links.items()}
    document = payload(groups, files)
    (stage / DATA_NAME).write_text(json.dumps(document, sort_keys=True, indent=1, ensure_ascii=False) + "\n",
                                   encoding="utf-8", newline="\n")
    paper_svg = to_svg(paper_points(), paper_title, MEAN_TITLE, "pareto-paper")
    html = page_html(document, figures, paper_svg, paper, per_group, links)
    (stage / PAGE_NAME).write_text(html, encoding="utf-8", newline="\n")
    count = len(paper) + sum(len(t) for _, t in per_group)
    written = sorted(p.relative_to(stage).as_posix() for p in stage.rglob("*") if p.is_file())
    return count, written


def build_leaderboard(store: str | Path = DEFAULT_STORE, out: str | Path | None = None) -> BuildReport:
    """Render the store's tables, page and plots into ``out`` (default ``STORE/site``), all or nothing."""
    loaded = load_store(store)
    out = Path(out) if out is not None else loaded.root / SITE_DIR
    _check_out(out)
    groups = groups_of(loaded)
    out.parent.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    old = None
    try:
        count, written = _write_site(stage, groups)
        os.chmod(stage, 0o755)
        if out.exists():
            old = out.with_name(f".{out.name}.old-{os.getpid()}")
            os.replace(out, old)
        os.replace(stage, out)
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        if old is not None and not out.exists():
            os.replace(old, out)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
    return BuildReport(out=out, entries=len(loaded.entries), groups=[g.key.slug for g in groups], tables=count,
                       files=written)


__all__ = ["BuildReport", "build_leaderboard", "paper_points"]
