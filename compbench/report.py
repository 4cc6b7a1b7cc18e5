"""Readable terminal tables for results and comparisons, with their warnings under the table."""

from __future__ import annotations

from typing import TYPE_CHECKING

from compbench.schemas import Interval, JudgeMetrics, JudgeResults, LanguageCheck, Results

if TYPE_CHECKING:  # compare's reading of Parquet files through pandas is not needed to print results
    from compbench.compare import Comparison, Difference

_HEAD = ("sub-task", "n", "R-1", "R-2", "R-3", "R-L", "W-R", "main")


def _table(rows: list[tuple[str, ...]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True)))
             for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _main_cell(value: float, ci: dict[str, Interval], metric: str, warned: bool, resampled: bool) -> str:
    interval = ci.get(metric)
    if interval:
        suffix = f" [{interval.low:.2f}, {interval.high:.2f}]" + (" !" if warned else "")
    else:
        suffix = " (no interval) !" if warned and resampled else ""
    return f"{metric} {value:.2f}{suffix}"


def _language_cell(check: LanguageCheck | None) -> str:
    return f"{check.language} {check.share:.1f}" if check is not None else "-"


def _judge_cell(judge: JudgeMetrics | None) -> str:
    if judge is None:
        return "-"
    if judge.score is None:
        return "n/a"
    return f"{judge.score:.2f}" + (f" [{judge.ci.low:.2f}, {judge.ci.high:.2f}]" if judge.ci else "")


def _judge_footer(judges: list[JudgeMetrics], subtask_count: int) -> str:
    first = judges[0]
    unparseable = sum(j.unparseable for j in judges[:subtask_count])
    failed = sum(j.failed for j in judges[:subtask_count])
    return (f"judge={first.model}  prompts={first.prompt_version}  unparseable={unparseable}  failed={failed} "
            f"(left out of the judge score)")


def _warning_lines(named: list[tuple[str, list[str]]]) -> list[str]:
    return [f"! {name}: {warning}" for name, warnings in named for warning in warnings]


def render_results(results: Results) -> str:
    """Sub-tasks then families: exact means in percent, the main metric with its 95% interval, the share of
    outputs in the expected language (lang %), and the LLM judge's score where it ran; then warnings."""
    resampled = results.scoring.bootstrap > 0
    entries = [*results.subtasks.items(), *results.families.items()]
    show_language = any(m.language is not None for _, m in entries)
    judges = [m.judge for _, m in entries if m.judge is not None]
    head = (*_HEAD, *(("lang %",) if show_language else ()), *(("judge %",) if judges else ()))
    rows = [head]

    def extra(m) -> tuple[str, ...]:
        return (*((_language_cell(m.language),) if show_language else ()),
                *((_judge_cell(m.judge),) if judges else ()))

    for name, m in results.subtasks.items():
        missing = "" if not m.missing else (" (no predictions)" if m.missing == m.n else f" ({m.missing} missing)")
        rows.append((name, f"{m.n}{missing}",
                     *(f"{v:.2f}" for v in (m.rouge1, m.rouge2, m.rouge3, m.rougeL, m.weighted_rouge)),
                     _main_cell(m.main, m.ci, m.main_metric, bool(m.warnings), resampled), *extra(m)))
    for name, f in results.families.items():
        label = f"[{name}]" + ("" if f.complete else " (partial)")
        count = f"{len(f.subtasks)} sub-tasks" + (f" ({f.missing} missing)" if f.missing else "")
        rows.append((label, count, *(f"{v:.2f}" for v in (f.rouge1, f.rouge2, f.rouge3, f.rougeL, f.weighted_rouge)),
                     _main_cell(f.main, f.ci, f.main_metric, bool(f.warnings), resampled), *extra(f)))
    s = results.scoring
    footer = (f"tokenizer={s.tokenizer}  multi-ref={s.multi_ref}  seed={s.seed}  bootstrap={s.bootstrap}  "
              f"intervals={int(s.confidence * 100)}%")
    if results.ignored_predictions:
        footer += f"  ignored predictions (other sub-tasks)={results.ignored_predictions}"
    if show_language:
        detector = next(m.language.detector for _, m in entries if m.language is not None)
        footer += f"\nlang %: share of outputs detected ({detector}) as the expected language"
    if judges:
        footer += "\n" + _judge_footer(judges, sum(m.judge is not None for m in results.subtasks.values()))
    warnings = _warning_lines([(k, v.warnings) for k, v in results.subtasks.items()]
                              + [(f"[{k}]", v.warnings) for k, v in results.families.items()])
    return "\n".join([_table(rows), footer, *warnings])


def render_judge(document: JudgeResults) -> str:
    """A judge document: score with its interval, n, unparseable and failed counts, per sub-task and family."""
    rows = [("sub-task", "n", "unparseable", "failed", "judge %")]
    for name, j in document.subtasks.items():
        rows.append((name, str(j.n), str(j.unparseable), str(j.failed), _judge_cell(j)))
    for name, f in document.families.items():
        label = f"[{name}]" + ("" if f.complete else " (partial)")
        rows.append((label, str(f.judge.n), str(f.judge.unparseable), str(f.judge.failed), _judge_cell(f.judge)))
    footer = (f"judge={document.judge_model}  prompts={document.prompt_version}  seed={document.seed}  "
              f"bootstrap={document.bootstrap}  intervals={int(document.confidence * 100)}%")
    if document.skipped:
        footer += f"\nnot judged (no appendix A prompt): {', '.join(document.skipped)}"
    return _table(rows) + "\n" + footer


def _comparison_row(label: str, d: Difference) -> tuple[str, ...]:
    flag = " !" if d.warnings else ""
    ci = f"[{d.ci.low:+.2f}, {d.ci.high:+.2f}]" if d.ci else "(none)"
    p = f"{d.p_value:.4f}" if d.p_value is not None else "(none)"
    return (label, d.metric, str(d.n), f"{d.a:.2f}", f"{d.b:.2f}", f"{d.difference:+.2f}", ci + flag, p)


def render_comparison(comparison: Comparison) -> str:
    """A - B per sub-task, then per family (a family over a shared subset is labelled so); then warnings."""
    rows = [("sub-task", "metric", "n", "A", "B", "A-B", "95% CI", "p")]
    rows += [_comparison_row(k, d) for k, d in comparison.subtasks.items()]
    for family, d in comparison.families.items():
        label = f"[{family}]" + (" (shared subset)" if d.shared_subset else "" if d.complete else " (partial)")
        rows.append(_comparison_row(label, d))
    lines = [_table(rows), f"A={comparison.a}  B={comparison.b}  paired bootstrap, {comparison.bootstrap} resamples, "
                          f"seed {comparison.seed}"]
    for side, names in (("A", comparison.only_in_a), ("B", comparison.only_in_b)):
        if names:
            lines.append(f"! not compared (scored in {side} only): {', '.join(names)}")
    lines += _warning_lines([(k, d.warnings) for k, d in comparison.subtasks.items()]
                            + [(f"[{k}]", d.warnings) for k, d in comparison.families.items()])
    return "\n".join(lines)
