"""``compbench build``: regenerate the benchmark from its sources (thin wrapper over ``compbench.build``)."""

from __future__ import annotations

from pathlib import Path

import click

from compbench.build.stages import DEFAULT_MAX_FAILURE_RATE
from compbench.cli.common import handle_errors
from compbench.cli.options import (
    batch_size_option,
    cache_dir_option,
    device_option,
    dtype_option,
    limit_option,
    out_option,
    progress_option,
    split_option,
    subtask_option,
)
from compbench.errors import ConfigError
from compbench.tasks import LANGUAGES


def parse_translator(values: tuple[str, ...]) -> str | dict[str, str] | None:
    """``--translator`` values: one id/dir/template for every language, or ``xx=ID_OR_DIR`` per language."""
    if not values:
        return None
    per_language = [v for v in values if v.partition("=")[0] in LANGUAGES and "=" in v]
    if not per_language:
        if len(values) > 1:
            raise ConfigError("give one --translator (a template with {lang}) or one --translator xx=ID per language")
        return values[0]
    if len(per_language) != len(values):
        raise ConfigError("mixing --translator ID and --translator xx=ID; use one form")
    return {lang: model for lang, _, model in (v.partition("=") for v in values)}


def format_plan(stages) -> str:
    """The ``--plan`` table: per stage, generations needed, distinct inputs, cached, left to generate."""
    header = ("stage", "model", "rows", "distinct", "cached", "to generate")
    lines = [header]
    for s in stages:
        todo = f"{s.to_generate:,}" + (f" (+ up to {s.unknown:,} after earlier stages)" if s.unknown else "")
        lines.append((s.name, s.model_id, f"{s.needed:,}", f"{s.unique:,}", f"{s.cached:,}", todo))
    if len(lines) == 1:
        return "no generation stage: every selected sub-task uses its source references as they are"
    total = sum(s.to_generate + s.unknown for s in stages)
    widths = [max(len(row[i]) for row in lines) for i in range(len(header))]
    text = ["  ".join(c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True)))
            for row in lines]
    return "\n".join([*text, f"total to generate: {total:,}"])


@click.command()
@subtask_option("Build only this sub-task (repeatable); default: every sub-task.")
@split_option(multiple=True)
@click.option("--sources-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Read the sources from their original files in DIR/<source>/ instead of the Hub.")
@out_option("Release directory to write (replaced atomically at the end).", default="release")
@limit_option("Keep at most N rows per sub-task and split (quick builds).")
@cache_dir_option()
@click.option("--backend", type=click.Choice(["transformers", "ctranslate2", "synthetic"]), default="transformers",
              show_default=True, help="Translation backend; 'synthetic': the demo world's rules for translation and "
                                      "tone, --translator / --tone-model then name its world, synthetic-world:SEED "
                                      "(docs/demo.md).")
@click.option("--translator", "translator", multiple=True, metavar="ID_OR_DIR",
              help="Translation model: Hub id or directory, a template with {lang}, or xx=ID_OR_DIR per language.")
@click.option("--tone-model", default=None, metavar="ID_OR_DIR",
              help="Tone LoRA adapter (Hub id or directory), or a directory with base/ and adapter/.")
@device_option()
@dtype_option()
@batch_size_option(None, "Generation batch size [default: per generator: 32 translation, 8 tone].")
@click.option("--max-new-tokens", "max_length", type=click.IntRange(min=1), default=None,
              help="Maximum generated tokens per output [default: per generator: 256 translation, 128 tone].")
@click.option("--name", "release", default=None, help="Release name recorded in the manifest [default: compbench-VERSION].")
@click.option("--max-failure-rate", type=click.FloatRange(0.0, 1.0), default=DEFAULT_MAX_FAILURE_RATE,
              show_default=True, help="Stop (exit 2, nothing written) when a stage fails on a larger share of its "
                                      "rows, or on all of them.")
@progress_option()
@click.option("--plan", "show_plan", is_flag=True,
              help="Print, per stage, the generations needed and how many are cached; build nothing.")
@handle_errors
def build(subtasks, splits, sources_dir, out, limit, cache_dir, backend, translator, tone_model, device, dtype,
          batch_size, max_length, release, max_failure_rate, no_progress, show_plan) -> None:
    """Build the benchmark release (Parquet per sub-task and split, manifest, data card) from its sources."""
    from compbench.build import build as build_release
    from compbench.build import plan

    options = dict(only=subtasks or None, splits=splits or None, sources_dir=sources_dir, limit=limit,
                   cache_dir=cache_dir, backend=backend, translator=parse_translator(translator),
                   tone_model=tone_model, device=device, dtype=dtype, batch_size=batch_size, max_length=max_length)
    if show_plan:
        click.echo(format_plan(plan(**options).stages))
        return
    result = build_release(Path(out), release=release, max_failure_rate=max_failure_rate,
                           progress=not no_progress, **options)
    manifest = result.manifest
    rows = sum(f.rows for f in manifest.files)
    failures = sum(manifest.failures.values())
    click.echo(f"wrote {out}: {len(manifest.files)} files, {rows:,} rows; {result.generated:,} generated in "
               f"{result.model_calls:,} model calls, {failures:,} generation failures left out")
