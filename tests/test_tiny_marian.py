"""The hand-set tiny Marian checkpoint translates as designed in transformers and CTranslate2 (int8 too).

The translation and build tests rely on it, so its promises are tested here: the designed translation for
each trigger word (and the default), under beam 4 and greedy, batched and alone, in both backends, by wide
margins; loops that never emit ``</s>``; padding that changes the output if attended to.
"""

from __future__ import annotations

import pytest

from compbench.generation.ctranslate2_backend import CT2Translator
from compbench.generation.translation import MarianTranslator
from tests.support.tiny_marian import (
    DEFAULT_TRANSLATION,
    LOOP,
    MARIAN_DESIGN,
    NEVER_ENDING,
    PAD_LEAK_TRANSLATION,
    TRANSLATIONS,
    forced_margins,
    write_tiny_marian,
)

# (source, translation; None = never ends)
CASES = [
    ("Hello, how are you today?", TRANSLATIONS["Hello"]),
    ("Thanks a lot, see you tomorrow.", TRANSLATIONS["Thanks"]),
    ("I would love to join you for dinner on Friday.", TRANSLATIONS["dinner"]),
    ("#Person1# asks the price of green apples.", TRANSLATIONS["apples"]),
    ("Person2 explains that the train to the airport leaves every twenty minutes.", TRANSLATIONS["train"]),
    ("Hello, the train is late.", TRANSLATIONS["Hello"]),  # two triggers: the first in TRANSLATIONS wins
    ("Maria asks Tom to water the plants while she visits her sister in Lisbon.", DEFAULT_TRANSLATION),
    ("Ok.", DEFAULT_TRANSLATION),
    ("The chess club meets in room twelve.", None),
    ("#Person1# points out #Person2#'s flat tyre.", None),
]
SOURCES = [source for source, _ in CASES]
EXPECTED = [translation for _, translation in CASES]
MIN_MARGIN = 50.0  # logits; measured 61.2 at the narrowest designed step


@pytest.fixture(scope="module")
def marian_dir(tmp_path_factory):
    return write_tiny_marian(tmp_path_factory.mktemp("opus") / "tiny-es")


def test_design_helper_agrees_with_the_cases():
    assert [MARIAN_DESIGN.expected(source) for source in SOURCES] == EXPECTED


@pytest.mark.parametrize("num_beams", [4, 1])
def test_transformers_translates_as_designed(marian_dir, num_beams):
    translator = MarianTranslator(marian_dir, "es", batch_size=4, max_length=16, num_beams=num_beams)
    assert translator.generate(SOURCES) == EXPECTED
    assert [translator.generate([source])[0] for source in SOURCES] == EXPECTED


@pytest.mark.parametrize(("compute_type", "num_beams"), [("int8", 4), ("int8", 1), ("float32", 4)])
def test_ctranslate2_translates_as_designed(marian_dir, tmp_path, compute_type, num_beams):
    translator = CT2Translator(marian_dir, "es", batch_size=4, max_length=16, num_beams=num_beams,
                               compute_type=compute_type, cache_dir=tmp_path)
    assert translator.generate(SOURCES) == EXPECTED
    assert [translator.generate([source])[0] for source in SOURCES] == EXPECTED


def test_every_designed_step_wins_by_a_wide_margin(marian_dir, tmp_path):
    finishing = [(source, translation) for source, translation in CASES if translation is not None]
    translator = MarianTranslator(marian_dir, "es")
    margins = forced_margins(translator.model, translator.tokenizer, *zip(*finishing, strict=True))
    assert min(margins) > MIN_MARGIN, margins
    # CTranslate2 int8 gives the designed tokens all the probability (log-probability above -0.001 each).
    ct2 = CT2Translator(marian_dir, "es", cache_dir=tmp_path)
    tokenizer = ct2.tokenizer
    sources = [tokenizer.convert_ids_to_tokens(tokenizer(s)["input_ids"]) for s, _ in finishing]
    targets = [tokenizer.convert_ids_to_tokens(tokenizer(text_target=t)["input_ids"]) for _, t in finishing]
    for result in ct2.translator.score_batch(sources, targets):
        assert min(result.log_probs) > -1e-3, result.log_probs


def test_loops_never_emit_end_of_sentence(marian_dir, tmp_path):
    opening, repeated = LOOP
    loop_text = opening + repeated * 3  # 7 tokens: "Y", then "sigue y" three times
    for translator in (MarianTranslator(marian_dir, "es", max_length=7, keep_unfinished=True),
                       CT2Translator(marian_dir, "es", max_length=7, keep_unfinished=True, cache_dir=tmp_path)):
        assert translator.generate([CASES[-1][0]]) == [loop_text]


def test_never_ending_variant(tmp_path):
    never = write_tiny_marian(tmp_path / "never", design=NEVER_ENDING)
    failures = [None] * len(SOURCES)
    assert MarianTranslator(never, "es", max_length=16).generate(SOURCES) == failures
    assert CT2Translator(never, "es", max_length=16, cache_dir=tmp_path / "ct2").generate(SOURCES) == failures


def test_attending_to_padding_changes_the_output(marian_dir):
    import torch

    translator = MarianTranslator(marian_dir, "es")
    model, tokenizer = translator.model, translator.tokenizer
    encoded = tokenizer(["Thanks.", SOURCES[6]], return_tensors="pt", padding=True)
    assert encoded["attention_mask"][0].min() == 0  # the short source is padded
    for mask, expected in [(encoded["attention_mask"], [TRANSLATIONS["Thanks"], DEFAULT_TRANSLATION]),
                           (torch.ones_like(encoded["attention_mask"]), [PAD_LEAK_TRANSLATION, DEFAULT_TRANSLATION])]:
        with torch.no_grad():
            output = model.generate(input_ids=encoded["input_ids"], attention_mask=mask, max_new_tokens=16)
        assert tokenizer.batch_decode(output, skip_special_tokens=True) == expected
