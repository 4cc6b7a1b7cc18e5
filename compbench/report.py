"""Readable terminal tables for results and comparisons."""

from __future__ import annotations

from compbench.compare import Comparison
from compbench.schemas import Results

_HEAD = ("sub-task", "n", "R-1", "R-2", "R-3", "R-L", "W-R", "main")


def _table(rows: list[tuple[str, ...]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True)))
             for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _main_cell(value: float, ci: dict, metric: str) -> str:
    interval = ci.get(metric)
    suffix = f" [{interval.low:.2f}, {interval.high:.2f}]" if interval else ""
    return f"{metric} {value:.2f}{suffix}"


def render_results(results: Results) -> str:
    """Sub-tasks then families: exact means in percent, the main metric with its 95% interval."""
    rows = [_HEAD]
    for name, m in results.subtasks.items():
        n = f"{m.n}" + (f" ({m.missing} missing)" if m.missing else "")
        rows.append((name, n, *(f"{v:.2f}" for v in (m.rouge1, m.rouge2, m.rouge3, m.rougeL, m.weighted_rouge)),
                     _main_cell(m.main, m.ci, m.main_metric)))
    for name, f in results.families.items():
        label = f"[{name}]" + ("" if f.complete else " (partial)")
        rows.append((label, str(len(f.subtasks)) + " sub-tasks",
                     *(f"{v:.2f}" for v in (f.rouge1, f.rouge2, f.rouge3, f.rougeL, f.weighted_rouge)),
                     _main_cell(f.main, f.ci, f.main_metric)))
    s = results.scoring
    footer = (f"tokenizer={s.tokenizer}  multi-ref={s.multi_ref}  seed={s.seed}  bootstrap={s.bootstrap}  "
              f"intervals={int(s.confidence * 100)}%")
    if results.ignored_predictions:
        footer += f"  ignored predictions (other sub-tasks)={results.ignored_predictions}"
    return _table(rows) + "\n" + footer


def render_comparison(comparison: Comparison) -> str:
    rows = [("sub-task", "metric", "n", "A", "B", "A-B", "95% CI", "p")]
    for label, d in [*comparison.subtasks.items(), *((f"[{k}]", v) for k, v in comparison.families.items())]:
        rows.append((label, d.metric, str(d.n), f"{d.a:.2f}", f"{d.b:.2f}", f"{d.difference:+.2f}",
                     f"[{d.ci.low:+.2f}, {d.ci.high:+.2f}]", f"{d.p_value:.4f}"))
    return (_table(rows) + f"\nA={comparison.a}  B={comparison.b}  paired bootstrap, "
            f"{comparison.bootstrap} resamples, seed {comparison.seed}")
