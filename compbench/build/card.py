"""The release's ``README.md``: the dataset card, rendered from the manifest and from the release's own files.

The YAML front matter is built as data and written with ``yaml.safe_dump`` (always valid YAML, whatever the
strings hold): licenses (all of them, and ``config_licenses``: each config's), languages, task categories,
multilinguality, source datasets, size category, machine-generated annotations, and ``configs:`` mapping each
config to its Parquet files per split so ``datasets.load_dataset(repo_or_dir, "sum_tr_es")`` works. The body is
``data_cards/dataset_card.md`` (``string.Template``), filled with tables of configs, sources, generators, prompts,
statistics computed from the files (:mod:`compbench.build.stats`) and generation failures. Every text that comes
from a file is escaped for Markdown tables and HTML.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from importlib import resources
from pathlib import Path
from string import Template

import yaml

from builders.recipes import RECIPES
from builders.sources import SOURCE_PINS
from compbench.build.stats import Lengths, SplitStats, release_statistics, size_category
from compbench.schemas import ReleaseManifest
from compbench.tasks import LANGUAGES, REGISTRY, SPLITS

TEMPLATE = "dataset_card.md"
PRETTY_NAME = "compbench: compositional multi-tasking benchmark"
TASK_CATEGORIES = {"sum": "summarization", "reply": "text-generation", "tr": "translation", "tone": "text-generation"}


def cell(text: object) -> str:
    """``text`` as one Markdown table cell: no line breaks, ``|`` escaped, HTML special characters as entities."""
    value = str(text).replace("\\", "\\\\").replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return " ".join(value.replace("|", "\\|").split())


def _row(*cells: object) -> str:
    return "| " + " | ".join(cell(c) for c in cells) + " |"


def render_card(manifest: ReleaseManifest, root: Path) -> str:
    """The card of the release in ``root`` (its files are read for the statistics)."""
    stats = sorted(release_statistics(manifest, root), key=lambda s: (_order(s.subtask), _split_order(s.split)))
    front = yaml.safe_dump(card_metadata(manifest, sum(s.rows for s in stats)), sort_keys=False,
                           allow_unicode=True, width=1000)
    template = Template(resources.files("data_cards").joinpath(TEMPLATE).read_text(encoding="utf-8"))
    subtasks = _subtasks(manifest)
    body = template.substitute(
        release=cell(manifest.release),
        version=cell(manifest.compbench_version),
        example_config=REGISTRY[subtasks[0]].config_name,
        split_header=" | ".join(SPLITS),
        split_rule="---:|" * len(SPLITS),
        configs_table="\n".join(_config_line(s, manifest) for s in subtasks),
        sources_table="\n".join(_source_line(ref.name, ref.hub_id, ref.revision, ref.local_files)
                                for ref in manifest.sources) or _row("—", "not recorded", "", "", ""),
        generators_table="\n".join(
            _row(g.task, g.model_id, g.revision, json.dumps(g.settings, sort_keys=True, ensure_ascii=False))
            for g in manifest.generators) or _row("—", "none: no generated references in this release", "", ""),
        prompts_table="\n".join(_row(subtask, " / ".join(prompts) or "—")
                                for subtask, prompts in _prompts(stats).items()),
        statistics_table="\n".join(_stats_line(s) for s in stats),
        failures_table="\n".join(_row(stage, f"{count:,}") for stage, count in manifest.failures.items())
        or _row("—", "none recorded"),
        failures_total=f"{sum(manifest.failures.values()):,}",
    )
    return f"---\n{front}---\n\n{body}"


def _order(subtask: str) -> int:
    return list(REGISTRY).index(subtask)


def _split_order(split: str) -> int:
    return SPLITS.index(split) if split in SPLITS else len(SPLITS)


def _subtasks(manifest: ReleaseManifest) -> list[str]:
    """The release's sub-tasks in registry order."""
    return sorted({f.subtask for f in manifest.files}, key=_order)


