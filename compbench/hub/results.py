"""Results on the Hub: ``compbench push-results`` and ``compbench pull-results``.

A results repository (a Hub dataset repository) and a leaderboard store have the same layout, one directory per
entry (docs/hub.md)::

    entries/<entry>/results.json                the results document (compbench.schemas.Results)
    entries/<entry>/results.examples.parquet    its per-example scores
    entries/<entry>/predictions.jsonl           the predictions that were scored
    entries/<entry>/metadata.json               EntryMetadata: what the entry is, and each file's sha256

``<entry>`` is ``<method>__<base model>__<first 12 hex digits of the results file's sha256>`` (characters other
than letters, digits, ``.``, ``_`` and ``-`` become ``-``): readable, stable for the same results file, and new
for a new one. Pushing an entry that is already there changes nothing; pulling checks every file against its
entry's metadata before anything is written to the store.
"""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from compbench.errors import InputError
from compbench.fileio import read_document, sha256_file
from compbench.hub.commit import CommitReport, UploadFile, commit_files, target
from compbench.hub_access import hub_access, parse_hub_id
from compbench.predictions import read_predictions
from compbench.schemas import (
    ENTRY_FILES,
    ENTRY_METADATA_NAME,
    EXAMPLES_NAME,
    PER_EXAMPLE_SCHEMA,
    PREDICTIONS_NAME,
    RESULTS_NAME,
    EntryMetadata,
    Results,
)

ENTRIES_DIR = "entries"
CARD = """---
tags:
- compbench-results
---

# compbench results

Results submitted with `compbench push-results`: one directory per entry under `entries/`, holding
`results.json`, `results.examples.parquet`, `predictions.jsonl` and `metadata.json` (each file's sha256).
`compbench pull-results --repo-id {repo_id} --out STORE` fetches them into a leaderboard store.
"""


@dataclass
class ResultsEntry:
    """One checked entry: its id, its metadata and the directory holding its files."""

    entry: str
    metadata: EntryMetadata
    root: Path

    def metadata_bytes(self) -> bytes:
        return (json.dumps(self.metadata.model_dump(mode="json"), indent=2, ensure_ascii=False) + "\n").encode()


def _slug(text: str | None) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", (text or "unknown").replace("/", "__")).strip("-.") or "unknown"


def entry_id(results: Results, results_sha256: str) -> str:
    """``<method>__<base model>__<sha12>`` of a results document and its file's sha256."""
    return f"{_slug(results.method)}__{_slug(results.base_model)}__{results_sha256[:12]}"


