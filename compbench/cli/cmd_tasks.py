"""``compbench tasks``: the task registry as a table or JSON."""

from __future__ import annotations

import json

import click

from compbench.tasks import FAMILIES, REGISTRY


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list of task objects.")
@click.option("--family", type=click.Choice(FAMILIES), default=None, help="Only the tasks of this family.")
def tasks(as_json: bool, family: str | None) -> None:
    """List the benchmark's sub-tasks: id, family, metric, split sizes and prompt."""
    rows = [t for t in REGISTRY.values() if family is None or t.family == family]
    if as_json:
        click.echo(json.dumps([t.to_dict() for t in rows], indent=2, ensure_ascii=False))
        return

    def size(value: int | None) -> str:
        return "all" if value is None else f"{value:,}"

    header = ("id", "family", "metric", "config", "train", "validation", "test", "prompt")
    table = [header] + [
        (t.id, t.family, t.metric, t.config_name, *(size(t.splits.get(s)) if s in t.splits else "-"
                                                    for s in ("train", "validation", "test")), t.prompt)
        for t in rows
    ]
    widths = [max(len(r[i]) for r in table) for i in range(len(header) - 1)]
    for row in table:
        cells = [row[i].ljust(widths[i]) if i < 4 else row[i].rjust(widths[i]) for i in range(len(widths))]
        click.echo("  ".join(cells) + "  " + row[-1])
