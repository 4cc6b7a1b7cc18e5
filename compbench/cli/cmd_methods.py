"""``compbench methods``: the method registry (the rows of Table 2 and Table 4's ablation)."""

from __future__ import annotations

import json

import click

from compbench.architectures import Settings
from compbench.methods import BLOCK_TITLES, METHODS


@click.command("methods")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list of method objects.")
def methods(as_json: bool) -> None:
    """List the methods: id, the paper's label, inference passes, and how a bundle of each runs."""
    if as_json:
        click.echo(json.dumps([{**spec.to_dict(), "inference_passes": spec.passes(Settings())}
                               for spec in METHODS.values()], indent=2, ensure_ascii=False))
        return
    width = max(len(spec.id) for spec in METHODS.values())
    label_width = max(len(spec.label) for spec in METHODS.values())
    block = None
    for spec in METHODS.values():
        if spec.block != block:
            block = spec.block
            click.echo(f"{'' if spec is next(iter(METHODS.values())) else chr(10)}{BLOCK_TITLES[block]}")
        passes = spec.passes(Settings())
        click.echo(f"  {spec.id:<{width}}  {spec.label:<{label_width}}  {passes} pass{'es' if passes > 1 else ''}  "
                   f"{spec.describe()}")
