"""Offline language check: which of English, Spanish, French and German each prediction is written in.

The detector is py3langid (a maintained fork of langid.py): its naive Bayes model ships inside the wheel as a
NumPy archive (loaded with ``allow_pickle=False``), nothing is downloaded, and it is restricted to the four
languages the benchmark uses. Chosen on accuracy and speed over short texts (docs/judge.md,
``benchmarks/bench_language.py``). A sub-task's check is the share of its predictions detected as the language
the output should be in: the target language of a translation sub-task, English for every other one (tone
sub-tasks: the share still in English). Empty predictions count as not in the language. Only the first
:data:`MAX_CHARS` characters of a prediction are read, which bounds the cost of outputs that ramble on.
"""

from __future__ import annotations

import os
import unicodedata
from array import array
from collections.abc import Mapping, Sequence
from functools import lru_cache
from importlib.metadata import version
from pathlib import Path

import numpy as np

from compbench.schemas import FamilyMetrics, LanguageCheck, SubtaskMetrics
from compbench.tasks import REGISTRY, Task, tasks_in_family

DETECTOR_LANGUAGES: tuple[str, ...] = ("en", "es", "fr", "de")
MAX_CHARS = 1000
BATCH = 4096  # texts detected together


@lru_cache(maxsize=1)
def _identifier():
    """py3langid's identifier restricted to :data:`DETECTOR_LANGUAGES`.

    py3langid's model is an LZMA-compressed archive whose decompression takes about 0.4 s, a quarter of a whole
    score run. The arrays the restricted identifier uses are kept uncompressed in compbench's cache
    (``py3langid/``, keyed by the model file's sha256; arrays only, loaded with ``allow_pickle=False``) and read
    from there by later runs. The identifier built from them is py3langid's own class with the same arrays.
    """
    from py3langid.langid import LanguageIdentifier

    arrays = _restricted_model()
    identifier = LanguageIdentifier(arrays["ptc"], arrays["pc"], arrays["classes"].tolist(),
                                    _stdlib_array(arrays["nextmove"]), arrays["output"].tolist(),
                                    tk_row=_stdlib_array(arrays["row"]))
    identifier.set_languages(list(DETECTOR_LANGUAGES))
    return identifier


def _model_file() -> Path:
    from py3langid.langid import MODEL_DIR, MODEL_FILE

    return Path(MODEL_FILE) if Path(MODEL_FILE).is_absolute() else Path(MODEL_DIR) / MODEL_FILE


def _restricted_model() -> dict[str, np.ndarray]:
    """The model's arrays restricted to the four languages: from the cache, else from py3langid (then cached)."""
    from compbench.fileio import cache_root, sha256_file

    model = _model_file()
    cached = cache_root() / "py3langid" / f"{sha256_file(model)[:24]}-{'-'.join(DETECTOR_LANGUAGES)}.npz"
    try:
        with np.load(cached, allow_pickle=False) as data:
            return {name: data[name] for name in data.files}
    except (OSError, ValueError):
        pass
    from py3langid.langid import _load_model_file

    ptc, pc, classes, nextmove, row, output = _load_model_file(model)
    keep = [i for i, code in enumerate(classes) if code in DETECTOR_LANGUAGES]
    arrays = {"ptc": np.ascontiguousarray(np.asarray(ptc)[:, keep]), "pc": np.asarray(pc)[keep],
              "classes": np.asarray([classes[i] for i in keep]), "nextmove": np.frombuffer(nextmove, _dtype(nextmove)),
              "row": np.frombuffer(row, _dtype(row)), "output": np.asarray(output, dtype=np.int64)}
    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
        partial = cached.with_name(f".{cached.name}.{os.getpid()}.partial")
        with open(partial, "wb") as handle:
            np.savez(handle, **arrays)
        os.replace(partial, cached)
    except OSError:  # a read-only cache only costs the next run the decompression again
        pass
    return arrays


def _dtype(values: array) -> np.dtype:
    return np.dtype(f"u{values.itemsize}")


def _stdlib_array(values: np.ndarray) -> array:
    """A NumPy unsigned array as the stdlib ``array`` py3langid's tokenizer indexes."""
    out = array({1: "B", 2: "H", 4: "I", 8: "Q"}[values.dtype.itemsize])
    out.frombytes(np.ascontiguousarray(values).tobytes())
    return out


def detector_name() -> str:
    return f"py3langid {version('py3langid')}"


def detect_languages(texts: Sequence[str]) -> list[str | None]:
    """ISO 639-1 code (en/es/fr/de) per text; ``None`` for a text with nothing to detect (empty or blank).

    py3langid's model, applied to all texts at once (:func:`_batch_scores`) instead of one ``classify`` call
    per text, which spends most of its time in a Python loop over each text's bytes.
    """
    model = _walk_model()
    present = [k for k, text in enumerate(texts) if text.strip()]
    found: list[str | None] = [None] * len(texts)
    for start in range(0, len(present), BATCH):  # bounds the memory: a few bytes per byte of text in a batch
        batch = present[start:start + BATCH]
        scores = _batch_scores(model, [_encode(texts[k][:MAX_CHARS]) for k in batch])
        for k, best in zip(batch, scores.argmax(axis=1).tolist(), strict=True):
            found[k] = model["labels"][best]
    return found


