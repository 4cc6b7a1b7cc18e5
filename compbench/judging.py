"""``compbench.judge``: the paper's LLM judge (appendix A) over a predictions file, or over a score run.

Every (input, reference) row with a prediction is one judged example, as in scoring (``--multi-ref each``): the
judge sees the row's input (dialogue or message), its reference and the prediction, through the appendix A
prompt of the sub-task's family. Single tasks have no appendix A prompt and are not judged. Requests go to an
OpenAI-compatible endpoint (``compbench.llm_judge.client``), answers to a persistent cache
(``compbench.llm_judge.cache``), scores and intervals are computed by ``compbench.llm_judge.metrics``.

:func:`judge` writes nothing; :meth:`JudgeReport.write` writes the judge document (``schemas.JudgeResults``) and
the per-example verdicts beside it, and :func:`update_results` adds the judge scores to a results document made
by ``compbench score`` from the same predictions and release.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from pydantic import ValidationError

from compbench import __version__
from compbench.errors import ConfigError, InputError
from compbench.extras import require_extra
from compbench.fileio import atomic_path, read_text_strict, write_json
from compbench.llm_judge.cache import AnswerCache, default_cache_path
from compbench.llm_judge.client import Answer, ChatClient
from compbench.llm_judge.metrics import FAILED, OK, UNPARSEABLE, judge_scores
from compbench.llm_judge.prompts import CURRENT_VERSION, PROMPT_OF_FAMILY, VERSIONS, can_judge
from compbench.llm_judge.requests import JudgeRequest, build_request, parse_verdict
from compbench.llm_judge.runner import RunStats, ask_all
from compbench.predictions import read_predictions
from compbench.provenance import provenance
from compbench.references import load_release, read_manifest, resolve_release
from compbench.schemas import (
    JUDGE_EXAMPLE_SCHEMA,
    Benchmark,
    FamilyMetrics,
    InputFile,
    JudgeFamily,
    JudgeMetrics,
    JudgeResults,
    Results,
    SubtaskMetrics,
)
from compbench.tasks import REGISTRY, UnknownTaskError, get_task, tasks_in_family

CONFIDENCE = 0.95


@dataclass
class JudgeSettings:
    """Where the judge runs and how hard it is pushed. ``endpoint``: base URL of the OpenAI-compatible server."""

    endpoint: str
    model: str
    concurrency: int = 8
    timeout: float = 60.0  # seconds per try
    max_retries: int = 4
    cache_dir: str | Path | None = None  # compbench's cache directory; the answers live in judge/answers.sqlite3
    prompt_version: str = CURRENT_VERSION
    progress: bool = True

    def check(self, data: str | None) -> None:
        """Fail before any work: the judge needs the release (its inputs), a model name and the [judge] extra."""
        if data is None:
            raise ConfigError("the judge needs a release (--data): a references file holds no inputs to show it")
        if not self.model:
            raise ConfigError("give the judge's model name (--judge-model), as the endpoint serves it")
        if self.prompt_version not in VERSIONS:
            raise ConfigError(f"unknown judge prompt version {self.prompt_version!r}; known: {', '.join(VERSIONS)}")
        if self.concurrency < 1 or self.timeout <= 0 or self.max_retries < 0:
            raise ConfigError("judge concurrency must be >= 1, timeout > 0 and retries >= 0")
        require_extra("judge", "the LLM judge")


@dataclass
class JudgeRun:
    """Judge metrics per sub-task and family, and the per-example verdicts (``JUDGE_EXAMPLE_SCHEMA``)."""

    subtasks: dict[str, JudgeMetrics]
    families: dict[str, JudgeMetrics]
    verdicts: pd.DataFrame
    skipped: list[str] = field(default_factory=list)  # sub-tasks given but without an appendix A prompt
    stats: RunStats | None = None


# ------------------------------------------------------------------------------------------------- core
def judge_table(table: pd.DataFrame, inputs: dict[str, str], settings: JudgeSettings, seed: int = 0,
                bootstrap: int = 1000) -> JudgeRun:
    """Judge every row of ``table`` (columns id, subtask, group, reference_index, reference, prediction) whose
    sub-task has an appendix A prompt; ``inputs`` maps a row id to its dialogue or message."""
    judgeable = table["subtask"].map(lambda s: can_judge(REGISTRY[s]))
    skipped = [s for s in REGISTRY if s in set(table.loc[~judgeable, "subtask"])]
    rows = table[judgeable].reset_index(drop=True)
    requests = [build_request(REGISTRY[subtask], settings.model, inputs[row_id], reference, prediction,
                              settings.prompt_version)
                for row_id, subtask, reference, prediction in zip(rows["id"], rows["subtask"], rows["reference"],
                                                                  rows["prediction"], strict=True)]
    answers, stats = _ask(requests, settings)
    if requests and stats.failed == len(requests):
        raise ConfigError(f"every judge request failed (first: {answers[requests[0].key].error}); "
                          f"is {settings.endpoint} up?")
    texts = [answers[r.key].text for r in requests]
    verdicts = [parse_verdict(t) for t in texts]
    frame = pd.DataFrame({
        "id": rows["id"], "subtask": rows["subtask"], "group": rows["group"],
        "reference_index": rows["reference_index"].astype(np.int32),
        "verdict": pd.array(verdicts, dtype="Int8"),
        "status": [FAILED if t is None else OK if v is not None else UNPARSEABLE for t, v in
                   zip(texts, verdicts, strict=True)],
        "answer": texts, "error": [answers[r.key].error for r in requests], "request_key": [r.key for r in requests],
    })
    subtasks, families = judge_scores(frame, settings.model, settings.prompt_version, seed, bootstrap, CONFIDENCE)
    return JudgeRun(subtasks=subtasks, families=families, verdicts=frame, skipped=skipped, stats=stats)


def _ask(requests: list[JudgeRequest], settings: JudgeSettings) -> tuple[dict[str, Answer], RunStats]:
    if not requests:
        return {}, RunStats(requests=0, cached=0, sent=0, failed=0)
    client = ChatClient(settings.endpoint, settings.timeout, settings.max_retries)
    try:
        with AnswerCache(default_cache_path(settings.cache_dir)) as cache:
            return ask_all(requests, client.ask, cache, settings.concurrency, settings.progress)
    finally:
        client.close()


def load_inputs(data: str, split: str, subtasks: set[str]) -> dict[str, str]:
    """Row id -> input (dialogue or message) of the release's ``split`` files for ``subtasks``."""
    release = resolve_release(data, split)
    manifest = read_manifest(release)
    inputs: dict[str, str] = {}
    for entry in manifest.files:
        if entry.split != split or entry.subtask not in subtasks:
            continue
        path = release / entry.path
        if not path.resolve().is_relative_to(release.resolve()):
            raise InputError(f"manifest path {entry.path!r} leaves the release directory", release)
        table = pq.read_table(path, columns=["id", "input"])
        inputs.update(zip(table.column("id").to_pylist(), table.column("input").to_pylist(), strict=True))
    return inputs


