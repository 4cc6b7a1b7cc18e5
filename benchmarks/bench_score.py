"""Scoring speed: ``compbench.score`` vs a plain single-process loop over ``rouge_scorer.score``.

Synthetic predictions and references with the 14 test sets' sizes (17,500 rows; summary-length texts for the
summarization families, reply-length texts for the reply families) in Spanish, French, German and English words.
The package run includes everything a user gets: reading the files, per-example ROUGE-1/2/3/L + weighted ROUGE,
exact means, and 1,000 bootstrap resamples per sub-task and family. The naive run is the loop a script would
write: one ``RougeScorer`` with the same tokenizer, ``score`` per pair, then means. Both are timed in this process
(the package's worker processes included), and their per-sub-task means must agree.

    python benchmarks/bench_score.py [--bootstrap 1000] [--workers N] [--repeat 3] [--quick]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
from rouge_score import rouge_scorer

from compbench.metrics.rouge import ROUGE_TYPES, default_workers, weighted_rouge
from compbench.metrics.tokenizers import get_tokenizer
from compbench.scoring import score
from compbench.tasks import MAIN_SUBTASKS, get_task

WORDS = {
    None: "the meeting moved to friday because everyone wanted more time for the report and lunch".split(),
    "es": "la reunión se movió al viernes porque todos querían más tiempo para el informe y la comida".split(),
    "fr": "la réunion a été déplacée à vendredi car tout le monde voulait plus de temps pour le rapport".split(),
    "de": "das treffen wurde auf freitag verschoben weil alle mehr zeit für den bericht und das essen wollten".split(),
}


def synthesize(quick: bool, seed: int = 0) -> tuple[list[dict], list[dict]]:
    rng = np.random.default_rng(seed)
    refs, preds = [], []
    for subtask in MAIN_SUBTASKS:
        task = get_task(subtask)
        n = task.splits["test"] // (20 if quick else 1)
        words = WORDS[task.language]
        low, high = (15, 40) if task.main == "sum" else (6, 20)
        for i in range(n):
            ref = list(rng.choice(words, size=rng.integers(low, high)))
            pred = [w if rng.random() < 0.6 else str(rng.choice(words)) for w in ref[: rng.integers(low, high)]]
            row_id = f"{subtask}/{i}"
            refs.append({"id": row_id, "subtask": subtask, "reference": " ".join(ref)})
            preds.append({"id": row_id, "prediction": " ".join(pred)})
    return refs, preds


def naive(refs: list[dict], preds: list[dict], tokenizer: str) -> dict[str, float]:
    """What a script does: one scorer, a loop over pairs, means per sub-task (weighted ROUGE from R1-R3)."""
    scorer = rouge_scorer.RougeScorer(list(ROUGE_TYPES), tokenizer=get_tokenizer(tokenizer))
    by_subtask: dict[str, list[float]] = {}
    for ref, pred in zip(refs, preds, strict=True):
        s = scorer.score(ref["reference"], pred["prediction"])
        main = s["rougeL"].fmeasure if ref["subtask"].startswith("sum") else weighted_rouge(
            s["rouge1"].fmeasure, s["rouge2"].fmeasure, s["rouge3"].fmeasure)
        by_subtask.setdefault(ref["subtask"], []).append(main)
    return {k: 100 * float(np.mean(v)) for k, v in by_subtask.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bootstrap", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--repeat", type=int, default=3, help="timed runs of each; the median is reported")
    parser.add_argument("--tokenizer", default="unicode")
    parser.add_argument("--quick", action="store_true", help="1/20 of the rows, one run (smoke test)")
    args = parser.parse_args()
    repeat = 1 if args.quick else args.repeat

    refs, preds = synthesize(args.quick)
    with tempfile.TemporaryDirectory() as tmp:
        ref_path, pred_path = Path(tmp, "refs.jsonl"), Path(tmp, "preds.jsonl")
        ref_path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in refs), encoding="utf-8")
        pred_path.write_text("".join(json.dumps(p, ensure_ascii=False) + "\n" for p in preds), encoding="utf-8")
        naive_times, package_times = [], []
        for _ in range(repeat):  # interleaved, so machine noise hits both alike
            start = time.perf_counter()
            naive_means = naive(refs, preds, args.tokenizer)
            naive_times.append(time.perf_counter() - start)
            start = time.perf_counter()
            report = score(pred_path, references=ref_path, tokenizer=args.tokenizer, bootstrap=args.bootstrap,
                           workers=args.workers)
            package_times.append(time.perf_counter() - start)

    n = len(preds)
    for i, (a, b) in enumerate(zip(naive_times, package_times, strict=True), start=1):
        print(f"run {i}: naive {a:.2f} s, compbench {b:.2f} s, ratio {a / b:.2f}x")
    t_naive, t_package = float(np.median(naive_times)), float(np.median(package_times))
    # Compare unrounded means (the results document rounds to 4 decimals).
    ex = report.examples
    worst = max(abs(100 * ex.loc[ex["subtask"] == s, report.results.subtasks[s].main_metric].mean() - naive_means[s])
                for s in naive_means)
    workers = args.workers or default_workers()
    print(f"examples: {n:,} in {len(naive_means)} sub-tasks; tokenizer={args.tokenizer}; runs={repeat}, interleaved (median)")
    print(f"naive loop over rouge_scorer.score (1 process, no intervals): {n / t_naive:8.0f} examples/s "
          f"({t_naive:.2f} s)")
    print(f"compbench.score ({workers} workers, {args.bootstrap} bootstrap resamples): {n / t_package:8.0f} "
          f"examples/s ({t_package:.2f} s)")
    print(f"ratio (compbench / naive): {t_naive / t_package:.2f}x of the medians, "
          f"{min(naive_times) / min(package_times):.2f}x of the best runs")
    print(f"agreement: max |difference| of per-sub-task main metric = {worst:.2e} percentage points "
          f"({'agree' if worst < 1e-9 else 'DISAGREE'})")


if __name__ == "__main__":
    main()
