"""The offline language check: known values on sentences written for these tests, and its place in score runs."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from compbench.cli import main
from compbench.metrics.language import (
    detect_languages,
    detector_name,
    expected_language,
    family_language_check,
    language_check,
)
from compbench.schemas import LanguageCheck, Results
from compbench.scoring import score
from compbench.tasks import get_task
from tests.support.release_factory import row, write_jsonl, write_release

REPO = Path(__file__).resolve().parents[1]
FIXTURE = REPO / "tests" / "fixtures" / "language" / "short_texts.jsonl"

KNOWN = [
    ("en", "#Person1# reminds #Person2# to water the plants while she is away."),
    ("en", "Honestly, I could eat pancakes every single day."),
    ("es", "#Person1# le recuerda a #Person2# que riegue las plantas mientras ella está fuera."),
    ("es", "Sinceramente, podría comer tortitas todos los días."),
    ("fr", "#Person1# rappelle à #Person2# d'arroser les plantes pendant son absence."),
    ("fr", "Franchement, je pourrais manger des crêpes tous les jours."),
    ("de", "#Person1# erinnert #Person2# daran, die Pflanzen zu gießen, während sie weg ist."),
    ("de", "Ehrlich gesagt könnte ich jeden Tag Pfannkuchen essen."),
]


@pytest.mark.parametrize("language, text", KNOWN)
def test_known_sentences_are_detected(language, text):
    assert detect_languages([text]) == [language]


def test_blank_texts_have_no_language_and_count_as_wrong():
    assert detect_languages(["", "   \n"]) == [None, None]
    check = language_check(["Me parece bien.", "¿Vienes mañana?", "", "See you tomorrow, then."], "es")
    assert check == LanguageCheck(detector=detector_name(), language="es", share=50.0, n=4)


def test_detection_is_restricted_to_the_four_benchmark_languages():
    # Italian and Portuguese are not among the choices: the answer is always one of en/es/fr/de.
    found = detect_languages(["Ci vediamo domani alla stazione.", "Obrigado pela ajuda de ontem."])
    assert set(found) <= {"en", "es", "fr", "de"}


def test_expected_language_is_the_target_else_english():
    assert expected_language(get_task("sum+tr-fr")) == "fr"
    assert expected_language(get_task("sum+tone-professional+tr-de")) == "de"
    assert expected_language(get_task("samsum+sum+tr-es")) == "es"
    assert expected_language(get_task("reply+tone-witty")) == "en"
    assert expected_language(get_task("tone-casual")) == "en"


def test_family_check_is_the_unweighted_mean_of_its_subtasks():
    checks = [LanguageCheck(detector="d", language="es", share=100.0, n=3),
              LanguageCheck(detector="d", language="fr", share=50.0, n=2),
              LanguageCheck(detector="d", language="de", share=0.0, n=1)]
    assert family_language_check(checks) == LanguageCheck(detector="d", language="es/fr/de", share=50.0, n=6)


def test_fixture_accuracy_stays_high():
    """The 400 short texts the detector was chosen on (docs/judge.md): a detector update must not regress."""
    texts = [json.loads(line) for line in FIXTURE.read_text(encoding="utf-8").splitlines()]
    assert len(texts) == 400 and {t["language"] for t in texts} == {"en", "es", "fr", "de"}
    right = sum(found == t["language"] for found, t in zip(detect_languages([t["text"] for t in texts]), texts,
                                                             strict=True))
    assert right / len(texts) >= 0.99


def test_every_score_run_reports_the_language_share(tmp_path):
    rows = [row("sum+tr-es", "d1", "Ana compra pan."), row("sum+tr-es", "d2", "Luis llega tarde."),
            row("sum+tr-de", "d1", "Anna kauft Brot."), row("reply+tone-casual", "m1", "lol sure")]
    predictions = {rows[0]["id"]: "Ana compra pan en la panadería del barrio.",
                   rows[1]["id"]: "Luis is late for the meeting again.",  # not translated
                   rows[2]["id"]: "Anna kauft im Laden an der Ecke Brot.",
                   rows[3]["id"]: "Sure thing, see you at the game!"}
    release = write_release(tmp_path / "release", rows)
    preds = write_jsonl(tmp_path / "preds.jsonl", [{"id": k, "prediction": v} for k, v in predictions.items()])
    report = score(preds, data=str(release), bootstrap=0)
    subtasks, families = report.results.subtasks, report.results.families
    assert (subtasks["sum+tr-es"].language.language, subtasks["sum+tr-es"].language.share) == ("es", 50.0)
    assert (subtasks["sum+tr-de"].language.language, subtasks["sum+tr-de"].language.share) == ("de", 100.0)
    assert (subtasks["reply+tone-casual"].language.language, subtasks["reply+tone-casual"].language.share) == (
        "en", 100.0)
    assert families["sum+tr"].language == LanguageCheck(detector=detector_name(), language="es/de", share=75.0, n=3)
    out = tmp_path / "results.json"
    result = CliRunner().invoke(main, ["score", str(preds), "--data", str(release), "--out", str(out),
                                       "--bootstrap", "0"])
    assert result.exit_code == 0, result.output
    assert "lang %" in result.output and "es 50.0" in result.output and "py3langid" in result.output
    assert Results.model_validate_json(out.read_text()).subtasks["sum+tr-de"].language.share == 100.0


def test_language_benchmark_runs(capsys):
    spec = importlib.util.spec_from_file_location("bench_language", REPO / "benchmarks" / "bench_language.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    results = bench.main(["--repeat", "1", "--only", "py3langid", "--predictions", "200"])
    assert results["py3langid"]["accuracy"] >= 99.0 and results["py3langid"]["texts_per_s"] > 0
    assert "score run's language check: 200 predictions" in capsys.readouterr().out


def test_each_distinct_prediction_is_detected_once_and_counted_per_row(monkeypatch):
    import compbench.metrics.language as language

    seen: list[list[str]] = []
    real = language.detect_languages
    monkeypatch.setattr(language, "detect_languages", lambda texts: seen.append(list(texts)) or real(texts))
    texts = [KNOWN[0][1]] * 3 + [KNOWN[1][1]] + ["Hoy vamos a la playa con mis primos."] * 2
    check = language_check(texts, "en")
    assert seen == [[KNOWN[0][1], KNOWN[1][1], "Hoy vamos a la playa con mis primos."]]
    assert (check.n, check.share) == (6, round(100 * 4 / 6, 4))


@pytest.mark.parametrize("workers, rows, subtasks", [(1, 40, 3), (2, 4000, 1), (2, 1000, 3)])  # the three paths:
def test_the_detection_runs_once_beside_the_scoring_workers_whatever_the_path(workers, rows, subtasks):
    """In process; one sub-task's pairs split over the workers; a pool of workers, one sub-task each."""
    from compbench.metrics.subtask_jobs import SubtaskJob, run_jobs

    jobs = [SubtaskJob(subtask=s, predictions=["a b c"] * rows, references=["a b d"] * rows, groups=None,
                       main_index=3, tokenizer="unicode", seed=0, resamples=0)
            for s in ["sum+tr-es", "reply+tr-es", "sum+tr-fr"][:subtasks]]
    calls = []
    results = run_jobs(jobs, workers, meanwhile=lambda: calls.append(1))
    assert calls == [1] and len(results) == len(jobs)
    assert all(abs(r.scores[:, 3].mean() - 2 / 3) < 1e-9 for r in results)  # ROUGE-L of "a b c" vs "a b d"