# --------------------------------------------------------------------------------------- score run hook
def judge_scored(examples: pd.DataFrame, data: str, split: str, settings: JudgeSettings, seed: int,
                 bootstrap: int, subtasks: dict[str, SubtaskMetrics], families: dict[str, FamilyMetrics]) -> JudgeRun:
    """Judge a score run's per-example rows and fill ``judge`` of its sub-task and family metrics."""
    judgeable = {s for s in examples["subtask"].unique() if can_judge(REGISTRY[s])}
    run = judge_table(examples, load_inputs(data, split, judgeable), settings, seed, bootstrap)
    for subtask, metrics in run.subtasks.items():
        subtasks[subtask].judge = metrics
    for family, metrics in run.families.items():
        families[family].judge = metrics
    return run


# ------------------------------------------------------------------------------------------ standalone
@dataclass
class JudgeReport:
    """The judge document and the per-example verdicts it summarises."""

    document: JudgeResults
    run: JudgeRun

    def write(self, out: str | Path) -> None:
        """Write the verdicts (``<out stem>.examples.parquet``) and the document, each atomically."""
        out = Path(out)
        verdicts_path = default_verdicts_path(out)
        write_verdicts(self.run.verdicts, verdicts_path)
        self.document = self.document.model_copy(update={"per_example": verdicts_path.name})
        write_json(out, self.document.model_dump(mode="json"))


def default_verdicts_path(out: str | Path) -> Path:
    """Verdicts beside a judge document: ``judge.json`` -> ``judge.examples.parquet``."""
    out = Path(out)
    return out.with_name(f"{out.stem}.examples.parquet")


def results_verdicts_path(results: str | Path) -> Path:
    """Verdicts beside a results document: ``results.json`` -> ``results.judge.parquet``."""
    results = Path(results)
    return results.with_name(f"{results.stem}.judge.parquet")


def write_verdicts(verdicts: pd.DataFrame, path: str | Path) -> None:
    table = pa.Table.from_pandas(verdicts, schema=JUDGE_EXAMPLE_SCHEMA, preserve_index=False)
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp)


