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

from collections.abc import Sequence
from functools import lru_cache
from importlib.metadata import version

import numpy as np

from compbench.schemas import FamilyMetrics, LanguageCheck, SubtaskMetrics
from compbench.tasks import REGISTRY, Task, tasks_in_family

DETECTOR_LANGUAGES: tuple[str, ...] = ("en", "es", "fr", "de")
MAX_CHARS = 1000


@lru_cache(maxsize=1)
def _identifier():
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    identifier = LanguageIdentifier.from_model_file(MODEL_FILE)
    identifier.set_languages(list(DETECTOR_LANGUAGES))
    return identifier


def detector_name() -> str:
    return f"py3langid {version('py3langid')}"


def detect_languages(texts: Sequence[str]) -> list[str | None]:
    """ISO 639-1 code (en/es/fr/de) per text; ``None`` for a text with nothing to detect (empty or blank)."""
    identifier = _identifier()
    return [identifier.classify(text[:MAX_CHARS])[0] if text.strip() else None for text in texts]


def expected_language(task: Task) -> str:
    """The language a sub-task's output should be in: its target language, else English."""
    return task.language or "en"


def language_check(texts: Sequence[str], language: str) -> LanguageCheck:
    detected = detect_languages(texts)
    share = 100 * sum(d == language for d in detected) / len(detected) if detected else 0.0
    return LanguageCheck(detector=detector_name(), language=language, share=round(share, 4), n=len(detected))


def family_language_check(checks: Sequence[LanguageCheck]) -> LanguageCheck:
    """Unweighted mean of the sub-tasks' shares; ``language`` lists the sub-tasks' languages (``es/fr/de``)."""
    languages = "/".join(dict.fromkeys(c.language for c in checks))
    return LanguageCheck(detector=checks[0].detector, language=languages,
                         share=round(float(np.mean([c.share for c in checks])), 4), n=sum(c.n for c in checks))


def add_language_checks(row_subtasks: Sequence[str], predictions: Sequence[str],
                        subtasks: dict[str, SubtaskMetrics], families: dict[str, FamilyMetrics]) -> None:
    """Fill ``language`` of every scored sub-task and family from the per-example rows' predictions."""
    texts: dict[str, list[str]] = {}
    for subtask, prediction in zip(row_subtasks, predictions, strict=True):
        texts.setdefault(subtask, []).append(prediction)
    for subtask, outputs in texts.items():
        if subtask in subtasks:
            subtasks[subtask].language = language_check(outputs, expected_language(REGISTRY[subtask]))
    for family, metrics in families.items():
        checks = [subtasks[t.id].language for t in tasks_in_family(family) if t.id in subtasks]
        if checks and all(c is not None for c in checks):
            metrics.language = family_language_check(checks)