def card_metadata(manifest: ReleaseManifest, total_rows: int) -> dict:
    """The card's YAML front matter, as data."""
    subtasks = _subtasks(manifest)
    tasks = [REGISTRY[s] for s in subtasks]
    config_licenses = {t.config_name: SOURCE_PINS[RECIPES[t.id].source].license for t in tasks}
    languages = ["en", *(code for code in LANGUAGES if any(t.language == code for t in tasks))]
    generated = any(RECIPES[s].generator_steps for s in subtasks)
    kinds = {t.main for t in tasks} | {step.split("-")[0] for t in tasks for step in t.auxiliary}
    return {
        "pretty_name": PRETTY_NAME,
        "license": sorted(set(config_licenses.values())),
        "config_licenses": config_licenses,
        "language": languages,
        "multilinguality": ["multilingual", "translation"] if len(languages) > 1 else ["monolingual"],
        "task_categories": sorted({TASK_CATEGORIES[kind] for kind in kinds}),
        "size_categories": [size_category(total_rows)],
        "source_datasets": sorted({SOURCE_PINS[RECIPES[s].source].location.hub_id for s in subtasks}),
        "annotations_creators": (["machine-generated"] if generated else [])
        + (["found"] if any(not RECIPES[s].generator_steps for s in subtasks) else []),
        "language_creators": ["found", *(["machine-generated"] if generated else [])],
        "tags": ["compositional-multitasking", "compbench"],
        "configs": [{"config_name": t.config_name, "data_files": _data_files(t.id, manifest)} for t in tasks],
    }


def _data_files(subtask: str, manifest: ReleaseManifest) -> list[dict]:
    by_split: dict[str, list[str]] = {}
    for entry in manifest.files:
        if entry.subtask == subtask:
            by_split.setdefault(entry.split, []).append(entry.path)
    return [{"split": split, "path": paths[0] if len(paths) == 1 else paths}
            for split in sorted(by_split, key=_split_order)
            for paths in [sorted(by_split[split])]]


def _config_line(subtask: str, manifest: ReleaseManifest) -> str:
    task, recipe = REGISTRY[subtask], RECIPES[subtask]
    rows: dict[str, int] = {}
    for entry in manifest.files:
        if entry.subtask == subtask:
            rows[entry.split] = rows.get(entry.split, 0) + entry.rows
    chain = " → ".join([recipe.main_step or "source text", *recipe.generator_steps])
    return _row(task.config_name, task.id, task.family, chain, recipe.pin.title, recipe.pin.license_name,
                *(f"{rows[s]:,}" if s in rows else "—" for s in SPLITS))


def _source_line(name: str, hub_id: str | None, revision: str | None, local_files: dict[str, str]) -> str:
    pin = SOURCE_PINS.get(name)
    where = revision or "local files: " + ", ".join(f"{f} (sha256 {h[:12]}…)" for f, h in local_files.items())
    return _row(pin.title if pin else name, hub_id or (pin.location.hub_id if pin else "—"), where,
                pin.license_name if pin else "see the source", pin.citation if pin else "")


def _prompts(stats: Iterable[SplitStats]) -> dict[str, list[str]]:
    """Every distinct prompt the rows of each sub-task carry, over all its splits."""
    prompts: dict[str, list[str]] = {}
    for s in stats:
        known = prompts.setdefault(s.subtask, [])
        known.extend(p for p in s.prompts if p not in known)
    return prompts


def _lengths(lengths: Lengths) -> str:
    return f"{lengths.median:.1f} / {lengths.mean:.1f} / {lengths.p95:.1f} / {lengths.max:,}"


def _stats_line(s: SplitStats) -> str:
    return _row(REGISTRY[s.subtask].config_name, s.split, f"{s.rows:,}", f"{s.inputs:,}", _lengths(s.input_words),
                _lengths(s.reference_words))
