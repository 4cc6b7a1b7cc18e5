"""The whole build on fixture sources with deterministic fake generators: rows, chains, cache, resume, release."""

from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest

from compbench.build import build, plan
from compbench.build.cache import GenerationCache
from compbench.build.pipeline import select_examples
from compbench.build.rows import stable_id
from compbench.build.stages import BuildFailure
from compbench.fileio import sha256_file
from compbench.generation.base import cache_key
from compbench.schemas import SPLIT_ROW_SCHEMA, ReleaseManifest, split_file_path
from compbench.sources.base import Example
from compbench.tasks import REGISTRY, get_task
from tests.support.fake_generators import (
    FIXTURE_SOURCES,
    FakeGenerator,
    FakeProvider,
    Interrupted,
    tree_bytes,
)


def run(tmp_path, out="release", cache="cache", provider=None, **options):
    provider = provider or FakeProvider()
    result = build(tmp_path / out, sources_dir=FIXTURE_SOURCES, cache_dir=tmp_path / cache, generators=provider,
                   progress=False, **options)
    return result, provider


def read(out, task_id, split):
    return pq.read_table(out / split_file_path(get_task(task_id).config_name, split)).to_pylist()


@pytest.fixture(scope="module")
def full_build(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("full")
    result, provider = run(tmp)
    return tmp, result, provider


def test_every_recipe_and_split_is_written_with_the_core_schema(full_build):
    tmp, result, _ = full_build
    out = tmp / "release"
    manifest = ReleaseManifest.model_validate_json((out / "manifest.json").read_text())
    expected = {split_file_path(t.config_name, s) for t in REGISTRY.values() for s in t.splits}
    assert {f.path for f in manifest.files} == expected
    for file in manifest.files:
        table = pq.read_table(out / file.path)
        assert table.schema.equals(SPLIT_ROW_SCHEMA)
        assert table.num_rows == file.rows
        assert sha256_file(out / file.path) == file.sha256
    assert {s.name for s in manifest.sources} == {"dialogsum", "synthetic_persona_chat", "ted", "sound_natural",
                                                  "samsum"}
    dialogsum = next(s for s in manifest.sources if s.name == "dialogsum")
    assert dialogsum.hub_id is None and dialogsum.local_files["dialogsum/dialogsum.test.jsonl"] == sha256_file(
        FIXTURE_SOURCES / "dialogsum" / "dialogsum.test.jsonl")
    assert [g.model_id for g in manifest.generators] == sorted(
        f"fake/{t}" for t in ("tr-es", "tr-fr", "tr-de", "tone-professional", "tone-casual", "tone-witty",
                              "tone-paraphrase"))
    assert (out / "README.md").is_file()


def test_compositional_row_chains_the_generators_on_the_ground_truth(full_build):
    out = full_build[0] / "release"
    rows = read(out, "sum+tr-es", "test")
    assert len(rows) == 6  # 2 dialogues x 3 references
    row = rows[1]
    summary = "#Person1# asks the price of green apples."
    assert row["reference"] == f"[tr-es] {summary}"
    assert row["chain"] == [{"task": "sum", "text": summary}, {"task": "tr-es", "text": f"[tr-es] {summary}"}]
    assert (row["source_id"], row["reference_index"], row["source_dataset"]) == ("test_0", 1, "dialogsum")
    assert row["prompt"] == get_task("sum+tr-es").prompt and row["input"].startswith("#Person1#: How much")
    assert row["generators"] == [{"task": "tr-es", "model_id": "fake/tr-es", "revision": "rev-1"}]
    assert row["id"] == stable_id(get_task("sum+tr-es"), "test", "test_0", 1)


def test_three_way_applies_tone_then_translation(full_build):
    row = read(full_build[0] / "release", "sum+tone-professional+tr-fr", "validation")[0]
    summary = "#Person2# tells #Person1# the chess club meets in room twelve."
    assert [step["task"] for step in row["chain"]] == ["sum", "tone-professional", "tr-fr"]
    assert row["reference"] == f"[tr-fr] [tone-professional] {summary}"


def test_single_tasks(full_build):
    out = full_build[0] / "release"
    tr = read(out, "tr-de", "train")
    assert [(r["input"], r["reference"]) for r in tr][2] == ("thank you .", "danke .")
    assert tr[0]["chain"] == [{"task": "tr-de", "text": "der Fluss singt nachts ."}] and tr[0]["generators"] == []
    tone = read(out, "tone-witty", "test")[1]
    assert (tone["input"], tone["reference"]) == ("Good night", "[tone-witty] Good night")
    assert tone["chain"] == [{"task": "tone-witty", "text": "[tone-witty] Good night"}]
    reply = read(out, "reply", "train")
    assert len(reply) == 6 and reply[0]["reference"] == "I love it, especially on toast."
    samsum = read(out, "samsum+sum+tr-es", "test")
    assert samsum[0]["input"] == "Kai: cinema tonight?\nLu: sure, 8?\nKai: see you there"


def test_identical_inputs_are_generated_once_per_stage(full_build):
    _, result, provider = full_build
    stage = next(s for s in result.stages if s.name == "tone-professional")
    dialogsum_rows, persona_rows, sound_rows = 3 + 2 + 6, 6 + 2 + 2, 3 + 1 + 2
    # sum+tone-professional and the three-way tasks (x3) rewrite the same summaries; the tone single task too
    assert stage.needed == dialogsum_rows * 4 + persona_rows + sound_rows
    assert stage.unique == dialogsum_rows + persona_rows + sound_rows  # each distinct text once
    generated = [text for task, text in provider.generated if task == "tone-professional"]
    assert len(generated) == len(set(generated)) == stage.unique == stage.generated
    assert sorted(provider.made) == sorted(set(provider.made)) and len(provider.made) == 7  # one model per task


def test_rebuild_makes_no_model_call_and_writes_identical_bytes(full_build, tmp_path):
    tmp, first, _ = full_build
    again, provider = run(tmp, out="again")
    assert again.model_calls == 0 and again.generated == 0 and provider.calls == 0
    assert all(s.cached == s.unique for s in again.stages)
    assert tree_bytes(tmp / "again") == tree_bytes(tmp / "release")
    fresh, fresh_provider = run(tmp_path, cache="fresh-cache")  # a cold cache elsewhere gives the same bytes too
    assert fresh_provider.calls > 0
    assert tree_bytes(tmp_path / "release") == tree_bytes(tmp / "release")


@pytest.mark.parametrize("stop_after", [0, 1, 3, 7])
def test_resume_after_interruption_gives_the_uninterrupted_files(full_build, tmp_path, stop_after):
    tmp, complete, _ = full_build
    with pytest.raises(Interrupted):
        run(tmp_path, chunk_size=2, provider=FakeProvider(raise_after=stop_after))
    assert not (tmp_path / "release").exists()  # nothing half-written where the release goes
    resumed, provider = run(tmp_path, chunk_size=2)
    assert tree_bytes(tmp_path / "release") == tree_bytes(tmp / "release")
    assert resumed.generated == complete.generated - min(stop_after * 2, complete.generated)
    assert not (tmp_path / ".release.building").exists()


def test_failures_are_counted_and_left_out(tmp_path):
    result, _ = run(tmp_path, only=["sum+tone-witty", "sum+tr-es"], provider=FakeProvider(fail_if="umbrella"),
                    max_failure_rate=0.25)
    manifest = result.manifest
    assert manifest.failures == {"tr-es": 1, "tone-witty": 1}
    rows = read(tmp_path / "release", "sum+tone-witty", "train")
    assert [r["source_id"] for r in rows] == ["train_0", "train_1"]
    assert next(f for f in manifest.files if f.path.endswith("sum_tone_witty/train-00000-of-00001.parquet")).rows == 2
    # a failure is cached like an output: the rebuild does not ask again
    again, provider = run(tmp_path, out="again", only=["sum+tone-witty", "sum+tr-es"],
                          provider=FakeProvider(fail_if="umbrella"), max_failure_rate=0.25)
    assert provider.calls == 0 and again.manifest.failures == manifest.failures


def test_a_stage_failing_above_the_threshold_stops_the_build_and_writes_nothing(tmp_path):
    only = ["sum+tone-witty", "sum+tr-es"]
    # one summary of the 11 rows fails in each stage: 9.1%, above the default 5% and above 0.09, below 0.1
    for rate in (None, 0.09):
        options = {} if rate is None else {"max_failure_rate": rate}
        with pytest.raises(BuildFailure) as caught:
            run(tmp_path, only=only, provider=FakeProvider(fail_if="umbrella"), **options)
        message = str(caught.value)
        assert "stage tr-es (fake/tr-es): 1 of 11 generations failed (9.1%)" in message
        assert f"above --max-failure-rate {rate or 0.05:g}; nothing was written" in message
        assert "umbrella" in message  # names the failed input
        assert not (tmp_path / "release").exists() and not (tmp_path / ".release.building").exists()
    result, provider = run(tmp_path, only=only, provider=FakeProvider(fail_if="umbrella"), max_failure_rate=0.1)
    assert provider.calls == 1 and result.manifest.failures == {"tr-es": 1, "tone-witty": 1}  # tr-es was cached


def test_a_stage_where_everything_failed_stops_whatever_the_threshold(tmp_path):
    with pytest.raises(BuildFailure, match=r"stage tr-es \(fake/tr-es\): 11 of 11 generations failed \(100.0%\)"):
        run(tmp_path, only=["sum+tr-es"], provider=FakeProvider(fail_if="#Person"), max_failure_rate=1.0)
    assert not (tmp_path / "release").exists()


def test_a_sub_task_that_lost_every_row_is_never_published_empty(tmp_path):
    # the tr-es stage also serves the replies, so it is not all-failed; the summaries' sub-task is
    with pytest.raises(BuildFailure, match=r"sub-task sum\+tr-es \(train\): all 3 rows failed generation"):
        run(tmp_path, only=["sum+tr-es", "reply+tr-es"], provider=FakeProvider(fail_if="#Person"), max_failure_rate=1.0)
    assert not (tmp_path / "release").exists() and not (tmp_path / ".release.building").exists()


def test_only_split_and_limit(tmp_path):
    result, _ = run(tmp_path, only=["reply+tr-de", "sum"], splits=["test"], limit=1)
    assert [(f.path, f.rows) for f in result.manifest.files] == [
        ("data/reply_tr_de/test-00000-of-00001.parquet", 1), ("data/sum/test-00000-of-00001.parquet", 1)]
    assert [s.name for s in result.stages] == ["tr-de"]


def test_plan_counts_generations_and_cache_hits(tmp_path):
    before = {s.name: s for s in plan(sources_dir=FIXTURE_SOURCES, cache_dir=tmp_path / "cache",
                                      generators=FakeProvider(), only=["sum+tone-professional+tr-es"]).stages}
    assert before["tone-professional"].unique == 11 and before["tone-professional"].cached == 0
    assert before["tr-es (step 2)"].unknown == 11 and before["tr-es (step 2)"].unique == 0
    provider = FakeProvider()
    run(tmp_path, only=["sum+tone-professional+tr-es"], provider=provider)
    after = {s.name: s for s in plan(sources_dir=FIXTURE_SOURCES, cache_dir=tmp_path / "cache",
                                     generators=FakeProvider(), only=["sum+tone-professional+tr-es"]).stages}
    assert {name: (s.unique, s.cached, s.to_generate, s.unknown) for name, s in after.items()} == {
        "tone-professional": (11, 11, 0, 0), "tr-es (step 2)": (11, 11, 0, 0)}


def test_cache_key_includes_generator_identity(tmp_path):
    provider = FakeProvider()
    generator = FakeGenerator("tr-es", provider)
    with GenerationCache(tmp_path) as cache:
        cache.store([(cache_key(generator, "hello"), "hola"), (cache_key(generator, "bad"), None)])
        other = FakeGenerator("tr-es", provider)
        other.revision = "rev-2"
        assert cache.lookup([cache_key(generator, "hello"), cache_key(generator, "bad"),
                             cache_key(other, "hello")]) == {cache_key(generator, "hello"): "hola",
                                                              cache_key(generator, "bad"): None}


def test_sampling_is_seeded_and_keeps_source_order():
    from builders.recipes import SplitRecipe

    examples = [Example(str(i), f"in {i}", f"out {i}") for i in range(50)]
    first = select_examples(examples, SplitRecipe("test", sample=10, seed=42), None)
    assert first == select_examples(examples, SplitRecipe("test", sample=10, seed=42), None)
    assert [int(e.source_id) for e in first] == sorted(int(e.source_id) for e in first) and len(first) == 10
    assert first != select_examples(examples, SplitRecipe("test", sample=10, seed=7), None)
    assert select_examples(examples, SplitRecipe("test", sample=100), 3) == examples[:3]


def test_reply_recipes_sample_validation_and_test_to_1000():
    from builders.recipes import RECIPES

    recipe = RECIPES["reply+tone-casual"]
    assert {s: r.sample for s, r in recipe.splits.items()} == {"train": None, "validation": 1000, "test": 1000}
    assert RECIPES["sum+tone-professional+tr-de"].generator_steps == ("tone-professional", "tr-de")


def test_load_dataset_round_trip(full_build):
    import datasets

    out = full_build[0] / "release"
    dataset = datasets.load_dataset(str(out), "sum_tr_es")
    assert set(dataset) == {"train", "validation", "test"}
    assert dataset["test"].num_rows == 6
    assert dataset["test"][1] == read(out, "sum+tr-es", "test")[1]
    assert datasets.load_dataset(str(out), "samsum_sum_tr_es", split="test").num_rows == 2


def test_manifest_json_is_stable(full_build):
    out = full_build[0] / "release"
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["release"].startswith("compbench-") and "date" not in json.dumps(manifest)


def test_failure_while_writing_keeps_the_previous_release_and_resumes(full_build, tmp_path, monkeypatch):
    import compbench.build.pipeline as pipeline

    tmp, _, _ = full_build
    run(tmp_path)
    before = tree_bytes(tmp_path / "release")
    real, written = pipeline.write_split, []

    def crash_after_five(*args, **kwargs):
        if len(written) == 5:
            raise KeyboardInterrupt  # the build is killed while writing files
        written.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(pipeline, "write_split", crash_after_five)
    with pytest.raises(KeyboardInterrupt):
        run(tmp_path, release="other-name")
    assert tree_bytes(tmp_path / "release") == before  # the earlier release is untouched
    monkeypatch.setattr(pipeline, "write_split", real)
    again, provider = run(tmp_path)
    assert provider.calls == 0 and tree_bytes(tmp_path / "release") == tree_bytes(tmp / "release")
    assert not (tmp_path / ".release.building").exists() and not (tmp_path / ".release.previous").exists()


def test_ids_are_unique_and_rows_keep_source_order(full_build):
    out = full_build[0] / "release"
    ids = [row["id"] for task in REGISTRY.values() for split in task.splits for row in read(out, task.id, split)]
    assert len(ids) == len(set(ids))
    assert [r["source_id"] for r in read(out, "reply+tr-fr", "train")] == ["0:0", "0:1", "0:2", "1:0", "1:3", "1:7"]


def test_format_plan_table():
    from compbench.build.stages import StageStats
    from compbench.cli.cmd_build import format_plan

    text = format_plan([StageStats("tone-witty", "tone-witty", "m", needed=10, unique=8, cached=3),
                        StageStats("tr-es (step 2)", "tr-es", "t", needed=4, unique=2, cached=2, unknown=2)])
    lines = text.splitlines()
    assert lines[0].split() == ["stage", "model", "rows", "distinct", "cached", "to", "generate"]
    assert lines[1].split() == ["tone-witty", "m", "10", "8", "3", "5"]
    assert "(+ up to 2 after earlier stages)" in lines[2]
    assert lines[-1] == "total to generate: 7"


def test_default_cache_dir(monkeypatch, tmp_path):
    from compbench.build.cache import default_cache_dir

    monkeypatch.setenv("COMPBENCH_CACHE_DIR", str(tmp_path / "mine"))
    assert default_cache_dir() == tmp_path / "mine"
    monkeypatch.delenv("COMPBENCH_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_dir() == tmp_path / "xdg" / "compbench"


class _SameCheckpoint:
    """A translator whose identity is that of one multilingual checkpoint: only the task tells languages apart."""

    model_id, revision = "shared/multilingual", "rev-1"

    def __init__(self, task: str):
        self.task = task

    @property
    def settings(self) -> dict[str, object]:
        return {"style": "prefix"}

    def generate(self, texts):
        return [f"<{self.task}> {t}" for t in texts]


def test_the_cache_key_keeps_tasks_apart_when_one_checkpoint_serves_two_languages(tmp_path):
    es, fr = _SameCheckpoint("tr-es"), _SameCheckpoint("tr-fr")
    assert cache_key(es, "Hello.") != cache_key(fr, "Hello.")
    result = build(tmp_path / "release", sources_dir=FIXTURE_SOURCES, cache_dir=tmp_path / "cache",
                   generators=_SameCheckpoint, progress=False, only=["sum+tr-es", "sum+tr-fr"])
    assert [s.cached for s in result.stages] == [0, 0]  # the French stage found nothing of the Spanish one's
    for task_id, language in (("sum+tr-es", "es"), ("sum+tr-fr", "fr")):
        rows = read(tmp_path / "release", task_id, "train")
        assert rows and all(r["reference"].startswith(f"<tr-{language}> ") for r in rows)
