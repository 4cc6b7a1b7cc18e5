"""The CLI's shared vocabulary: one definition per option that several commands take (docs/cli.md).

A command that takes a release uses :func:`data_option`, one that writes uses :func:`out_option`, and so on, so
the same thing has the same name, help text and default everywhere. ``tests/test_cli_conventions.py`` walks
every command and checks it against these definitions.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from compbench.engines import ENGINES
from compbench.tasks import SPLITS

Decorator = Callable[[Callable[..., Any]], Callable[..., Any]]

DATA_HELP = "Release directory or Hub dataset id (ORG/NAME or ORG/NAME@REVISION)."
DEVICE_HELP = "Torch device: cpu, cuda, cuda:1, ..."
DTYPE_CHOICES = ("float32", "float16", "bfloat16")

#: Option names that mean one thing across the CLI; the conventions test checks them against this table.
CONVENTIONS: dict[str, str] = {
    "--data": "a release directory or a Hub dataset id",
    "--out": "where the command writes (a file or a directory, as its help says)",
    "--subtask": "a sub-task id, repeatable",
    "--split": "a split of the release",
    "--limit": "at most N rows per sub-task and split",
    "--json": "print a JSON document instead of a table",
    "--device": "a torch device",
    "--dtype": "float32, float16 or bfloat16",
    "--batch-size": "generation or training batch size",
    "--seed": "the seed of every random choice the command makes",
    "--no-progress": "no progress bars",
    "--cache-dir": "compbench's cache directory",
    "--base-model": "a base model: Hub id or local directory (or a named architecture for efficiency)",
    "--max-new-tokens": "maximum generated tokens per output",
    "--engine": "where generations run: local (this process) or ray (a Ray cluster); evaluation adds vllm",
    "--ray-address": "the Ray cluster to join (--engine ray)",
    "--actors": "generator actors per build stage or evaluated model plan (--engine ray)",
    "--gpus-per-actor": "GPUs per Ray actor",
    "--cpus-per-actor": "CPUs per Ray actor",
    "--judge-endpoint": "the LLM judge's OpenAI-compatible server (base URL)",
    "--judge-model": "the model name the judge's server serves",
    "--store": "a leaderboard store directory",
}
#: Names that must not come back: each was once used for something that now has a conventional name.
RETIRED: dict[str, str] = {"--output": "--out", "-o": "--out", "--release": "--data (or --name in build)",
                           "--only": "--subtask", "--model": "--base-model"}


def data_option(required: bool = False, help: str = DATA_HELP) -> Decorator:
    return click.option("--data", required=required, default=None, metavar="DIR_OR_HUB_ID", help=help)


def out_option(help: str, required: bool = False, default: Any = None, file: bool = False) -> Decorator:
    kind = click.Path(dir_okay=not file, file_okay=file)
    return click.option("--out", required=required, default=default, type=kind, show_default=default is not None,
                        help=help)


def subtask_option(help: str = "Only this sub-task (repeatable); default: all.") -> Decorator:
    return click.option("--subtask", "subtasks", multiple=True, metavar="ID", help=help)


def split_option(default: str | None = "test", multiple: bool = False) -> Decorator:
    if multiple:
        return click.option("--split", "splits", multiple=True, type=click.Choice(SPLITS),
                            help="Only this split (repeatable); default: all.")
    return click.option("--split", default=default, type=click.Choice(SPLITS), show_default=default is not None,
                        help="Split of the release.")


def limit_option(help: str = "At most N rows per sub-task and split (quick runs).") -> Decorator:
    return click.option("--limit", type=click.IntRange(min=1), default=None, help=help)


def json_option(help: str = "Print a JSON document instead of a table.") -> Decorator:
    return click.option("--json", "as_json", is_flag=True, help=help)


def device_option(default: str | None = "cpu") -> Decorator:
    return click.option("--device", default=default, show_default=default is not None, help=DEVICE_HELP)


def dtype_option(default: str = "float32") -> Decorator:
    return click.option("--dtype", type=click.Choice(DTYPE_CHOICES), default=default, show_default=True,
                        help="Weights' dtype.")


def batch_size_option(default: int | None, help: str = "Batch size.") -> Decorator:
    return click.option("--batch-size", type=click.IntRange(min=1), default=default,
                        show_default=default is not None, help=help)


def seed_option(default: int = 0, help: str = "Seed of every random choice.") -> Decorator:
    return click.option("--seed", type=int, default=default, show_default=True, help=help)


def progress_option() -> Decorator:
    return click.option("--no-progress", is_flag=True, help="No progress bars.")


def cache_dir_option() -> Decorator:
    return click.option("--cache-dir", type=click.Path(file_okay=False), default=None,
                        help="Cache directory [default: $COMPBENCH_CACHE_DIR, else $XDG_CACHE_HOME/compbench, "
                             "else ~/.cache/compbench].")


def max_new_tokens_option(default: int | None, help: str = "Maximum generated tokens per output.") -> Decorator:
    return click.option("--max-new-tokens", type=click.IntRange(min=1), default=default,
                        show_default=default is not None, help=help)


#: What each ``--engine`` choice means, for its help text.
ENGINE_HELP = {"local": "in this process", "ray": "spread over a Ray cluster (extra [ray])",
               "vllm": "vLLM in this process, bundles as LoRA requests (extra [vllm], in its own environment)"}


def engine_options(engines: tuple[str, ...] = ENGINES) -> Decorator:
    """Where generations run (``compbench.engines``; evaluation adds ``vllm``): ``--engine`` and the Ray options
    (docs/engines.md).

    The Ray options default to None so that a command can refuse them without ``--engine ray``; pass the
    given ones to :func:`compbench.engines.make_engine` with :func:`engine_arguments`.
    """
    what = "; ".join(f"{name}: {ENGINE_HELP[name]}" for name in engines)
    options = [
        click.option("--engine", type=click.Choice(engines), default="local", show_default=True,
                     help=f"Where generations run ({what})."),
        click.option("--ray-address", default=None, metavar="ADDR",
                     help="Ray cluster to join (auto: the one running on this machine) [default: $RAY_ADDRESS, "
                          "else a new local Ray instance]."),
        click.option("--actors", type=click.IntRange(min=1), default=None,
                     help="Generator actors per build stage or evaluated model plan, each loading the model once "
                          "[default: 1]."),
        click.option("--gpus-per-actor", type=click.FloatRange(min=0), default=None,
                     help="GPUs reserved per actor (fractions share a GPU) [default: 0]."),
        click.option("--cpus-per-actor", type=click.FloatRange(min=0, min_open=True), default=None,
                     help="CPUs reserved per actor; its thread count [default: 1]."),
    ]

    def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
        for option in reversed(options):
            func = option(func)
        return func

    return decorate


def engine_arguments(ray_address: str | None, actors: int | None, gpus_per_actor: float | None,
                     cpus_per_actor: float | None) -> dict[str, Any]:
    """The Ray options that were given, as keyword arguments of :func:`compbench.engines.make_engine`."""
    given = {"address": ray_address, "actors": actors, "gpus_per_actor": gpus_per_actor,
             "cpus_per_actor": cpus_per_actor}
    return {name: value for name, value in given.items() if value is not None}


def judge_options(required: bool) -> Decorator:
    """The LLM judge's endpoint, model, concurrency, timeout and retries (``judge``, ``score``)."""
    more = "" if required else " Judging is off without it."
    options = [
        click.option("--judge-endpoint", required=required, default=None, metavar="URL",
                     help="Base URL of an OpenAI-compatible server (e.g. vLLM: http://127.0.0.1:8000/v1); the API "
                          "key comes from $COMPBENCH_JUDGE_API_KEY, else $OPENAI_API_KEY." + more),
        click.option("--judge-model", required=required, default=None, metavar="NAME",
                     help="Judge model name as the server serves it (the paper: Llama 3.1 70B Instruct)."),
        click.option("--judge-concurrency", type=click.IntRange(min=1), default=8, show_default=True,
                     help="Judge requests in flight at once."),
        click.option("--judge-timeout", type=click.FloatRange(min=0, min_open=True), default=60.0,
                     show_default=True, help="Seconds per judge request try."),
        click.option("--judge-max-retries", type=click.IntRange(min=0), default=4, show_default=True,
                     help="Retries per judge request (timeouts, connection errors, 429, 5xx), with backoff."),
    ]

    def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
        for option in reversed(options):
            func = option(func)
        return func

    return decorate
def store_option() -> Decorator:
    return click.option("--store", default="leaderboard", show_default=True, type=click.Path(file_okay=False),
                        help="Leaderboard store directory (store.json + entries/).")
