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
    engine_arguments,
    engine_options,
    limit_option,
    out_option,
    progress_option,
    split_option,
    subtask_option,
)
from compbench.errors import ConfigError
from compbench.generation.ctranslate2_backend import COMPUTE_TYPES
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


def format_plan(stages, estimates=None) -> str:
    """The ``--plan`` table: per stage, generations needed, distinct inputs, cached, left to generate, and the
    estimated wall time (``estimates``: one :class:`~compbench.build.throughput.Estimate` per stage), with where
    each figure comes from below the table."""
    from compbench.build.throughput import format_duration

    header = ("stage", "model", "rows", "distinct", "cached", "to generate", "est. time")[:7 if estimates else 6]
    lines = [header]
    notes: dict[str, int] = {}  # provenance line -> its number
    known_seconds, unknown_stages = 0.0, 0
    for i, s in enumerate(stages):
        todo = f"{s.to_generate:,}" + (f" (+ up to {s.unknown:,} after earlier stages)" if s.unknown else "")
        estimate = estimates[i] if estimates else None
        if estimate is None or not s.to_generate + s.unknown:
            cell = "-" if not s.to_generate + s.unknown else ""
        elif estimate.seconds is None:
            cell = f"[{notes.setdefault(_no_measurement(estimate), len(notes) + 1)}] no measurement"
            unknown_stages += 1
        else:
            known_seconds += estimate.seconds
            mark = notes.setdefault(_provenance(estimate), len(notes) + 1)
            cell = ("<= " if s.unknown else "") + f"{format_duration(estimate.seconds)} [{mark}]"
        lines.append((s.name, s.model_id, f"{s.needed:,}", f"{s.unique:,}", f"{s.cached:,}", todo, cell)[:len(header)])
    if len(lines) == 1:
        return "no generation stage: every selected sub-task uses its source references as they are"
    total = sum(s.to_generate + s.unknown for s in stages)
    widths = [max(len(row[i]) for row in lines) for i in range(len(header))]
    text = ["  ".join(c.ljust(w) if i < 2 or i == 6 else c.rjust(w)
                      for i, (c, w) in enumerate(zip(row, widths, strict=True))).rstrip() for row in lines]
    text.append(f"total to generate: {total:,}")
    if estimates and known_seconds:
        text.append(f"estimated wall time: {format_duration(known_seconds)}"
                    + (f", plus {unknown_stages} stage(s) without a measurement" if unknown_stages else ""))
    elif estimates and unknown_stages:
        text.append("estimated wall time: unknown (no measurement for any stage left to generate)")
    text += [f"[{number}] {note}" for note, number in notes.items()]
    return "\n".join(text)


def _provenance(estimate) -> str:
    scaled = (f"; {estimate.scaled_by} actors estimated as {estimate.scaled_by} x the 1-actor figure (linear "
              "scaling assumed)" if estimate.scaled_by > 1 else "")
    return f"{estimate.measurement.configuration.describe()}: {estimate.measurement.provenance()}{scaled}"


def _no_measurement(estimate) -> str:
    return (f"{estimate.configuration.describe()}: no measurement, so no estimate "
            "(compbench/build/throughput.json lists what was measured)")


@click.command()
@subtask_option("Build only this sub-task (repeatable); default: every sub-task.")
@split_option(multiple=True)
@click.option("--sources-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Read the sources from their original files in DIR/<source>/ instead of the Hub.")
@out_option("Release directory to write (replaced atomically at the end).", default="release")
@limit_option("Keep at most N rows per sub-task and split (quick builds).")
@cache_dir_option()
@click.option("--backend", type=click.Choice(["transformers", "ctranslate2", "synthetic"]), default="transformers",
              show_default=True, help="Translation backend; synthetic: the demo world's rules, --translator then "
                                      "names the world, synthetic-world:SEED (docs/demo.md).")
