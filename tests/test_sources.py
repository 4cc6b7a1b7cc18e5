"""Source loaders on fixture files in each source's original format: exact examples, every quirk, bad input."""

from __future__ import annotations

import shutil

import pytest

from compbench.errors import InputError
from compbench.sources import load_examples
from compbench.sources.base import Example
from compbench.sources.persona_chat import conversation_pairs
from compbench.sources.samsum import normalize_turns
from compbench.sources.sound_natural import capitalize_first
from compbench.sources.ted import is_missing
from tests.support.fake_generators import FIXTURE_SOURCES


def local(name, split, **options):
    return load_examples(name, split, sources_dir=FIXTURE_SOURCES, **options)


def test_dialogsum_train_and_dev_are_one_example_per_dialogue():
    train = local("dialogsum", "train")
    assert [e.source_id for e in train] == ["train_0", "train_1", "train_2"]
    assert train[0] == Example(
        "train_0",
        "#Person1#: Did you water the tomatoes this morning?\n#Person2#: No, I forgot. I will do it after lunch.",
        "#Person2# forgot to water the tomatoes and will do it after lunch.",
    )
    assert [e.source_id for e in local("dialogsum", "validation")] == ["dev_0", "dev_1"]


def test_dialogsum_test_has_three_references_per_dialogue():
    test = local("dialogsum", "test")
    assert [(e.source_id, e.reference_index) for e in test] == [
        ("test_0", 0), ("test_0", 1), ("test_0", 2), ("test_1", 0), ("test_1", 1), ("test_1", 2)]
    assert test[1].target == "#Person1# asks the price of green apples."
    assert test[0].input == test[2].input


def test_persona_chat_pairs_follow_the_breaking_rules():
    train = local("synthetic_persona_chat", "train")
    assert [(e.source_id, e.input, e.target) for e in train] == [
        ("0:0", "Hi! Do you like honey?", "I love it, especially on toast."),
        ("0:1", "I love it, especially on toast.", "My bees made a lot this summer."),
        ("0:2", "My bees made a lot this summer.", "That sounds like hard work."),
        ("1:0", "Good evening.", "Hello there, how was your day?"),  # the blank line after it breaks the chain
        ("1:3", "Long, I practised for four hours.", "Wow, what do you practise?"),  # then `* * *` breaks it
        ("1:7", "Anyway, which piece is it?", "A suite for solo cello."),  # same speaker twice: no 1:6 pair
    ]  # row 2 is an empty conversation; row 3 has only same-speaker, empty and unprefixed lines


def test_persona_chat_handles_crlf_inside_a_conversation():
    assert [(e.input, e.target) for e in local("synthetic_persona_chat", "test")] == [
        ("The pool opens at six.", "That is early for me."), ("That is early for me.", "Come at seven then.")]


def test_conversation_pairs_unit():
    assert conversation_pairs("") == []
    assert conversation_pairs("User 1: a\nUser 2: b") == [(0, "a", "b")]
    assert conversation_pairs("User 1: a\nUser 1: b\nUser 2: c") == [(1, "b", "c")]
    assert conversation_pairs("User 1: a\nUser 2:\nUser 1: c") == []
    assert conversation_pairs("User 1: a\nuser 2: b") == []  # the prefix is case-sensitive, as in the source


def test_ted_skips_both_null_markers_and_sizes_differ_per_language():
    spanish = local("ted", "train", language="es")
    assert [(e.source_id, e.input, e.target) for e in spanish] == [
        ("river_songs:0", "the river sings at night .", "el río canta de noche ."),
        ("river_songs:1", "we listened for hours .", "escuchamos durante horas ."),
        ("glass_cities:4", "thank you .", "gracias ."),
    ]
    french = local("ted", "train", language="fr")
    assert [e.source_id for e in french] == ["river_songs:0", "glass_cities:3", "glass_cities:4"]
    german = local("ted", "train", language="de")
    assert [e.source_id for e in german] == ["river_songs:0", "river_songs:1", "glass_cities:4"]
    assert len(local("ted", "validation", language="fr")) == 1
    assert is_missing("__NULL__") and is_missing("_ _ NULL _ _") and is_missing(" ") and not is_missing("NULL")


