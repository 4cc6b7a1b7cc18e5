"""The task registry: the one place where the benchmark's tasks, prompts, metrics and sizes live.

Every sub-task of the benchmark is a :class:`Task`. Compositional sub-tasks chain a main task (``sum`` or
``reply``) with one or more auxiliary tasks (``tr-xx``, ``tone-xx``): the reference is the auxiliary generators
applied, in order, to the main task's ground truth. Single tasks are what the single-task adapters train on.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field

LANGUAGES: dict[str, str] = {"es": "Spanish", "fr": "French", "de": "German"}
TONES: tuple[str, ...] = ("professional", "casual", "witty", "paraphrase")

SPLITS: tuple[str, ...] = ("train", "validation", "test")

# Split sizes as printed in the paper (Table 1). Translation sizes are the paper's, which it gives for en->es;
# the TED sizes for fr and de differ and are whatever the source holds (recorded as None = "all rows").
SUM_SIZES = {"train": 12_460, "validation": 500, "test": 1_500}
REPLY_SIZES = {"train": 225_061, "validation": 1_000, "test": 1_000}
TRANSLATION_SIZES: dict[str, dict[str, int | None]] = {
    "es": {"train": 196_026, "validation": 4_231, "test": 5_571},
    "fr": {"train": None, "validation": None, "test": None},
    "de": {"train": None, "validation": None, "test": None},
}
TONE_SIZES = {"train": 2_245, "validation": 321, "test": 642}
SAMSUM_SIZES = {"train": 14_732, "validation": 818, "test": 819}

METRICS_BY_MAIN = {"sum": "rougeL", "reply": "weighted_rouge"}

# Prompts. Compositional prompts are the paper's (appendix B.1), verbatim, including the missing final full
# stop of three of them. Single-task and three-way prompts are not given by the paper: these are ours.
COMPOSITIONAL_PROMPTS = {
    "sum+tr": "Summarize the following text and translate it from English to {language}.",
    "sum+tone": "Summarize the following text and change its tone to {tone}",
    "reply+tr": "Suggest a reply for the following text and translate it from English to {language}",
    "reply+tone": "Suggest a reply for the following text and change its tone to {tone}",
    "sum+tone+tr": "Summarize the following text, change its tone to {tone} and translate it from English to "
    "{language}.",
}
SINGLE_PROMPTS = {
    "sum": "Summarize the following text:",
    "reply": "Suggest a reply for the following text:",
    "tr": "Translate the following text from English to {language}:",
    "tone": "Change the tone of the following text to {tone}:",
}

MAIN_SOURCES = {"sum": "dialogsum", "reply": "synthetic_persona_chat"}


@dataclass(frozen=True)
class Task:
    """One sub-task of the benchmark (compositional or single)."""

    id: str
    family: str
    kind: str  # "compositional" | "single" | "ood"
    main: str  # "sum" | "reply" | "tr" | "tone"
    auxiliary: tuple[str, ...]  # e.g. ("tr-es",) or ("tone-professional", "tr-fr")
    prompt: str
    metric: str  # main metric key: "rougeL" | "weighted_rouge"
    splits: dict[str, int | None]
    source: str
    language: str | None = None  # "es" | "fr" | "de"
    tone: str | None = None
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def config_name(self) -> str:
        """The Hub config name: the id with ``+`` and ``-`` replaced by ``_`` (``sum+tr-es`` -> ``sum_tr_es``)."""
        return self.id.replace("+", "_").replace("-", "_")

    @property
    def steps(self) -> tuple[str, ...]:
        """The chain of tasks that produces the reference: main task first, then each auxiliary task."""
        return (self.main, *self.auxiliary) if self.kind != "single" else (self.id,)

    def to_dict(self) -> dict:
        return {
            "id": self.id,
            "family": self.family,
            "kind": self.kind,
            "main": self.main,
            "auxiliary": list(self.auxiliary),
            "language": self.language,
            "tone": self.tone,
            "prompt": self.prompt,
            "metric": self.metric,
            "config_name": self.config_name,
            "splits": dict(self.splits),
            "source": self.source,
        }


def _fill(template: str, language: str | None = None, tone: str | None = None) -> str:
    return template.format(language=LANGUAGES.get(language or "", ""), tone=tone or "")


def _build_registry() -> dict[str, Task]:
    tasks: list[Task] = []
    # Compositional: main x auxiliary.
    for main in ("sum", "reply"):
        sizes = SUM_SIZES if main == "sum" else REPLY_SIZES
        for lang in LANGUAGES:
            family = f"{main}+tr"
            tasks.append(Task(
                id=f"{main}+tr-{lang}", family=family, kind="compositional", main=main,
                auxiliary=(f"tr-{lang}",), prompt=_fill(COMPOSITIONAL_PROMPTS[family], language=lang),
                metric=METRICS_BY_MAIN[main], splits=dict(sizes), source=MAIN_SOURCES[main], language=lang,
            ))
        for tone in TONES:
            family = f"{main}+tone"
            tasks.append(Task(
                id=f"{main}+tone-{tone}", family=family, kind="compositional", main=main,
                auxiliary=(f"tone-{tone}",), prompt=_fill(COMPOSITIONAL_PROMPTS[family], tone=tone),
                metric=METRICS_BY_MAIN[main], splits=dict(sizes), source=MAIN_SOURCES[main], tone=tone,
            ))
    # Three-way: summary -> professional tone -> translation.
    for lang in LANGUAGES:
        tasks.append(Task(
            id=f"sum+tone-professional+tr-{lang}", family="sum+tone+tr", kind="compositional", main="sum",
            auxiliary=("tone-professional", f"tr-{lang}"),
            prompt=_fill(COMPOSITIONAL_PROMPTS["sum+tone+tr"], language=lang, tone="professional"),
            metric="rougeL", splits=dict(SUM_SIZES), source="dialogsum", language=lang, tone="professional",
        ))
    # Out-of-domain: SAMSum, summarize and translate to Spanish (evaluation only, test split).
    tasks.append(Task(
        id="samsum+sum+tr-es", family="ood", kind="ood", main="sum", auxiliary=("tr-es",),
        prompt=_fill(COMPOSITIONAL_PROMPTS["sum+tr"], language="es"), metric="rougeL",
        splits={"test": SAMSUM_SIZES["test"]}, source="samsum", language="es",
    ))
    # Single tasks.
    tasks.append(Task(id="sum", family="sum", kind="single", main="sum", auxiliary=(),
                      prompt=SINGLE_PROMPTS["sum"], metric="rougeL", splits=dict(SUM_SIZES), source="dialogsum"))
    tasks.append(Task(id="reply", family="reply", kind="single", main="reply", auxiliary=(),
                      prompt=SINGLE_PROMPTS["reply"], metric="weighted_rouge", splits=dict(REPLY_SIZES),
                      source="synthetic_persona_chat"))
    for lang in LANGUAGES:
        tasks.append(Task(id=f"tr-{lang}", family="tr", kind="single", main="tr", auxiliary=(),
                          prompt=_fill(SINGLE_PROMPTS["tr"], language=lang), metric="rougeL",
                          splits=dict(TRANSLATION_SIZES[lang]), source="ted", language=lang))
    for tone in TONES:
        tasks.append(Task(id=f"tone-{tone}", family="tone", kind="single", main="tone", auxiliary=(),
                          prompt=_fill(SINGLE_PROMPTS["tone"], tone=tone), metric="rougeL",
                          splits=dict(TONE_SIZES), source="sound_natural", tone=tone))
    return {t.id: t for t in tasks}


REGISTRY: dict[str, Task] = _build_registry()

# Every family, in registry order (the four of Table 2 first).
FAMILIES: tuple[str, ...] = tuple(dict.fromkeys(t.family for t in REGISTRY.values()))
# The four families of the paper's Table 2, in its order.
MAIN_FAMILIES: tuple[str, ...] = ("sum+tr", "sum+tone", "reply+tr", "reply+tone")
# Column titles of the paper's tables, per family (the single-task families print as their ids).
FAMILY_TITLES: dict[str, str] = {
    "sum+tr": "Sum. + translation",
    "sum+tone": "Sum. + tone adj.",
    "reply+tr": "Reply + translation",
    "reply+tone": "Reply + tone adj.",
    "sum+tone+tr": "Sum. + prof. tone + translation",
    "ood": "Out-of-domain (SAMSum)",
}
# The 14 compositional sub-tasks of the main benchmark.
MAIN_SUBTASKS: tuple[str, ...] = tuple(t.id for t in REGISTRY.values() if t.family in MAIN_FAMILIES)


class UnknownTaskError(KeyError):
    """Raised for a task id that is not in the registry; the message suggests the closest ids."""

    def __str__(self) -> str:  # KeyError quotes its argument; we want a readable message
        return str(self.args[0])


def get_task(task_id: str) -> Task:
    """The task with this id, or :class:`UnknownTaskError` naming the closest known ids."""
    try:
        return REGISTRY[task_id]
    except KeyError:
        close = difflib.get_close_matches(task_id, list(REGISTRY), n=3)
        hint = f" (did you mean {', '.join(close)}?)" if close else ""
        raise UnknownTaskError(f"unknown sub-task id {task_id!r}{hint}; `compbench tasks` lists them") from None


def by_config_name(config_name: str) -> Task:
    """The task whose Hub config name is ``config_name``."""
    for task in REGISTRY.values():
        if task.config_name == config_name:
            return task
    raise UnknownTaskError(f"unknown config name {config_name!r}")


def tasks_in_family(family: str) -> list[Task]:
    return [t for t in REGISTRY.values() if t.family == family]


def family_metric(family: str) -> str:
    """The main metric of a family (the same for all its sub-tasks)."""
    metrics = {t.metric for t in tasks_in_family(family)}
    if len(metrics) != 1:
        raise UnknownTaskError(f"unknown family {family!r}")
    return metrics.pop()
