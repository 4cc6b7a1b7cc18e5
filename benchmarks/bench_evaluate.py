"""Evaluation speed on CPU: ``python -m benchmarks.bench_evaluate [--quick]``.

A causal LM with Qwen2.5-0.5B's layer shapes (hidden 896, intermediate 4864, 14 heads, 2 kv heads, head dim
64, q/k/v biases) but 4 of its 24 layers and a 32,000-token vocabulary (instead of 151,936) so that it runs on a
2-core CPU; random weights, a byte-level BPE tokenizer of that size and a ChatML template, saved to a temporary
directory like a Hub model. Two random rank-32 LoRAs (alpha 16, all seven module types) stand for
the sum and tr-es adapters; an LC calibration sits on their mean. Every generation has exactly ``--new-tokens``
tokens (``min_new_tokens = max_new_tokens``), so every variant generates the same amount; prompts are
``--examples`` synthetic dialogues of random one-token words (~180 tokens with the prompt and template, about
a DialogSum dialogue) under sum+tr-es's prompt.

Three ratios, one run:

1. **batched vs one at a time**: the engine behind ``compbench evaluate`` (length-sorted, left-padded batches
   of ``--batch-size``) against batch size 1, same prompts, base weights; generation only (model loaded before).
2. **folded LC vs base**: the same batched generation with the LC update folded into the weights against the
   base model; interleaved repeats, median; generation only. Folding itself is reported separately.
3. **multi-step vs LC, end to end**: ``compbench.evaluate`` of a multi-step bundle against an LC bundle on the
   same rows, each with an empty cache: model loading (two models for multi-step: one per pass), folding,
   both passes' generation, writing and scoring. Both passes generate the same number of tokens, but pass 2
   reads pass 1's output (``--new-tokens`` tokens, ~45 prompt tokens with the instruction and template)
   instead of the dialogue (~170): on a CPU, where reading the prompt is a large share of the time, the
   second pass costs less than the first and the ratio is under 2; it nears 2 where decoding dominates
   (longer outputs, a GPU).

``--quick`` is a seconds-long smoke run on a tiny config (its numbers mean nothing).
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from pathlib import Path

import torch

FULL = dict(hidden_size=896, intermediate_size=4864, num_hidden_layers=4, num_attention_heads=14,
            num_key_value_heads=2, vocab_size=32_000)
QUICK = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
             vocab_size=512)
CHATML = ("{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
          "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")
SPECIALS = ["<pad>", "<|im_start|>", "<|im_end|>"]


def write_model(directory: Path, shape: dict) -> Path:
    """A random Qwen2 of ``shape`` and a byte-level BPE tokenizer of exactly its vocabulary size, trained in
    seconds on the registry's prompts and the ``w<n>`` words the dialogues are made of."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast, Qwen2Config, Qwen2ForCausalLM

    from compbench.tasks import REGISTRY

    core = Tokenizer(models.BPE())
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    core.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=shape["vocab_size"], special_tokens=SPECIALS, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    words = corpus_words(shape)
    corpus = [task.prompt for task in REGISTRY.values()] + [" ".join(words[i:i + 100]) for i in range(0, len(words), 100)]
    core.train_from_iterator(corpus * 2, trainer=trainer)
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=core, pad_token="<pad>", eos_token="<|im_end|>")
    tokenizer.chat_template = CHATML
    torch.manual_seed(0)
    # a wider init than the default 0.02 makes the random model's greedy outputs depend on its input, as a
    # trained model's do (multi-step's second pass would otherwise see one repeated text, generated once)
    config = Qwen2Config(**{**shape, "vocab_size": len(tokenizer)}, max_position_embeddings=2048,
                         initializer_range=0.1, tie_word_embeddings=False, pad_token_id=tokenizer.pad_token_id,
                         eos_token_id=tokenizer.eos_token_id, bos_token_id=None)
    Qwen2ForCausalLM(config).save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


def corpus_words(shape: dict) -> list[str]:
    """Distinct made-up words (``aab``, ``aac``, ...) to train the tokenizer on: enough to fill its vocabulary."""
    letters = "abcdefghijklmnopqrstuvwxyz"
    words = []
    for i in range(min(100_000, 4 * shape["vocab_size"])):
        word = ""
        for _ in range(3):
            i, r = divmod(i, 26)
            word = letters[r] + word
        words.append(letters[i % 26] + word if i else word)
    return words


