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
from compbench.schemas import ReleaseManifest, split_file_path
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
    from tests.support.tiny_marian import write_marian_checkpoint

    root = tmp_path_factory.mktemp("models")
    marian = write_marian_checkpoint(root / "opus-en-xx", init_std=1.0, eos_bias=10.0)
    tone = write_tiny_tone_model(root / "tone")
    return marian, tone


ONLY = ("sum+tr-es", "sum+tone-professional+tr-de", "tone-professional", "tr-fr")


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["transformers", "ctranslate2"])
def test_build_end_to_end_with_tiny_models(tmp_path, tiny_models, backend, monkeypatch):
    marian, tone = tiny_models
    args = ["--sources-dir", FIXTURE_SOURCES, "--cache-dir", tmp_path / "cache", "--translator", marian,
            "--tone-model", tone, "--backend", backend, "--max-new-tokens", 24, "--batch-size", 4, "--limit", 2]
    for task in ONLY:
        args += ["--subtask", task]
    result = invoke(*args, "--out", tmp_path / "out")
    assert result.exit_code == 0, result.output
    manifest = ReleaseManifest.model_validate_json((tmp_path / "out" / "manifest.json").read_text())
    assert {g.task for g in manifest.generators} == {"tr-es", "tr-de", "tone-professional"}
    assert all(g.model_id and g.revision for g in manifest.generators)
    generated_rows = {f.subtask: 0 for f in manifest.files}
    for file in manifest.files:
        rows = pq.read_table(tmp_path / "out" / file.path).to_pylist()
        generated_rows[file.subtask] += len(rows)
        for row in rows:
            assert row["reference"] == row["chain"][-1]["text"] and row["reference"].strip()
    # every row is either in the release or counted as a generation failure (random weights fail often)
    assert generated_rows["tr-fr"] == 2 + 1 + 2  # TED as it is: limit 2 in train, one fr row in dev, two in test
    assert generated_rows["sum+tr-es"] + manifest.failures["tr-es"] == 3 * 2
    assert (generated_rows["tone-professional"] + generated_rows["sum+tone-professional+tr-de"]
            + manifest.failures["tone-professional"] + manifest.failures["tr-de (step 2)"]) == 5 + 3 * 2
    three_way = pq.read_table(tmp_path / "out" / split_file_path("sum_tone_professional_tr_de", "test")).to_pylist()
    for row in three_way:
        assert [s["task"] for s in row["chain"]] == ["sum", "tone-professional", "tr-de"]

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
