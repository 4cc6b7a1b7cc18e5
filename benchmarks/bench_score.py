"""Scoring speed, whole processes: ``compbench score`` vs a plain Python script looping ``rouge_scorer.score``.

Synthetic predictions and references with the 14 test sets' sizes (17,500 rows; summary-length texts for the
summarization families, reply-length texts for the reply families) in Spanish, French, German and English words,
written to JSON Lines files. Two programs are timed from start to exit, startup and imports included:

  naive      the script a user would write (``NAIVE_SCRIPT`` below): read both files, one ``RougeScorer`` with the
             same tokenizer, ``score`` per pair, means per sub-task; no intervals. It also saves its per-example
             F-measures (one ``numpy.save``) so that they can be checked.
  compbench  ``python -m compbench score PREDS --references REFS --out results.json`` with 1,000 bootstrap
             resamples per sub-task and family, the per-example Parquet file and the results document.

Runs alternate (naive, compbench, naive, ...) so that machine noise hits both alike; the medians are compared.
CPU time (user + system, worker processes included) is printed beside the wall time: it is steadier on a shared
machine, but does not show what a second core gives. Then every per-example ROUGE-1/2/3/L F-measure that
compbench wrote is compared with rouge-score's: they must be equal (``==``).

    python -m benchmarks.bench_score [--bootstrap 1000] [--workers N] [--repeat 3] [--tokenizer unicode] [--quick]
    python -m benchmarks.bench_score --stages     # where compbench's time goes, stage by stage, in one process
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from compbench.tasks import MAIN_SUBTASKS, get_task

WORDS = {
    None: "the meeting moved to friday because everyone wanted more time for the report and lunch".split(),
    "es": "la reunión se movió al viernes porque todos querían más tiempo para el informe y la comida".split(),
    "fr": "la réunion a été déplacée à vendredi car tout le monde voulait plus de temps pour le rapport".split(),
    "de": "das treffen wurde auf freitag verschoben weil alle mehr zeit für den bericht und das essen wollten".split(),
}
ROUGE_TYPES = ("rouge1", "rouge2", "rouge3", "rougeL")

# What a user would write. The unicode tokenizer is restated in its plain form (docs/scoring.md), so that the
# script imports nothing from compbench.
NAIVE_SCRIPT = '''
import json, re, sys, unicodedata
import numpy as np
from rouge_score import rouge_scorer

class UnicodeTokenizer:
    word = re.compile(r"[^\\W_](?:[^\\W_]|[\\u0300-\\u036f])*")
    def tokenize(self, text):
        return self.word.findall(unicodedata.normalize("NFC", text).lower())

refs_path, preds_path, tokenizer, out = sys.argv[1:5]
refs = [json.loads(line) for line in open(refs_path, encoding="utf-8")]
preds = {p["id"]: p["prediction"] for p in map(json.loads, open(preds_path, encoding="utf-8"))}
types = ["rouge1", "rouge2", "rouge3", "rougeL"]
scorer = rouge_scorer.RougeScorer(types, tokenizer=UnicodeTokenizer() if tokenizer == "unicode" else None)
rows, by_subtask = [], {}
for ref in refs:
    s = scorer.score(ref["reference"], preds[ref["id"]])
    f = [s[t].fmeasure for t in types]
    rows.append(f)
    by_subtask.setdefault(ref["subtask"], []).append(f)
for subtask, values in by_subtask.items():
    print(subtask, *(f"{100 * v:.4f}" for v in np.mean(values, axis=0)))
np.save(out, np.array(rows))
'''


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


def timed(command: list[str]) -> tuple[float, float]:
    """Wall and CPU seconds (user + system, its own children included) of one process run to completion."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def per_example_check(refs: list[dict], naive_out: Path, examples_path: Path) -> tuple[int, int]:
    """(pairs whose four F-measures equal rouge-score's exactly, pairs compared)."""
    theirs = np.load(naive_out)
    ours = pq.read_table(examples_path).to_pandas().set_index("id")
    ours = ours.loc[[r["id"] for r in refs], list(ROUGE_TYPES)].to_numpy()
    return int(np.all(ours == theirs, axis=1).sum()), len(refs)


