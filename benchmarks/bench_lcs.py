"""ROUGE-L's longest common subsequence over token lists: compiled candidates against rouge-score's Python table.

The pairs are ``bench_score``'s (17,500 synthetic summaries and replies with the 14 test sets' sizes), tokenized
with the ``unicode`` tokenizer. Every candidate must give rouge-score's LCS length for every pair; the time is the
best of ``--repeat`` runs over all pairs. Inputs are prepared before timing (token ids, as compbench numbers them
for its n-gram counts anyway; code-point strings, whose preparation time is printed apart). Candidates that are
not installed are listed as such (only RapidFuzz is a dependency of compbench).

    python -m benchmarks.bench_lcs [--repeat 3]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

from rouge_score.rouge_scorer import _lcs_table

from benchmarks.bench_score import synthesize
from compbench.metrics.tokenizers import get_tokenizer


def candidates(refs: list[list[str]], preds: list[list[str]]) -> dict[str, Callable[[], list[int]] | None]:
    from rapidfuzz import process
    from rapidfuzz.distance import LCSseq

    vocab: dict[str, int] = {}
    ref_ids = [[vocab.setdefault(t, len(vocab)) for t in r] for r in refs]
    pred_ids = [[vocab.setdefault(t, len(vocab)) for t in p] for p in preds]

    start = time.perf_counter()
    ref_cp, pred_cp = (["".join(chr(0x100 + i) for i in ids) for ids in lists] for lists in (ref_ids, pred_ids))
    print(f"(preparing code-point strings from token ids: {1000 * (time.perf_counter() - start):.1f} ms)")

    found: dict[str, Callable[[], list[int]] | None] = {
        "RapidFuzz LCSseq.similarity, lists of str": lambda: [
            LCSseq.similarity(r, p) for r, p in zip(refs, preds, strict=True)],
        "RapidFuzz LCSseq.similarity, lists of int ids (compbench)": lambda: [
            LCSseq.similarity(r, p) for r, p in zip(ref_ids, pred_ids, strict=True)],
        "RapidFuzz LCSseq.similarity, ids as code points": lambda: [
            LCSseq.similarity(r, p) for r, p in zip(ref_cp, pred_cp, strict=True)],
        "RapidFuzz process.cpdist(LCSseq), int ids, 1 thread": lambda: process.cpdist(
            ref_ids, pred_ids, scorer=LCSseq.similarity, workers=1).tolist(),
    }
    try:
        import pylcs
    except ImportError:
        found["pylcs.lcs_sequence_length, ids as code points"] = None
    else:
        found["pylcs.lcs_sequence_length, ids as code points"] = lambda: [
            pylcs.lcs_sequence_length(r, p) for r, p in zip(ref_cp, pred_cp, strict=True)]
    return found


def best_time(run: Callable[[], list[int]], repeat: int) -> tuple[float, list[int]]:
    best, out = float("inf"), []
    for _ in range(repeat):
        start = time.perf_counter()
        out = run()
        best = min(best, time.perf_counter() - start)
    return best, [int(v) for v in out]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    ref_rows, pred_rows = synthesize(quick=False)
    tok = get_tokenizer("unicode")
    refs = [tok.tokenize(r["reference"]) for r in ref_rows]
    preds = [tok.tokenize(p["prediction"]) for p in pred_rows]
    reference_time, expected = best_time(lambda: [_lcs_table(r, p)[-1][-1] if r and p else 0
                                                  for r, p in zip(refs, preds, strict=True)], 1)
    print(f"{len(refs):,} pairs, {sum(map(len, refs)) / len(refs):.1f} reference and "
          f"{sum(map(len, preds)) / len(preds):.1f} prediction tokens on average")
    print(f"{'rouge-score _lcs_table (pure Python, 1 run)':58s} {1000 * reference_time:8.1f} ms   1.0x")
    for name, run in candidates(refs, preds).items():
        if run is None:
            print(f"{name:58s} not installed")
            continue
        seconds, got = best_time(run, args.repeat)
        verdict = "identical" if got == expected else "DIFFERENT"
        print(f"{name:58s} {1000 * seconds:8.1f} ms {reference_time / seconds:6.0f}x  {verdict}")


if __name__ == "__main__":
    main()
