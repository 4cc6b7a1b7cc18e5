"""Cost of each merge for one full-size model, on CPU: ``python -m benchmarks.bench_merges [--model M]``.

Two random rank-32 adapters with the shapes of ``--model`` (default llama-3.2-1b) are merged one module
shape at a time; each distinct shape is measured once and counted for every module type and layer that has
it, which gives the whole-model figure. TIES and DARE end with a truncated SVD of each module's update; that
export is timed on its own, against the naive way (``torch.linalg.svd`` of the matrix as it is, which is what
PEFT's ``*_svd`` merges do), on the same TIES update. Slerp and concat need no SVD (exact stacked export).
"""

from __future__ import annotations

import argparse
import time

import torch

from compbench.adapters.lora_io import LoraAdapter, LoraFactors
from compbench.adapters.merges import merge_adapters
from compbench.adapters.merges.common import lowrank_lora
from compbench.adapters.merges.ties import ties_delta
from compbench.efficiency import resolve_architecture

METHODS = ("linear", "concat", "slerp", "ties", "dare")


def adapters_for(shape: tuple[int, int], rank: int) -> list[LoraAdapter]:
    d_in, d_out = shape
    generator = torch.Generator().manual_seed(0)
    return [LoraAdapter("bench", {}, {"m": LoraFactors(torch.randn(rank, d_in, generator=generator) * 0.01,
                                                      torch.randn(d_out, rank, generator=generator) * 0.01,
                                                      0.5)}) for _ in range(2)]


def seconds(function) -> float:
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def naive_export(update: torch.Tensor, rank: int) -> None:
    U, S, Vh = torch.linalg.svd(update, full_matrices=False)
    LoraFactors(A=Vh[:rank], B=U[:, :rank] * S[:rank], scaling=1.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="llama-3.2-1b")
    parser.add_argument("--rank", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    arch = resolve_architecture(args.model)
    warm_up = adapters_for((8, 8), 2)
    for method in METHODS:  # import every merge module (and PEFT) before anything is timed
        merge_adapters(method, warm_up)
    columns = (*METHODS, "svd", "svd-naive")
    totals = dict.fromkeys(columns, 0.0)
    print(f"{args.model}: {arch.layers} layers, rank {args.rank}, {args.threads} threads; seconds per module")
    print(f"{'module':<10} {'(out, in)':>14} " + " ".join(f"{c:>9}" for c in columns))
    shapes: dict[tuple[int, int], list[str]] = {}
    for module, shape in arch.module_shapes().items():
        shapes.setdefault(shape, []).append(module)
    for shape, modules in shapes.items():
        pair = adapters_for(shape, args.rank)
        row = {m: seconds(lambda m=m, pair=pair: merge_adapters(m, pair)) for m in METHODS}
        update = ties_delta([a.delta("m", torch.float32) for a in pair], [0.5, 0.5], 0.5)
        row["svd"] = seconds(lambda update=update: lowrank_lora(update, 2 * args.rank, torch.float32))
        row["svd-naive"] = seconds(lambda update=update: naive_export(update, 2 * args.rank))
        for key, value in row.items():
            totals[key] += value * arch.layers * len(modules)
        label = ",".join(m.removesuffix("_proj") for m in modules)
        print(f"{label:<10} {str((shape[1], shape[0])):>14} " + " ".join(f"{row[c]:9.2f}" for c in columns))
    print(f"{'model':<10} {'':>14} " + " ".join(f"{totals[c]:9.1f}" for c in columns))
    print(f"whole model: TIES {totals['ties']:.0f}s, DARE {totals['dare']:.0f}s; their SVD export "
          f"{totals['svd']:.0f}s vs naive {totals['svd-naive']:.0f}s ({totals['svd-naive'] / totals['svd']:.1f}x); "
          f"slerp {totals['slerp']:.1f}s with exact export")


if __name__ == "__main__":
    main()
