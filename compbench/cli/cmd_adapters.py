"""``compbench adapters inspect|convert|merge``: PEFT LoRA directories and adapter bundles.

torch and PEFT are imported inside the commands, so ``compbench --help`` stays fast.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from compbench.adapters.merges import MERGES
from compbench.cli.common import handle_errors, requires
from compbench.errors import ConfigError
from compbench.schemas import BUNDLE_MANIFEST_NAME


@click.group("adapters")
def adapters() -> None:
    """Inspect, convert and merge LoRA adapters in PEFT's format."""


@adapters.command("inspect")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print a JSON document.")
@handle_errors
@requires("evaluate")
def inspect_command(path: Path, as_json: bool) -> None:
    """Summarise a PEFT LoRA directory, or validate and summarise an adapter bundle."""
    from compbench.adapters.operations import inspect_adapter

    if (path / BUNDLE_MANIFEST_NAME).exists():
        from compbench.bundle import validate_bundle

        bundle = validate_bundle(path)
        document = {"bundle": bundle.manifest.model_dump(mode="json"),
                    "adapters": {a.name: inspect_adapter(bundle.adapter_path(a.name))
                                 for a in bundle.manifest.adapters}}
        if as_json:
            click.echo(json.dumps(document, indent=2))
            return
        m = bundle.manifest
        click.echo(f"bundle {path}: method {m.method}, base model {m.base_model}, "
                   f"{len(m.adapters)} adapter(s), calibration {m.calibration or 'none'}")
        for name, summary in document["adapters"].items():
            _print_summary(summary, prefix=f"  [{name}] ")
        return
    summary = inspect_adapter(path)
    if as_json:
        click.echo(json.dumps(summary, indent=2))
    else:
        _print_summary(summary)


def _print_summary(s: dict, prefix: str = "") -> None:
    click.echo(f"{prefix}{s['path']}: base model {s['base_model']}, {s['modules']} modules, ranks {s['ranks']}, "
               f"scalings {s['scalings']}, {s['parameters']:,} parameters, {s['bytes']:,} bytes {s['dtype']}")
    for module_type, e in s["module_types"].items():
        click.echo(f"{prefix}  {module_type:<10} x{e['modules']:<4} (out, in) = {tuple(e['out_in'])}  "
                   f"rank {e['ranks']}  scaling {e['scalings']}")


@adapters.command("convert")
@click.argument("path", type=click.Path(path_type=Path))
@handle_errors
@requires("evaluate")
def convert_command(path: Path) -> None:
    """Convert a pickled adapter_model.bin to safetensors, safely (torch.load with weights_only=True)."""
    from compbench.adapters.lora_io import convert_bin_to_safetensors

    click.echo(f"wrote {convert_bin_to_safetensors(path)}")


def _floats(value: str | None, option: str) -> list[float] | None:
    if value is None:
        return None
    try:
        return [float(part) for part in value.split(",")]
    except ValueError:
        raise ConfigError(f"{option} must be comma-separated numbers, got {value!r}") from None


@adapters.command("merge", help="Merge the LoRA adapters PATHS (PEFT directories or one-adapter bundles) into a new "
                  "LoRA at --out; with --bundle, write a bundle of METHOD holding the inputs (main task first) and "
                  "the parameters, merged when it is evaluated (docs/evaluate.md). "
                  f"METHOD is one of: {', '.join(MERGES)}. See docs/methods.md for each definition.")
@click.argument("method")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--out", required=True, type=click.Path(path_type=Path), help="New directory for the result.")
@click.option("--weights", default=None, help="Comma-separated weights, one per adapter (default 1/N each).")
@click.option("--density", type=float, default=None, help="TIES / DARE: fraction kept (default 0.5).")
@click.option("--seed", type=int, default=None, help="DARE: seed of the drop masks (default 0).")
@click.option("--rank", type=int, default=None, help="TIES / DARE: rank of the SVD export (default: sum of ranks).")
@click.option("--t", "t", type=float, default=None, help="Slerp: interpolation point (default 0.5).")
@click.option("--space", type=click.Choice(["factors", "delta"]), default=None, help="LM-Cocktail: where weights apply.")
@click.option("--coefficients", type=click.Path(path_type=Path), default=None,
              help="DAM / ZipLoRA: safetensors file of (N, d_out) column-wise coefficients per module.")
@click.option("--bundle", is_flag=True, help="Write an adapter bundle of METHOD (bundle.json + the input adapters).")
@click.option("--base-model", default=None, help="Base model for the bundle (default: from the adapters).")
@click.option("--device", default=None, help="Where to compute (e.g. cuda); TIES / DARE are slow on CPU.")
@handle_errors
@requires("evaluate")
def merge_command(method: str, paths: tuple[Path, ...], out: Path, weights: str | None, density: float | None,
                  seed: int | None, rank: int | None, t: float | None, space: str | None,
                  coefficients: Path | None, bundle: bool, base_model: str | None, device: str | None) -> None:
    from compbench.adapters.operations import merge_adapter_dirs

    given = {"weights": _floats(weights, "--weights"), "density": density, "seed": seed, "rank": rank, "t": t,
             "space": space, "coefficients": coefficients}
    parameters = {key: value for key, value in given.items() if value is not None}
    written = merge_adapter_dirs(method, list(paths), out, bundle=bundle, base_model=base_model, device=device,
                                 **parameters)
    click.echo(f"wrote {'bundle' if bundle else 'adapter'} {written}")
