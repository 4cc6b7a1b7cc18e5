"""``compbench demo``: the whole benchmark on a synthetic world, on a CPU, in minutes (thin wrapper over
:func:`compbench.demo.run_demo`)."""

from __future__ import annotations

import time

import click

from compbench.cli.common import handle_errors, requires
from compbench.cli.options import out_option, progress_option, seed_option


@click.command("demo")
@out_option("Directory for everything the demo makes; a rerun reuses its finished steps.", default="compbench-demo")
@click.option("--fast", is_flag=True, help="Smaller world, model and training (a few minutes less; noisier tables).")
@seed_option(help="Seed of the world, the model and every random choice.")
@progress_option()
@handle_errors
@requires("train")
@requires("evaluate")
def demo(out: str, fast: bool, seed: int, no_progress: bool) -> None:
    """Build a synthetic release, pretrain a tiny model, train its LoRAs, make and evaluate a bundle of every method
    of Table 2, score them and build the leaderboard: every stage of compbench, offline, on a CPU."""
    from compbench.demo.orderings import ablation_orderings, format_ablation, format_orderings, orderings
    from compbench.demo.pipeline import format_single_task, run_demo

    start = time.perf_counter()
    result = run_demo(out, fast=fast, seed=seed, progress=not no_progress, echo=click.echo)
    click.echo("")
    click.echo("Single-task LoRAs on their own test splits (the tasks are learned):")
    click.echo(format_single_task(result.single_task))
    click.echo("")
    click.echo(result.table2.rstrip("\n"))
    click.echo("")
    click.echo(format_orderings(orderings(result.tables / "table2.csv")))
    click.echo(format_ablation(ablation_orderings(result.tables / "table4.csv")))
    click.echo("")
    click.echo("Synthetic world: tr-es/fr/de are made-up stand-in languages, not Spanish/French/German; a tiny model, "
               "not the paper's. See docs/demo.md.")
    click.echo(f"Tables 2, 3 and 4 (Markdown, CSV, LaTeX): {result.tables}")
    click.echo(f"Leaderboard page: {result.page}")
    click.echo(f"Done in {time.perf_counter() - start:.0f} s ({result.made} steps run, {result.reused} reused).")
