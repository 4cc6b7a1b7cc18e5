"""The build benchmark runs end to end (tiny model, seconds) and reports a rate for every path."""

from __future__ import annotations

import importlib.util
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_build.py"


def test_bench_build_quick_reports_every_path(capsys):
    spec = importlib.util.spec_from_file_location("bench_build", BENCH)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    rates = bench.main(["--quick", "--examples", "5", "--tokens", "3"])
    assert set(rates) == {"naive", "stock", "batched", "ct2"} and all(rate > 0 for rate in rates.values())
    out = capsys.readouterr().out
    assert "generated tokens per output: transformers 3, ctranslate2 [3]" in out
    assert "batched outputs identical to stock: True" in out
    assert "ct2 / batched:" in out


def test_summaries_have_dialogsum_length():
    spec = importlib.util.spec_from_file_location("bench_build", BENCH)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    summaries = bench.dialogsum_like_summaries(48)
    words = [len(s.split()) for s in summaries]
    assert len(summaries) == 48 and len(set(summaries)) > 40
    assert min(words) >= 8 and max(words) <= 60 and 15 <= sum(words) / len(words) <= 40
    assert summaries == bench.dialogsum_like_summaries(48)  # seeded