def single_token_words(model_dir: Path, shape: dict) -> list[str]:
    """The made-up words the tokenizer holds as one token each (a dialogue of N of them is N tokens); a tiny
    vocabulary holds few, and then any corpus word will do."""
    import json

    vocab = json.loads((model_dir / "tokenizer.json").read_text(encoding="utf-8"))["model"]["vocab"]
    whole = sorted(token[1:] for token in vocab if token.startswith("Ġ") and token[1:].isascii()
                   and token[1:].isalpha() and token[1:].islower() and len(token) > 3)
    return whole if len(whole) >= 100 else corpus_words(shape)


def write_release(directory: Path, examples: int, words: int, vocabulary: list[str]) -> Path:
    """A release with ``examples`` sum+tr-es test rows (and one train row): dialogues of random words."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from compbench import __version__
    from compbench.fileio import sha256_file
    from compbench.schemas import SPLIT_ROW_SCHEMA, ReleaseFile, ReleaseManifest, split_file_path
    from compbench.tasks import get_task

    task = get_task("sum+tr-es")
    rng = random.Random(0)
    files = []
    for split, n in (("test", examples), ("train", 1)):
        rows = [{"id": f"{split}-{i}", "subtask": task.id, "family": task.family, "split": split,
                 "prompt": task.prompt, "input": " ".join(rng.choice(vocabulary) for _ in range(words)),
                 "reference": "w5 w6 w7", "reference_index": 0, "chain": [], "source_dataset": "synthetic",
                 "source_id": str(i), "generators": []} for i in range(n)]
        path = directory / split_file_path(task.config_name, split)
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.Table.from_pylist(rows, schema=SPLIT_ROW_SCHEMA), path)
        files.append(ReleaseFile(path=path.relative_to(directory).as_posix(), subtask=task.id, split=split, rows=n,
                                 sha256=sha256_file(path)))
    manifest = ReleaseManifest(release="bench", compbench_version=__version__, files=files)
    (directory / "manifest.json").write_text(manifest.model_dump_json())
    return directory


def write_bundles(root: Path, model_dir: Path) -> dict[str, Path]:
    """A multi-step bundle (sum, tr-es LoRAs) and an LC bundle (the same LoRAs and a random calibration)."""
    from transformers import AutoModelForCausalLM

    from benchmarks.bench_calibration import random_lora
    from compbench.adapters.calibration import init_calibration, mean_factors, save_calibration
    from compbench.bundle import write_bundle

    model = AutoModelForCausalLM.from_pretrained(model_dir)
    loras = {"sum": random_lora(model, 1), "tr-es": random_lora(model, 2)}
    calibration = init_calibration(model, "lc", merged=mean_factors(list(loras.values())))
    with torch.no_grad():
        for param in calibration.parameters():
            param.copy_(torch.randn(param.shape, generator=torch.Generator().manual_seed(3)) * 1e-3)
    save_calibration(calibration, root / "calibration.safetensors")
    tasks = {name: name for name in loras}
    return {
        "multi-step": write_bundle(root / "multi-step", base_model=str(model_dir), method="multi-step",
                                   adapters=loras, tasks=tasks).path,
        "lc": write_bundle(root / "lc", base_model=str(model_dir), method="lc", adapters=loras, tasks=tasks,
                           calibration=root / "calibration.safetensors", subtasks=["sum+tr-es"]).path,
    }


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="Tiny config, seconds: a smoke run.")
    parser.add_argument("--examples", type=int, default=None, help="Prompts (default 32).")
    parser.add_argument("--new-tokens", type=int, default=None, help="Tokens generated per output (default 24).")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--words", type=int, default=None, help="Words (= tokens) per dialogue (default 140).")
    parser.add_argument("--repeats", type=int, default=None, help="Repeats of the folded-vs-base timing (default 5).")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    shape = QUICK if args.quick else FULL
    examples = args.examples or (4 if args.quick else 32)
    new_tokens = args.new_tokens or (2 if args.quick else 24)
    words = args.words or (12 if args.quick else 140)
    repeats = args.repeats or (1 if args.quick else 5)

    from transformers.utils import logging as transformers_logging

    from compbench.evaluation.base_model import load_tokenizer, resolve_base_model
    from compbench.evaluation.engine import TransformersEngine
    from compbench.evaluation.generations import GenerationRunner
    from compbench.evaluation.plan import Decoding, ModelPlan
    from compbench.evaluation.runner import evaluate
    from compbench.evaluation.steps import resolve_target, steps_for
    from compbench.training.data import load_split
    from compbench.training.formatting import ChatFormatter

    transformers_logging.disable_progress_bar()
    with tempfile.TemporaryDirectory(prefix="bench-evaluate-") as tmp:
        root = Path(tmp)
        model_dir = write_model(root / "model", shape)
        release = write_release(root / "release", examples, words, single_token_words(model_dir, shape))
        bundles = write_bundles(root, model_dir)
        base = resolve_base_model(str(model_dir))
        tokenizer = load_tokenizer(base)
        formatter = ChatFormatter(tokenizer)
        prompts = [formatter.prompt_text(f"{row.prompt}\n\n{row.input}") for row in load_split(release, "sum+tr-es", "test")]
        prompt_tokens = sum(len(ids) for ids in tokenizer(prompts, add_special_tokens=False)["input_ids"]) / len(prompts)
        decoding = Decoding(max_new_tokens=new_tokens, min_new_tokens=new_tokens)
        plain = ModelPlan(base, "float32")
        lc_plan = ModelPlan(base, "float32", steps_for(resolve_target(bundles["lc"]), "sum+tr-es")[0].update)

        def generate(engine: TransformersEngine, plan: ModelPlan) -> tuple[float, list[str]]:
            runner = GenerationRunner(engine, None, tokenizer, engine.batch_size, progress=False)
            start = time.perf_counter()
            outputs = runner.run(plan, prompts, decoding)
            return time.perf_counter() - start, outputs

        batched, one = TransformersEngine(batch_size=args.batch_size), TransformersEngine(batch_size=1)
        for engine in (batched, one):  # load and warm up (first calls allocate)
            engine.generate(plain, prompts[:1], Decoding(max_new_tokens=2, min_new_tokens=2))
        one_time, _ = generate(one, plain)
        batched_time, _ = generate(batched, plain)

        folded = TransformersEngine(batch_size=args.batch_size)
        start = time.perf_counter()
        folded.load(lc_plan)
        load_fold = time.perf_counter() - start
        start = time.perf_counter()
        batched.load(plain)
        load_plain = time.perf_counter() - start
        folded.generate(lc_plan, prompts[:1], Decoding(max_new_tokens=2, min_new_tokens=2))
        times: dict[str, list[float]] = {"base": [], "LC folded": []}
        for _ in range(repeats):
            times["base"].append(generate(batched, plain)[0])
            times["LC folded"].append(generate(folded, lc_plan)[0])
        base_time, lc_time = statistics.median(times["base"]), statistics.median(times["LC folded"])

        evaluate(bundles["lc"], data=str(release), out=root / "warm-up", cache_dir=root / "cache-warm-up", limit=1,
                 max_new_tokens=2, bootstrap=0, progress=False)  # imports and first-call costs, not timed
        walls, generated = {}, {}
        for name in ("lc", "multi-step"):
            start = time.perf_counter()
            evaluation = evaluate(bundles[name], data=str(release), out=root / f"run-{name}",
                                  cache_dir=root / f"cache-{name}", max_new_tokens=new_tokens,
                                  min_new_tokens=new_tokens, batch_size=args.batch_size, bootstrap=0, progress=False)
            walls[name] = time.perf_counter() - start
            generated[name] = evaluation.generated  # repeated pass-1 outputs are generated once in pass 2

    tokens = examples * new_tokens
    label = "quick smoke run" if args.quick else "Qwen2.5-0.5B-shaped"
    print(f"{label}: {shape['num_hidden_layers']} layers, hidden {shape['hidden_size']}, intermediate "
          f"{shape['intermediate_size']}, vocab {shape['vocab_size']}; {examples} prompts of {words} words "
          f"({prompt_tokens:.0f} prompt tokens on average), "
          f"{new_tokens} new tokens each (fixed), greedy, {args.threads} threads")
    print(f"1. one at a time: {tokens / one_time:.1f} tokens/s ({examples / one_time:.2f} examples/s); batched "
          f"(batch {args.batch_size}): {tokens / batched_time:.1f} tokens/s ({examples / batched_time:.2f} "
          f"examples/s): batched / one at a time = {one_time / batched_time:.2f}x (target >= 3x)")
    print(f"2. LC folded: {tokens / lc_time:.1f} tokens/s vs base {tokens / base_time:.1f}: LC / base = "
          f"{base_time / lc_time:.3f}x (target within 5%; median of {repeats}); loading the base "
          f"{load_plain:.2f} s, loading + folding LC {load_fold:.2f} s")
    print(f"3. end to end (load, fold, generate every pass, score): LC {walls['lc']:.1f} s "
          f"({generated['lc']} generations), multi-step {walls['multi-step']:.1f} s ({generated['multi-step']} "
          f"generations): multi-step / LC = {walls['multi-step'] / walls['lc']:.2f}x (2 passes vs 1)")
    return {"batched_vs_one": one_time / batched_time, "lc_vs_base": base_time / lc_time,
            "multi_step_vs_lc": walls["multi-step"] / walls["lc"]}


if __name__ == "__main__":
    main()
