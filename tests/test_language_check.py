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
