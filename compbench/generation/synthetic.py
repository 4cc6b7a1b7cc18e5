"""The synthetic world's rules as generators: the translator and tone stages of the demo's build.

A :class:`SyntheticGenerator` implements :class:`compbench.generation.base.Generator` with the fixed rules of
:class:`compbench.demo.world.World`: ``tr-xx`` translates into the synthetic language of slot ``xx`` (a made-up
language standing in for Spanish, French or German, not the language itself), ``tone-xx`` rewrites with the tone's
style lexicon. It is registered as the ``synthetic`` translation and tone backend in
:mod:`compbench.generation.registry` and named by a world id, ``synthetic-world:SEED``, where the other backends
take a model. Deterministic, pure Python, no model weights.
"""

from __future__ import annotations

from collections.abc import Sequence

from compbench.demo.world import SYNTHETIC_LANGUAGES, WORLD_VERSION, World
from compbench.errors import ConfigError
from compbench.tasks import LANGUAGES, TONES

SYNTHETIC = "synthetic"  # the backend's name in compbench.generation.registry
WORLD_PREFIX = "synthetic-world"
MODEL_ID = "compbench/synthetic-world"


def parse_world_id(world_id: str) -> int:
    """The seed of ``synthetic-world:SEED`` (``synthetic-world`` alone is seed 0)."""
    name, _, seed = str(world_id).partition(":")
    if name != WORLD_PREFIX or (seed and not seed.lstrip("-").isdigit()):
        raise ConfigError(f"the synthetic backend takes a world id {WORLD_PREFIX}:SEED, got {world_id!r}")
    return int(seed) if seed else 0


def world_id(seed: int) -> str:
    return f"{WORLD_PREFIX}:{seed}"


class SyntheticGenerator:
    """The rule of one auxiliary task (``tr-es``, ``tone-witty``) in the world of one seed."""

    backend = SYNTHETIC

    def __init__(self, world: str, task: str):
        self.world = World(parse_world_id(world))
        kind, _, variant = task.partition("-")
        if not ((kind == "tr" and variant in LANGUAGES) or (kind == "tone" and variant in TONES)):
            raise ConfigError(f"no synthetic rule for task {task!r}")
        self.task = task
        self.model_id = MODEL_ID
        self.revision = f"world-{WORLD_VERSION}-seed-{self.world.seed}"

    @property
    def settings(self) -> dict[str, object]:
        kind, _, variant = self.task.partition("-")
        if kind == "tr":
            spec = SYNTHETIC_LANGUAGES[variant]
            return {"backend": self.backend, "rule": "dictionary+reorder", "language": spec["name"], "slot": variant,
                    "reorder": spec["rule"]}
        return {"backend": self.backend, "rule": "style-lexicon", "tone": variant}

    def generate(self, texts: Sequence[str]) -> list[str | None]:
        return [self.world.apply(self.task, text) for text in texts]


class SyntheticTranslator(SyntheticGenerator):
    """The translation backend: ``model`` is a world id; device, dtype, sizes and revision do not apply to rules."""

    def __init__(self, model: str, lang: str, **_execution: object):
        super().__init__(model, f"tr-{lang}")


class SyntheticToneRewriter(SyntheticGenerator):
    """The tone backend: ``model`` is a world id."""

    def __init__(self, model: str, tone: str, **_execution: object):
        super().__init__(model, f"tone-{tone}")
