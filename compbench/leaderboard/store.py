"""The leaderboard store: a directory of accepted entries and the release they were scored against.

Layout (docs/leaderboard.md)::

    STORE/store.json                       the pinned release: where it is, its manifest sha256, the split
    STORE/entries/<entry id>/metadata.json   who submitted what (EntryMetadata)
                            /results.json    the results document, as submitted and verified
                            /results.examples.parquet   per-example scores, recomputed by compbench
                            /predictions.jsonl          the predictions the scores come from

An entry id is made by compbench from the registry's method id, the base model and the predictions' hash, never
from submitted text as is, so an entry can only ever live in its own directory under ``entries/``.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from compbench.architectures import ARCHITECTURES, HUB_IDS, Architecture
from compbench.errors import ConfigError, InputError
from compbench.fileio import read_text_strict, write_json
from compbench.schemas import Results

STORE_SCHEMA_VERSION = "1.0"
METADATA_SCHEMA_VERSION = "1.0"

STORE_CONFIG = "store.json"
ENTRIES_DIR = "entries"
METADATA_NAME = "metadata.json"
RESULTS_NAME = "results.json"
EXAMPLES_NAME = "results.examples.parquet"
PREDICTIONS_NAME = "predictions.jsonl"
#: The files of a results directory (what an evaluation run writes, plus the metadata) and of an entry.
ENTRY_FILES: tuple[str, ...] = (METADATA_NAME, RESULTS_NAME, EXAMPLES_NAME, PREDICTIONS_NAME)

DEFAULT_STORE = "leaderboard"
MAX_TEXT = 200
MAX_DESCRIPTION = 1000
_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_URL = re.compile(r"^https?://[^\s<>\"'`\\{}|^]+$")
_ID_CHARS = re.compile(r"[^a-z0-9.+_-]+")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _plain(value: str, what: str, limit: int = MAX_TEXT) -> str:
    if not value.strip():
        raise ValueError(f"{what} is empty")
    if len(value) > limit:
        raise ValueError(f"{what} is longer than {limit} characters")
    if _CONTROL.search(value):
        raise ValueError(f"{what} contains a control or bidirectional-override character")
    return value


class EntryMetadata(_Strict):
    """``metadata.json`` of a results directory: who made the entry and where to read about it.

    ``method``, ``base_model`` and ``compbench_version`` must equal those of the results document. Free text
    is plain text: no control characters, bounded length; it is escaped wherever it is rendered.
    """

    schema_version: str = METADATA_SCHEMA_VERSION
    method: str
    base_model: str
    authors: list[str] = Field(min_length=1, max_length=20)
    link: str | None = None
    date: str
    compbench_version: str
    description: str | None = None

    @field_validator("method", "base_model", "compbench_version")
    @classmethod
    def _short_text(cls, value: str, info) -> str:
        return _plain(value, info.field_name)

    @field_validator("authors")
    @classmethod
    def _authors(cls, value: list[str]) -> list[str]:
        return [_plain(name, "an author's name") for name in value]

    @field_validator("description")
    @classmethod
    def _description(cls, value: str | None) -> str | None:
        return None if value is None else _plain(value, "description", MAX_DESCRIPTION)

    @field_validator("link")
    @classmethod
    def _link(cls, value: str | None) -> str | None:
        if value is None:
            return None
        _plain(value, "link", 500)
        if not _URL.match(value):
            raise ValueError("link must be an http:// or https:// URL without spaces, quotes or angle brackets")
        return value

    @field_validator("date")
    @classmethod
    def _date(cls, value: str) -> str:
        try:
            _dt.date.fromisoformat(value)
        except ValueError:
            raise ValueError("date must be YYYY-MM-DD") from None
        if len(value) != 10:
            raise ValueError("date must be YYYY-MM-DD")
        return value


class StoreConfig(_Strict):
    """``store.json``: the release every entry is scored against, and the leaderboard's bootstrap settings.

    ``release`` is where compbench finds the release to rescore submissions (a directory or a Hub id; ``submit
    --data`` overrides it); ``release_hash`` is the sha256 of its manifest, which submissions must match.
    ``seed`` and ``bootstrap`` drive every interval and tie mark the leaderboard computes.
    """

    schema_version: str = STORE_SCHEMA_VERSION
    release: str
    release_hash: str
    split: str = "test"
    seed: int = 0
    bootstrap: int = Field(default=1000, ge=1)


def canonical_model(base_model: str) -> str:
    """The architecture name of a base model whose Hub id compbench knows (``Qwen/Qwen2.5-1.5B`` ->
    ``qwen2.5-1.5b``), else the name as given. Entries on one model share its name in every table."""
    for name, hub_id in HUB_IDS.items():
        if base_model.split("@", 1)[0].lower() == hub_id.lower():
            return name
    return base_model


def architecture_of(base_model: str) -> Architecture | None:
    """The architecture of a base model for efficiency accounting: a named one, a known Hub id, or its
    instruction-tuned variant (same shapes); ``None`` when compbench does not know it offline."""
    name = canonical_model(base_model)
    if name in ARCHITECTURES:
        return ARCHITECTURES[name]
    hub = base_model.split("@", 1)[0].lower().removesuffix("-instruct")
    return next((ARCHITECTURES[n] for n, hub_id in HUB_IDS.items() if hub_id.lower() == hub), None)


def model_slug(model: str) -> str:
    """A file-name part for a base model: its name if compbench knows it, else a cleaned name plus a hash (two
    different names never share a slug)."""
    if model in ARCHITECTURES:
        return model
    cleaned = _ID_CHARS.sub("-", model.lower()).strip(".-")[:40] or "model"
    return f"{cleaned}-{hashlib.sha256(model.encode()).hexdigest()[:8]}"


def model_order(models: set[str]) -> list[str]:
    """Known architectures in the registry's order, then the rest alphabetically."""
    known = [m for m in ARCHITECTURES if m in models]
    return known + sorted(models - set(known))


