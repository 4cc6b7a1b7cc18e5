"""``compbench evaluate`` and ``compbench run-grid``: adapter bundles on a release, to results documents.

torch and transformers are imported only when a command runs (the ``[evaluate]`` extra), so ``compbench --help``
and the core install stay light.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from compbench.cli.common import command_line, handle_errors
from compbench.cli.options import (
    batch_size_option,
    cache_dir_option,
    data_option,
    device_option,
    dtype_option,
    engine_arguments,
    engine_options,
    json_option,
    limit_option,
    max_new_tokens_option,
    out_option,
    progress_option,
    seed_option,
    split_option,
    subtask_option,
)
from compbench.evaluation.engine import EVALUATION_ENGINES  # light: no torch
from compbench.evaluation.runner import DEFAULT_BATCH_SIZE, DEFAULT_MAX_NEW_TOKENS


def _require_extras(command: str, engine: str) -> None:
    """The ``[evaluate]`` extra, and the engine's own (``[ray]``; ``[vllm]`` in its own environment)."""
    from compbench.errors import ConfigError
    from compbench.extras import missing_modules, require_extra

    require_extra("evaluate", command)
    if engine == "ray":
        require_extra("ray", "--engine ray")
    if engine == "vllm" and missing_modules("vllm"):
        from compbench.generation.vllm_tone import vllm_missing

        raise ConfigError(vllm_missing("--engine vllm"))


def _quiet_libraries() -> None:
    """No download or weight-loading bars from transformers / huggingface_hub (``--no-progress``)."""
    from huggingface_hub.utils import disable_progress_bars
    from transformers.utils import logging as transformers_logging

    disable_progress_bars()
    transformers_logging.disable_progress_bar()


@click.command("evaluate")
@click.argument("bundle", required=False, type=click.Path(path_type=Path))
@data_option(required=True)
@click.option("--method", default=None,
              help="Run an adapter-free method (zero-shot, icl) without a bundle; needs --base-model.")
@click.option("--base-model", default=None,
              help="Base model: Hub id or local directory [default: the bundle's].")
@click.option("--revision", default=None, help="Hub revision of the base model [default: the bundle's].")
@subtask_option(help="Only this sub-task or family (repeatable); default: the sub-tasks the bundle was made "
                     "for, or every one it serves, that the release holds.")
@split_option()
@out_option("Run directory (predictions.jsonl, results.json, results.examples.parquet, run.json) "
            "[default: evaluations/<bundle directory name or method>].")
@limit_option(help="Only the first N rows of each sub-task (quick runs).")
@batch_size_option(DEFAULT_BATCH_SIZE, help="Generation batch size.")
@max_new_tokens_option(DEFAULT_MAX_NEW_TOKENS)
@device_option("cpu")
@dtype_option()
@seed_option(help="Seed of the in-context example draw and of the bootstrap.")
@click.option("--bootstrap", type=click.IntRange(min=0), default=1000, show_default=True,
              help="Bootstrap resamples for the 95% intervals (0: none).")
@engine_options(EVALUATION_ENGINES)
@progress_option()
@cache_dir_option()
@json_option(help="Print the results document instead of the table.")
@handle_errors
def evaluate_command(bundle: Path | None, data: str, method: str | None, base_model: str | None,
                     revision: str | None, subtasks: tuple[str, ...], split: str, out: str | None, limit: int | None,
                     batch_size: int, max_new_tokens: int, device: str, dtype: str, seed: int, bootstrap: int,
                     engine: str, ray_address: str | None, actors: int | None, gpus_per_actor: float | None,
                     cpus_per_actor: float | None, no_progress: bool, cache_dir: str | None, as_json: bool) -> None:
    """Evaluate an adapter BUNDLE (or --method zero-shot|icl --base-model M) on a release and score it."""
    _require_extras("compbench evaluate", engine)
    from compbench.evaluation.runner import evaluate
    from compbench.report import render_results

    if no_progress:
        _quiet_libraries()
    evaluation = evaluate(bundle, data=data, method=method, base_model=base_model, revision=revision,
                          subtasks=list(subtasks) or None, split=split, out=out, limit=limit, batch_size=batch_size,
                          max_new_tokens=max_new_tokens, device=device, dtype=dtype, seed=seed, bootstrap=bootstrap,
                          progress=not no_progress, cache_dir=cache_dir, engine=engine,
                          engine_options=engine_arguments(ray_address, actors, gpus_per_actor, cpus_per_actor),
                          command=command_line())
    if as_json:
        click.echo(json.dumps(evaluation.results.model_dump(mode="json"), indent=2, ensure_ascii=False))
        return
    for warning in evaluation.warnings:
        click.echo(f"warning: {warning}", err=True)
    click.echo(render_results(evaluation.results))
    click.echo(f"{evaluation.results.method} on {evaluation.results.base_model}: "
               f"{len(evaluation.predictions)} predictions in {evaluation.out}; "
               f"{evaluation.generated} generated, {evaluation.cached} from the cache")


@click.command("run-grid")
@click.argument("grid", type=click.Path(dir_okay=False, path_type=Path))
@engine_options(EVALUATION_ENGINES)
@progress_option()
@cache_dir_option()
@json_option(help="Print what ran and the Table 2 layout as JSON.")
@handle_errors
def run_grid_command(grid: Path, engine: str, ray_address: str | None, actors: int | None,
                     gpus_per_actor: float | None, cpus_per_actor: float | None, no_progress: bool,
                     cache_dir: str | None, as_json: bool) -> None:
    """Run every bundle x base model x sub-task of GRID.yaml (docs/evaluate.md), skipping finished runs, and
    print the Table 2 layout of the results the grid has."""
    _require_extras("compbench run-grid", engine)
    from compbench.evaluation.grid import render_table2, run_grid

    if no_progress:
        _quiet_libraries()
    report = run_grid(grid, progress=not no_progress, cache_dir=cache_dir, engine=engine,
                      engine_options=engine_arguments(ray_address, actors, gpus_per_actor, cpus_per_actor),
                      echo=None if as_json else lambda line: click.echo(line, err=True))
    document = report.to_dict()
    if as_json:
        click.echo(json.dumps(document, indent=2, ensure_ascii=False))
    else:
        click.echo(render_table2(document["table"]))