def _check_examples(path: Path, results: Results) -> None:
    """Per-example scores with the scorer's columns, covering exactly the results' sub-tasks."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        columns = pq.read_schema(path).names
        missing = [name for name in PER_EXAMPLE_SCHEMA.names if name not in columns]
        if missing:
            raise InputError(f"not per-example scores: missing column(s) {', '.join(missing)}", path)
        subtasks = set(pq.read_table(path, columns=["subtask"])["subtask"].to_pylist())
    except (pa.ArrowException, OSError) as exc:
        raise InputError(f"cannot read Parquet ({exc})", path) from None
    if subtasks != set(results.subtasks):
        raise InputError(f"per-example scores cover {sorted(subtasks)}, the results {sorted(results.subtasks)}", path)


def read_results_dir(results_dir: str | Path) -> ResultsEntry:
    """The entry a results directory makes: ``results.json``, ``results.examples.parquet`` and
    ``predictions.jsonl`` (what ``compbench evaluate`` writes), each checked, with their metadata."""
    root = Path(results_dir)
    if not root.is_dir():
        raise InputError("results directory not found", root)
    for name in ENTRY_FILES:
        if not (root / name).is_file():
            raise InputError(f"missing {name} (a results directory holds {', '.join(ENTRY_FILES)})", root)
    results = read_document(root / RESULTS_NAME, Results, "results document")
    if results.per_example not in (None, EXAMPLES_NAME):
        raise InputError(f"per_example names {results.per_example!r}; an entry's per-example scores are "
                         f"{EXAMPLES_NAME!r} beside it", root / RESULTS_NAME)
    _check_examples(root / EXAMPLES_NAME, results)
    predictions = read_predictions(root / PREDICTIONS_NAME)
    recorded = results.inputs.get("predictions")
    if recorded is not None and recorded.sha256 != predictions.sha256:
        raise InputError("these are not the predictions the results were scored from (sha256 differs from "
                         "inputs.predictions in results.json)", root / PREDICTIONS_NAME)
    hashes = {name: sha256_file(root / name) for name in ENTRY_FILES}
    entry = entry_id(results, hashes[RESULTS_NAME])
    metadata = EntryMetadata(
        entry=entry, method=results.method, base_model=results.base_model, release=results.benchmark.release,
        release_hash=results.benchmark.release_hash, split=results.benchmark.split,
        tokenizer=results.scoring.tokenizer, multi_ref=results.scoring.multi_ref,
        compbench_version=results.compbench_version, files=hashes)
    return ResultsEntry(entry, metadata, root)


def read_entry(entry_dir: str | Path) -> ResultsEntry:
    """A stored entry (``<store>/entries/<entry>/``), every file checked against its ``metadata.json``."""
    root = Path(entry_dir)
    meta_path = root / ENTRY_METADATA_NAME
    metadata = read_document(meta_path, EntryMetadata, "entry metadata")
    if metadata.entry != root.name:
        raise InputError(f"metadata names entry {metadata.entry!r}, the directory is {root.name!r}", meta_path)
    if set(metadata.files) != set(ENTRY_FILES):
        raise InputError(f"metadata lists {sorted(metadata.files)}, an entry holds {list(ENTRY_FILES)}", meta_path)
    for name in ENTRY_FILES:
        if not (root / name).is_file():
            raise InputError(f"missing {name}", root)
        if sha256_file(root / name) != metadata.files[name]:
            raise InputError("sha256 differs from the entry's metadata.json", root / name)
    return ResultsEntry(metadata.entry, metadata, root)


def push_results(results_dir: str | Path, repo_id: str, *, revision: str | None = None, private: bool = False,
                 dry_run: bool = False) -> CommitReport:
    """Add the results directory as one entry of the results repository ``repo_id`` (``ORG/NAME``), in one
    commit on ``revision`` (default ``main``); a repository without a card gets a short one. ``dry_run`` checks
    the directory and lists the entry's files without reaching the Hub."""
    hub_id, branch = target(repo_id, revision)
    entry = read_results_dir(results_dir)
    prefix = f"{ENTRIES_DIR}/{entry.entry}"
    files = [*(UploadFile.at(f"{prefix}/{name}", entry.root / name) for name in ENTRY_FILES),
             UploadFile.of(f"{prefix}/{ENTRY_METADATA_NAME}", entry.metadata_bytes())]
    if dry_run:
        return CommitReport(hub_id.repo_id, branch, files, dry_run=True)
    card = UploadFile.of("README.md", CARD.format(repo_id=hub_id.repo_id).encode())
    return commit_files(hub_id, branch, files, if_absent=[card], message=f"compbench results {entry.entry}",
                        private=private, avoid="use --dry-run to check the entry")


@dataclass
class PullReport:
    """The entries a pull found in the repository, and those it added to the store."""

    repo_id: str
    revision: str | None
    store: Path
    entries: list[str] = field(default_factory=list)
    added: list[str] = field(default_factory=list)


def pull_results(repo_id: str, out: str | Path, *, revision: str | None = None) -> PullReport:
    """Fetch every entry of the results repository ``repo_id`` (``ORG/NAME[@REVISION]``, or ``revision``) into
    the store ``out`` (``out/entries/<entry>/``). Every entry is checked against its metadata first; entries
    already in the store intact are kept, others are written under a temporary name and renamed into place."""
    from huggingface_hub import snapshot_download

    hub_id = parse_hub_id(repo_id, what="--repo-id")
    revision = revision or hub_id.revision
    store = Path(out)
    if store.exists() and not store.is_dir():
        raise InputError("the store must be a directory", store)
    with hub_access(f"dataset repository {hub_id.repo_id}" + (f"@{revision}" if revision else ""),
                    f"the entries already in {store} stay usable", online_only=True):
        snapshot = Path(snapshot_download(hub_id.repo_id, repo_type="dataset", revision=revision,
                                          allow_patterns=[f"{ENTRIES_DIR}/*/*"]))
    found = sorted(p for p in (snapshot / ENTRIES_DIR).glob("*") if p.is_dir())
    checked = [read_entry(path) for path in found]  # every entry is checked before the store is touched
    report = PullReport(hub_id.repo_id, revision, store, entries=[e.entry for e in checked])
    for entry in checked:
        destination = store / ENTRIES_DIR / entry.entry
        if destination.is_dir():
            try:
                read_entry(destination)
                continue  # already there, intact
            except InputError:
                shutil.rmtree(destination)  # damaged: replaced by the checked copy
        staging = destination.with_name(f".{entry.entry}.pulling")
        if staging.exists():
            shutil.rmtree(staging)
        staging.mkdir(parents=True)
        for name in (*ENTRY_FILES, ENTRY_METADATA_NAME):
            shutil.copyfile(entry.root / name, staging / name)
        staging.rename(destination)
        report.added.append(entry.entry)
    return report