def entry_id(method: str, base_model: str, predictions_sha256: str, key: SettingsKey) -> str:
    """``<method>__<model>__<hash8>``, the hash over the predictions and the settings: only ``[a-z0-9.+_-]``,
    never starting with a dot, whatever the base model's name holds."""
    model = _ID_CHARS.sub("-", canonical_model(base_model).lower()).strip(".-") or "model"
    digest = hashlib.sha256(f"{predictions_sha256}\n{key.release_hash}\n{key.slug}".encode()).hexdigest()
    return f"{method}__{model[:60]}__{digest[:8]}"


@dataclass(frozen=True)
class SettingsKey:
    """What must agree for results to share a table: the release, its split, the tokenizer, multi-reference."""

    release_hash: str
    split: str
    tokenizer: str
    multi_ref: str

    @property
    def slug(self) -> str:
        """A directory name for the group: only ``[a-z0-9.+_-]`` whatever the results hold."""
        release = re.sub(r"[^0-9a-f]", "", self.release_hash.lower())[:12] or "unknown"
        parts = (release, self.split, self.tokenizer, self.multi_ref)
        return "-".join(_ID_CHARS.sub("_", p.lower()).strip(".") or "_" for p in parts)

    def describe(self) -> str:
        return (f"release sha256 {self.release_hash[:12]}, split {self.split}, tokenizer {self.tokenizer}, "
                f"multi-ref {self.multi_ref}")


@dataclass
class Entry:
    """One accepted entry: its directory, metadata and results; per-example scores are read on demand."""

    id: str
    path: Path
    metadata: EntryMetadata
    results: Results

    @property
    def method(self) -> str:
        return self.metadata.method

    @cached_property
    def model(self) -> str:
        return canonical_model(self.metadata.base_model)

    @property
    def key(self) -> SettingsKey:
        r = self.results
        return SettingsKey(r.benchmark.release_hash, r.benchmark.split, r.scoring.tokenizer, r.scoring.multi_ref)

    def examples(self, columns: list[str] | None = None) -> pd.DataFrame:
        """The per-example scores (only ``columns``, when given), read on every call."""
        path = self.path / EXAMPLES_NAME
        try:
            return pq.read_table(path, columns=columns).to_pandas()
        except Exception as exc:  # pyarrow raises several types for unreadable files and missing columns
            raise InputError(f"not a readable per-example Parquet file ({exc})", path) from None


@dataclass
class Store:
    root: Path
    config: StoreConfig | None
    entries: list[Entry]


def _validated(model: type[_Strict], path: Path) -> _Strict:
    text = read_text_strict(path)
    try:
        return model.model_validate_json(text)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(map(str, err["loc"]))
        raise InputError(f"not a valid {model.__name__}: {err['msg']}" + (f" at {where}" if where else ""),
                         path) from None


def read_metadata(path: Path) -> EntryMetadata:
    return _validated(EntryMetadata, path)


def read_results(path: Path) -> Results:
    return _validated(Results, path)


def read_config(root: Path) -> StoreConfig | None:
    path = root / STORE_CONFIG
    return _validated(StoreConfig, path) if path.exists() else None


def load_store(root: str | Path = DEFAULT_STORE) -> Store:
    """Read a store: its config (``None`` while no release is pinned) and every entry, in id order.

    A store that does not exist yet is an empty store. Two entries with the same method, base model and
    settings are an error (the store can only hold one; a maintainer removes the older one).
    """
    root = Path(root)
    if root.exists() and not root.is_dir():
        raise InputError("expected a leaderboard store directory", root)
    config = read_config(root) if root.is_dir() else None
    entries: list[Entry] = []
    entries_dir = root / ENTRIES_DIR
    if entries_dir.is_dir():
        for path in sorted(p for p in entries_dir.iterdir() if not p.name.startswith(".")):
            if not path.is_dir():
                raise InputError("unexpected file in the entries directory (each entry is a directory)", path)
            metadata = read_metadata(path / METADATA_NAME)
            entries.append(Entry(id=path.name, path=path, metadata=metadata,
                                 results=read_results(path / RESULTS_NAME)))
    seen: dict[tuple, str] = {}
    for entry in entries:
        key = (entry.method, entry.model, entry.key)
        if key in seen:
            raise ConfigError(f"entries {seen[key]} and {entry.id} are both {entry.method} on {entry.model} "
                              f"with the same settings; keep one", entries_dir)
        seen[key] = entry.id
    return Store(root=root, config=config, entries=entries)


def init_store(root: str | Path, data: str, split: str = "test", seed: int = 0,
               bootstrap: int = 1000) -> StoreConfig:
    """Pin the release ``data`` (a directory or Hub id) in ``root/store.json``; refuses to re-pin a store."""
    from compbench.references import read_manifest, release_hash, resolve_release

    root = Path(root)
    existing = read_config(root) if root.is_dir() else None
    if existing is not None:
        raise ConfigError(f"the store already pins release {existing.release!r} (sha256 "
                          f"{existing.release_hash[:12]}); a store holds one release", root / STORE_CONFIG)
    release = resolve_release(data, split)
    manifest = read_manifest(release)
    if not any(f.split == split for f in manifest.files):
        raise ConfigError(f"the release has no {split!r} split", release)
    config = StoreConfig(release=data, release_hash=release_hash(release), split=split, seed=seed,
                         bootstrap=bootstrap)
    write_json(root / STORE_CONFIG, config.model_dump(mode="json"))
    return config
