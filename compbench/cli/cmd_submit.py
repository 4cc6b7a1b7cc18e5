"""``compbench submit``: a thin wrapper over :func:`compbench.leaderboard.submit.submit`."""

from __future__ import annotations

import json

import click

from compbench.cli.common import handle_errors
from compbench.cli.options import data_option, json_option, store_option


@click.command("submit")
@click.argument("results_dir", type=click.Path(file_okay=False, path_type=str))
@store_option()
@data_option(help="Where the store's release is (a directory or Hub id) [default: the store's].")
@click.option("--workers", default=None, type=int, help="Scoring processes (default: available cores).")
@json_option(help="Print the accepted entry as a JSON document.")
@handle_errors
def submit(results_dir: str, store: str, data: str | None, workers: int | None, as_json: bool) -> None:
    """Validate RESULTS_DIR (scores recomputed from its predictions) and add it to the store."""
    from compbench.leaderboard.submit import submit as run_submit

    accepted = run_submit(results_dir, store, data=data, workers=workers)
    if as_json:
        click.echo(json.dumps({"entry": accepted.entry_id, "path": str(accepted.path),
                               "subtasks": accepted.subtasks}, indent=2))
    else:
        click.echo(f"accepted: entry {accepted.entry_id} ({len(accepted.subtasks)} sub-tasks) in {accepted.path}")
