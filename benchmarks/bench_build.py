"""Translation throughput of the builder's paths against the naive one, in one run, on a shape-faithful OpusMT.

    python benchmarks/bench_build.py            # OpusMT sizes, 48 examples, 24 output tokens, 2 threads, 2 rounds
    python benchmarks/bench_build.py --quick    # tiny model, a few seconds (the test suite runs this)
    python benchmarks/bench_build.py --engine ray   # CTranslate2 on 1 and 2 Ray actors against in process
    ... --record                                # also store the figures in compbench/build/throughput.json

The checkpoint has OpusMT's shape (Marian 6+6 layers, d_model 512, 8 heads, FFN 2048, vocabulary 65,001
with ``<pad>`` last) and random weights; its sentencepiece models are trained on our own text and the
vocabulary is padded with placeholder pieces. Random weights rarely stop on their own, so every path is
forced to generate exactly ``--tokens`` tokens (end-of-sequence suppressed until then, and a cap there).
Paths, all beam 4:
  naive    one example at a time through ``MarianMTModel.generate`` (what a script without batching does)
  stock    length-sorted batches through ``generate`` with transformers' own beam-search cache
  batched  the builder's transformers path (``MarianTranslator``): the same batches, plus a cache that
           skips reordering the cross-attention keys/values (identical for all beams of an input)
  ct2      the builder's CTranslate2 path, int8 (``CT2Translator``); conversion time reported apart
With ``--engine ray`` (extra ``[ray]``), the CTranslate2 path runs through the build's engines on the same chunks:
in process with 1 and with 2 threads, and on a local Ray instance with 1 and 2 actors of 1 CPU each (each actor
builds the translator from its spec and loads the model once; that start is part of the time, as in a build).
"""


from __future__ import annotations

import argparse
import contextlib
import datetime
import os
import platform
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from compbench.build.throughput import Configuration, Measurement, record_measurement  # noqa: E402
from compbench.engines import GeneratorSpec, LocalEngine, chunked  # noqa: E402
from compbench.generation.ctranslate2_backend import CT2Translator  # noqa: E402
from compbench.generation.translation import MarianTranslator  # noqa: E402
from tests.support.tiny_marian import write_random_marian  # noqa: E402

OPUS_MT_SHAPE = {"vocab_size": 65_001, "d_model": 512, "layers": 6, "heads": 8, "ffn_dim": 2048, "max_positions": 512}
QUICK_SHAPE = {"vocab_size": None, "d_model": 32, "layers": 2, "heads": 4, "ffn_dim": 64, "max_positions": 128}

NAMES = ["Maria", "Tom", "Person1", "Person2", "Ana", "Luis", "Grace", "Oliver", "Nina", "Ben", "the manager", "Sam"]
VERBS = ["asks", "tells", "reminds", "helps", "invites", "warns", "thanks", "calls"]
REQUESTS = [
    "to book a table for dinner on Friday evening",
    "about the delayed train and the missing luggage",
    "to bring the documents to the office before noon",
    "to check the price of the flat near the river",
    "about the new schedule for the weekend shifts at the shop",
    "to send the photos from the wedding by email",
    "that the heating in the flat has stopped working again",
    "to prepare a short speech for the retirement party",
]
AFTERWARDS = [
    "They agree to meet again next week.",
    "In the end they decide to ask a neighbour for advice.",
    "The problem is solved after a long phone call.",
    "Both of them are relieved and make plans for the holiday.",
    "Afterwards they talk about a film they both liked.",
]


def dialogsum_like_summaries(count: int, seed: int = 0) -> list[str]:
    """English summaries of DialogSum's typical length (one to three sentences, ~15-45 words), our own words."""
    rng = random.Random(seed)
    summaries = []
    for _ in range(count):
        first, second = rng.sample(NAMES, 2)
        text = f"{first} {rng.choice(VERBS)} {second} {rng.choice(REQUESTS)}."
        for sentence in rng.sample(AFTERWARDS, rng.randint(0, 2)):
            text += " " + sentence
        summaries.append(text)
    return summaries


def timed(function) -> tuple[float, object]:
    start = time.perf_counter()
    result = function()
    return time.perf_counter() - start, result


def machine() -> str:
    """The CPU model and core count, for the provenance of recorded figures."""
    model = "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return f"{platform.node() or 'this machine'} ({model}, {os.cpu_count()} cores)"


def record(configuration: Configuration, rate: float, workload: str) -> None:
    measurement = Measurement(configuration, round(rate, 2), workload, "python benchmarks/bench_build.py "
                              + " ".join(sys.argv[1:]), machine(), datetime.date.today().isoformat())
    record_measurement(measurement)
    print(f"recorded: {configuration.describe()}: {measurement.per_second}/s")


