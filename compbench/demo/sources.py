"""The synthetic world written as source files, in the original formats the source loaders read.

``write_sources(world, directory, sizes)`` writes ``DIR/<source>/<original file>`` for the five sources
(:data:`compbench.sources.LOADERS`): DialogSum JSON Lines (three summaries per test dialogue), Synthetic Persona
Chat CSV (one two-line conversation per row: one (context, reply) pair), TED ``all_talks`` TSV (English plus the
three synthetic languages), Sound Natural TSV and SAMSum JSON. ``compbench build --sources-dir DIR`` reads them
like the real files. :func:`pretraining_corpus` is the plain text the demo's base model learns the language from.
"""

from __future__ import annotations

import csv
import json
import random
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from compbench.demo.world import (
    PERSONAS,
    SYNTHETIC_LANGUAGES,
    World,
    draw_message,
    draw_note,
    draw_plan,
    rewrite_tone,
)
from compbench.fileio import atomic_write
from compbench.tasks import LANGUAGES, TONES

SPLIT_FILES = {"train": "train", "validation": "dev", "test": "test"}  # DialogSum and TED name their dev split so


@dataclass(frozen=True)
class Sizes:
    """Rows written per source and split (train, validation, test)."""

    dialogues: tuple[int, int, int] = (600, 8, 16)  # DialogSum dialogues (each test one has three summaries)
    conversations: tuple[int, int, int] = (600, 8, 16)  # Persona Chat (context, reply) pairs
    talks: tuple[int, int, int] = (900, 8, 16)  # TED sentences, each in all three languages
    notes: tuple[int, int, int] = (600, 8, 16)  # Sound Natural messages
    chats: tuple[int, int, int] = (4, 4, 16)  # SAMSum dialogues (only test is used)

    def to_dict(self) -> dict[str, list[int]]:
        return {key: list(value) for key, value in asdict(self).items()}


def _rng(world: World, *parts: object) -> random.Random:
    return random.Random(":".join(map(str, ("compbench-demo-sources", world.seed, *parts))))


def english_sentences(world: World, rng: random.Random) -> Iterator[str]:
    """An endless mix of the world's English: summaries, messages, replies, notes, and tone rewrites of them."""
    while True:
        pick = rng.random()
        if pick < 0.35:
            text = rng.choice(draw_plan(rng).summaries())
        elif pick < 0.6:
            message = draw_message(rng)
            text = message.reply() if rng.random() < 0.6 else message.text()
        else:
            _, note = draw_note(rng)
            text = note[:1].upper() + note[1:]
        if rng.random() < 0.3:
            text = rewrite_tone(text, rng.choice(TONES))
        yield text


def _write_jsonl(path: Path, rows: list[dict]) -> None:
    with atomic_write(path) as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")


