"""``compbench release``: a release directory as a Hub dataset repository (sharded Parquet, manifest, card)."""

from __future__ import annotations

import re

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from click.testing import CliRunner

from builders.recipes import RECIPES
from builders.sources import SOURCE_PINS
from compbench.build import build
from compbench.build.release import write_hub_repo
from compbench.build.stats import size_category, word_counts
from compbench.cli import main
from compbench.fileio import sha256_file
from compbench.schemas import SPLIT_ROW_SCHEMA, ReleaseManifest, split_file_path
from compbench.tasks import REGISTRY
from tests.support.fake_generators import FIXTURE_SOURCES, FakeProvider, tree_bytes
from tests.support.release_factory import row, write_release


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """A full fixture build (every sub-task and split), as `compbench build` writes it."""
    tmp = tmp_path_factory.mktemp("built")
    build(tmp / "release", sources_dir=FIXTURE_SOURCES, cache_dir=tmp / "cache", generators=FakeProvider(),
          progress=False)
    return tmp / "release"


def manifest_of(root):
    return ReleaseManifest.model_validate_json((root / "manifest.json").read_text())


def front_matter(root):
    text = (root / "README.md").read_text(encoding="utf-8")
    assert text.startswith("---\n")
    return yaml.safe_load(text[4:text.index("\n---\n", 4)]), text


def rows_of(root, manifest, subtask, split):
    paths = [root / f.path for f in manifest.files if f.subtask == subtask and f.split == split]
    return pa.concat_tables(pq.read_table(p) for p in sorted(paths)).to_pylist()


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def test_a_build_is_already_in_the_hub_layout(built, tmp_path):
    result = invoke("release", built, "--out", tmp_path / "repo")
    assert result.exit_code == 0, result.output
    assert tree_bytes(tmp_path / "repo") == tree_bytes(built)  # byte for byte: same manifest hash local and Hub
    for file in manifest_of(built).files:
        assert re.fullmatch(r"data/[a-z_]+/(train|validation|test)-00000-of-00001\.parquet", file.path)


@pytest.mark.slow
def test_shards_are_deterministic_and_load_with_datasets(built, tmp_path):
    import datasets

    first = write_hub_repo(built, tmp_path / "a", max_shard_bytes=6_000)
    write_hub_repo(built, tmp_path / "b", max_shard_bytes=6_000)
    assert tree_bytes(tmp_path / "a") == tree_bytes(tmp_path / "b")
    original = manifest_of(built)
    sharded = [f for f in first.files if not f.path.endswith("-00000-of-00001.parquet")]
    assert sharded, "the small shard size must cut some splits"
    for file in first.files:
        assert sha256_file(tmp_path / "a" / file.path) == file.sha256
        assert pq.read_table(tmp_path / "a" / file.path).num_rows == file.rows
        assert re.fullmatch(r"data/([a-z_]+)/(train|validation|test)-(\d{5})-of-(\d{5})\.parquet", file.path)
    # every config and split loads with datasets, with the manifest's row counts, the schema's columns, the rows
    for subtask in dict.fromkeys(f.subtask for f in original.files):
        config = REGISTRY[subtask].config_name
        dataset = datasets.load_dataset(str(tmp_path / "a"), config)
        splits = {f.split for f in original.files if f.subtask == subtask}
        assert set(dataset) == splits
        for split in splits:
            expected = rows_of(built, original, subtask, split)
            assert dataset[split].num_rows == sum(f.rows for f in first.files
                                                  if f.subtask == subtask and f.split == split) == len(expected)
            assert dataset[split].column_names == SPLIT_ROW_SCHEMA.names
            assert dataset[split].to_list() == expected


def test_card_yaml_lists_every_config_with_its_license_and_files(built):
    meta, _ = front_matter(built)
    manifest = manifest_of(built)
    subtasks = list(dict.fromkeys(f.subtask for f in manifest.files))
    configs = [REGISTRY[s].config_name for s in subtasks]
    assert sorted(c["config_name"] for c in meta["configs"]) == sorted(configs) == sorted(meta["config_licenses"])
    for subtask in subtasks:
        license_id = SOURCE_PINS[RECIPES[subtask].source].license
        assert meta["config_licenses"][REGISTRY[subtask].config_name] == license_id
    assert meta["license"] == sorted(set(meta["config_licenses"].values()))
    for config in meta["configs"]:
        subtask = next(s for s in subtasks if REGISTRY[s].config_name == config["config_name"])
        assert {d["split"]: d["path"] for d in config["data_files"]} == {
            f.split: f.path for f in manifest.files if f.subtask == subtask}
    assert meta["language"] == ["en", "es", "fr", "de"]
    assert meta["multilinguality"] == ["multilingual", "translation"]
    assert meta["task_categories"] == ["summarization", "text-generation", "translation"]
    assert meta["size_categories"] == [size_category(sum(f.rows for f in manifest.files))] == ["n<1K"]
    assert meta["source_datasets"] == sorted(pin.location.hub_id for pin in SOURCE_PINS.values())
    assert meta["annotations_creators"] == ["machine-generated", "found"]