@click.option("--compute-type", type=click.Choice(COMPUTE_TYPES), default=None,
              help="CTranslate2 compute type (--backend ctranslate2) [default: int8 on cpu; on cuda int8_float16, "
                   "or --dtype when it is float16/bfloat16].")
@click.option("--tone-backend", type=click.Choice(["transformers", "vllm", "synthetic"]), default="transformers",
              show_default=True, help="Tone model runtime; vllm needs the [vllm] extra in its own environment; "
                                      "synthetic: the demo world's rules, --tone-model then names the world.")
@click.option("--translator", "translator", multiple=True, metavar="ID_OR_DIR",
              help="Translation model: Hub id or directory, a template with {lang}, or xx=ID_OR_DIR per language.")
@click.option("--tone-model", default=None, metavar="ID_OR_DIR",
              help="Tone LoRA adapter (Hub id or directory), or a directory with base/ and adapter/.")
@device_option()
@dtype_option()
@batch_size_option(None, "Generation batch size [default: per generator: 32 translation, 8 tone].")
@click.option("--max-new-tokens", "max_length", type=click.IntRange(min=1), default=None,
              help="Maximum generated tokens per output [default: per generator: 256 translation, 128 tone].")
@engine_options()
@click.option("--chunk-size", type=click.IntRange(min=1), default=256, show_default=True,
              help="Texts per generate call and per cache commit (with vLLM, larger chunks keep the GPU busy).")
@click.option("--name", "release", default=None, help="Release name recorded in the manifest [default: compbench-VERSION].")
@click.option("--max-failure-rate", type=click.FloatRange(0.0, 1.0), default=DEFAULT_MAX_FAILURE_RATE,
              show_default=True, help="Stop (exit 2, nothing written) when a stage fails on a larger share of its "
                                      "rows, or on all of them.")
@progress_option()
@click.option("--plan", "show_plan", is_flag=True,
              help="Print, per stage, the generations needed, how many are cached and the estimated wall time for "
                   "the chosen engine and hardware (from measured throughput); build nothing.")
@handle_errors
def build(subtasks, splits, sources_dir, out, limit, cache_dir, backend, compute_type, tone_backend, translator,
          tone_model, device, dtype, batch_size, max_length, engine, ray_address, actors, gpus_per_actor,
          cpus_per_actor, chunk_size, release, max_failure_rate, no_progress, show_plan) -> None:
    """Build the benchmark release (Parquet per sub-task and split, manifest, data card) from its sources."""
    from compbench.build import build as build_release
    from compbench.build import plan
    from compbench.engines import make_engine

    options = dict(only=subtasks or None, splits=splits or None, sources_dir=sources_dir, limit=limit,
                   cache_dir=cache_dir, backend=backend, compute_type=compute_type, tone_backend=tone_backend,
                   translator=parse_translator(translator), tone_model=tone_model, device=device, dtype=dtype,
                   batch_size=batch_size, max_length=max_length)
    with make_engine(engine, **engine_arguments(ray_address, actors, gpus_per_actor, cpus_per_actor)) as runner:
        if show_plan:
            from compbench.build.throughput import estimate, stage_configuration

            planned = plan(engine=runner, **options)
            estimates = [estimate(stage_configuration(s.task, planned.generators[s.task].settings, device,
                                                      planned.engine), s.to_generate + s.unknown)
                         for s in planned.stages]
            click.echo(format_plan(planned.stages, estimates))
            return
        result = build_release(Path(out), release=release, max_failure_rate=max_failure_rate,
                               progress=not no_progress, chunk_size=chunk_size, engine=runner, **options)
    manifest = result.manifest
    rows = sum(f.rows for f in manifest.files)
    failures = sum(manifest.failures.values())
    click.echo(f"wrote {out}: {len(manifest.files)} files, {rows:,} rows; {result.generated:,} generated in "
               f"{result.model_calls:,} model calls, {failures:,} generation failures left out")
