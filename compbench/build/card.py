"""The release's ``README.md``: a dataset card with the Hub ``configs:`` block and the license of every config.

The template is ``data_cards/dataset_card.md`` (``string.Template`` placeholders); the YAML ``configs`` block
maps each config to its Parquet files so ``datasets.load_dataset(release_dir, "sum_tr_es")`` works.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from importlib import resources
from string import Template

from builders.recipes import RECIPES
from builders.sources import SOURCE_PINS
from compbench.schemas import ReleaseManifest
from compbench.tasks import REGISTRY, SPLITS

TEMPLATE = "dataset_card.md"


def render_card(manifest: ReleaseManifest) -> str:
    template = Template(resources.files("data_cards").joinpath(TEMPLATE).read_text(encoding="utf-8"))
    files_by_config: dict[str, dict[str, tuple[str, int]]] = {}
    for file in manifest.files:
        config = REGISTRY[file.subtask].config_name
        files_by_config.setdefault(config, {})[file.split] = (file.path, file.rows)
    subtasks = list(dict.fromkeys(file.subtask for file in manifest.files))
    licenses = sorted({SOURCE_PINS[RECIPES[s].source].license for s in subtasks})
    return template.substitute(
        release=manifest.release,
        version=manifest.compbench_version,
        licenses_yaml="\n".join(f"- {name}" for name in licenses) or "- other",
        configs_yaml=_configs_yaml(subtasks, files_by_config),
        split_header=" | ".join(SPLITS),
        split_rule="---|" * len(SPLITS),
        configs_table="\n".join(_config_line(s, files_by_config) for s in subtasks),
        sources_table="\n".join(_source_line(ref.name, ref.hub_id, ref.revision, ref.local_files)
                                for ref in manifest.sources),
        generators_table="\n".join(
            f"| {g.task} | `{g.model_id}` | `{g.revision}` | `{json.dumps(g.settings, sort_keys=True)}` |"
            for g in manifest.generators) or "| — | none (no generated references in this release) | | |",
        failures=", ".join(f"{stage}: {count}" for stage, count in manifest.failures.items()) or "none",
    )


def _configs_yaml(subtasks: Sequence[str], files: dict[str, dict[str, tuple[str, int]]]) -> str:
    lines = []
    for subtask in subtasks:
        config = REGISTRY[subtask].config_name
        lines += [f"- config_name: {config}", "  data_files:"]
        for split in SPLITS:
            if split in files[config]:
                lines += [f"  - split: {split}", f"    path: {files[config][split][0]}"]
    return "\n".join(lines)


def _config_line(subtask: str, files: dict[str, dict[str, tuple[str, int]]]) -> str:
    task, recipe = REGISTRY[subtask], RECIPES[subtask]
    counts = files[task.config_name]
    sizes = " | ".join(f"{counts[s][1]:,}" if s in counts else "—" for s in SPLITS)
    return (f"| `{task.config_name}` | {task.id} | {task.family} | {recipe.pin.title} | "
            f"{recipe.pin.license_name} | {sizes} |")


def _source_line(name: str, hub_id: str | None, revision: str | None, local_files: dict[str, str]) -> str:
    pin = SOURCE_PINS[name]
    where = f"`{revision}`" if revision else "local: " + ", ".join(f"`{f}` (sha256 `{h[:12]}…`)"
                                                                  for f, h in local_files.items())
    return f"| {pin.title} | `{hub_id or pin.location.hub_id}` | {where} | {pin.license_name} | {pin.citation} |"