def test_card_body_prompts_generators_statistics_limitations_citation(built):
    _, text = front_matter(built)
    manifest = manifest_of(built)
    for subtask in {f.subtask for f in manifest.files}:
        assert f"| {REGISTRY[subtask].prompt} |" in text  # every sub-task's prompt, as its rows hold it
    for generator in manifest.generators:
        assert f"| {generator.task} | {generator.model_id} | {generator.revision} |" in text
    # statistics from the files, checked against a direct computation with str.split
    rows = rows_of(built, manifest, "sum+tr-es", "test")
    words = np.array([len(r["reference"].split()) for r in rows])
    inputs = np.array([len(r["input"].split()) for r in rows])
    fmt = lambda a: f"{np.median(a):.1f} / {a.mean():.1f} / {np.percentile(a, 95):.1f} / {a.max():,}"  # noqa: E731
    assert f"| sum_tr_es | test | 6 | 2 | {fmt(inputs)} | {fmt(words)} |" in text
    assert "## Known limitations" in text and "machine-made" in text and "three tones only" in text
    assert "@inproceedings{bohdal2025compositional" in text
    assert "Generation failures" in text and "| tr-es | 0 |" in text


def test_word_counts_match_str_split():
    texts = ["a b  c", "", " x\u00a0y\u2028z\x1ce", "tab\tand\nnewline", "ñandú está aquí", "\u3000lead"]
    assert word_counts(pa.array(texts)).tolist() == [len(t.split()) for t in texts]


def test_outside_text_is_escaped_in_the_card(built, tmp_path):
    write_hub_repo(built, tmp_path / "repo", name="<script>x|y</script>")
    _, text = front_matter(tmp_path / "repo")
    assert "<script>" not in text and "&lt;script&gt;x\\|y&lt;/script&gt;" in text
    assert manifest_of(tmp_path / "repo").release == "<script>x|y</script>"


def test_an_older_layout_is_rewritten_and_renamed(tmp_path):
    rows = [row("sum+tr-es", "d1", "el gato", index=i) for i in range(3)] + [row("reply+tone-witty", "r1", "ha")]
    old = write_release(tmp_path / "old", rows)
    manifest = manifest_of(old)
    for file in manifest.files:  # the layout before shards: data/<config>/<split>.parquet
        legacy = file.path.replace("-00000-of-00001", "")
        (old / file.path).rename(old / legacy)
        file.path = legacy
    (old / "manifest.json").write_text(manifest.model_dump_json(indent=2))
    result = invoke("release", old, "--out", tmp_path / "repo", "--name", "compbench-test-2")
    assert result.exit_code == 0, result.output
    repo = manifest_of(tmp_path / "repo")
    assert repo.release == "compbench-test-2"
    assert [f.path for f in repo.files] == [split_file_path("reply_tone_witty", "test"),
                                            split_file_path("sum_tr_es", "test")]
    assert rows_of(tmp_path / "repo", repo, "sum+tr-es", "test") == [r for r in rows if r["subtask"] == "sum+tr-es"]


@pytest.mark.parametrize("damage, message", [
    (lambda root, m: (root / m.files[0].path).write_bytes(b"changed"), "sha256 differs from the manifest"),
    (lambda root, m: (root / "manifest.json").write_text("{"), "invalid JSON (Expecting property name enclosed in double quotes"),
    (lambda root, m: (root / m.files[0].path).unlink(), "file listed in the manifest is missing"),
    (lambda root, m: (root / "manifest.json").write_text(m.model_copy(update={"files": [
        m.files[0].model_copy(update={"path": "../outside.parquet"})]}).model_dump_json()),
     "manifest path '../outside.parquet' leaves the release directory"),
])
def test_a_damaged_release_is_refused_and_nothing_is_written(tmp_path, damage, message):
    root = write_release(tmp_path / "release", [row("sum+tr-es", "d1", "el gato")])
    damage(root, manifest_of(root) if (root / "manifest.json").read_text() != "{" else None)
    result = invoke("release", root, "--out", tmp_path / "repo")
    assert result.exit_code == 2 and message in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "repo").exists() and not (tmp_path / ".repo.building").exists()


def test_out_must_not_hold_something_else(tmp_path):
    root = write_release(tmp_path / "release", [row("sum+tr-es", "d1", "el gato")])
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    result = invoke("release", root, "--out", tmp_path / "other")
    assert result.exit_code == 2 and "is not a compbench release" in result.stderr
    assert [p.name for p in (tmp_path / "other").iterdir()] == ["notes.txt"]
