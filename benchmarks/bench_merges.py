"""Cost of each merge for one full-size model, on CPU: ``python -m benchmarks.bench_merges [--model M]``.

Two random rank-32 adapters with the shapes of ``--model`` (default llama-3.2-1b) are merged one module
shape at a time; each distinct shape is measured once and counted for every module type and layer that has
it, which gives the whole-model figure. Slerp and concat export exactly (stacked factors); for comparison the same Slerp update is also
exported the naive way, by a truncated SVD of ΔW like TIES and DARE need, and the ratio is printed.
"""

from __future__ import annotations

import argparse
import time

import torch

from compbench.adapters.lora_io import LoraAdapter, LoraFactors
from compbench.adapters.merges import merge_adapters
from compbench.adapters.merges.common import lowrank_lora
from compbench.adapters.merges.slerp import slerp_coefficients
from compbench.efficiency import resolve_architecture


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="llama-3.2-1b")
    parser.add_argument("--rank", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    arch = resolve_architecture(args.model)
    methods = ("linear", "concat", "slerp", "ties", "dare")
    totals = dict.fromkeys((*methods, "slerp-svd"), 0.0)
    print(f"{args.model}: {arch.layers} layers, rank {args.rank}, {args.threads} threads; seconds per module")
    print(f"{'module':<10} {'(out, in)':>14} " + " ".join(f"{m:>9}" for m in totals))
    warm_up = adapters_for((8, 8), 2)
    for method in methods:  # import every merge module (and PEFT) before anything is timed
        merge_adapters(method, warm_up)
    shapes: dict[tuple[int, int], list[str]] = {}
    for module, shape in arch.module_shapes().items():
        shapes.setdefault(shape, []).append(module)
    for shape, modules in shapes.items():
        pair = adapters_for(shape, args.rank)
        row = {m: seconds(lambda m=m, pair=pair: merge_adapters(m, pair)) for m in methods}

        def slerp_by_svd(pair=pair) -> None:
            first, second = (a.delta("m", torch.float32) for a in pair)
            a, b = slerp_coefficients(first, second, 0.5)
            lowrank_lora(a * first + b * second, 2 * args.rank, torch.float32)

        row["slerp-svd"] = seconds(slerp_by_svd)
        for key, value in row.items():
            totals[key] += value * arch.layers * len(modules)
        label = ",".join(m.removesuffix("_proj") for m in modules)
        print(f"{label:<10} {str((shape[1], shape[0])):>14} " + " ".join(f"{row[m]:9.2f}" for m in totals))
    print(f"{'model':<10} {'':>14} " + " ".join(f"{totals[m]:9.1f}" for m in totals))
    print(f"whole model: slerp exact export {totals['slerp']:.1f}s vs SVD export {totals['slerp-svd']:.1f}s "
          f"({totals['slerp-svd'] / totals['slerp']:.0f}x slower); TIES {totals['ties']:.0f}s, DARE {totals['dare']:.0f}s")


if __name__ == "__main__":
    main()
