"""``compbench score`` and ``compbench compare``."""

from __future__ import annotations

import json

import click

from compbench.cli.cmd_judge import judge_settings
from compbench.cli.common import command_line, handle_errors
from compbench.cli.options import (
    cache_dir_option,
    data_option,
    json_option,
    judge_options,
    progress_option,
    split_option,
    subtask_option,
)
from compbench.metrics.tokenizers import TOKENIZERS
from compbench.scoring import MULTI_REF_MODES


@click.command()
@click.argument("predictions", type=click.Path(dir_okay=False, path_type=str))
@data_option(help="Release directory or Hub dataset id (ORG/NAME[@REVISION]) holding the references.")
@click.option("--references", default=None, type=click.Path(dir_okay=False),
              help='JSON Lines {"id", "subtask", "reference"}; repeated ids = several references.')
@subtask_option("Score only this sub-task (repeatable); default: every sub-task of the references.")
@split_option()
@click.option("--tokenizer", type=click.Choice(list(TOKENIZERS)), default="unicode", show_default=True,
              help="unicode: keeps accented letters; compat: rouge-score's default tokenizer, exactly.")
@click.option("--multi-ref", type=click.Choice(list(MULTI_REF_MODES)), default="each", show_default=True,
              help="each: every (input, reference) row is an example (the paper); max: best reference per input.")
@click.option("--seed", default=0, show_default=True, help="Bootstrap seed.")
@click.option("--bootstrap", default=1000, show_default=True, help="Bootstrap resamples (0: no intervals).")
@click.option("--out", default=None, type=click.Path(dir_okay=False), help="Write the results JSON here.")
@click.option("--per-example", default=None, type=click.Path(dir_okay=False),
              help="Per-example scores (Parquet); default with --out: <out>.examples.parquet beside it.")
@click.option("--allow-missing", is_flag=True, help="Score references without a prediction as empty predictions.")
@click.option("--method", default=None, help="Method name to record in the results.")
@click.option("--base-model", default=None, help="Base model to record in the results.")
@click.option("--workers", default=None, type=int, help="Scoring processes (default: available cores).")
@json_option("Print the results document on stdout instead of a table.")
@judge_options(required=False)
@cache_dir_option()
@progress_option()
@handle_errors
def score(predictions, data, references, subtasks, split, tokenizer, multi_ref, seed, bootstrap, out, per_example,
          allow_missing, method, base_model, workers, as_json, judge_endpoint, judge_model, judge_concurrency,
          judge_timeout, judge_max_retries, cache_dir, no_progress) -> None:
    """Score PREDICTIONS (JSON Lines or Parquet with id, prediction) with the benchmark's metrics."""
    from compbench.report import render_results
    from compbench.scoring import score as run_score

    report = run_score(predictions, data=data, references=references, subtasks=list(subtasks) or None, split=split,
                       tokenizer=tokenizer, seed=seed, bootstrap=bootstrap, multi_ref=multi_ref,
                       allow_missing=allow_missing, workers=workers, method=method, base_model=base_model,
                       command=command_line(),
                       judge=judge_settings(judge_endpoint, judge_model, judge_concurrency, judge_timeout,
                                            judge_max_retries, cache_dir, no_progress))
    report.write(out=out, per_example=per_example)
    if as_json:
        click.echo(json.dumps(report.results.model_dump(mode="json"), indent=2, ensure_ascii=False))
    else:
        click.echo(render_results(report.results))


@click.command()
@click.argument("a", type=click.Path(dir_okay=False))
@click.argument("b", type=click.Path(dir_okay=False))
@click.option("--bootstrap", default=None, type=int, help="Resamples (default: as scored).")
@click.option("--seed", default=None, type=int, help="Seed (default: as scored, so resamples match).")
@click.option("--out", default=None, type=click.Path(dir_okay=False), help="Write the comparison JSON here.")
@click.option("--json", "as_json", is_flag=True, help="Print the comparison as JSON.")
@handle_errors
def compare(a, b, bootstrap, seed, out, as_json) -> None:
    """Compare two results (A - B) per sub-task and family with a paired bootstrap."""
    from compbench.compare import compare as run_compare
    from compbench.fileio import write_json
    from compbench.report import render_comparison

    comparison = run_compare(a, b, bootstrap=bootstrap, seed=seed)
    if out:
        write_json(out, comparison.model_dump(mode="json"))
    if as_json:
        click.echo(json.dumps(comparison.model_dump(mode="json"), indent=2))
    else:
        click.echo(render_comparison(comparison))
