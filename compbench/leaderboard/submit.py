"""``submit``: validate a results directory without trusting it, then add it to the store as a new entry.

A results directory is what an evaluation run writes (``results.json``, ``results.examples.parquet``,
``predictions.jsonl``) plus ``metadata.json`` (:class:`~compbench.leaderboard.store.EntryMetadata`). In order:

1. the four files are regular files inside the directory (no symbolic link, nothing else is read), copied once
   into a private temporary directory that every later check reads;
2. the metadata and the results parse against their schemas and agree (method, base model, compbench version);
   the method is in the registry; the results name their per-example file by its standard name;
3. the results were scored against the store's release (manifest sha256) and split;
4. no entry already holds the same method on the same base model with the same settings;
5. the release (``--data``, else the store's) has the pinned hash; every example of every sub-task the results
   claim has a prediction;
6. compbench rescores the predictions with the results' own settings: every claimed figure (means, intervals,
   counts) equals the recomputed one to the printed precision (two decimals), and the submitted per-example
   scores equal the recomputed ones.

Only then is the entry written: into a staging directory inside ``entries/``, renamed into place at the end.
A rejection raises :class:`~compbench.errors.InputError` or :class:`~compbench.errors.ConfigError` naming the
file and the first thing wrong, and leaves the store as it was.
"""

from __future__ import annotations

import errno
import os
import shutil
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from compbench.compare import KEY_COLUMNS
from compbench.errors import ConfigError, InputError
from compbench.fileio import sha256_file
from compbench.leaderboard.store import (
    DEFAULT_STORE,
    ENTRIES_DIR,
    ENTRY_FILES,
    EXAMPLES_NAME,
    METADATA_NAME,
    PREDICTIONS_NAME,
    RESULTS_NAME,
    STORE_CONFIG,
    Entry,
    EntryMetadata,
    SettingsKey,
    StoreConfig,
    canonical_model,
    entry_id,
    load_store,
    read_config,
    read_metadata,
    read_results,
)
from compbench.methods import METHODS
from compbench.schemas import METRIC_KEYS, PER_EXAMPLE_SCHEMA, RESULTS_SCHEMA_VERSION, Results
from compbench.tasks import REGISTRY

EXAMPLE_TOLERANCE = 1e-6  # per-example F-measures in [0, 1]; the claimed file must match the recomputed one


@dataclass(frozen=True)
class Accepted:
    entry_id: str
    path: Path
    subtasks: list[str]


