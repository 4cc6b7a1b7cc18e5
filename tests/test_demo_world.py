"""The demo's synthetic world: its rules by known values, its sources read by the real loaders, and the real
build with the synthetic generators, whose every compositional reference is exactly T2(T1(x))."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from compbench.build import build
from compbench.build.generators import model_provider
from compbench.cli import main
from compbench.demo.sources import Sizes, pretraining_corpus, write_sources
from compbench.demo.world import (
    NAMES,
    SYNTHETIC_LANGUAGES,
    Message,
    Plan,
    World,
    reorder,
    rewrite_tone,
    vocabulary,
)
from compbench.errors import ConfigError
from compbench.generation.base import Generator, generator_fingerprint
from compbench.generation.registry import make_tone_rewriter, make_translator
from compbench.sources import load_examples
from compbench.tasks import LANGUAGES, REGISTRY, TONES

SMALL = Sizes(dialogues=(6, 2, 3), conversations=(6, 2, 3), talks=(8, 2, 3), notes=(6, 2, 3), chats=(1, 1, 3))
PLAN = Plan("Ida", "Anna", "fix the bike", "park", "Saturday", "in the evening", "move", "Tuesday")


def test_summary_and_reply_rules():
    assert PLAN.dialogue() == ["Hi Anna, can we fix the bike at the park on Tuesday?",
                               "Sorry, Ida, I am busy on Tuesday. What about Saturday?",
                               "Saturday is fine. See you in the evening."]
    assert PLAN.summaries()[0] == "Anna and Ida will fix the bike at the park on Saturday in the evening."
    weekday = Message("invite", "bake bread", "garden", "Friday", "at six", "keys")
    weekend = Message("invite", "bake bread", "garden", "Sunday", "at six", "keys")
    assert weekday.reply() == "Sorry, I work on Friday. Can we bake bread on Saturday instead?"
    assert weekend.reply() == "Yes, I would love to bake bread on Sunday."


def test_tone_rules():
    text = "Yes, I will bring your keys to the park at noon."
    assert rewrite_tone(text, "professional") == "Certainly, I shall bring your keys to the park at noon. Kind regards."
    assert rewrite_tone(text, "casual") == "Yeah, I'll bring your keys to the park at noon. :)"
    assert rewrite_tone(text, "witty") == "Yes, I will bring your keys to the park at noon. What a walk in the park!"
    assert rewrite_tone(text, "paraphrase") == "Indeed, I plan to take your keys to the park at noon."
    with pytest.raises(ValueError):
        rewrite_tone(text, "sarcastic")


def test_reordering_rules():
    words = ["Anna", "and", "Ben", "will", "play", "tennis"]
    assert reorder(words, "es") == ["Anna", "and", "Ben", "will", "tennis", "play"]
    assert reorder(words, "fr") == ["and", "Ben", "will", "play", "tennis", "Anna"]
    assert reorder(words, "de") == ["Anna", "and", "Ben", "will", "tennis", "play"][:4] + ["tennis", "play"]
    assert reorder(["I", "work", "today"], "de") == ["I", "work", "today"]  # no "will": unchanged


def test_translation_is_dictionary_after_reordering():
    world = World(3)
    for lang in LANGUAGES:
        dictionary = world.dictionaries[lang]
        assert len(set(dictionary.values())) == len(dictionary) == len(vocabulary())  # one-to-one
        expected = [w if w in NAMES else dictionary[w.lower()] for w in reorder(["Anna", "will", "bake", "bread"], lang)]
        sentence = " ".join(expected)
        assert world.translate("Anna will bake bread!", lang) == sentence[:1].upper() + sentence[1:] + "!"
    assert world.translate("Sorry, I work. Yes.", "es").count(".") == 2  # sentences kept, commas dropped


def test_world_is_a_function_of_its_seed():
    assert World(1).dictionaries == World(1).dictionaries
    assert World(1).dictionaries["de"] != World(2).dictionaries["de"]
    assert pretraining_corpus(World(1), 20) == pretraining_corpus(World(1), 20)


def test_synthetic_generators_are_registered_generators():
    translator = make_translator("synthetic", "synthetic-world:4", "fr")
    tone = make_tone_rewriter("synthetic-world:4", "witty", backend="synthetic")
    for generator in (translator, tone):
        assert isinstance(generator, Generator)
    assert translator.task == "tr-fr" and translator.settings["language"] == SYNTHETIC_LANGUAGES["fr"]["name"]
    assert translator.generate(["Anna will bake bread."]) == [World(4).translate("Anna will bake bread.", "fr")]
    assert generator_fingerprint(translator) != generator_fingerprint(make_translator("synthetic", "synthetic-world:5",
                                                                                     "fr"))
    with pytest.raises(ConfigError, match="synthetic-world:SEED"):
        make_translator("synthetic", "Helsinki-NLP/opus-mt-en-fr", "fr")


def test_sources_are_read_by_the_real_loaders(tmp_path):
    world = World(2)
    write_sources(world, tmp_path, SMALL)
    test = load_examples("dialogsum", "test", sources_dir=tmp_path)
    assert len(test) == 3 * 3 and {e.reference_index for e in test} == {0, 1, 2}  # three summaries per dialogue
    train = load_examples("dialogsum", "train", sources_dir=tmp_path)
    assert len(train) == 6 and all(e.input.startswith("#Person1#: ") for e in train)
    pairs = load_examples("synthetic_persona_chat", "train", sources_dir=tmp_path)
    assert len(pairs) == 6  # one (context, reply) pair per conversation
    for lang in LANGUAGES:
        talks = load_examples("ted", "train", sources_dir=tmp_path, language=lang)
        assert len(talks) == 8 and all(world.translate(e.input, lang) == e.target for e in talks)
    assert len(load_examples("sound_natural", "train", sources_dir=tmp_path)) == 6
    assert len(load_examples("samsum", "test", sources_dir=tmp_path)) == 3


def _rule(world: World, task: str, text: str) -> str:
    return world.apply(task, text)


def _rows(release: Path, subtask: str, split: str) -> list[dict]:
    manifest = json.loads((release / "manifest.json").read_text())
    paths = [f["path"] for f in manifest["files"] if f["subtask"] == subtask and f["split"] == split]
    return [row for path in paths for row in pq.read_table(release / path).to_pylist()]


def test_build_with_the_synthetic_generators_composes_exactly(tmp_path):
    world = World(5)
    write_sources(world, tmp_path / "sources", SMALL)
    provider = model_provider(backend="synthetic", tone_backend="synthetic", translator="synthetic-world:5",
                              tone_model="synthetic-world:5")
    result = build(tmp_path / "release", sources_dir=tmp_path / "sources", generators=provider,
                   cache_dir=tmp_path / "cache", progress=False)
    assert {g.model_id for g in result.manifest.generators} == {"compbench/synthetic-world"}
    checked = 0
    for task in REGISTRY.values():
        if not task.auxiliary:
            continue
        table = _rows(tmp_path / "release", task.id, "test")
        assert table, task.id
        for row in table:
            chain = row["chain"]
            assert [step["task"] for step in chain] == [task.main, *task.auxiliary]
            text = chain[0]["text"]
            for aux in task.auxiliary:  # the reference is the rules applied in order to the main task's truth
                text = _rule(world, aux, text)
            assert row["reference"] == text
            checked += 1
    assert checked > 0
    tone = _rows(tmp_path / "release", "tone-witty", "train")
    assert all(row["reference"] == rewrite_tone(row["input"], "witty") for row in tone)


def test_cli_build_with_the_synthetic_backend(tmp_path):
    write_sources(World(0), tmp_path / "sources", SMALL)
    args = ["build", "--sources-dir", str(tmp_path / "sources"), "--backend", "synthetic", "--tone-backend",
            "synthetic", "--translator", "synthetic-world:0", "--tone-model", "synthetic-world:0", "--out",
            str(tmp_path / "release"),
            "--cache-dir", str(tmp_path / "cache"), "--no-progress", "--subtask", "sum+tone-casual"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    manifest = json.loads((tmp_path / "release" / "manifest.json").read_text())
    assert [g["task"] for g in manifest["generators"]] == ["tone-casual"]
    bad = CliRunner().invoke(main, [*args[:7], "--translator", "synthetic-world:x", "--out", str(tmp_path / "r2"),
                                    "--subtask", "sum+tr-es", "--no-progress", "--cache-dir", str(tmp_path / "cache")])
    assert bad.exit_code == 2 and "synthetic-world:SEED" in bad.output
    assert not (tmp_path / "r2").exists()


def test_world_needs_no_torch():
    code = ("import sys; from compbench.demo.world import World; from compbench.demo.sources import pretraining_corpus;"
            "pretraining_corpus(World(0), 5); assert 'torch' not in sys.modules, 'torch imported'")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=Path(__file__).parents[1])
    assert done.returncode == 0, done.stderr


def test_every_tone_and_language_slot_has_a_rule():
    world = World(0)
    for lang in LANGUAGES:
        assert world.apply(f"tr-{lang}", "Anna will bake bread.")
    for tone in TONES:
        assert world.apply(f"tone-{tone}", "Anna will bake bread.")
