"""``compbench demo``'s wall time and peak memory, end to end, then its rerun (every step reused).

The demo runs as a child process (``python -m compbench demo``) in a new directory; its process tree (the demo and
its step workers) is sampled every ``--interval`` seconds. Peak memory is given two ways: the largest sum of the
tree's proportional set sizes (PSS: pages shared between processes, such as torch's libraries, counted once in
total) and the largest sum of resident set sizes (RSS: shared pages counted in every process, an upper bound).
The limits the demo is held to (10 minutes, 3 with ``--fast``; 4 GiB) are printed beside the figures.

    python -m benchmarks.bench_demo [--fast] [--seed 0] [--out DIR] [--interval 0.2]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

GIB = 1024**3


def tree_memory(root) -> tuple[int, int]:
    """(sum of PSS, sum of RSS) in bytes over ``root`` and its descendants (processes, not threads)."""
    import psutil

    pss = rss = 0
    for process in [root, *root.children(recursive=True)]:
        try:
            info = process.memory_full_info()
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        pss += info.pss
        rss += info.rss
    return pss, rss


def run(args: list[str], interval: float) -> tuple[float, int, int, str]:
    """Run ``python -m compbench ARGS``; (wall seconds, peak PSS sum, peak RSS sum, its output)."""
    import psutil

    start = time.perf_counter()
    child = subprocess.Popen([sys.executable, "-m", "compbench", *args], stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True)
    root = psutil.Process(child.pid)
    peak_pss = peak_rss = 0
    output: list[str] = []
    reader = threading.Thread(target=lambda: output.extend(child.stdout), daemon=True)
    reader.start()
    while child.poll() is None:
        pss, rss = tree_memory(root)
        peak_pss, peak_rss = max(peak_pss, pss), max(peak_rss, rss)
        time.sleep(interval)
    reader.join()
    wall = time.perf_counter() - start
    if child.returncode != 0:
        sys.exit(f"compbench demo failed (exit {child.returncode}):\n{''.join(output)}")
    return wall, peak_pss, peak_rss, "".join(output)


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fast", action="store_true")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, help="demo directory (default: a new temporary one)")
    parser.add_argument("--interval", type=float, default=0.2, help="seconds between memory samples")
    parser.add_argument("--quiet", action="store_true", help="do not print the demo's output")
    options = parser.parse_args(argv)
    out = options.out or Path(tempfile.mkdtemp(prefix="bench-demo-")) / "demo"
    args = ["demo", "--out", str(out), "--seed", str(options.seed), "--no-progress"] + (["--fast"] * options.fast)
    wall, pss, rss, output = run(args, options.interval)
    again, *_, rerun_output = run(args, options.interval)
    if not options.quiet:
        print(output)
    limit = 180 if options.fast else 600
    same = output.split("### Table 2", 1)[-1].split("Done in")[0] == rerun_output.split("### Table 2", 1)[-1].split(
        "Done in")[0]
    print(f"compbench demo{' --fast' * options.fast} --seed {options.seed} ({out})")
    print(f"  wall time          {wall:7.1f} s   (limit {limit} s: {'within' if wall < limit else 'OVER'})")
    print(f"  peak memory (PSS)  {pss / GIB:7.2f} GiB (limit 4 GiB: {'within' if pss < 4 * GIB else 'OVER'})")
    print(f"  peak memory (RSS)  {rss / GIB:7.2f} GiB (upper bound: shared pages counted in each process)")
    print(f"  rerun              {again:7.1f} s   ({wall / again:.0f}x faster; same tables: {same})")
    return {"wall_s": wall, "peak_pss": pss, "peak_rss": rss, "rerun_s": again, "same_tables": same}


if __name__ == "__main__":
    main()
