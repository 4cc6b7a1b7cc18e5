"""The contracts between the parts: split rows, release manifests, predictions, results, per-example scores.

Pydantic models describe the JSON documents; Arrow schemas describe the Parquet files. Every other module
imports these instead of restating field names.
"""

from __future__ import annotations

from typing import Literal

import pyarrow as pa
from pydantic import BaseModel, ConfigDict, Field

RESULTS_SCHEMA_VERSION = "1.3"
MANIFEST_SCHEMA_VERSION = "1.1"
BUNDLE_SCHEMA_VERSION = "1.0"
JUDGE_SCHEMA_VERSION = "1.0"

# Per-example metric columns, in the order they are reported. Values are F-measures in [0, 1].
METRIC_KEYS: tuple[str, ...] = ("rouge1", "rouge2", "rouge3", "rougeL", "weighted_rouge")
# How the paper's tables head each metric's column.
METRIC_LABELS: dict[str, str] = {"rouge1": "R-1", "rouge2": "R-2", "rouge3": "R-3", "rougeL": "R-L",
                                 "weighted_rouge": "W-R"}

TokenizerName = Literal["unicode", "compat"]
MultiRefMode = Literal["each", "max"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --------------------------------------------------------------------------------------------- split rows
CHAIN_STEP = pa.struct([("task", pa.string()), ("text", pa.string())])
GENERATOR = pa.struct([("task", pa.string()), ("model_id", pa.string()), ("revision", pa.string())])

SPLIT_ROW_SCHEMA = pa.schema([
    ("id", pa.string()),
    ("subtask", pa.string()),
    ("family", pa.string()),
    ("split", pa.string()),
    ("prompt", pa.string()),
    ("input", pa.string()),
    ("reference", pa.string()),
    ("reference_index", pa.int32()),
    ("chain", pa.list_(CHAIN_STEP)),
    ("source_dataset", pa.string()),
    ("source_id", pa.string()),
    ("generators", pa.list_(GENERATOR)),
])


class ChainStep(_Strict):
    task: str
    text: str


class GeneratorRef(_Strict):
    task: str
    model_id: str
    revision: str


class SplitRow(_Strict):
    """One row of a benchmark split. ``id`` is stable across rebuilds of the same release.

    Rows that share ``source_id`` within a sub-task are the references of one input (DialogSum's test set has
    three per dialogue); ``reference_index`` numbers them. ``chain`` holds every step's output in order, main
    task first, so its last text equals ``reference``.
    """

    id: str
    subtask: str
    family: str
    split: str
    prompt: str
    input: str
    reference: str
    reference_index: int = 0
    chain: list[ChainStep] = Field(default_factory=list)
    source_dataset: str
    source_id: str
    generators: list[GeneratorRef] = Field(default_factory=list)


# ------------------------------------------------------------------------------------------------ release
class ReleaseFile(_Strict):
    path: str  # relative to the release directory, POSIX separators
    subtask: str
    split: str
    rows: int
    sha256: str


class SourceRef(_Strict):
    name: str
    hub_id: str | None = None
    revision: str | None = None
    local_files: dict[str, str] = Field(default_factory=dict)  # file name -> sha256


class GeneratorInfo(_Strict):
    task: str
    model_id: str
    revision: str
    settings: dict[str, object] = Field(default_factory=dict)


class EngineInfo(_Strict):
    """How a build's generations were run (never part of a cache key): ``local`` or ``ray`` and its options."""

    name: str
    options: dict[str, object] = Field(default_factory=dict)


class ReleaseManifest(_Strict):
    schema_version: str = MANIFEST_SCHEMA_VERSION
    name: str = "compbench"
    release: str
    compbench_version: str
    files: list[ReleaseFile]
    sources: list[SourceRef] = Field(default_factory=list)
    generators: list[GeneratorInfo] = Field(default_factory=list)
    failures: dict[str, int] = Field(default_factory=dict)  # generation failures per stage, left out
    engine: EngineInfo | None = None  # schema 1.1: the engine of the build that wrote the release (None: older)


MANIFEST_NAME = "manifest.json"


def split_file_path(config_name: str, split: str, shard: int = 0, shards: int = 1) -> str:
    """Where shard ``shard`` of ``shards`` of a sub-task's split is written, in a release directory and in its Hub
    dataset repository alike: ``data/<config>/<split>-0000K-of-0000N.parquet``.

    Readers go by the manifest's file list (which also covers releases written before shards, as
    ``data/<config>/<split>.parquet``), never by this name.
    """
    return f"data/{config_name}/{split}-{shard:05d}-of-{shards:05d}.parquet"


# ------------------------------------------------------------------------------------------ predictions
class Prediction(_Strict):
    id: str
    prediction: str


PREDICTION_COLUMNS: tuple[str, ...] = ("id", "prediction")


class ReferenceLine(BaseModel):
    """A line of a ``--references`` JSON Lines file. Several lines with one id = a multi-reference example."""

    model_config = ConfigDict(extra="ignore")
    id: str
    subtask: str
    reference: str


# -------------------------------------------------------------------------------------- per-example scores
PER_EXAMPLE_SCHEMA = pa.schema([
    ("id", pa.string()),  # the prediction id scored
    ("subtask", pa.string()),
    ("group", pa.string()),  # rows of one input (multi-reference) share a group
    ("reference_index", pa.int32()),
    ("missing", pa.bool_()),  # no prediction was given; scored as the empty string (--allow-missing)
    ("prediction", pa.string()),
    ("reference", pa.string()),
    *[(key, pa.float64()) for key in METRIC_KEYS],
])


# ------------------------------------------------------------------------------------------------ results
class Interval(_Strict):
    low: float
    high: float


class JudgeMetrics(_Strict):
    """The LLM judge's verdicts on one sub-task (or a family average): share of 1s in percent.

    ``score`` is over the ``n - unparseable - failed`` parsed answers; the counts say what was left out.
    """

    model: str
    prompt_version: str
    n: int
    unparseable: int = 0
    failed: int = 0
    score: float | None = None  # None when no answer could be parsed
    ci: Interval | None = None


class LanguageCheck(_Strict):
    """Share of predictions (percent) a language detector assigns to ``language`` (ISO 639-1).

    On a family whose sub-tasks expect different languages, ``language`` lists them (``es/fr/de``) and ``share``
    is the unweighted mean of the sub-tasks' shares, each in its own target language.
    """

    detector: str
    language: str
    share: float
    n: int


class SubtaskMetrics(_Strict):
    """Exact means over examples, in percent as the paper prints them, with bootstrap intervals."""

    n: int
    missing: int = 0
    main_metric: str
    main: float
    rouge1: float
    rouge2: float
    rouge3: float
    rougeL: float
    weighted_rouge: float
    ci: dict[str, Interval] = Field(default_factory=dict)  # empty without resampling or below MIN_N_FOR_INTERVAL
    warnings: list[str] = Field(default_factory=list)  # e.g. too few examples for the interval to mean anything
    judge: JudgeMetrics | None = None
    language: LanguageCheck | None = None


class FamilyMetrics(_Strict):
    """Unweighted average over a family's sub-tasks (languages or tones), as in the paper's Table 2."""

    subtasks: list[str]
    complete: bool  # every sub-task of the family was scored
    missing: int = 0  # references of its sub-tasks scored as empty predictions (--allow-missing)
    main_metric: str
    main: float
    rouge1: float
    rouge2: float
    rouge3: float
    rougeL: float
    weighted_rouge: float
    ci: dict[str, Interval] = Field(default_factory=dict)
    warnings: list[str] = Field(default_factory=list)
    judge: JudgeMetrics | None = None
    language: LanguageCheck | None = None


class ScoringSettings(_Strict):
    tokenizer: TokenizerName
    multi_ref: MultiRefMode
    seed: int
    bootstrap: int
    confidence: float = 0.95


class Efficiency(_Strict):
    inference_passes: int | None = None
    additional_params: int | None = None
    additional_bytes: int | None = None


class InputFile(_Strict):
    path: str
    sha256: str


class Benchmark(_Strict):
    release: str  # release directory, Hub id, or "references"
    release_hash: str  # sha256 of the manifest, or of the references file
    split: str


class Provenance(_Strict):
    command: str
    date: str
    git_sha: str | None = None
    packages: dict[str, str] = Field(default_factory=dict)


class AdapterRecord(_Strict):
    """One LoRA (or calibration file) an evaluation used, by content hash."""

    name: str
    task: str | None = None
    sha256: str  # of the adapter's adapter_config.json and adapter_model.safetensors (or of the file)


class BundleRecord(_Strict):
    """The adapter bundle an evaluation ran: where it was, its LoRAs and calibration by content hash."""

    path: str | None = None  # None for an adapter-free method named on the command line
    adapters: list[AdapterRecord] = Field(default_factory=list)
    calibration: AdapterRecord | None = None
    parameters: dict[str, object] = Field(default_factory=dict)


class GenerationSettings(_Strict):
    """How an evaluation generated its predictions (``compbench evaluate``)."""

    engine: str  # what ran the model: "transformers" (in process), "vllm", "ray"; never part of a cache key
    # how it ran: Ray's runtime and actors, vLLM's max_lora_rank and engine options (schema 1.3); never in a key
    engine_options: dict[str, object] = Field(default_factory=dict)
    decoding: str = "greedy"
    max_new_tokens: int
    min_new_tokens: int = 0
    batch_size: int
    dtype: str
    device: str
    seed: int
    limit: int | None = None  # at most this many rows per sub-task were evaluated
    prompt: str  # compositional | icl | single-steps
    chat_template: bool  # prompts went through the base model's chat template
    inference_passes: int  # passes run per example (multi-step: one per task)
    icl_examples: dict[str, str] = Field(default_factory=dict)  # sub-task -> id of its train-split example
    generations: int = 0  # distinct generations the evaluation needed
    cached: int = 0  # of which came from the generation cache in this run


class Results(_Strict):
    schema_version: str = RESULTS_SCHEMA_VERSION
    compbench_version: str
    benchmark: Benchmark
    method: str | None = None
    base_model: str | None = None
    base_revision: str | None = None  # Hub commit, or "sha256:..." of a local model directory's files
    bundle: BundleRecord | None = None
    generation: GenerationSettings | None = None
    efficiency: Efficiency = Field(default_factory=Efficiency)
    scoring: ScoringSettings
    subtasks: dict[str, SubtaskMetrics]
    families: dict[str, FamilyMetrics]
    inputs: dict[str, InputFile] = Field(default_factory=dict)
    per_example: str | None = None  # path of the per-example Parquet file, relative to the results file
    ignored_predictions: int = 0
    provenance: Provenance


# --------------------------------------------------------------------------------------------------- judge
JUDGE_EXAMPLE_SCHEMA = pa.schema([
    ("id", pa.string()),  # the prediction id judged
    ("subtask", pa.string()),
    ("group", pa.string()),
    ("reference_index", pa.int32()),
    ("verdict", pa.int8()),  # 0 or 1; null when unparseable or failed
    ("status", pa.string()),  # "ok" | "unparseable" | "failed"
    ("answer", pa.string()),  # the judge's raw answer; null when the request failed
    ("error", pa.string()),  # why the request failed; null otherwise
    ("request_key", pa.string()),  # sha256 of the request body: the judge cache's key
])


class JudgeFamily(_Strict):
    subtasks: list[str]
    complete: bool  # every sub-task of the family was judged
    judge: JudgeMetrics


class JudgeResults(_Strict):
    """What ``compbench judge`` writes: judge scores per sub-task and family, without ROUGE."""

    schema_version: str = JUDGE_SCHEMA_VERSION
    compbench_version: str
    benchmark: Benchmark
    judge_model: str
    prompt_version: str
    seed: int
    bootstrap: int
    confidence: float = 0.95
    subtasks: dict[str, JudgeMetrics]
    families: dict[str, JudgeFamily]
    skipped: list[str] = Field(default_factory=list)  # sub-tasks with predictions but no appendix A prompt
    inputs: dict[str, InputFile] = Field(default_factory=dict)
    per_example: str | None = None  # per-example verdicts (Parquet), relative to the document
    provenance: Provenance


# ------------------------------------------------------------------------------------------ adapter bundle
class BundleAdapter(_Strict):
    name: str
    task: str | None = None
    path: str  # PEFT adapter directory, relative to the bundle


class BundleManifest(_Strict):
    """``bundle.json`` of an adapter bundle: base model, method, its parameters and its adapters."""

    schema_version: str = BUNDLE_SCHEMA_VERSION
    base_model: str
    base_revision: str | None = None
    method: str
    parameters: dict[str, object] = Field(default_factory=dict)
    adapters: list[BundleAdapter] = Field(default_factory=list)
    calibration: str | None = None  # safetensors file, relative to the bundle
    subtasks: list[str] = Field(default_factory=list)
    compbench_version: str


BUNDLE_MANIFEST_NAME = "bundle.json"


# ------------------------------------------------------------------------------------------ results entries
ENTRY_SCHEMA_VERSION = "1.0"
RESULTS_NAME = "results.json"
EXAMPLES_NAME = "results.examples.parquet"
PREDICTIONS_NAME = "predictions.jsonl"
ENTRY_METADATA_NAME = "metadata.json"
#: The files of one submitted result, in a results repository and in a leaderboard store alike.
ENTRY_FILES: tuple[str, ...] = (RESULTS_NAME, EXAMPLES_NAME, PREDICTIONS_NAME)


class EntryMetadata(_Strict):
    """``metadata.json`` of a results entry: what the entry is (copied from its results document, so a store can
    be listed and grouped without parsing every results file) and the sha256 of each of its files."""

    schema_version: str = ENTRY_SCHEMA_VERSION
    entry: str  # the entry's directory name
    method: str | None = None
    base_model: str | None = None
    release: str
    release_hash: str
    split: str
    tokenizer: TokenizerName
    multi_ref: MultiRefMode
    compbench_version: str
    files: dict[str, str]  # file name in the entry directory -> sha256
