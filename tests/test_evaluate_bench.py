"""The evaluation benchmark runs end to end (``--quick``: a tiny config; its figures mean nothing)."""

from __future__ import annotations

from benchmarks.bench_evaluate import main


def test_quick_run_reports_the_three_ratios(capsys):
    ratios = main(["--quick", "--threads", "1"])
    assert set(ratios) == {"batched_vs_one", "lc_vs_base", "multi_step_vs_lc"}
    assert all(value > 0 for value in ratios.values())
    out = capsys.readouterr().out
    assert "batched / one at a time" in out and "LC / base" in out and "multi-step / LC" in out
