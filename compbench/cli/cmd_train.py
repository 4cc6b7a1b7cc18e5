"""``compbench train lora|joint-expert|calibration|merge-coefficients``: train on a release, write a bundle."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from compbench.cli.common import handle_errors, requires
from compbench.cli.options import (
    batch_size_option,
    data_option,
    device_option,
    dtype_option,
    out_option,
    progress_option,
    seed_option,
    split_option,
)


def _common(default_lr: float, default_examples: int | None,
            examples_help: str = "Seeded random sample of this many examples [default: all]."
            ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Options every training command shares (model, data, optimisation, checkpoints)."""

    def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
        options = [
            click.option("--base-model", required=True, help="Local model directory or Hub id (safetensors)."),
            click.option("--revision", default=None, help="Hub revision of the base model."),
            data_option(required=True),
            out_option("Bundle directory to write (must not exist yet, or be empty).", required=True),
            split_option(default="train"),
            click.option("--examples", type=click.IntRange(min=1), default=default_examples,
                         show_default=default_examples is not None,
                         help=examples_help if default_examples is None else "Seeded random sample of this many "
                                                                             "examples."),
            click.option("--lr", "learning_rate", type=float, default=default_lr, show_default=True),
            batch_size_option(8),
            click.option("--epochs", type=int, default=1, show_default=True),
            click.option("--max-steps", type=int, default=None, help="Stop after this many steps."),
            seed_option(0, "Seed of the example sample, batch order and initialisation."),
            click.option("--max-length", type=int, default=1024, show_default=True,
                         help="Tokens per example (prompt + response); longer ones are cut from the end."),
            click.option("--checkpoint-every", type=int, default=100, show_default=True,
                         help="Steps between checkpoints (0: only at the end)."),
            click.option("--checkpoint-dir", type=click.Path(file_okay=False), default=None,
                         help="Where checkpoints go [default: <out>.checkpoints]; a rerun resumes from it."),
            dtype_option(),
            device_option(None),
            progress_option(),
        ]
        for option in reversed(options):
            func = option(func)
        return func

    return decorate


def _split_common(kwargs: dict[str, Any]) -> tuple[dict[str, Any], Any]:
    """Turn the shared options into keyword arguments and a TrainConfig."""
    from compbench.training.loop import TrainConfig

    config = TrainConfig(learning_rate=kwargs.pop("learning_rate"), batch_size=kwargs.pop("batch_size"),
                         epochs=kwargs.pop("epochs"), max_steps=kwargs.pop("max_steps"), seed=kwargs.pop("seed"),
                         checkpoint_every=kwargs.pop("checkpoint_every"))
    kwargs["progress"] = not kwargs.pop("no_progress")
    return kwargs, config


def _report(bundle) -> None:
    params = bundle.manifest.parameters
    loss = ""
    if params.get("first_loss") is not None:
        loss = f"; loss {params['first_loss']:.4f} -> {params['last_loss']:.4f} over {params['steps']} steps"
    click.echo(f"wrote {bundle.manifest.method} bundle {bundle.path}{loss}")


@click.group()
def train() -> None:
    """Train adapters, calibrations and merge weights on a built release; each writes an adapter bundle.

    A killed run resumes from its last checkpoint when started again with the same command.
    """


def _lora_options(func: Callable[..., Any]) -> Callable[..., Any]:
    func = click.option("--rank", "r", type=int, default=32, show_default=True)(func)
    func = click.option("--alpha", type=float, default=16, show_default=True)(func)
    func = click.option("--dropout", type=float, default=0.05, show_default=True)(func)
    func = click.option("--target-modules", default="q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj",
                        show_default=True, help="Comma-separated module names.")(func)
    return _common(5e-5, None)(func)


def _run_lora(subtasks: tuple[str, ...], kwargs: dict[str, Any]) -> None:
    from compbench.training.bundles import train_lora_bundle
    from compbench.training.lora import LoraSettings

    settings = LoraSettings(r=kwargs.pop("r"), alpha=kwargs.pop("alpha"), dropout=kwargs.pop("dropout"),
                            target_modules=[m.strip() for m in kwargs.pop("target_modules").split(",") if m.strip()])
    kwargs, config = _split_common(kwargs)
    bundle = train_lora_bundle(kwargs.pop("base_model"), kwargs.pop("data"), list(subtasks), kwargs.pop("out"),
                               settings=settings, config=config, **kwargs)
    _report(bundle)


