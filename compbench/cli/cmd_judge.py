"""``compbench judge``: the paper's LLM judge over a predictions file, through an OpenAI-compatible server."""

from __future__ import annotations

import json

import click

from compbench.cli.common import command_line, handle_errors
from compbench.cli.options import (
    cache_dir_option,
    data_option,
    json_option,
    judge_options,
    out_option,
    progress_option,
    seed_option,
    split_option,
    subtask_option,
)
from compbench.errors import ConfigError


def judge_settings(judge_endpoint, judge_model, judge_concurrency, judge_timeout, judge_max_retries, cache_dir,
                   no_progress):
    """The judge settings the shared judge options describe, or ``None`` when neither endpoint nor model is given."""
    if judge_endpoint is None and judge_model is None:
        return None
    if judge_endpoint is None or judge_model is None:
        raise ConfigError("give both --judge-endpoint and --judge-model to run the LLM judge")
    from compbench.judging import JudgeSettings

    return JudgeSettings(endpoint=judge_endpoint, model=judge_model, concurrency=judge_concurrency,
                         timeout=judge_timeout, max_retries=judge_max_retries, cache_dir=cache_dir,
                         progress=not no_progress)


@click.command("judge")
@click.argument("predictions", type=click.Path(dir_okay=False, path_type=str))
@data_option(required=True, help="Release directory or Hub dataset id: the judge needs its inputs and references.")
@split_option()
@subtask_option(help="Judge only this sub-task (repeatable); default: every sub-task with predictions.")
@judge_options(required=True)
@cache_dir_option()
@click.option("--bootstrap", type=click.IntRange(min=0), default=1000, show_default=True,
              help="Bootstrap resamples for the intervals (0: none).")
@seed_option(help="Bootstrap seed (use the score run's to share its resamples).")
@click.option("--allow-missing", is_flag=True, help="Judge references without a prediction as empty predictions.")
@out_option(file=True, help="Write the judge document (JSON) here; per-example verdicts go beside it "
                            "(<out stem>.examples.parquet).")
@click.option("--results", "results_path", type=click.Path(dir_okay=False), default=None,
              help="Add the judge scores to this results document (from `compbench score` on the same "
                   "predictions and release), in place; verdicts go beside it (<results stem>.judge.parquet).")
@progress_option()
@json_option()
@handle_errors
def judge(predictions, data, split, subtasks, judge_endpoint, judge_model, judge_concurrency, judge_timeout,
          judge_max_retries, cache_dir, bootstrap, seed, allow_missing, out, results_path, no_progress,
          as_json) -> None:
    """Judge PREDICTIONS (JSON Lines or Parquet with id, prediction) with the paper's appendix A prompts.

    Answers are cached (--cache-dir): a rerun sends nothing already answered, and a killed run resumes.
    """
    from compbench.judging import judge as run_judge
    from compbench.judging import update_results
    from compbench.report import render_judge

    settings = judge_settings(judge_endpoint, judge_model, judge_concurrency, judge_timeout, judge_max_retries,
                              cache_dir, no_progress)
    report = run_judge(predictions, data=data, settings=settings, subtasks=list(subtasks) or None, split=split,
                       seed=seed, bootstrap=bootstrap, allow_missing=allow_missing, command=command_line())
    if results_path:
        update_results(results_path, report)
    if out:
        report.write(out)
    if as_json:
        click.echo(json.dumps(report.document.model_dump(mode="json"), indent=2, ensure_ascii=False))
    else:
        click.echo(render_judge(report.document))