def _selected(subtasks: list[str] | None) -> list[str] | None:
    if not subtasks:
        return None
    try:
        chosen = sorted({get_task(s).id for s in subtasks})
    except UnknownTaskError as exc:
        raise ConfigError(str(exc)) from None
    unjudgeable = [s for s in chosen if not can_judge(REGISTRY[s])]
    if unjudgeable:
        raise ConfigError(f"sub-task {unjudgeable[0]!r} has no judge prompt (appendix A covers the families "
                          f"{', '.join(PROMPT_OF_FAMILY)})")
    return chosen


def judge_rows(predictions: str | Path, data: str, split: str, subtasks: list[str] | None,
               allow_missing: bool) -> tuple[pd.DataFrame, str, str]:
    """The reference rows to judge with their predictions (scoring's selection rules), and the sha256 of the
    predictions file and of the release manifest."""
    from compbench.scoring import select_rows

    chosen = _selected(subtasks)
    preds = read_predictions(predictions)
    refs = load_release(data, split)
    rows, _ignored = select_rows(refs, preds, chosen, allow_missing, "each")
    table = pd.DataFrame(rows)
    return table, preds.sha256, refs.sha256


def judge(predictions: str | Path, *, data: str, settings: JudgeSettings, subtasks: list[str] | None = None,
          split: str = "test", seed: int = 0, bootstrap: int = 1000, allow_missing: bool = False,
          command: str | None = None) -> JudgeReport:
    """Judge a predictions file against a release (directory or Hub id). Writes nothing but the answer cache."""
    if bootstrap < 0:
        raise ConfigError("the number of bootstrap resamples must be 0 (no intervals) or more")
    settings.check(data)
    table, predictions_sha, release_sha = judge_rows(predictions, data, split, subtasks, allow_missing)
    judgeable = {s for s in table["subtask"].unique() if can_judge(REGISTRY[s])}
    if not judgeable:
        raise ConfigError(f"no sub-task with a judge prompt among the predictions (appendix A covers the families "
                          f"{', '.join(PROMPT_OF_FAMILY)})")
    run = judge_table(table, load_inputs(data, split, judgeable), settings, seed, bootstrap)
    families = {f: JudgeFamily(subtasks=[t.id for t in tasks_in_family(f) if t.id in run.subtasks],
                               complete=all(t.id in run.subtasks for t in tasks_in_family(f)), judge=m)
                for f, m in run.families.items()}
    document = JudgeResults(
        compbench_version=__version__, benchmark=Benchmark(release=str(data), release_hash=release_sha, split=split),
        judge_model=settings.model, prompt_version=settings.prompt_version, seed=seed, bootstrap=bootstrap,
        confidence=CONFIDENCE, subtasks=run.subtasks, families=families, skipped=run.skipped,
        inputs={"predictions": InputFile(path=str(predictions), sha256=predictions_sha)},
        provenance=provenance(command or f"compbench.judge({str(predictions)!r})"))
    return JudgeReport(document=document, run=run)


def update_results(results_path: str | Path, report: JudgeReport) -> Results:
    """Add the judge metrics to a results document scored from the same predictions, release and split (checked
    by their hashes, and per sub-task by the number of examples); rewrites it atomically and writes the verdicts
    beside it as ``<stem>.judge.parquet``."""
    path = Path(results_path)
    try:
        results = Results.model_validate_json(read_text_strict(path))
    except ValidationError as exc:
        raise InputError(f"not a results document: {exc.errors()[0]['msg']}", path) from None
    doc = report.document
    scored = results.inputs.get("predictions")
    if scored is None or scored.sha256 != doc.inputs["predictions"].sha256:
        raise ConfigError("the results were scored from other predictions (sha256 differs)", path)
    if (results.benchmark.release_hash, results.benchmark.split) != (doc.benchmark.release_hash, doc.benchmark.split):
        raise ConfigError("the results were scored against another release or split", path)
    if results.scoring.multi_ref != "each":
        raise ConfigError("the results use --multi-ref max: judge them with `compbench score --judge-endpoint ...` "
                          "so that the judged rows are the scored ones", path)
    for subtask, metrics in doc.subtasks.items():
        if subtask not in results.subtasks:
            raise ConfigError(f"sub-task {subtask!r} was judged but is not in the results", path)
        if results.subtasks[subtask].n != metrics.n:
            raise ConfigError(f"{subtask}: the results scored {results.subtasks[subtask].n} examples, the judge "
                              f"{metrics.n}", path)
        results.subtasks[subtask].judge = metrics
    for family, judged in doc.families.items():
        if family in results.families and results.families[family].subtasks == judged.subtasks:
            results.families[family].judge = judged.judge
    write_verdicts(report.run.verdicts, results_verdicts_path(path))
    write_json(path, results.model_dump(mode="json"))
    return results
