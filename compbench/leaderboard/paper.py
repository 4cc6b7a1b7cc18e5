"""The paper's reported numbers (Tables 2-6, A1, A2): a reference set, never mixed with entries.

``paper_reference.json`` (package data) holds them as printed, typed from the paper's text: per row the method's
registry id (and the paper's own label where its row has no registry label of its own, as Table 6's
"Translation LoRA"), and per column key (a family or a sub-task id) the metrics the paper prints, in percent,
``judge`` being its LLM-J score. Loading checks every id against the task and method registries.
"""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources

from pydantic import BaseModel, ConfigDict, model_validator

from compbench.methods import METHODS
from compbench.schemas import METRIC_KEYS
from compbench.tasks import REGISTRY

PAPER_STATUS = "reported by the paper, not reproduced here"
JUDGE = "judge"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PaperEfficiency(_Strict):
    inference_passes: int
    additional_params: str  # as printed: "30M", "23K"
    additional_mb: float


class PaperRow(_Strict):
    method: str
    label: str | None = None
    scores: dict[str, dict[str, float]] = {}
    efficiency: PaperEfficiency | None = None

    @model_validator(mode="after")
    def _known(self) -> PaperRow:
        if self.method not in METHODS:
            raise ValueError(f"unknown method {self.method!r}")
        families = {t.family for t in REGISTRY.values()}
        for column, metrics in self.scores.items():
            if column not in families and column not in REGISTRY:
                raise ValueError(f"unknown family or sub-task {column!r}")
            for metric in metrics:
                if metric not in METRIC_KEYS and metric != JUDGE:
                    raise ValueError(f"unknown metric {metric!r}")
        return self


class PaperTable(_Strict):
    id: str
    paper_table: str
    caption: str
    rows: list[PaperRow]


class PaperReference(_Strict):
    schema_version: str
    source: str
    status: str
    models: list[str]
    judge: str
    tables: list[PaperTable]

    def table(self, table_id: str) -> PaperTable:
        return next(t for t in self.tables if t.id == table_id)


@lru_cache(maxsize=1)
def paper_reference() -> PaperReference:
    """The paper's numbers, validated against the registries."""
    text = resources.files("compbench.leaderboard").joinpath("paper_reference.json").read_text(encoding="utf-8")
    return PaperReference.model_validate(json.loads(text))