def run(
    quick: bool, examples: int, tokens: int, threads: int, batch: int, ct2_batch: int, repeats: int = 2,
    save: bool = False,
) -> dict[str, float]:
    import torch

    torch.set_num_threads(threads)
    shape = QUICK_SHAPE if quick else OPUS_MT_SHAPE
    texts = dialogsum_like_summaries(examples)
    with tempfile.TemporaryDirectory(prefix="bench_build_") as scratch:
        seconds, checkpoint = timed(lambda: write_random_marian(Path(scratch) / "opus-mt-shaped", **shape))
        print(f"checkpoint: {shape} written in {seconds:.1f}s; {examples} examples, {tokens} output tokens, "
              f"beam 4, {threads} threads")

        batched = MarianTranslator(
            checkpoint, "es", batch_size=batch, max_length=tokens, keep_unfinished=True,
            generation_options={"min_new_tokens": tokens},
        )
        stock = MarianTranslator(
            checkpoint, "es", batch_size=batch, max_length=tokens, keep_unfinished=True,
            generation_options={"min_new_tokens": tokens}, skip_cross_attention_reorder=False,
        )
        seconds, ct2 = timed(lambda: CT2Translator(
            checkpoint, "es", batch_size=ct2_batch, max_length=tokens, keep_unfinished=True, threads=threads,
            cache_dir=Path(scratch) / "ct2", generation_options={"min_decoding_length": tokens},
        ))
        print(f"ctranslate2 conversion (int8, once per checkpoint, cached): {seconds:.1f}s")

        model, tokenizer = batched.model, batched.tokenizer

        def naive() -> list[str]:
            outputs = []
            for text in texts:
                encoded = tokenizer([text], return_tensors="pt")
                with torch.inference_mode():
                    generated = model.generate(**encoded, num_beams=4, min_new_tokens=tokens, max_new_tokens=tokens)
                outputs.append(tokenizer.decode(generated[0], skip_special_tokens=True))
            return outputs

        # Same work on every path: check the generated length once, then warm each path up.
        encoded = tokenizer(texts[:2], return_tensors="pt", padding=True)
        with torch.inference_mode():
            generated = model.generate(**encoded, num_beams=4, min_new_tokens=tokens, max_new_tokens=tokens)
        ct2_lengths = {len(r.hypotheses[0]) for r in ct2.translator.translate_batch(
            [tokenizer.convert_ids_to_tokens(ids) for ids in tokenizer(texts[:2])["input_ids"]],
            beam_size=4, min_decoding_length=tokens, max_decoding_length=tokens)}
        print(f"generated tokens per output: transformers {generated.shape[1] - 1}, ctranslate2 {sorted(ct2_lengths)}")
        batched.generate(texts[:2])
        stock.generate(texts[:2])
        ct2.generate(texts[:2])

        paths = {
            "naive": naive,
            "stock": lambda: stock.generate(texts),
            "batched": lambda: batched.generate(texts),
            "ct2": lambda: ct2.generate(texts),
        }
        # Rounds interleave the paths, and each path keeps its best round: on a shared machine this is the
        # least disturbed measurement of each.
        best, results = {}, {}
        for round_number in range(1, repeats + 1):
            for name, function in paths.items():
                seconds, outputs = timed(function)
                assert len(outputs) == len(texts)
                results[name] = outputs
                best[name] = min(seconds, best.get(name, seconds))
                print(f"round {round_number}  {name:8s} {seconds:7.2f}s  {len(texts) / seconds:7.2f} examples/s")
    rates = {name: len(texts) / seconds for name, seconds in best.items()}
    print("best of rounds: " + ", ".join(f"{name} {rate:.2f}/s" for name, rate in rates.items()))
    print(f"batched outputs identical to stock: {results['batched'] == results['stock']}")
    print(f"stock / naive:   {rates['stock'] / rates['naive']:.1f}x")
    print(f"batched / naive: {rates['batched'] / rates['naive']:.1f}x   (target >= 5x)")
    print(f"ct2 / naive:     {rates['ct2'] / rates['naive']:.1f}x")
    print(f"ct2 / batched:   {rates['ct2'] / rates['batched']:.1f}x   (target >= 2x)")
    if save and not quick:
        workload = (f"shape-faithful OpusMT (random weights), {examples} DialogSum-length summaries, beam 4, {tokens} "
                    f"output tokens, {threads} threads, best of {repeats} rounds")
        record(Configuration("translation", "transformers", "float32", "cpu", "local", 1), rates["batched"],
               f"{workload}, batches of {batch}")
        record(Configuration("translation", "ctranslate2", "int8", "cpu", "local", 1), rates["ct2"],
               f"{workload}, batches of {ct2_batch}")
    return rates


