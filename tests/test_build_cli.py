"""``compbench build`` from the command line: bad input gives one message and exit 2 and writes nothing; the
whole build with the real generation backends on tiny checkpoints (Marian, GPT-NeoX + LoRA) made in the test."""

from __future__ import annotations

import re
import shutil

import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from compbench.cli import main
from compbench.cli.cmd_build import parse_translator
from compbench.errors import ConfigError
from compbench.schemas import ReleaseManifest
from tests.support.fake_generators import FIXTURE_SOURCES, tree_bytes


@pytest.fixture
def sources(tmp_path):
    shutil.copytree(FIXTURE_SOURCES, tmp_path / "sources")
    return tmp_path / "sources"


def invoke(*args):
    return CliRunner().invoke(main, ["build", *map(str, args)])


def assert_nothing_written(tmp_path):
    assert not (tmp_path / "out").exists() and not (tmp_path / ".out.building").exists()


@pytest.mark.parametrize("breakage,message", [
    (lambda s: (s / "samsum" / "test.json").unlink(),
     r"error: .*samsum/test\.json: source file not found \(expected the original file 'test\.json'"),
    (lambda s: (s / "ted" / "all_talks_test.tsv").write_text("talk_name\ten\tfr\nt\ta .\tb .\n", encoding="utf-8"),
     r"error: .*all_talks_test\.tsv:1: missing column\(s\) 'es'"),
    (lambda s: (s / "sound_natural" / "val.tsv").write_text("Rephrased Content\n", encoding="utf-8"),
     r"error: .*val\.tsv: split 'validation' has no usable examples"),
    (lambda s: (s / "dialogsum" / "dialogsum.dev.jsonl").write_text('{"fname": "dev_0"}\n', encoding="utf-8"),
     r"error: .*dialogsum\.dev\.jsonl:1: row has no field 'dialogue'"),
])
def test_bad_sources_exit_2_with_one_message_and_no_release(tmp_path, sources, breakage, message):
    breakage(sources)
    result = invoke("--sources-dir", sources, "--out", tmp_path / "out", "--cache-dir", tmp_path / "cache")
    assert result.exit_code == 2, result.output
    assert len(result.output.strip().splitlines()) == 1
    assert result.output.startswith("error: ")
    assert re.search(message, result.output), result.output
    assert "Traceback" not in result.output
    assert_nothing_written(tmp_path)


def test_bad_options_exit_2(tmp_path):
    result = invoke("--subtask", "sum+tr-it", "--sources-dir", FIXTURE_SOURCES, "--out", tmp_path / "out")
    assert result.exit_code == 2 and "unknown sub-task id 'sum+tr-it'" in result.output
    result = invoke("--limit", "0", "--sources-dir", FIXTURE_SOURCES, "--out", tmp_path / "out")
    assert result.exit_code == 2 and "Invalid value for '--limit'" in result.output
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "todo.txt").write_text("mine", encoding="utf-8")
    result = invoke("--subtask", "sum", "--sources-dir", FIXTURE_SOURCES, "--out", tmp_path / "notes")
    assert result.exit_code == 2 and "is not a compbench release" in result.output
    assert (tmp_path / "notes" / "todo.txt").read_text(encoding="utf-8") == "mine"


def test_parse_translator():
    assert parse_translator(()) is None
    assert parse_translator(("models/opus-{lang}",)) == "models/opus-{lang}"
    assert parse_translator(("es=a", "fr=b")) == {"es": "a", "fr": "b"}
    with pytest.raises(ConfigError):
        parse_translator(("es=a", "b"))


def test_plan_without_generators_prints_source_only_tasks(tmp_path):
    result = invoke("--plan", "--subtask", "sum", "--subtask", "tr-es", "--sources-dir", FIXTURE_SOURCES,
                    "--cache-dir", tmp_path / "cache")
    assert result.exit_code == 0 and "no generation stage" in result.output


# ------------------------------------------------------------------------- real backends, tiny checkpoints
@pytest.fixture(scope="module")
def tiny_models(tmp_path_factory):
    from tests.support.tiny_causal_lm import write_tiny_tone_model
    from tests.support.tiny_marian import write_tiny_marian

    root = tmp_path_factory.mktemp("models")
    return write_tiny_marian(root / "opus-en-xx"), write_tiny_tone_model(root / "tone")


ONLY = ("sum+tr-es", "sum+tone-professional+tr-de", "tone-professional", "tr-fr")

# What the designed tiny models (tests/support/tiny_*.py) make of the fixture sources with --limit 2.
# Tone model: "harbour" and "cat" loop (never reach ### END), "tyre" and "apples" have their own answer,
# anything else gets "Noted with thanks.". Translator: "chess" and "tyre" loop (never reach </s>), "apples"
# has its own translation, anything else gets "Vale.".
TRAIN_0 = "#Person2# forgot to water the tomatoes and will do it after lunch."
TRAIN_1 = "#Person1# and #Person2# decide to walk to the harbour because the bus is late."  # tone: loops
DEV_0 = "#Person2# tells #Person1# the chess club meets in room twelve."  # translation: loops
# DEV_1 "#Person1# points out #Person2#'s flat tyre." fails in translation, and its tone answer
# ("Your tyre is flat.") fails in the tr-de step.
TEST_0 = ["#Person2# tells #Person1# the green apples cost two euros a kilo.",
          "#Person1# asks the price of green apples."]