def _encode(text: str) -> bytes:
    """The bytes py3langid's model reads for ``text``: lower-cased if all upper case, NFC, UTF-8."""
    if text.isupper():
        text = text.lower()
    return unicodedata.normalize("NFC", text).encode("utf8", errors="surrogatepass")


@lru_cache(maxsize=1)
def _walk_model() -> dict:
    """The restricted model as the arrays :func:`_batch_scores` indexes."""
    arrays = _restricted_model()
    return {"nextmove": arrays["nextmove"], "rowbase": arrays["row"].astype(np.int64) << 8,
            "output": arrays["output"], "ptc": arrays["ptc"], "pc": arrays["pc"], "labels": arrays["classes"].tolist()}


def _batch_scores(model: dict, encoded: list[bytes]) -> np.ndarray:
    """py3langid's naive Bayes scores of every text: its byte automaton walked over all texts in step (one NumPy
    step per byte position), then ``sum over features of log1p(count) * P(feature | language) + P(language)``.
    The sums are taken in float64 where py3langid sums in float32, so the scores agree up to rounding (the
    decisions are tested equal to py3langid's). A text with no feature scores the floor for every language, as
    in py3langid (then the first language wins)."""
    n, languages = len(encoded), len(model["labels"])
    floor = float(np.finfo(np.float32).min)
    if n == 0:
        return np.empty((0, languages))
    lengths = np.fromiter(map(len, encoded), dtype=np.int64, count=n)
    order = np.argsort(-lengths, kind="stable")  # longest first: the texts still being read are a prefix
    lengths = lengths[order]
    data = np.frombuffer(b"".join(encoded[k] for k in order.tolist()), dtype=np.uint8)
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    ascending = lengths[::-1]
    states = np.zeros(n, dtype=np.int64)
    event_texts, event_features = [], []
    for position in range(int(lengths[0])):
        reading = n - int(np.searchsorted(ascending, position, side="right"))
        step = model["nextmove"][model["rowbase"][states[:reading]] + data[starts[:reading] + position]]
        states[:reading] = step
        features = model["output"][step]
        hit = np.flatnonzero(features >= 0)
        event_texts.append(hit)
        event_features.append(features[hit])
    scores = np.full((n, languages), floor)
    texts, features = np.concatenate(event_texts), np.concatenate(event_features)
    if texts.size:
        width = int(model["ptc"].shape[0])
        keys = texts.astype(np.int64) * width + features
        if n * width < 2**32:  # sorting 32-bit keys is about 40% faster
            keys = keys.astype(np.uint32)
        pairs, counts = np.unique(keys, return_counts=True)  # sorted by text, then feature
        pairs = pairs.astype(np.int64)
        text_of, feature_of = pairs // width, pairs % width
        values = np.log1p(counts.astype(np.float64))[:, None] * model["ptc"][feature_of].astype(np.float64)
        first = np.flatnonzero(np.r_[True, text_of[1:] != text_of[:-1]])
        scores[text_of[first]] = np.add.reduceat(values, first, axis=0) + model["pc"]
    result = np.empty_like(scores)
    result[order] = scores
    return result


def expected_language(task: Task) -> str:
    """The language a sub-task's output should be in: its target language, else English."""
    return task.language or "en"


def detect_unique(texts: Sequence[str]) -> dict[str, str | None]:
    """:func:`detect_languages` of each distinct text once (a multi-reference input repeats its prediction)."""
    unique = list(dict.fromkeys(texts))
    return dict(zip(unique, detect_languages(unique), strict=True))


def language_check(texts: Sequence[str], language: str,
                   detected: Mapping[str, str | None] | None = None) -> LanguageCheck:
    """The share of ``texts`` detected as ``language``; ``detected`` (text -> language) may hold them already."""
    if detected is None:
        detected = detect_unique(texts)
    found = [detected[text] for text in texts]
    share = 100 * sum(d == language for d in found) / len(found) if found else 0.0
    return LanguageCheck(detector=detector_name(), language=language, share=round(share, 4), n=len(found))


def family_language_check(checks: Sequence[LanguageCheck]) -> LanguageCheck:
    """Unweighted mean of the sub-tasks' shares; ``language`` lists the sub-tasks' languages (``es/fr/de``)."""
    languages = "/".join(dict.fromkeys(c.language for c in checks))
    return LanguageCheck(detector=checks[0].detector, language=languages,
                         share=round(float(np.mean([c.share for c in checks])), 4), n=sum(c.n for c in checks))


def add_language_checks(row_subtasks: Sequence[str], predictions: Sequence[str],
                        subtasks: dict[str, SubtaskMetrics], families: dict[str, FamilyMetrics],
                        detected: Mapping[str, str | None] | None = None) -> None:
    """Fill ``language`` of every scored sub-task and family from the per-example rows' predictions
    (``detected``: the languages of those predictions where already known, from :func:`detect_unique`)."""
    texts: dict[str, list[str]] = {}
    for subtask, prediction in zip(row_subtasks, predictions, strict=True):
        texts.setdefault(subtask, []).append(prediction)
    for subtask, outputs in texts.items():
        if subtask in subtasks:
            subtasks[subtask].language = language_check(outputs, expected_language(REGISTRY[subtask]), detected)
    for family, metrics in families.items():
        checks = [subtasks[t.id].language for t in tasks_in_family(family) if t.id in subtasks]
        if checks and all(c is not None for c in checks):
            metrics.language = family_language_check(checks)