def _write_delimited(path: Path, header: list[str], rows: list[list[str]], delimiter: str) -> None:
    with atomic_write(path) as handle:
        writer = csv.writer(handle, delimiter=delimiter, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


def _dialogsum(world: World, root: Path, split: str, n: int) -> None:
    rng = _rng(world, "dialogsum", split)
    rows = []
    for i in range(n):
        plan = draw_plan(rng)
        dialogue = "\n".join(f"#Person{1 + k % 2}#: {turn}" for k, turn in enumerate(plan.dialogue()))
        row: dict[str, str] = {"fname": f"{SPLIT_FILES[split]}_{i}", "dialogue": dialogue}
        if split == "test":
            for k, summary in enumerate(plan.summaries(), start=1):
                row[f"summary{k}"], row[f"topic{k}"] = summary, plan.activity
        else:
            row["summary"], row["topic"] = plan.summaries()[0], plan.activity
        rows.append(row)
    _write_jsonl(root / "dialogsum" / f"dialogsum.{SPLIT_FILES[split]}.jsonl", rows)


def _persona_chat(world: World, root: Path, split: str, n: int) -> None:
    rng = _rng(world, "persona_chat", split)
    rows = []
    for _ in range(n):
        message = draw_message(rng)
        personas = [rng.choice(PERSONAS).format(**message.slots) for _ in range(2)]
        rows.append([personas[0], personas[1], f"User 1: {message.text()}\nUser 2: {message.reply()}"])
    name = {"train": "train", "validation": "valid", "test": "test"}[split]
    _write_delimited(root / "synthetic_persona_chat" / f"Synthetic-Persona-Chat_{name}.csv",
                     ["user 1 personas", "user 2 personas", "Best Generated Conversation"], rows, ",")


def _ted(world: World, root: Path, split: str, n: int) -> None:
    rng = _rng(world, "ted", split)
    sentences = english_sentences(world, rng)
    rows = []
    for i in range(n):
        english = next(sentences)
        rows.append([f"world_talk_{i // 8}", english, *(world.translate(english, lang) for lang in LANGUAGES)])
    lines = ["\t".join(["talk_name", "en", *LANGUAGES])] + ["\t".join(row) for row in rows]
    with atomic_write(root / "ted" / f"all_talks_{SPLIT_FILES[split]}.tsv") as handle:
        handle.write("\n".join(lines) + "\n")


def _sound_natural(world: World, root: Path, split: str, n: int) -> None:
    rng = _rng(world, "sound_natural", split)
    rows = [list(draw_note(rng)) for _ in range(n)]
    name = {"train": "train", "validation": "val", "test": "test"}[split]
    _write_delimited(root / "sound_natural" / f"{name}.tsv", ["Original Query", "Rephrased Content"], rows, "\t")


def _samsum(world: World, root: Path, split: str, n: int) -> None:
    rng = _rng(world, "samsum", split)
    rows = []
    for i in range(n):
        plan = draw_plan(rng)
        rows.append({"id": f"{world.seed}{i:05d}", "summary": plan.summaries()[0], "dialogue": "\r\n".join(plan.chat())})
    name = {"train": "train", "validation": "val", "test": "test"}[split]
    with atomic_write(root / "samsum" / f"{name}.json") as handle:
        json.dump(rows, handle, indent=1, ensure_ascii=False)


WRITERS = {"dialogues": _dialogsum, "conversations": _persona_chat, "talks": _ted, "notes": _sound_natural,
           "chats": _samsum}


def write_sources(world: World, directory: str | Path, sizes: Sizes | None = None) -> Path:
    """Write every source split of the world under ``directory`` (what ``--sources-dir`` reads)."""
    root = Path(directory)
    sizes = sizes or Sizes()
    for field, writer in WRITERS.items():
        for split, n in zip(("train", "validation", "test"), getattr(sizes, field), strict=True):
            writer(world, root, split, n)
    return root


def pretraining_corpus(world: World, documents: int) -> list[str]:
    """Plain text of the world for the base model's pretraining, one short document each, drawn from its own
    random stream (not from any split): dialogues (half of them followed by ``Summary: ...``), messages with their
    replies, sentences (some said twice) and their tone rewrites, and English sentences beside their translation
    (``In Synthetic-E: ...``), as web text holds such pairs. Never the chat format or the task prompts."""
    rng = _rng(world, "pretraining")
    sentences = english_sentences(world, rng)
    corpus = []
    for _ in range(documents):
        pick = rng.random()
        if pick < 0.25:
            plan = draw_plan(rng)
            text = "\n".join(f"#Person{1 + k % 2}#: {turn}" for k, turn in enumerate(plan.dialogue()))
            corpus.append(text + (f"\nSummary: {plan.summaries()[0]}" if rng.random() < 0.5 else ""))
        elif pick < 0.4:
            message = draw_message(rng)
            corpus.append(f"{message.text()}\n{message.reply()}")
        elif pick < 0.5:
            corpus.append(next(sentences))
        elif pick < 0.65:  # a sentence said twice: repetition teaches a tiny model to copy from its context
            sentence = next(sentences)
            corpus.append(f"{sentence}\n{sentence}")
        else:
            lang = rng.choice(tuple(LANGUAGES))
            english = next(sentences)
            corpus.append(f"{english}\nIn {SYNTHETIC_LANGUAGES[lang]['name']}: {world.translate(english, lang)}")
    return corpus
