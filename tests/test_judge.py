"""The LLM judge against a real OpenAI-compatible server on 127.0.0.1 (tests/support/openai_server.py).

Prompts per family (exact text), strict 0/1 parsing, retries on timeouts and 500s, the cache (a rerun sends
nothing; a killed run resumes without re-asking), scores and intervals, and the API key never leaving the request.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from compbench.cli import main
from compbench.judging import JudgeSettings, judge, update_results
from compbench.llm_judge.cache import default_cache_path
from compbench.llm_judge.prompts import CURRENT_VERSION, VERSIONS
from compbench.llm_judge.requests import JudgeRequest, parse_verdict
from compbench.metrics.bootstrap import resample_indices
from compbench.schemas import JudgeResults, Results
from compbench.scoring import score
from tests.support.openai_server import JudgeServer, Reply, always, by_prediction
from tests.support.release_factory import row, write_jsonl, write_release

REPO = Path(__file__).resolve().parents[1]
DIALOGUE = "#Person1#: Shall we take the bus?\n#Person2#: No, let's walk, it is sunny."
MESSAGE = "I just adopted a puppy!"


def settings(server: JudgeServer, tmp_path: Path, **kwargs) -> JudgeSettings:
    options = {"timeout": 5.0, "max_retries": 2, "progress": False, "cache_dir": tmp_path / "cache"}
    options.update(kwargs)
    return JudgeSettings(endpoint=server.url, model="judge-model", **options)


def release_with(tmp_path: Path, rows: list[dict]) -> tuple[str, Path]:
    release = write_release(tmp_path / "release", rows)
    preds = write_jsonl(tmp_path / "preds.jsonl", [{"id": r["id"], "prediction": f"output {r['id']}"} for r in rows])
    return str(release), preds


# ----------------------------------------------------------------------------------------------- prompts
FAMILY_EXAMPLES = {
    "sum+tr-es": (DIALOGUE, "Deciden ir andando.", (
        "You are in a setting where you want to summarize a dialogue in another language. The dialogue is in "
        "English, but the summary should be in Spanish. Your task is to judge the quality of the summary and if it "
        "is in Spanish. The summary should not take the form of a reply to the dialogue. I give you an example "
        "ground-truth summary that is in Spanish and would be considered a good summary of the dialogue\n"
        f"Dialogue: {DIALOGUE}\n"
        "Ground truth summary: Deciden ir andando.\n"
        "Proposed summary: output sum+tr-es/test/s/0\n"
        "Does the proposed summary summarize the dialogue and is it in Spanish? Please respond with 0 or 1. Only "
        "output 0 or 1 and nothing else.")),
    "sum+tone-witty": (DIALOGUE, "Sunshine wins, the bus weeps.", (
        "You are in a setting where you want to summarize a dialogue in a witty tone. Your task is to judge the "
        "quality of the summary and if it uses a witty tone. The summary should not take the form of a reply to "
        "the dialogue. I give you an example ground-truth summary that follows a witty tone and would be "
        "considered a good summary of the dialogue.\n"
        f"Dialogue: {DIALOGUE}\n"
        "Ground-truth summary: Sunshine wins, the bus weeps.\n"
        "Proposed summary: output sum+tone-witty/test/s/0\n"
        "Does the proposed summary summarize the dialogue and is it written in a witty tone? Please respond with 0 "
        "or 1. Only output 0 or 1 and nothing else.")),
    "reply+tr-fr": (MESSAGE, "Félicitations, comment s'appelle-t-il ?", (
        "You are in a setting where you receive a message in English and you reply in French. Your task is to "
        "judge the usefulness of the proposed reply. I give you an example ground-truth response in French that "
        "would be considered a good reply for the message in English. The proposed reply should not directly "
        "translate or paraphrase the message you have received, it should respond to it.\n"
        f"Message in English: {MESSAGE}\n"
        "Ground-truth reply in French: Félicitations, comment s'appelle-t-il ?\n"
        "Proposed reply: output reply+tr-fr/test/s/0\n"
        "Is the proposed reply useful and is it in French? Please respond with 0 or 1. Only output 0 or 1 and "
        "nothing else.")),
    "reply+tone-professional": (MESSAGE, "Congratulations on the new addition.", (
        "You are in a setting where you receive a message and you want to reply in a professional tone. Your task "
        "is to judge the usefulness of the proposed reply. I give you an example ground-truth response that "
        "follows a professional tone and would be considered a good reply for the message.\n"
        f"Message: {MESSAGE}\n"
        "Ground-truth reply: Congratulations on the new addition.\n"
        "Proposed reply: output reply+tone-professional/test/s/0\n"
        "Is the proposed reply relevant and is it written in a professional tone? Please respond with 0 or 1. "
        "Only output 0 or 1 and nothing else.")),
    "sum+tone-professional+tr-de": (DIALOGUE, "Die Beteiligten entscheiden sich für einen Spaziergang.", (
        "You are in a setting where you want to summarize a dialogue in a professional tone in another language. "
        "The dialogue is in English, but the summary should be in a professional tone in German. Your task is to "
        "judge the quality of the summary, if it uses a professional tone and if it is in German. The summary "
        "should not take the form of a reply to the dialogue. I give you an example ground-truth summary that "
        "follows a professional tone and is in German. The example would be considered a good summary of the "
        "dialogue.\n"
        f"Dialogue: {DIALOGUE}\n"
        "Ground-truth summary: Die Beteiligten entscheiden sich für einen Spaziergang.\n"
        "Proposed summary: output sum+tone-professional+tr-de/test/s/0\n"
        "Does the proposed summary summarize the dialogue and is it written in a professional tone in German? "
        "Please respond with 0 or 1. Only output 0 or 1 and nothing else.")),
}


def test_each_family_gets_its_appendix_a_prompt_exactly(tmp_path):
    rows = [row(subtask, "s", reference, text=source) for subtask, (source, reference, _) in FAMILY_EXAMPLES.items()]
    data, preds = release_with(tmp_path, rows)
    with JudgeServer(always("1")) as server:
        judge(preds, data=data, settings=settings(server, tmp_path))
    assert len(server.requests) == len(FAMILY_EXAMPLES)
    sent = {r.prompt.splitlines()[-2].removeprefix("Proposed summary: output ").removeprefix(
        "Proposed reply: output ").split("/")[0]: r for r in server.requests}
    for subtask, (_, _, expected) in FAMILY_EXAMPLES.items():
        request = sent[subtask]
        assert request.path == "/v1/chat/completions"
        assert request.body["messages"] == [{"role": "user", "content": expected}]
        assert request.body["model"] == "judge-model"
        assert (request.body["temperature"], request.body["max_tokens"], request.body["seed"]) == (0.0, 4, 0)


def test_out_of_domain_set_uses_the_cross_lingual_summary_prompt(tmp_path):
    data, preds = release_with(tmp_path, [row("samsum+sum+tr-es", "o1", "Ana llega tarde.", text="Ana: late")])
    with JudgeServer() as server:
        judge(preds, data=data, settings=settings(server, tmp_path))
    assert server.requests[0].prompt.startswith("You are in a setting where you want to summarize a dialogue in "
                                                "another language.")
    assert "Dialogue: Ana: late\nGround truth summary: Ana llega tarde.\n" in server.requests[0].prompt


def test_prompt_versions_are_frozen():
    """Editing a template or a parameter without a new version fails here: add a version and its fingerprint."""
    fingerprints = {"appendix-a.1": "819eb34301ac1b55c472f34ad4b2707e4f9e76ead2731d285c690281aa8f040d"}
    assert CURRENT_VERSION in VERSIONS
    assert {name: v.fingerprint() for name, v in VERSIONS.items()} == fingerprints


def test_cache_key_covers_model_prompt_and_parameters_not_the_endpoint():
    a = JudgeRequest(model="m", prompt="p")
    assert a.key == JudgeRequest(model="m", prompt="p").key
    assert a.key != JudgeRequest(model="m2", prompt="p").key
    assert a.key != JudgeRequest(model="m", prompt="p ").key
    assert "127.0.0.1" not in json.dumps(a.body())


# ------------------------------------------------------------------------------------------------ parsing
@pytest.mark.parametrize("answer, verdict", [
    ("1", 1), ("0", 0), (" 1", 1), ("0\n", 0), ("\n1\n", 1), ("1.", 1), ("0. ", 0), ("\t1", 1),
    ("10", None), ("01", None), ("1 (yes)", None), ("**1**", None), ("Yes", None), ("", None), ("1..", None),
    ("0 1", None), ("The answer is 1", None), ("2", None), ("-1", None), ("1,", None), ("１", None), (None, None),
])
def test_parse_verdict_is_strict(answer, verdict):
    assert parse_verdict(answer) == verdict


def test_malformed_answers_are_counted_not_zero(tmp_path):
    rows = [row("sum+tr-fr", f"d{i}", "Ils marchent.") for i in range(6)]
    data, preds = release_with(tmp_path, rows)
    answers = {f"output {rows[0]['id']}": "1", f"output {rows[1]['id']}": "0", f"output {rows[2]['id']}": "1.",
               f"output {rows[3]['id']}": "I think 1", f"output {rows[4]['id']}": "",
               f"output {rows[5]['id']}": Reply(status=400, message="prompt too long")}
    with JudgeServer(by_prediction(answers)) as server:
        report = judge(preds, data=data, settings=settings(server, tmp_path), bootstrap=0)
    metrics = report.document.subtasks["sum+tr-fr"]
    assert (metrics.n, metrics.unparseable, metrics.failed) == (6, 2, 1)
    assert metrics.score == pytest.approx(100 * 2 / 3)  # two 1s among three parsed answers
    verdicts = report.run.verdicts.set_index("id")
    assert verdicts.loc[rows[3]["id"], "status"] == "unparseable" and pd.isna(verdicts.loc[rows[3]["id"], "verdict"])
    assert verdicts.loc[rows[5]["id"], "status"] == "failed" and "prompt too long" in verdicts.loc[rows[5]["id"], "error"]
    assert len(server.requests) == 6  # a 400 is not retried


# ----------------------------------------------------------------------------------------------- retries
def test_timeouts_and_server_errors_are_retried(tmp_path):
    rows = [row("reply+tone-casual", "slow", "lol nice"), row("reply+tone-casual", "flaky", "cool")]
    data, preds = release_with(tmp_path, rows)
    tries: dict[str, int] = {}

    def script(index, request):
        which = "slow" if "/slow/" in request.prompt else "flaky"
        tries[which] = tries.get(which, 0) + 1
        if tries[which] == 1:
            return Reply(delay=3.0) if which == "slow" else Reply(status=500)
        return Reply("1")

    with JudgeServer(script) as server:
        report = judge(preds, data=data, settings=settings(server, tmp_path, timeout=0.5, max_retries=2))
    assert tries == {"slow": 2, "flaky": 2}
    assert report.document.subtasks["reply+tone-casual"].score == 100.0
    assert report.document.subtasks["reply+tone-casual"].failed == 0


def test_retries_are_bounded_and_failures_counted(tmp_path):
    rows = [row("reply+tone-casual", "down", "lol"), row("reply+tone-casual", "up", "ok")]
    data, preds = release_with(tmp_path, rows)
    script = by_prediction({f"output {rows[0]['id']}": Reply(status=503)}, default="0")
    with JudgeServer(script) as server:
        report = judge(preds, data=data, settings=settings(server, tmp_path, max_retries=1))
    assert len(server.requests) == 2 + 1  # the 503 asked twice (1 retry), the other once
    metrics = report.document.subtasks["reply+tone-casual"]
    assert (metrics.failed, metrics.score) == (1, 0.0)


def test_fatal_refusal_stops_the_run_with_one_line_and_writes_nothing(tmp_path):
    data, preds = release_with(tmp_path, [row("sum+tr-es", "d1", "Hola.")])
    out = tmp_path / "judge.json"
    with JudgeServer(api_key="the-right-key") as server:
        result = CliRunner().invoke(main, ["judge", str(preds), "--data", data, "--judge-endpoint", server.url,
                                           "--judge-model", "m", "--out", str(out), "--no-progress",
                                           "--cache-dir", str(tmp_path / "cache")],
                                    env={"COMPBENCH_JUDGE_API_KEY": "a-wrong-key"})
    assert result.exit_code == 2
    assert result.output.count("\n") == 1 and "HTTP 401" in result.output
    assert not out.exists()


def test_a_server_that_is_down_fails_with_one_line(tmp_path):
    data, preds = release_with(tmp_path, [row("sum+tr-es", "d1", "Hola.")])
    with JudgeServer() as server:
        url = server.url  # bound, then closed: nothing listens there any more
    result = CliRunner().invoke(main, ["judge", str(preds), "--data", data, "--judge-endpoint", url,
                                       "--judge-model", "m", "--judge-max-retries", "0", "--no-progress",
                                       "--cache-dir", str(tmp_path / "cache")])
    assert result.exit_code == 2
    assert "every judge request failed" in result.output and "Traceback" not in result.output


# ------------------------------------------------------------------------------------------------- cache
def test_a_second_run_is_served_from_the_cache(tmp_path):
    rows = [row("sum+tone-casual", f"d{i}", "they chat") for i in range(5)]
    data, preds = release_with(tmp_path, rows)
    with JudgeServer(by_prediction({f"output {rows[0]['id']}": "0", f"output {rows[1]['id']}": "eh"})) as server:
        first = judge(preds, data=data, settings=settings(server, tmp_path))
        assert len(server.requests) == 5
        second = judge(preds, data=data, settings=settings(server, tmp_path, concurrency=3))
        assert len(server.requests) == 5  # nothing sent the second time
    assert second.document.subtasks == first.document.subtasks
    assert second.run.stats.cached == 5 and second.run.stats.sent == 0


def test_failed_requests_are_not_cached_and_are_asked_again(tmp_path):
    rows = [row("sum+tone-casual", "d1", "they chat"), row("sum+tone-casual", "d2", "they talk")]
    data, preds = release_with(tmp_path, rows)
    with JudgeServer(by_prediction({f"output {rows[0]['id']}": Reply(status=500)})) as server:
        judge(preds, data=data, settings=settings(server, tmp_path, max_retries=0))
    with JudgeServer(always("1")) as server:
        report = judge(preds, data=data, settings=settings(server, tmp_path))
    assert len(server.requests) == 1 and f"output {rows[0]['id']}" in server.requests[0].prompt
    assert report.document.subtasks["sum+tone-casual"].failed == 0


@pytest.mark.slow
def test_a_killed_run_resumes_without_losing_or_reasking_answers(tmp_path):
    """A subprocess judges 12 rows; the server answers 5 and then hangs; the process is killed (SIGKILL) once the
    cache holds the 5 answers. The rerun asks exactly the 7 others."""
    rows = [row("reply+tr-es", f"m{i}", "¡Qué bien!") for i in range(12)]
    data, preds = release_with(tmp_path, rows)
    cache_dir = tmp_path / "cache"

    def first_five(index, request):
        return Reply("1") if index < 5 else Reply(delay=60.0)

    with JudgeServer(first_five) as server:
        command = [sys.executable, "-m", "compbench", "judge", str(preds), "--data", data, "--judge-endpoint",
                   server.url, "--judge-model", "judge-model", "--judge-concurrency", "1", "--cache-dir",
                   str(cache_dir), "--no-progress", "--out", str(tmp_path / "never.json")]
        process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and _cached(default_cache_path(cache_dir)) < 5:
                time.sleep(0.05)
            assert _cached(default_cache_path(cache_dir)) == 5
        finally:
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=30)
        answered = set(server.prompts()[:5])
    assert not (tmp_path / "never.json").exists()
    with JudgeServer(always("0")) as server:
        report = judge(preds, data=data, settings=JudgeSettings(endpoint=server.url, model="judge-model",
                                                                cache_dir=cache_dir, progress=False))
    assert len(server.requests) == 7 and not answered & set(server.prompts())
    metrics = report.document.subtasks["reply+tr-es"]
    assert (metrics.n, metrics.failed, metrics.unparseable) == (12, 0, 0)
    assert metrics.score == pytest.approx(100 * 5 / 12)  # the five cached 1s survived the kill


def _cached(path: Path) -> int:
    if not path.exists():
        return 0
    try:
        with sqlite3.connect(path, timeout=1) as db:
            return db.execute("SELECT COUNT(*) FROM answers").fetchone()[0]
    except sqlite3.OperationalError:  # table not created yet
        return 0


# --------------------------------------------------------------------------------------------- the API key
def test_the_api_key_is_sent_but_never_logged_printed_or_written(tmp_path, caplog):
    key = "sk-compbench-TEST-7f3a9c0e4b-never-print-me"
    rows = [row("sum+tr-de", "d1", "Sie gehen."), row("sum+tr-de", "d2", "Sie fahren."),
            row("sum+tr-de", "d3", "Sie bleiben.")]
    data, preds = release_with(tmp_path, rows)
    echo = Reply(status=400, message=f"bad request from key {key}")  # a server that echoes the key back
    script = by_prediction({f"output {rows[1]['id']}": echo, f"output {rows[2]['id']}": Reply(status=500)})
    out = tmp_path / "out" / "judge.json"
    caplog.set_level(logging.DEBUG)
    with JudgeServer(script, api_key=key) as server:
        result = CliRunner().invoke(main, [
            "judge", str(preds), "--data", data, "--judge-endpoint", server.url, "--judge-model", "m",
            "--judge-max-retries", "1", "--out", str(out), "--cache-dir", str(tmp_path / "cache"), "--json"],
            env={"COMPBENCH_JUDGE_API_KEY": key, "OPENAI_API_KEY": "other"})
    assert result.exit_code == 0, result.output
    assert all(r.headers.get("authorization") == f"Bearer {key}" for r in server.requests)
    written = [p for p in tmp_path.rglob("*") if p.is_file() and "release" not in p.parts]
    assert out in written and default_cache_path(tmp_path / "cache") in written
    for text in [result.output, result.stderr_bytes.decode() if result.stderr_bytes else "", caplog.text,
                 *(p.read_bytes().decode("utf-8", "replace") for p in written)]:
        assert key not in text and "7f3a9c0e4b" not in text
    assert "***" in pd.read_parquet(out.with_name("judge.examples.parquet"))["error"].dropna().str.cat()


# ------------------------------------------------------------------------------------------------- scores
def test_interval_uses_the_scorers_resamples_and_family_is_the_mean(tmp_path):
    es = [row("sum+tr-es", f"d{i}", "Hola.") for i in range(8)]
    fr = [row("sum+tr-fr", f"d{i}", "Salut.") for i in range(4)]
    data, preds = release_with(tmp_path, es + fr)
    ones = {f"output {r['id']}" for r in es[:6] + fr[:1]}
    unparsed = f"output {es[7]['id']}"

    def script(index, request):
        line = request.prompt.splitlines()[-2].split(": ", 1)[1]
        return Reply("1" if line in ones else "?" if line == unparsed else "0")

    with JudgeServer(script) as server:
        report = judge(preds, data=data, settings=settings(server, tmp_path), seed=3, bootstrap=200)
    es_metrics, fr_metrics = report.document.subtasks["sum+tr-es"], report.document.subtasks["sum+tr-fr"]
    assert es_metrics.score == pytest.approx(100 * 6 / 7) and fr_metrics.score == 25.0
    # direct computation: rows in id order (the verdict table's order within a sub-task), same resamples
    verdict_es = report.run.verdicts[report.run.verdicts.subtask == "sum+tr-es"]
    is_one = (verdict_es["verdict"].fillna(0) == 1).to_numpy(float)
    parsed = (verdict_es["status"] == "ok").to_numpy(float)
    idx = resample_indices(3, "sum+tr-es", 8, 200)
    dist = is_one[idx].sum(axis=1) / parsed[idx].sum(axis=1)
    assert es_metrics.ci.low == pytest.approx(100 * np.quantile(dist, 0.025), abs=1e-3)
    assert es_metrics.ci.high == pytest.approx(100 * np.quantile(dist, 0.975), abs=1e-3)
    family = report.document.families["sum+tr"]
    assert family.judge.score == pytest.approx((100 * 6 / 7 + 25.0) / 2, abs=1e-3)
    assert not family.complete and family.subtasks == ["sum+tr-es", "sum+tr-fr"]
    assert (family.judge.n, family.judge.unparseable) == (12, 1)


def test_single_tasks_are_skipped_and_refused_when_asked_for(tmp_path):
    data, preds = release_with(tmp_path, [row("sum+tr-es", "d1", "Hola."), row("sum", "d1", "They talk.")])
    with JudgeServer() as server:
        report = judge(preds, data=data, settings=settings(server, tmp_path))
        assert report.document.skipped == ["sum"] and list(report.document.subtasks) == ["sum+tr-es"]
        result = CliRunner().invoke(main, ["judge", str(preds), "--data", data, "--subtask", "sum",
                                           "--judge-endpoint", server.url, "--judge-model", "m"])
    assert result.exit_code == 2 and "has no judge prompt" in result.output


# ------------------------------------------------------------------------------- results: score and update
def test_score_with_the_judge_fills_subtasks_and_families(tmp_path):
    rows = [row("reply+tr-es", f"m{i}", "¡Claro que sí!") for i in range(3)] + [row("sum", "d1", "They talk.")]
    data, preds = release_with(tmp_path, rows)
    out = tmp_path / "results.json"
    with JudgeServer(by_prediction({f"output {rows[0]['id']}": "0"})) as server:
        result = CliRunner().invoke(main, ["score", str(preds), "--data", data, "--out", str(out),
                                           "--judge-endpoint", server.url, "--judge-model", "judge-model",
                                           "--cache-dir", str(tmp_path / "cache"), "--no-progress"])
    assert result.exit_code == 0, result.output
    results = Results.model_validate_json(out.read_text())
    judged = results.subtasks["reply+tr-es"].judge
    assert (judged.model, judged.prompt_version, judged.n, judged.score) == ("judge-model", CURRENT_VERSION, 3,
                                                                           pytest.approx(100 * 2 / 3, abs=1e-3))
    assert results.families["reply+tr"].judge.score == judged.score
    assert results.subtasks["sum"].judge is None
    verdicts = pd.read_parquet(tmp_path / "results.judge.parquet")
    assert sorted(verdicts["id"]) == sorted(r["id"] for r in rows[:3])
    assert "judge %" in result.output and "judge=judge-model" in result.output


def test_score_judge_options_need_each_other_and_a_release(tmp_path):
    data, preds = release_with(tmp_path, [row("sum+tr-es", "d1", "Hola.")])
    runner = CliRunner()
    alone = runner.invoke(main, ["score", str(preds), "--data", data, "--judge-model", "m"])
    assert alone.exit_code == 2 and "--judge-endpoint" in alone.output
    refs = write_jsonl(tmp_path / "refs.jsonl", [{"id": "output-less", "subtask": "sum+tr-es", "reference": "x"}])
    no_release = runner.invoke(main, ["score", str(preds), "--references", str(refs), "--judge-endpoint",
                                      "http://127.0.0.1:9/v1", "--judge-model", "m"])
    assert no_release.exit_code == 2 and "needs a release" in no_release.output


def test_judge_updates_a_results_document_of_the_same_predictions(tmp_path):
    rows = [row("sum+tone-casual", f"d{i}", "they chat lol") for i in range(4)]
    data, preds = release_with(tmp_path, rows)
    results_path = tmp_path / "results.json"
    score(preds, data=data, bootstrap=10).write(out=results_path)
    with JudgeServer() as server:
        report = judge(preds, data=data, settings=settings(server, tmp_path), bootstrap=10)
    updated = update_results(results_path, report)
    assert updated.subtasks["sum+tone-casual"].judge.score == 100.0
    assert Results.model_validate_json(results_path.read_text()).families["sum+tone"].judge.score == 100.0
    assert (tmp_path / "results.judge.parquet").exists()

    other = write_jsonl(tmp_path / "other.jsonl", [{"id": r["id"], "prediction": "else"} for r in rows])
    with JudgeServer() as server:
        other_report = judge(other, data=data, settings=settings(server, tmp_path), bootstrap=10)
    before = results_path.read_bytes()
    with pytest.raises(Exception, match="other predictions"):
        update_results(results_path, other_report)
    assert results_path.read_bytes() == before


def test_judge_cli_writes_the_document_and_verdicts(tmp_path):
    data, preds = release_with(tmp_path, [row("sum+tr-es", f"d{i}", "Hola.") for i in range(3)])
    out = tmp_path / "judge.json"
    with JudgeServer() as server:
        result = CliRunner().invoke(main, ["judge", str(preds), "--data", data, "--judge-endpoint", server.url,
                                           "--judge-model", "m", "--out", str(out), "--no-progress",
                                           "--cache-dir", str(tmp_path / "cache")])
    assert result.exit_code == 0, result.output
    document = JudgeResults.model_validate_json(out.read_text())
    assert document.subtasks["sum+tr-es"].score == 100.0 and document.per_example == "judge.examples.parquet"
    assert len(pd.read_parquet(tmp_path / "judge.examples.parquet")) == 3
    assert "sum+tr-es" in result.output and "judge=m" in result.output


def test_score_without_the_judge_never_imports_openai(tmp_path):
    data, preds = release_with(tmp_path, [row("sum+tr-es", "d1", "Hola.")])
    code = ("import sys; from compbench.cli import main\n"
            f"try:\n    main(['score', {str(preds)!r}, '--data', {data!r}])\nexcept SystemExit:\n    pass\n"
            "assert 'openai' not in sys.modules, 'openai was imported'")
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True,
                          env={**os.environ, "COMPBENCH_CACHE_DIR": str(tmp_path / "cache")})
    assert done.returncode == 0, done.stderr


def test_the_judge_without_its_extra_names_the_extra(tmp_path, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "openai" else real(name, *a))
    data, preds = release_with(tmp_path, [row("sum+tr-es", "d1", "Hola.")])
    result = CliRunner().invoke(main, ["judge", str(preds), "--data", data, "--judge-endpoint",
                                       "http://127.0.0.1:9/v1", "--judge-model", "m"])
    assert result.exit_code == 2 and "pip install 'compbench[judge]'" in result.output