def stages(refs_path: Path, preds_path: Path, tokenizer: str, bootstrap: int) -> None:
    """Time compbench's stages in this process (one worker), after measuring the imports in fresh processes
    (best of 3); wall and CPU seconds."""
    def start_time(code: str) -> tuple[float, float]:
        runs = [timed([sys.executable, "-c", code]) for _ in range(3)]
        return min(r[0] for r in runs), min(r[1] for r in runs)

    print(f"{'stage':38s} {'wall':>7s} {'cpu':>7s}")
    bare = start_time("pass")
    imports = start_time("import compbench.cli, compbench.scoring")
    print(f"{'python start':38s} {bare[0]:6.3f}s {bare[1]:6.3f}s")
    print(f"{'imports (compbench.cli + scoring)':38s} {imports[0] - bare[0]:6.3f}s {imports[1] - bare[1]:6.3f}s")
    from compbench.metrics import rouge
    from compbench.metrics.bootstrap import subtask_bootstrap
    from compbench.predictions import read_predictions
    from compbench.references import load_reference_jsonl
    from compbench.scoring import score

    clock = (time.perf_counter(), time.process_time())

    def lap(label: str) -> None:
        nonlocal clock
        now = (time.perf_counter(), time.process_time())
        print(f"{label:38s} {now[0] - clock[0]:6.3f}s {now[1] - clock[1]:6.3f}s")
        clock = now

    preds = read_predictions(preds_path)
    columns = load_reference_jsonl(refs_path).columns
    lap("read predictions and references")
    predictions = [preds.by_id[i] for i in columns["id"]]
    references = columns["reference"]
    ref_ids, pred_ids, sizes = rouge._encode(predictions, references, tokenizer)
    lap("tokenize + number the tokens")
    rouge._ngram_overlaps(ref_ids, pred_ids, sizes)
    lap("n-gram overlaps (1, 2, 3)")
    [rouge.LCSseq.similarity(r, p) for r, p in zip(ref_ids, pred_ids, strict=True)]
    lap("LCS (RapidFuzz)")
    scores = rouge.score_pairs(predictions, references, tokenizer, workers=1)
    lap("score_pairs (all of the above + F)")
    rows_of: dict[str, list[int]] = {}
    for k, subtask in enumerate(columns["subtask"]):
        rows_of.setdefault(subtask, []).append(k)
    for subtask, rows in rows_of.items():
        subtask_bootstrap(scores[rows], 0, subtask, bootstrap)
    lap(f"bootstrap ({bootstrap} resamples, 5 metrics)")
    with tempfile.TemporaryDirectory() as tmp:
        report = score(preds_path, references=refs_path, tokenizer=tokenizer, bootstrap=bootstrap, workers=1)
        lap("compbench.score (1 worker), whole")
        report.write(out=Path(tmp, "results.json"))
        lap("write results + per-example Parquet")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bootstrap", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=None, help="passed to compbench score (default: its own)")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs of each; the medians are compared")
    parser.add_argument("--tokenizer", choices=("unicode", "compat"), default="unicode")
    parser.add_argument("--quick", action="store_true", help="1/20 of the rows, one run (smoke test)")
    parser.add_argument("--stages", action="store_true", help="time compbench's stages in one process instead")
    args = parser.parse_args()
    repeat = 1 if args.quick else args.repeat

    refs, preds = synthesize(args.quick)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        refs_path, preds_path = tmp / "refs.jsonl", tmp / "preds.jsonl"
        refs_path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in refs), encoding="utf-8")
        preds_path.write_text("".join(json.dumps(p, ensure_ascii=False) + "\n" for p in preds), encoding="utf-8")
        if args.stages:
            return stages(refs_path, preds_path, args.tokenizer, args.bootstrap)
        naive_script = tmp / "naive_rouge.py"
        naive_script.write_text(NAIVE_SCRIPT, encoding="utf-8")
        naive = [sys.executable, str(naive_script), str(refs_path), str(preds_path), args.tokenizer,
                 str(tmp / "naive.npy")]
        package = [sys.executable, "-m", "compbench", "score", str(preds_path), "--references", str(refs_path),
                   "--tokenizer", args.tokenizer, "--bootstrap", str(args.bootstrap), "--out", str(tmp / "results.json")]
        if args.workers is not None:
            package += ["--workers", str(args.workers)]
        runs = []
        for i in range(1, repeat + 1):  # interleaved, so machine noise hits both alike
            runs.append((timed(naive), timed(package)))
            (nw, nc), (pw, pc) = runs[-1]
            print(f"run {i}: naive {nw:.2f} s (cpu {nc:.2f}), compbench {pw:.2f} s (cpu {pc:.2f}), ratio {nw / pw:.2f}x")
        equal, total = per_example_check(refs, tmp / "naive.npy", tmp / "results.examples.parquet")

    naive_wall = float(np.median([r[0][0] for r in runs]))
    package_wall = float(np.median([r[1][0] for r in runs]))
    naive_cpu = float(np.median([r[0][1] for r in runs]))
    package_cpu = float(np.median([r[1][1] for r in runs]))
    print(f"examples: {len(preds):,} in {len(MAIN_SUBTASKS)} sub-tasks; tokenizer={args.tokenizer}; "
          f"runs={repeat}, interleaved (median); whole processes, startup included")
    print(f"naive script (rouge_scorer.score loop, 1 process, no intervals): {naive_wall:.2f} s wall, "
          f"{naive_cpu:.2f} s cpu")
    print(f"compbench score ({args.bootstrap} bootstrap resamples, workers={args.workers or 'default'}): "
          f"{package_wall:.2f} s wall, {package_cpu:.2f} s cpu")
    print(f"ratio (naive / compbench): {naive_wall / package_wall:.2f}x wall, {naive_cpu / package_cpu:.2f}x cpu")
    verdict = "(agree)" if equal == total else "(DISAGREE)"
    print(f"per-example ROUGE-1/2/3/L F-measures equal to rouge-score's: {equal:,} of {total:,} pairs {verdict}")
    if equal != total:
        sys.exit(1)


if __name__ == "__main__":
    main()
