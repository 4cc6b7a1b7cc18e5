"""Generation speed of Learnable Calibration on CPU: ``python -m benchmarks.bench_calibration [--quick]``.

A causal LM with Llama 3.2 1B's layer shapes (hidden 2048, intermediate 8192, 32 heads, 8 kv heads, head dim
64) but only 4 of its 16 layers and a 32,000-token vocabulary (instead of 128,256) so that it runs on a
2-core CPU; random weights. Two random rank-32 LoRAs (alpha 16) on q, k, v, o, gate, up, down are merged by
mean factors and calibrated (LC: random ``p``; LC++: random ``P2``, rank 4). Greedy generation of a fixed
number of new tokens (EOS ignored), batch 1, from a fixed prompt:

- base: the model alone (the naive reference every ratio is against);
- LC wrapped: every target Linear wrapped (``base(x) + B'(A'x) + p * sum(x)``), as during training;
- LC++ wrapped: the same with ``P2 (P1 x)``;
- LC folded: ``W += B'A' + p 1ᵀ`` in every layer, then a plain model again (what a deployment runs).

Runs are interleaved (base, wrapped, folded, base, ...) and the median per configuration is reported, which
keeps a busy shared machine from favouring one of them. ``--quick`` is a seconds-long smoke run on a tiny
config (its numbers mean nothing).
"""

from __future__ import annotations

import argparse
import copy
import statistics
import time

import torch
from transformers import LlamaConfig, LlamaForCausalLM

from compbench.adapters.calibration import (
    MODULE_TYPES,
    apply_calibration,
    fold_calibration,
    init_calibration,
    mean_factors,
    remove_calibration,
)
from compbench.adapters.lora_io import LoraAdapter, LoraFactors

FULL = dict(hidden_size=2048, intermediate_size=8192, num_hidden_layers=4, num_attention_heads=32,
            num_key_value_heads=8, head_dim=64, vocab_size=32_000)
QUICK = dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
             num_key_value_heads=2, head_dim=16, vocab_size=512)


def build_model(shape: dict) -> LlamaForCausalLM:
    torch.manual_seed(0)
    config = LlamaConfig(**shape, max_position_embeddings=2048, tie_word_embeddings=False)
    return LlamaForCausalLM(config).eval()


def random_lora(model: LlamaForCausalLM, seed: int, rank: int = 32, alpha: float = 16) -> LoraAdapter:
    generator = torch.Generator().manual_seed(seed)
    modules = {}
    for name, module in model.named_modules():
        if isinstance(module, torch.nn.Linear) and name.rsplit(".", 1)[-1] in MODULE_TYPES:
            modules[name] = LoraFactors(A=torch.randn(rank, module.in_features, generator=generator) * 0.01,
                                        B=torch.randn(module.out_features, rank, generator=generator) * 0.01,
                                        scaling=alpha / rank)
    return LoraAdapter("bench", {"task_type": "CAUSAL_LM"}, modules)


def randomize_(calibration, seed: int):
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for param in calibration.parameters():
            param.copy_(torch.randn(param.shape, generator=generator) * 1e-3)
    return calibration


@torch.inference_mode()
def generate(model, prompt: torch.Tensor, new_tokens: int) -> tuple[float, list[int]]:
    start = time.perf_counter()
    out = model.generate(prompt, attention_mask=torch.ones_like(prompt), max_new_tokens=new_tokens,
                         min_new_tokens=new_tokens, do_sample=False, eos_token_id=None, pad_token_id=0)
    return time.perf_counter() - start, out[0, prompt.shape[1]:].tolist()


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="Tiny config, seconds: a smoke run.")
    parser.add_argument("--layers", type=int, default=None, help="Override the number of layers (default 4).")
    parser.add_argument("--new-tokens", type=int, default=None, help="Tokens generated per run (default 32).")
    parser.add_argument("--prompt-tokens", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=None, help="Runs per configuration (default 3).")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    shape = dict(QUICK if args.quick else FULL)
    if args.layers:
        shape["num_hidden_layers"] = args.layers
    new_tokens = args.new_tokens or (4 if args.quick else 32)
    repeats = args.repeats or (1 if args.quick else 3)

    model = build_model(shape)
    merged = mean_factors([random_lora(model, 1), random_lora(model, 2)])
    lc = randomize_(init_calibration(model, "lc", merged=merged), 3)
    lcpp = randomize_(init_calibration(model, "lc++", rank=4, merged=merged), 4)
    folded = fold_calibration(copy.deepcopy(model), lc, merged)
    prompt = torch.randint(0, shape["vocab_size"], (1, args.prompt_tokens), generator=torch.Generator().manual_seed(5))

    def run(name: str) -> tuple[float, list[int]]:
        if name == "LC wrapped":
            apply_calibration(model, lc, merged)
        elif name == "LC++ wrapped":
            apply_calibration(model, lcpp, merged)
        try:
            return generate(folded if name == "LC folded" else model, prompt, new_tokens)
        finally:
            remove_calibration(model)

    names = ("base", "LC wrapped", "LC++ wrapped", "LC folded")
    for name in names:  # warm-up (first calls allocate)
        run(name)
    times: dict[str, list[float]] = {name: [] for name in names}
    tokens: dict[str, list[int]] = {}
    for _ in range(repeats):
        for name in names:
            seconds, tokens[name] = run(name)
            times[name].append(seconds)

    layers = shape["num_hidden_layers"]
    print(f"{'quick smoke run' if args.quick else 'Llama-3.2-1B-shaped'}: {layers} layers, hidden "
          f"{shape['hidden_size']}, intermediate {shape['intermediate_size']}, vocab {shape['vocab_size']}; "
          f"LoRA rank 32, LC++ rank 4; batch 1, prompt {args.prompt_tokens}, {new_tokens} new tokens greedy, "
          f"{args.threads} threads, median of {repeats}")
    rates = {name: new_tokens / statistics.median(values) for name, values in times.items()}
    print(f"{'configuration':<14} {'tokens/s':>9} {'vs base':>8}")
    for name in names:
        print(f"{name:<14} {rates[name]:>9.2f} {rates[name] / rates['base']:>7.3f}x")
    print(f"LC folded vs LC wrapped: {rates['LC folded'] / rates['LC wrapped']:.2f}x; "
          f"folded within 5% of base: {'yes' if rates['LC folded'] >= 0.95 * rates['base'] else 'no'}; "
          f"folded and wrapped generate the same tokens: {'yes' if tokens['LC folded'] == tokens['LC wrapped'] else 'no'}")
    return rates


if __name__ == "__main__":
    main()