def test_the_cached_model_detects_exactly_what_py3langid_detects(monkeypatch):
    """The first load decompresses py3langid's model and caches the four languages' arrays; the second reads the
    cache alone; both rank every fixture text exactly as py3langid's own identifier restricted to en/es/fr/de."""
    import py3langid.langid as py3langid

    import compbench.metrics.language as language
    from compbench.fileio import cache_root

    texts = [json.loads(line)["text"] for line in FIXTURE.read_text(encoding="utf-8").splitlines()]
    theirs = py3langid.LanguageIdentifier.from_model_file(py3langid.MODEL_FILE)
    theirs.set_languages(["en", "es", "fr", "de"])
    for cache in ("first", "second"):
        language._identifier.cache_clear()
        if cache == "second":
            assert list((cache_root() / "py3langid").glob("*.npz"))
            monkeypatch.setattr(py3langid, "_load_model_file", lambda *a: pytest.fail("the cache was not used"))
        ours = language._identifier()
        assert [ours.rank(text) for text in texts] == [theirs.rank(text) for text in texts], cache
    language._identifier.cache_clear()


def test_batched_detection_decides_as_py3langid_classify_text_by_text(monkeypatch):
    """The batched walk over all texts decides exactly what py3langid's ``classify`` decides for each: the
    fixture, 3,000 synthetic summaries and replies in four languages, and edge cases (all upper case, no
    letters, unpaired surrogates, over MAX_CHARS)."""
    import py3langid.langid as py3langid

    from benchmarks.bench_score import synthesize
    from compbench.metrics.language import MAX_CHARS

    theirs = py3langid.LanguageIdentifier.from_model_file(py3langid.MODEL_FILE)
    theirs.set_languages(["en", "es", "fr", "de"])
    _, predictions = synthesize(False)
    texts = [json.loads(line)["text"] for line in FIXTURE.read_text(encoding="utf-8").splitlines()]
    texts += [p["prediction"] for p in predictions[:: len(predictions) // 3000]]
    texts += ["ÉTÉ À PARIS AVEC LES ENFANTS", "!!! ???", "12 34 56", "caf\ud800é au lait", "x",
              "Das Wetter ist heute schön. " * 60]
    expected = [theirs.classify(text[:MAX_CHARS])[0] for text in texts]
    assert detect_languages(texts) == expected
    monkeypatch.setattr("compbench.metrics.language.BATCH", 1000)  # several batches, the last one short
    assert detect_languages(texts) == expected
    assert len(set(expected)) == 4  # all four languages occur, so the comparison means something