def run_ray(quick: bool, examples: int, tokens: int, chunk: int, repeats: int = 1, save: bool = False
            ) -> dict[str, float]:
    """CTranslate2 int8 through the build's engines: in process (1 and 2 threads) and Ray (1 and 2 actors)."""
    import ray

    from compbench.engines.ray_engine import RayEngine

    shape = QUICK_SHAPE if quick else OPUS_MT_SHAPE
    texts = dialogsum_like_summaries(examples)
    chunks = chunked(texts, chunk)
    cpus = os.cpu_count() or 1
    with tempfile.TemporaryDirectory(prefix="bench_build_ray_") as scratch:
        checkpoint = write_random_marian(Path(scratch) / "opus-mt-shaped", **shape)
        options = {"model": str(checkpoint), "lang": "es", "batch_size": chunk, "max_length": tokens,
                   "keep_unfinished": True, "cache_dir": str(Path(scratch) / "ct2"),
                   "generation_options": {"min_decoding_length": tokens}}
        spec = GeneratorSpec("compbench.generation.ctranslate2_backend:CT2Translator", options, device="cpu")
        identity = spec.build_identity()
        CT2Translator(**options, threads=1).generate(texts[:2])  # converts the model once, before any timing
        print(f"checkpoint: {shape}; {examples} examples in {len(chunks)} chunks of {chunk}, {tokens} output tokens, "
              f"beam 4, CTranslate2 int8, {cpus} CPU cores")
        started = not ray.is_initialized()
        if started:
            ray.init(num_cpus=cpus, include_dashboard=False, logging_level="ERROR")
        try:
            def in_process(threads: int):
                generator = CT2Translator(**options, threads=threads)
                return lambda: [out for _, out in LocalEngine().run(generator, None, chunks)]

            def on_ray(actors: int):
                def go():
                    with RayEngine(actors=actors, cpus_per_actor=1) as engine:
                        return [out for _, out in engine.run(identity, spec, chunks)]
                return go

            paths = {"local-1": in_process(1), "local-2": in_process(2), "ray-1": on_ray(1), "ray-2": on_ray(2)}
            best: dict[str, float] = {}
            for round_number in range(1, repeats + 1):
                for name, function in paths.items():
                    seconds, outputs = timed(function)
                    assert sum(len(o) for o in outputs) == len(texts)
                    best[name] = min(seconds, best.get(name, seconds))
                    print(f"round {round_number}  {name:8s} {seconds:7.2f}s  {len(texts) / seconds:7.2f} examples/s")
            with RayEngine(actors=1) as engine:  # what a stage pays before its first output: actor start + load
                start, _ = timed(lambda: list(engine.run(identity, spec, [texts[:1]])))
        finally:
            if started:
                ray.shutdown()
    rates = {name: len(texts) / seconds for name, seconds in best.items()}
    print("best of rounds: " + ", ".join(f"{name} {rate:.2f}/s" for name, rate in rates.items()))
    print(f"ray start + one-text chunk (actor start, model load): {start:.1f}s")
    print(f"ray-2 / ray-1:     {rates['ray-2'] / rates['ray-1']:.2f}x   (2 actors vs 1; expect close to 2x)")
    print(f"ray-1 / local-1:   {rates['ray-1'] / rates['local-1']:.2f}x   (1 actor vs in process, 1 thread each)")
    print(f"ray-2 / local-2:   {rates['ray-2'] / rates['local-2']:.2f}x   (2 actors vs in process with 2 threads)")
    if save and not quick:
        workload = (f"shape-faithful OpusMT (random weights), {examples} DialogSum-length summaries in chunks of "
                    f"{chunk}, beam 4, {tokens} output tokens, 1 CPU per actor, actor start and model load included, "
                    f"best of {repeats} round(s)")
        for actors in (1, 2):
            record(Configuration("translation", "ctranslate2", "int8", "cpu", "ray", actors), rates[f"ray-{actors}"],
                   workload)
    return rates


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny model and inputs: a smoke run in seconds")
    parser.add_argument("--examples", type=int, default=None, help="inputs (default 48; 6 with --quick)")
    parser.add_argument("--tokens", type=int, default=None, help="output tokens (default 24; 4 with --quick)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=32, help="transformers batch size")
    parser.add_argument("--ct2-batch-size", type=int, default=48, help="CTranslate2 batch size")
    parser.add_argument("--repeats", type=int, default=None,
                        help="rounds over all paths; each path keeps its best (default 2; 1 with --engine ray)")
    parser.add_argument("--engine", choices=("local", "ray"), default="local",
                        help="local: the backends in process (default); ray: CTranslate2 on 1 and 2 Ray actors")
    parser.add_argument("--chunk-size", type=int, default=48, help="texts per chunk with --engine ray")
    parser.add_argument("--record", action="store_true",
                        help="store the figures in compbench/build/throughput.json (not with --quick)")
    args = parser.parse_args(argv)
    tokens = args.tokens or (4 if args.quick else 24)
    if args.engine == "ray":
        examples = args.examples or (8 if args.quick else 384)
        chunk = min(args.chunk_size, 2) if args.quick else args.chunk_size
        return run_ray(args.quick, examples, tokens, chunk, args.repeats or 1, args.record)
    examples = args.examples or (6 if args.quick else 48)
    return run(args.quick, examples, tokens, args.threads, args.batch_size, args.ct2_batch_size, args.repeats or 2,
               args.record)


if __name__ == "__main__":
    main()
