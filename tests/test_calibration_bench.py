"""The calibration benchmark runs end to end (``--quick``: a tiny config; its figures mean nothing)."""

from __future__ import annotations

from benchmarks.bench_calibration import main


def test_quick_run_reports_every_configuration(capsys):
    rates = main(["--quick", "--new-tokens", "2", "--prompt-tokens", "8"])
    assert set(rates) == {"base", "LC wrapped", "LC++ wrapped", "LC folded"}
    assert all(rate > 0 for rate in rates.values())
    out = capsys.readouterr().out
    assert "vs base" in out and "folded and wrapped generate the same tokens: yes" in out
