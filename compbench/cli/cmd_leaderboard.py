"""``compbench leaderboard build`` and ``compbench leaderboard init``: thin wrappers over compbench.leaderboard."""

from __future__ import annotations

import click

from compbench.cli.common import handle_errors
from compbench.cli.options import data_option, out_option, seed_option, split_option, store_option


@click.group("leaderboard")
def leaderboard() -> None:
    """Build the leaderboard (tables, page, plots) from a store, or pin a store's release."""


@leaderboard.command("build")
@store_option()
@out_option("Directory to write the site into (replaced as a whole) [default: STORE/site].")
@handle_errors
def build(store: str, out: str | None) -> None:
    """Render every table (Markdown, CSV, LaTeX), the static page and the Pareto plots."""
    from compbench.leaderboard.site import build_leaderboard

    report = build_leaderboard(store, out)
    click.echo(f"{report.tables} tables for {report.entries} entries in {len(report.groups)} table group(s); "
               f"open {report.out / 'index.html'}")


@leaderboard.command("init")
@data_option(required=True, help="The release every entry is scored against: a directory or a Hub dataset id.")
@store_option()
@split_option()
@seed_option(help="Seed of the leaderboard's bootstrap intervals and tie tests.")
@click.option("--bootstrap", default=1000, show_default=True, type=click.IntRange(min=1),
              help="Resamples of the leaderboard's bootstrap intervals and tie tests.")
@handle_errors
def init(data: str, store: str, split: str, seed: int, bootstrap: int) -> None:
    """Pin the release (its manifest sha256) that submissions to STORE must be scored against."""
    from compbench.leaderboard.store import init_store

    config = init_store(store, data, split=split, seed=seed, bootstrap=bootstrap)
    click.echo(f"store {store} pins release {config.release} (sha256 {config.release_hash[:12]}), split "
               f"{config.split}")