@train.command("lora")
@click.option("--task", required=True, help="The single task (sum, reply, tr-es, tone-casual, ...).")
@_lora_options
@handle_errors
@requires("train")
def lora_command(task: str, **kwargs: Any) -> None:
    """Train a single-task LoRA (paper: rank 32, alpha 16, dropout 0.05, Adam lr 5e-5, one epoch)."""
    _run_lora((task,), kwargs)


@train.command("joint-expert")
@click.option("--family", "families", multiple=True, required=True,
              help="Compositional family or sub-task to train on (repeatable), e.g. sum+tr.")
@_lora_options
@handle_errors
@requires("train")
def joint_expert_command(families: tuple[str, ...], **kwargs: Any) -> None:
    """Train a joint-expert LoRA on compositional data (same settings as the single-task LoRAs)."""
    _run_lora(families, kwargs)


@train.command("calibration")
@click.option("--family", "families", multiple=True, required=True,
              help="Compositional family or sub-task (repeatable); several families = the shared variant.")
@click.option("--adapter", "adapters", multiple=True,
              help="Single-task LoRA (PEFT directory or one-adapter bundle), repeatable; the start is their mean.")
@click.option("--no-loras", is_flag=True, help="The ablation: train the calibration without LoRAs.")
@click.option("--kind", type=click.Choice(["lc", "lc++"]), default="lc", show_default=True)
@click.option("--rank", type=int, default=4, show_default=True, help="LC++ rank s.")
@click.option("--export-lora", type=click.Path(), default=None,
              help="Also write the calibrated model as a plain PEFT LoRA (rank r+1 / r+s) here.")
@_common(5e-4, 10_000)
@handle_errors
@requires("train")
def calibration_command(families: tuple[str, ...], adapters: tuple[str, ...], no_loras: bool, **kwargs: Any) -> None:
    """Learn Learnable Calibration (LC) or LC++ parameters (paper: Adam lr 5e-4, 10,000 examples, LC++ rank 4)."""
    from compbench.errors import ConfigError
    from compbench.training.bundles import train_calibration_bundle

    if bool(adapters) == no_loras:
        raise ConfigError("give the single-task LoRAs with --adapter (usually two), or --no-loras for the ablation")
    kwargs, config = _split_common(kwargs)
    bundle = train_calibration_bundle(kwargs.pop("base_model"), kwargs.pop("data"), list(families), list(adapters),
                                      kwargs.pop("out"), config=config, **kwargs)
    _report(bundle)


@train.command("merge-coefficients")
@click.option("--family", "families", multiple=True, required=True,
              help="Compositional family or sub-task (repeatable).")
@click.option("--adapter", "adapters", multiple=True, required=True,
              help="Single-task LoRA (PEFT directory or one-adapter bundle); give two or more.")
@click.option("--method", type=click.Choice(["dam", "lorahub", "lm-cocktail"]), default="dam", show_default=True,
              help="dam: column-wise coefficients by backprop; lorahub: gradient-free search; "
                   "lm-cocktail: softmax of negative losses.")
@click.option("--budget", type=int, default=40, show_default=True, help="LoraHub: loss evaluations.")
@click.option("--temperature", type=float, default=5.0, show_default=True, help="LM-Cocktail temperature.")
@_common(5e-4, None, "Seeded random sample of this many examples [default: 10,000 for dam, 5 for lorahub and "
                    "lm-cocktail].")
@handle_errors
@requires("train")
def merge_coefficients_command(families: tuple[str, ...], adapters: tuple[str, ...], **kwargs: Any) -> None:
    """Learn merge weights on compositional data (examples default: 10,000 for dam, 5 for lorahub/lm-cocktail)."""
    from compbench.training.bundles import train_merge_bundle

    kwargs, config = _split_common(kwargs)
    bundle = train_merge_bundle(kwargs.pop("base_model"), kwargs.pop("data"), list(families), list(adapters),
                                kwargs.pop("out"), config=config, **kwargs)
    _report(bundle)
