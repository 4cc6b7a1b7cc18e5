"""The build recipes: for every sub-task and single task, its source, splits, sample sizes, seeds and generator chain.

A recipe is data. The reference of an example is its source ground truth (``main_step``, recorded first in the
chain) passed through ``generator_steps`` in order: ``sum+tone-professional+tr-es`` takes DialogSum's summary, the
tone model's professional rewrite of it, then OpusMT's Spanish translation of that. Single tasks: ``sum`` and
``reply`` and ``tr-xx`` use the source targets as they are; ``tone-xx`` passes the Sound Natural text through the
tone model. The full build makes the paper's sizes (``expected``); ``--limit N`` keeps the first N rows of a split.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from builders.sources import SOURCE_PINS, SourcePin
from compbench.tasks import REGISTRY, Task

#: Persona Chat's validation and test pairs are sampled down to this many with ``SAMPLE_SEED`` (paper, section 3).
REPLY_EVAL_SAMPLE = 1_000
SAMPLE_SEED = 42

#: Default generator models (Hub ids; ``{lang}`` is the target language code).
DEFAULT_TRANSLATOR = "Helsinki-NLP/opus-mt-en-{lang}"
DEFAULT_TONE_MODEL = "llm-toys/RedPajama-INCITE-Base-3B-v1-paraphrase-tone"


@dataclass(frozen=True)
class SplitRecipe:
    """One output split: which source split feeds it and how many examples are kept."""

    source_split: str
    sample: int | None = None  # None: every example, in source order; N: a seeded sample of N, in source order
    seed: int = SAMPLE_SEED
    expected: int | None = None  # the paper's size (None where it depends on the source, e.g. TED fr/de)


@dataclass(frozen=True)
class Recipe:
    task_id: str
    source: str
    splits: dict[str, SplitRecipe]
    main_step: str | None  # chain name of the source ground truth; None: not a step of its own (tone-xx inputs)
    generator_steps: tuple[str, ...] = ()  # auxiliary tasks applied in order ("tone-professional", "tr-es")
    source_options: dict[str, str] = field(default_factory=dict)  # e.g. {"language": "es"} for TED

    @property
    def pin(self) -> SourcePin:
        return SOURCE_PINS[self.source]

    @property
    def task(self) -> Task:
        return REGISTRY[self.task_id]


def _splits(task: Task) -> dict[str, SplitRecipe]:
    splits = {}
    for split, expected in task.splits.items():
        sample = REPLY_EVAL_SAMPLE if task.main == "reply" and split != "train" else None
        splits[split] = SplitRecipe(source_split=split, sample=sample, expected=expected)
    return splits


def recipe_for(task: Task) -> Recipe:
    """The recipe of a registry task (compositional, three-way, out-of-domain or single)."""
    if task.kind == "single" and task.main == "tr":
        return Recipe(task.id, task.source, _splits(task), main_step=task.id,
                      source_options={"language": task.language or ""})
    if task.kind == "single" and task.main == "tone":
        return Recipe(task.id, task.source, _splits(task), main_step=None, generator_steps=(task.id,))
    return Recipe(task.id, task.source, _splits(task), main_step=task.main, generator_steps=task.auxiliary)


RECIPES: dict[str, Recipe] = {task.id: recipe_for(task) for task in REGISTRY.values()}