# ------------------------------------------------------------------------------------------ the files
def _copy_regular(src: Path, dst: Path) -> None:
    """Copy a regular file that is not a symbolic link (checked on the open file itself: no race)."""
    try:
        fd = os.open(src, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except FileNotFoundError:
        raise InputError("missing: a results directory holds " + ", ".join(ENTRY_FILES), src) from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise InputError("is a symbolic link; a submission's files must be regular files inside its "
                             "directory", src) from None
        raise InputError(f"cannot read ({exc.strerror})", src) from None
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
            raise InputError("is not a regular file", src)
        with open(dst, "wb") as out:
            shutil.copyfileobj(handle, out)


def _copy_submission(results_dir: Path, private: Path) -> None:
    if results_dir.is_symlink() or not results_dir.is_dir():
        raise InputError("expected a results directory (not a symbolic link) holding " + ", ".join(ENTRY_FILES),
                         results_dir)
    for name in ENTRY_FILES:
        _copy_regular(results_dir / name, private / name)


# ------------------------------------------------------------------------------------------- the checks
def _check_documents(metadata: EntryMetadata, results: Results, config: StoreConfig, where: Path) -> None:
    if results.schema_version.split(".")[0] != RESULTS_SCHEMA_VERSION.split(".")[0]:
        raise InputError(f"results schema {results.schema_version} is not readable by this compbench "
                         f"(schema {RESULTS_SCHEMA_VERSION})", where / RESULTS_NAME)
    for field in ("method", "base_model", "compbench_version"):
        claimed, recorded = getattr(metadata, field), getattr(results, field)
        if claimed != recorded:
            raise InputError(f"{field} is {claimed!r} here but {recorded!r} in {RESULTS_NAME}", where / METADATA_NAME)
    if metadata.method not in METHODS:
        raise InputError(f"unknown method {metadata.method!r}: the leaderboard takes the methods of the registry "
                         f"({', '.join(METHODS)}); add a new method to compbench/methods first",
                         where / METADATA_NAME)
    if results.per_example != EXAMPLES_NAME:
        raise InputError(f"per_example must be {EXAMPLES_NAME!r} (the file beside the results), found "
                         f"{results.per_example!r}", where / RESULTS_NAME)
    if results.benchmark.release_hash != config.release_hash:
        raise InputError(f"scored against release sha256 {results.benchmark.release_hash[:12]}, but the store "
                         f"holds release sha256 {config.release_hash[:12]} ({config.release}); rescore against it",
                         where / RESULTS_NAME)
    if results.benchmark.split != config.split:
        raise InputError(f"scored on split {results.benchmark.split!r}; the store ranks split {config.split!r}",
                         where / RESULTS_NAME)
    if not results.subtasks:
        raise InputError("the results score no sub-task", where / RESULTS_NAME)
    unknown = sorted(set(results.subtasks) - set(REGISTRY))
    if unknown:
        raise InputError(f"unknown sub-task {unknown[0]!r}", where / RESULTS_NAME)


def _check_duplicates(existing: list[Entry], metadata: EntryMetadata, key: SettingsKey, new_id: str,
                      where: Path) -> None:
    model = canonical_model(metadata.base_model)
    for entry in existing:
        if (entry.method, entry.model, entry.key) == (metadata.method, model, key) or entry.id == new_id:
            raise InputError(f"duplicate: entry {entry.id} already holds {metadata.method} on {model} with these "
                             "settings (a maintainer removes it first to replace it)", where)


def _check_release(release: str, config: StoreConfig) -> None:
    from compbench.references import release_hash, resolve_release

    directory = resolve_release(release, config.split)
    found = release_hash(directory)
    if found != config.release_hash:
        raise ConfigError(f"this release's manifest has sha256 {found[:12]}, but the store pins "
                          f"{config.release_hash[:12]}; pass the store's release with --data", release)


def _check_coverage(private: Path, release: str, results: Results) -> None:
    """Every example of every claimed sub-task has a prediction (per input, with ``multi_ref=max``)."""
    from compbench.predictions import read_predictions
    from compbench.references import load_release

    predictions = read_predictions(private / PREDICTIONS_NAME)
    refs = load_release(release, results.benchmark.split, subtasks=sorted(results.subtasks)).columns
    claimed = set(results.subtasks)
    absent = claimed - set(refs["subtask"])
    if absent:
        raise InputError(f"sub-task {sorted(absent)[0]} is not in the release", RESULTS_NAME)
    has = [row_id in predictions.by_id for row_id in refs["id"]]
    if results.scoring.multi_ref == "max":  # an input is predicted when any of its reference rows is
        predicted_groups = {group for group, h in zip(refs["group"], has, strict=True) if h}
        has = [group in predicted_groups for group in refs["group"]]
    missing = [k for k, h in enumerate(has) if not h]
    if missing:
        first = missing[0]
        raise InputError(f"{len(missing)} example(s) have no prediction (first: id {refs['id'][first]!r} of "
                         f"{refs['subtask'][first]}); a submission predicts every example of the sub-tasks it "
                         "claims", PREDICTIONS_NAME)


def _printed(value: float) -> str:
    return f"{value:.2f}"


def _compare_metrics(where: str, claimed, recomputed) -> str | None:
    for key in ("main", *METRIC_KEYS):
        a, b = getattr(claimed, key), getattr(recomputed, key)
        if _printed(a) != _printed(b):
            return f"{where} {key}: claimed {_printed(a)}, recomputed {_printed(b)}"
    if set(claimed.ci) != set(recomputed.ci):
        return f"{where}: claimed intervals for {sorted(claimed.ci)}, recomputed for {sorted(recomputed.ci)}"
    for key, interval in recomputed.ci.items():
        mine = claimed.ci[key]
        if (_printed(mine.low), _printed(mine.high)) != (_printed(interval.low), _printed(interval.high)):
            return (f"{where} {key} interval: claimed [{_printed(mine.low)}, {_printed(mine.high)}], recomputed "
                    f"[{_printed(interval.low)}, {_printed(interval.high)}]")
    return None


def _score_differences(claimed: Results, recomputed: Results) -> str | None:
    """The first claimed figure that differs from the recomputed one, or ``None``."""
    if claimed.scoring != recomputed.scoring:
        return f"scoring settings {claimed.scoring.model_dump()} differ from {recomputed.scoring.model_dump()}"
    if set(claimed.subtasks) != set(recomputed.subtasks) or set(claimed.families) != set(recomputed.families):
        return (f"claimed sub-tasks/families {sorted(claimed.subtasks)}/{sorted(claimed.families)}, recomputed "
                f"{sorted(recomputed.subtasks)}/{sorted(recomputed.families)}")
    for name, mine in claimed.subtasks.items():
        theirs = recomputed.subtasks[name]
        for field in ("n", "missing", "main_metric"):
            if getattr(mine, field) != getattr(theirs, field):
                return f"sub-task {name} {field}: claimed {getattr(mine, field)}, recomputed {getattr(theirs, field)}"
        if (diff := _compare_metrics(f"sub-task {name}", mine, theirs)) is not None:
            return diff
    for name, mine in claimed.families.items():
        theirs = recomputed.families[name]
        for field in ("subtasks", "complete", "main_metric"):
            if getattr(mine, field) != getattr(theirs, field):
                return f"family {name} {field}: claimed {getattr(mine, field)}, recomputed {getattr(theirs, field)}"
        if (diff := _compare_metrics(f"family {name}", mine, theirs)) is not None:
            return diff
    if claimed.ignored_predictions != recomputed.ignored_predictions:
        return (f"ignored predictions: claimed {claimed.ignored_predictions}, recomputed "
                f"{recomputed.ignored_predictions}")
    return None


def _check_examples(path: Path, recomputed) -> None:
    """The submitted per-example scores are the recomputed ones (same rows, same values)."""
    try:
        table = pq.read_table(path)
    except Exception as exc:  # pyarrow raises several types for unreadable files
        raise InputError(f"not a readable Parquet file ({exc})", EXAMPLES_NAME) from None
    missing = [f.name for f in PER_EXAMPLE_SCHEMA if f.name not in table.column_names]
    if missing:
        raise InputError(f"per-example scores lack the column(s) {', '.join(missing)}", EXAMPLES_NAME)
    mine = table.select([f.name for f in PER_EXAMPLE_SCHEMA]).to_pandas().sort_values(KEY_COLUMNS, kind="stable")
    theirs = recomputed.sort_values(KEY_COLUMNS, kind="stable")
    if mine[KEY_COLUMNS].to_numpy().tolist() != theirs[KEY_COLUMNS].to_numpy().tolist():
        raise InputError("per-example scores cover other examples than the recomputed ones", EXAMPLES_NAME)
    for key in METRIC_KEYS:
        a, b = mine[key].to_numpy(dtype=np.float64), theirs[key].to_numpy(dtype=np.float64)
        bad = np.flatnonzero(~(np.abs(a - b) <= EXAMPLE_TOLERANCE))
        if len(bad):
            i = bad[0]
            raise InputError(f"per-example {key} of id {mine['id'].iloc[i]!r}: claimed {a[i]:.6f}, recomputed "
                             f"{b[i]:.6f} ({len(bad)} differ)", EXAMPLES_NAME)


# ------------------------------------------------------------------------------------------------ submit
def submit(results_dir: str | Path, store: str | Path = DEFAULT_STORE, *, data: str | None = None,
           workers: int | None = None) -> Accepted:
    """Validate ``results_dir`` (see the module docstring) and add it to ``store`` as a new entry."""
    from compbench.scoring import score

    results_dir, root = Path(results_dir), Path(store)
    config = read_config(root) if root.is_dir() else None
    if config is None:
        raise ConfigError("the store pins no release yet; run `compbench leaderboard init --data RELEASE "
                          f"--store {root}` first", root / STORE_CONFIG)
    existing = load_store(root).entries
    release = data if data is not None else config.release
    with tempfile.TemporaryDirectory(prefix="compbench-submission-") as tmp:
        private = Path(tmp)
        _copy_submission(results_dir, private)
        try:
            metadata = read_metadata(private / METADATA_NAME)
            results = read_results(private / RESULTS_NAME)
        except InputError as exc:
            raise InputError(exc.message, results_dir / Path(exc.path or "").name) from None
        _check_documents(metadata, results, config, results_dir)
        key = SettingsKey(results.benchmark.release_hash, results.benchmark.split, results.scoring.tokenizer,
                          results.scoring.multi_ref)
        new_id = entry_id(metadata.method, metadata.base_model, sha256_file(private / PREDICTIONS_NAME), key)
        _check_duplicates(existing, metadata, key, new_id, results_dir)
        _check_release(release, config)
        try:
            _check_coverage(private, release, results)
            s = results.scoring
            report = score(private / PREDICTIONS_NAME, data=release, subtasks=sorted(results.subtasks),
                           split=results.benchmark.split, tokenizer=s.tokenizer, seed=s.seed, bootstrap=s.bootstrap,
                           multi_ref=s.multi_ref, workers=workers)
        except InputError as exc:
            name = Path(exc.path).name if exc.path else PREDICTIONS_NAME
            where = results_dir / name if name in ENTRY_FILES else exc.path
            raise InputError(exc.message, where, exc.line) from None
        difference = _score_differences(results, report.results)
        if difference is not None:
            raise InputError(f"claimed scores differ from the ones recomputed from the predictions: {difference}",
                             results_dir / RESULTS_NAME)
        try:
            _check_examples(private / EXAMPLES_NAME, report.examples)
        except InputError as exc:
            raise InputError(exc.message, results_dir / EXAMPLES_NAME) from None
        path = _install(root, private, report.examples, new_id)
    return Accepted(entry_id=new_id, path=path, subtasks=sorted(results.subtasks))


def _install(root: Path, private: Path, examples, new_id: str) -> Path:
    """Write the entry into a staging directory inside ``entries/`` and rename it into place."""
    entries = root / ENTRIES_DIR
    created = not entries.exists()
    entries.mkdir(parents=True, exist_ok=True)
    target = entries / new_id
    if target.resolve().parent != entries.resolve():
        raise ConfigError(f"entry id {new_id!r} would leave the entries directory")  # cannot happen: ids are ours
    stage = Path(tempfile.mkdtemp(prefix=".staging-", dir=entries))
    try:
        for name in (METADATA_NAME, RESULTS_NAME, PREDICTIONS_NAME):
            shutil.copyfile(private / name, stage / name)
        pq.write_table(pa.Table.from_pandas(examples, schema=PER_EXAMPLE_SCHEMA, preserve_index=False),
                       stage / EXAMPLES_NAME)
        for child in stage.iterdir():
            os.chmod(child, 0o644)
        os.chmod(stage, 0o755)
        try:
            os.rename(stage, target)
        except OSError as exc:  # another submission of this entry won the race
            if exc.errno in (errno.EEXIST, errno.ENOTEMPTY):
                raise InputError(f"duplicate: entry {new_id} exists", target) from None
            raise
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        if created:
            shutil.rmtree(entries, ignore_errors=True)
        raise
    return target
