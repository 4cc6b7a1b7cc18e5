"""The Hub code path of each source loader (``datasets.load_dataset`` on ``hf://`` URLs at the pinned revision),
run against the Hub stand-in serving files written here in each Hub copy's format: DialogSum's flattened CSV, the
Parquet conversions of TED, Persona Chat and SAMSum, Sound Natural's TSV. Everything else is the real code.
"""

from __future__ import annotations

import csv

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from builders.sources import SOURCE_PINS
from compbench.sources import load_examples


@pytest.fixture
def hub_files(tmp_path, hub):
    """``write(name, split)`` gives the local path to write a source split's Hub file to; ``write.serve()`` puts
    every file written so far in the stand-in, at the source's pinned revision and at the path its pin names."""
    written = {}

    def write(name: str, split: str) -> str:
        location = SOURCE_PINS[name].location
        in_repo = location.data_files[split].replace("*", "00000-of-00001")
        path = tmp_path / "hub-files" / location.hub_id / in_repo
        path.parent.mkdir(parents=True, exist_ok=True)
        written[(location.hub_id, location.revision, in_repo)] = path
        return str(path)

    def serve() -> None:
        repos: dict[tuple[str, str], dict[str, bytes]] = {}
        for (hub_id, revision, in_repo), path in written.items():
            repos.setdefault((hub_id, revision), {})[in_repo] = path.read_bytes()
        for (hub_id, revision), files in repos.items():
            hub.add_repo(hub_id, files, revision=revision, branch=None)

    write.serve = serve
    return write


def hub_split(hub_files, name, split, **options):
    hub_files.serve()
    return load_examples(name, split, location=SOURCE_PINS[name].location, **options)


def test_dialogsum_hub_csv_test_ids_give_reference_indices(hub_files):
    with open(hub_files("dialogsum", "test"), "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "dialogue", "summary", "topic"])
        for k, summary in enumerate(["A.", "B.", "NA"], start=1):  # "NA" must stay text, not a missing value
            writer.writerow([f"test_7_{k}", "#Person1#: Hi.\n#Person2#: Hello.", summary, "greeting"])
    examples = hub_split(hub_files, "dialogsum", "test")
    assert [(e.source_id, e.reference_index, e.target) for e in examples] == [
        ("test_7", 0, "A."), ("test_7", 1, "B."), ("test_7", 2, "NA")]
    assert examples[0].input == "#Person1#: Hi.\n#Person2#: Hello."


def test_ted_hub_parquet_translations_struct(hub_files):
    rows = [
        {"talk_name": "kites", "translations": {"language": ["de", "en", "es"],
                                                "translation": ["Drachen fliegen .", "kites fly .", "__NULL__"]}},
        {"talk_name": "kites", "translations": {"language": ["en", "es"],
                                                "translation": ["wind helps .", "el viento ayuda ."]}},
    ]
    pq.write_table(pa.Table.from_pylist(rows), hub_files("ted", "validation"))
    assert [(e.source_id, e.input, e.target) for e in hub_split(hub_files, "ted", "validation", language="es")] == [
        ("kites:1", "wind helps .", "el viento ayuda .")]
    assert [e.source_id for e in hub_split(hub_files, "ted", "validation", language="de")] == ["kites:0"]


def test_persona_chat_hub_parquet_with_an_empty_conversation(hub_files):
    column = "Best Generated Conversation"
    rows = [{"user 1 personas": "p", "user 2 personas": "q", column: None},
            {"user 1 personas": "p", "user 2 personas": "q", column: "User 2: Tea?\nUser 1: Yes please."}]
    pq.write_table(pa.Table.from_pylist(rows), hub_files("synthetic_persona_chat", "test"))
    assert [(e.source_id, e.input, e.target) for e in hub_split(hub_files, "synthetic_persona_chat", "test")] == [
        ("1:0", "Tea?", "Yes please.")]


def test_sound_natural_hub_tsv(hub_files):
    with open(hub_files("sound_natural", "validation"), "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, delimiter="\t")
        writer.writerow(["Original Query", "Rephrased Content"])
        writer.writerow(["tell kim dinner is ready", "dinner is ready"])
    assert [(e.source_id, e.input) for e in hub_split(hub_files, "sound_natural", "validation")] == [("validation:0", "Dinner is ready")]


def test_samsum_hub_parquet(hub_files):
    rows = [{"id": "1", "summary": "Al is late. ", "dialogue": "Al: late\r\nBo: ok"}]
    pq.write_table(pa.Table.from_pylist(rows), hub_files("samsum", "test"))
    [example] = hub_split(hub_files, "samsum", "test")
    assert (example.source_id, example.input, example.target) == ("1", "Al: late\nBo: ok", "Al is late.")


def test_pinned_locations_are_full_commits():
    for pin in SOURCE_PINS.values():
        assert len(pin.location.revision) == 40 and int(pin.location.revision, 16) >= 0
        assert set(pin.location.data_files) >= {"test"}
        assert pin.location.url("test").startswith(f"hf://datasets/{pin.location.hub_id}@{pin.location.revision}/")
