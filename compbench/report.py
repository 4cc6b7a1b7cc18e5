"""Readable terminal tables for results and comparisons."""

from __future__ import annotations

from compbench.compare import Comparison
from compbench.schemas import JudgeMetrics, JudgeResults, LanguageCheck, Results

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


def render_results(results: Results) -> str:
    """Sub-tasks then families: exact means in percent, the main metric with its 95% interval, the share of
    outputs in the expected language (lang %), and the LLM judge's score where it ran."""
    entries = [*results.subtasks.items(), *results.families.items()]
    show_language = any(m.language is not None for _, m in entries)
    judges = [m.judge for _, m in entries if m.judge is not None]
    head = (*_HEAD, *(("lang %",) if show_language else ()), *(("judge %",) if judges else ()))
    rows = [head]

    def extra(m) -> tuple[str, ...]:
        return (*((_language_cell(m.language),) if show_language else ()),
                *((_judge_cell(m.judge),) if judges else ()))

    for name, m in results.subtasks.items():
        n = f"{m.n}" + (f" ({m.missing} missing)" if m.missing else "")
        rows.append((name, n, *(f"{v:.2f}" for v in (m.rouge1, m.rouge2, m.rouge3, m.rougeL, m.weighted_rouge)),
                     _main_cell(m.main, m.ci, m.main_metric), *extra(m)))
    for name, f in results.families.items():
        label = f"[{name}]" + ("" if f.complete else " (partial)")
        rows.append((label, str(len(f.subtasks)) + " sub-tasks",
                     *(f"{v:.2f}" for v in (f.rouge1, f.rouge2, f.rouge3, f.rougeL, f.weighted_rouge)),
                     _main_cell(f.main, f.ci, f.main_metric), *extra(f)))
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
    return _table(rows) + "\n" + footer


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


def render_comparison(comparison: Comparison) -> str:
    rows = [("sub-task", "metric", "n", "A", "B", "A-B", "95% CI", "p")]
    for label, d in [*comparison.subtasks.items(), *((f"[{k}]", v) for k, v in comparison.families.items())]:
        rows.append((label, d.metric, str(d.n), f"{d.a:.2f}", f"{d.b:.2f}", f"{d.difference:+.2f}",
                     f"[{d.ci.low:+.2f}, {d.ci.high:+.2f}]", f"{d.p_value:.4f}"))
    return (_table(rows) + f"\nA={comparison.a}  B={comparison.b}  paired bootstrap, "
            f"{comparison.bootstrap} resamples, seed {comparison.seed}")