def test_sound_natural_reads_the_rephrased_column_and_capitalizes():
    train = local("sound_natural", "train")
    assert [(e.source_id, e.input, e.target) for e in train] == [
        ("train:0", "I will bring the cake", "I will bring the cake"),
        ("train:1", "Did you feed the cat?", "Did you feed the cat?"),
        ("train:2", "The meeting moved to noon", "The meeting moved to noon"),
    ]
    assert local("sound_natural", "test")[0].input == 'I\'m running "a bit" late'  # quoted TSV field
    assert capitalize_first("iPhone is here") == "IPhone is here" and capitalize_first("") == ""


def test_samsum_turns_are_rejoined_with_newlines():
    test = local("samsum", "test")
    assert test[0] == Example("13682001", "Kai: cinema tonight?\nLu: sure, 8?\nKai: see you there",
                              "Kai and Lu will meet at the cinema at 8.")
    assert normalize_turns("a\r\nb\rc\n") == "a\nb\nc"


# ---------------------------------------------------------------------------------------------- bad input
@pytest.fixture
def sources(tmp_path):
    shutil.copytree(FIXTURE_SOURCES, tmp_path / "sources")
    return tmp_path / "sources"


def test_missing_file_names_the_expected_original_file(sources):
    (sources / "dialogsum" / "dialogsum.dev.jsonl").unlink()
    with pytest.raises(InputError, match=r"dialogsum\.dev\.jsonl") as info:
        load_examples("dialogsum", "validation", sources_dir=sources)
    assert info.value.path.endswith("dialogsum.dev.jsonl")


def test_missing_column_is_reported_with_file_and_line(sources):
    path = sources / "sound_natural" / "val.tsv"
    path.write_text("Original Query\tRephrase\nx\ty\n", encoding="utf-8")
    with pytest.raises(InputError, match="missing column.*'Rephrased Content'") as info:
        load_examples("sound_natural", "validation", sources_dir=sources)
    assert (info.value.path, info.value.line) == (str(path), 1)


def test_missing_test_reference_field(sources):
    path = sources / "dialogsum" / "dialogsum.test.jsonl"
    path.write_text('{"fname": "test_0", "dialogue": "d", "summary1": "a", "summary2": "b"}\n', encoding="utf-8")
    with pytest.raises(InputError, match="no field 'summary3'") as info:
        load_examples("dialogsum", "test", sources_dir=sources)
    assert info.value.line == 1


def test_unreadable_json_row(sources):
    path = sources / "dialogsum" / "dialogsum.train.jsonl"
    path.write_text(path.read_text(encoding="utf-8") + '{"fname": "train_3", "dialogue": \n', encoding="utf-8")
    with pytest.raises(InputError, match="invalid JSON") as info:
        load_examples("dialogsum", "train", sources_dir=sources)
    assert info.value.line == 4


def test_wrong_field_count_in_tsv(sources):
    path = sources / "ted" / "all_talks_dev.tsv"
    path.write_text("talk_name\ten\tes\tfr\tde\nt\tone .\tuno .\n", encoding="utf-8")
    with pytest.raises(InputError, match="expected 5 fields, found 3") as info:
        load_examples("ted", "validation", sources_dir=sources, language="es")
    assert info.value.line == 2


def test_non_string_field(sources):
    (sources / "samsum" / "test.json").write_text('[{"id": "1", "summary": 3, "dialogue": "a: b"}]', encoding="utf-8")
    with pytest.raises(InputError, match="'summary' must be a string"):
        load_examples("samsum", "test", sources_dir=sources)


def test_broken_csv_quoting(sources):
    path = sources / "synthetic_persona_chat" / "Synthetic-Persona-Chat_valid.csv"
    path.write_text('user 1 personas,user 2 personas,Best Generated Conversation\na,b,"User 1: x"y"\n',
                    encoding="utf-8")
    with pytest.raises(InputError, match="unreadable row") as info:
        load_examples("synthetic_persona_chat", "validation", sources_dir=sources)
    assert info.value.line == 2


@pytest.mark.network
@pytest.mark.parametrize("name,split,options,expected", [
    ("dialogsum", "test", {}, 1_500),
    ("synthetic_persona_chat", "validation", {}, None),
    ("ted", "validation", {"language": "es"}, 4_231),
    ("sound_natural", "train", {}, 2_245),
    ("samsum", "test", {}, 819),
])
def test_hub_sources_at_pinned_revisions(name, split, options, expected):
    from builders.sources import SOURCE_PINS

    examples = load_examples(name, split, location=SOURCE_PINS[name].location, **options)
    assert examples and all(e.input and e.target for e in examples)
    if expected is not None:
        assert len(examples) == expected