APPLES_ES, APPLES_TONE = "Las manzanas verdes cuestan dos euros.", "Green apples cost two euros per kilo."
NOTED = "Noted with thanks."
EXPECTED_CHAINS = {  # (sub-task, split) -> [(source id, [(step, text), ...]), ...]; the reference is the last text
    ("sum+tr-es", "train"): [("train_0", [("sum", TRAIN_0), ("tr-es", "Vale.")]),
                             ("train_1", [("sum", TRAIN_1), ("tr-es", "Vale.")])],
    ("sum+tr-es", "validation"): [],
    ("sum+tr-es", "test"): [("test_0", [("sum", text), ("tr-es", APPLES_ES)]) for text in TEST_0],
    ("sum+tone-professional+tr-de", "train"): [
        ("train_0", [("sum", TRAIN_0), ("tone-professional", NOTED), ("tr-de", "Vale.")])],
    ("sum+tone-professional+tr-de", "validation"): [
        ("dev_0", [("sum", DEV_0), ("tone-professional", NOTED), ("tr-de", "Vale.")])],
    ("sum+tone-professional+tr-de", "test"): [
        ("test_0", [("sum", text), ("tone-professional", APPLES_TONE), ("tr-de", APPLES_ES)]) for text in TEST_0],
    # Sound Natural rephrasings: "Did you feed the cat?" (train) never ends
    ("tone-professional", "train"): [("train:0", [("tone-professional", NOTED)])],
    ("tone-professional", "validation"): [("validation:0", [("tone-professional", NOTED)])],
    ("tone-professional", "test"): [("test:0", [("tone-professional", NOTED)]),
                                    ("test:1", [("tone-professional", NOTED)])],
    # TED as it is (no generation): limit 2 in train, one French row in dev, two in test
    ("tr-fr", "train"): [("river_songs:0", [("tr-fr", "la rivière chante la nuit .")]),
                         ("glass_cities:3", [("tr-fr", "les villes peuvent être faites de lumière .")])],
    ("tr-fr", "validation"): [("tiny_robots:0", [("tr-fr", "de petits robots nettoient les tuyaux .")])],
    ("tr-fr", "test"): [("quiet_maps:0", [("tr-fr", "les cartes peuvent être silencieuses .")]),
                        ("quiet_maps:1", [("tr-fr", "regardez encore .")])],
}


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["transformers", "ctranslate2"])
def test_build_end_to_end_with_tiny_models(tmp_path, tiny_models, backend, monkeypatch):
    marian, tone = tiny_models
    args = ["--sources-dir", FIXTURE_SOURCES, "--cache-dir", tmp_path / "cache", "--translator", marian,
            "--tone-model", tone, "--backend", backend, "--max-new-tokens", 24, "--batch-size", 4, "--limit", 2]
    for task in ONLY:
        args += ["--subtask", task]
    # The designed failures are above the default --max-failure-rate (5%): the build stops, writes nothing.
    result = invoke(*args, "--out", tmp_path / "out")
    assert result.exit_code == 2 and result.output.splitlines()[-1].startswith(
        "error: stage tr-es (opus-en-xx): 2 of 6 generations failed (33.3%), above --max-failure-rate 0.05"), result.output
    # Allowed any rate, a sub-task that lost every row of a split is still never published empty.
    result = invoke(*args, "--max-failure-rate", 1, "--out", tmp_path / "out")
    assert result.exit_code == 2 and "sub-task sum+tr-es (validation): all 2 rows failed" in result.output
    assert not (tmp_path / "out").exists() and not (tmp_path / ".out.building").exists()
    args += ["--max-failure-rate", 0.5, "--split", "train", "--split", "test"]
    result = invoke(*args, "--out", tmp_path / "out")
    assert result.exit_code == 0, result.output
    assert "0 generated in 0 model calls" in result.output  # the refused builds cached every generation
    manifest = ReleaseManifest.model_validate_json((tmp_path / "out" / "manifest.json").read_text())
    assert {g.task for g in manifest.generators} == {"tr-es", "tr-de", "tone-professional"}
    assert all(g.model_id and g.revision for g in manifest.generators)
    # per stage: tone (harbour, cat); the translation failures (chess, tyre) are validation rows
    assert manifest.failures == {"tr-es": 0, "tone-professional": 2, "tr-de (step 2)": 0}
    chains = {}
    for file in manifest.files:
        rows = pq.read_table(tmp_path / "out" / file.path).to_pylist()
        assert file.rows == len(rows)
        assert all(row["reference"] == row["chain"][-1]["text"] for row in rows)
        chains[(file.subtask, file.split)] = [(row["source_id"], [(s["task"], s["text"]) for s in row["chain"]])
                                              for row in rows]
    assert chains == {key: value for key, value in EXPECTED_CHAINS.items() if key[1] != "validation"}

    # From here on everything is cached: loading any model's weights would be wasted work, so forbid it.
    import ctranslate2
    import transformers

    def no_loading(*_args, **_kwargs):
        raise AssertionError("a fully cached build loaded model weights")

    monkeypatch.setattr(transformers.MarianMTModel, "from_pretrained", no_loading)
    monkeypatch.setattr(transformers.AutoModelForCausalLM, "from_pretrained", no_loading)
    monkeypatch.setattr(ctranslate2, "Translator", no_loading)
    plan = invoke(*args, "--plan")
    assert plan.exit_code == 0 and "total to generate: 0" in plan.output
    again = invoke(*args, "--out", tmp_path / "again")
    assert again.exit_code == 0 and "0 generated in 0 model calls" in again.output
    assert tree_bytes(tmp_path / "again") == tree_bytes(tmp_path / "out")
