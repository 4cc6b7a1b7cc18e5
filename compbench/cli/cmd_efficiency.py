"""``compbench efficiency``: inference passes and additional parameters / storage per method (Table 3)."""

from __future__ import annotations

import json

import click

from compbench.cli.common import handle_errors
from compbench.efficiency import METHODS, TABLE3_METHODS, average, efficiency, table3_lines


@click.command("efficiency")
@click.option("--base-model", "models", multiple=True, required=True,
              help="A model name (llama-3.2-1b, qwen2.5-0.5b, qwen2.5-1.5b, qwen2.5-3b, stablelm-2-1.6b), a local "
                   "config directory or a Hub id. Repeat to also print the average (as Table 3 does).")
@click.option("--rank", default=32, show_default=True, type=int, help="LoRA rank of the joint-expert adapter.")
@click.option("--calibration-rank", default=4, show_default=True, type=int, help="Rank of LC++'s P2 P1.")
@click.option("--tasks", default=2, show_default=True, type=int, help="Single-task LoRAs composed (3: three-way).")
@click.option("--all", "all_methods", is_flag=True, help="Every Table 2 method, not only Table 3's rows.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON document instead of the table.")
@handle_errors
def efficiency_command(models: tuple[str, ...], rank: int, calibration_rank: int, tasks: int,
                       all_methods: bool, as_json: bool) -> None:
    """Inference passes, additional parameters and additional bytes (16 bit) per method."""
    reports = [efficiency(model, rank=rank, calibration_rank=calibration_rank, tasks=tasks) for model in models]
    if as_json:
        if len(reports) == 1:
            document = reports[0].to_dict()
        else:
            document = {"models": [r.to_dict() for r in reports],
                        "average": {"models": [r.model for r in reports], "methods": average(reports)}}
        click.echo(json.dumps(document, indent=2))
        return
    names = list(METHODS) if all_methods else list(TABLE3_METHODS)
    blocks = [table3_lines(f"{r.model} (rank {rank}, calibration rank {calibration_rank})",
                           {n: c.model_dump() for n, c in r.methods.items()}, names) for r in reports]
    if len(reports) > 1:
        blocks.append(table3_lines(f"average over {', '.join(r.model for r in reports)}", average(reports), names))
    click.echo("\n\n".join("\n".join(block) for block in blocks))
    click.echo("\nMB = 2**20 bytes at 16 bits per parameter; K = 10**3, M = 10**6 parameters.")
