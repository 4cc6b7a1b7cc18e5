"""The fast scorer equals rouge-score exactly (==, not approx), pair by pair, on thousands of random pairs.

rouge-score stays the reference: ``rouge_scorer.RougeScorer(...).score(reference, prediction)`` with the same
tokenizer (``unicode``: ours; ``compat``: rouge-score's own default tokenizer, no stemmer). The pairs are scored in
batches, so that a bug mixing up n-grams or tokens across the pairs of one call shows too.
"""

from __future__ import annotations

import re
import unicodedata

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from rouge_score import rouge_scorer

from compbench.metrics.rouge import ROUGE_TYPES, score_pairs, weighted_rouge
from compbench.metrics.tokenizers import UnicodeTokenizer

ASCII_WORDS = ["the", "cat", "sat", "on", "a", "mat", "42", "x1", "don't", "e-mail", "U.S.", "co_op", "Cat", "THE"]
UNICODE_WORDS = [
    "niño", "está", "Größe", "straße", "élève", "l'été", "ΟΔΟΣ", "σοφία", "İstanbul", "東京", "\u212aelvin",  # Kelvin sign
    "e\u0301te\u0301", "\u0301", "ﬁn", "½", "٣٤", "Ⅻ", "😀", "naïve", "ǅ", "ß", "ΣΑΣ",
]
SEPARATORS = [" ", "  ", "\n", "\t", ", ", ". ", "-", "_", "'", "\u00a0", "\u2028", "", "\u0301 "]

word = st.sampled_from(ASCII_WORDS + UNICODE_WORDS)
built = st.lists(st.tuples(word, st.sampled_from(SEPARATORS)), max_size=25).map(
    lambda parts: "".join(w + s for w, s in parts))
repeated = st.builds(lambda w, k: (w + " ") * k, word, st.integers(0, 30))
long_few_words = st.lists(st.sampled_from(["a", "b", "c"]), min_size=65, max_size=90).map(" ".join)  # > 64 tokens
text = st.one_of(built, built, built, repeated, long_few_words, st.text(max_size=60), st.just(""))
batches = st.lists(st.tuples(text, text), min_size=10, max_size=25)  # 200 batches: ~3,000 pairs

REFERENCE_SCORERS = {
    "unicode": rouge_scorer.RougeScorer(list(ROUGE_TYPES), tokenizer=UnicodeTokenizer()),
    "compat": rouge_scorer.RougeScorer(list(ROUGE_TYPES)),  # rouge-score's default tokenizer, use_stemmer=False
}


def assert_equal_to_rouge_score(pairs: list[tuple[str, str]], tokenizer: str) -> None:
    ours = score_pairs([p for p, _ in pairs], [r for _, r in pairs], tokenizer, workers=1)
    scorer = REFERENCE_SCORERS[tokenizer]
    for row, (prediction, reference) in zip(ours, pairs, strict=True):
        theirs = scorer.score(reference, prediction)
        expected = [theirs[key].fmeasure for key in ROUGE_TYPES]
        assert row[:4].tolist() == expected, (prediction, reference)
        assert row[4] == weighted_rouge(*expected[:3])


@settings(max_examples=200, deadline=None)
@given(batches)
def test_unicode_scores_equal_rouge_score(pairs):
    assert_equal_to_rouge_score(pairs, "unicode")


@settings(max_examples=200, deadline=None)
@given(batches)
def test_compat_scores_equal_rouge_score(pairs):
    assert_equal_to_rouge_score(pairs, "compat")


def test_edge_cases_equal_rouge_score():
    pairs = [("", ""), ("", "a"), ("a", ""), ("a a a a", "a"), ("a", "a a a a"), ("a b a b a b", "b a b a"),
             ("_", "_"), ("\u0301", "\u0301a"), ("x " * 200, "x " * 199 + "y"), ("ΟΔΟΣ", "οδος"), ("ΟΔΟΣ", "οδοσ")]
    for tokenizer in REFERENCE_SCORERS:
        assert_equal_to_rouge_score(pairs, tokenizer)
        assert_equal_to_rouge_score([(r, p) for p, r in pairs], tokenizer)


@settings(max_examples=300, deadline=None)
@given(text)
def test_unicode_tokenizer_matches_its_definition(value):
    """Runs of letters/digits and combining accents U+0300-U+036F, starting with a letter or digit, after NFC and
    lowercasing (the form docs/scoring.md gives; the tokenizer uses an equivalent, faster pattern)."""
    definition = re.findall(r"[^\W_](?:[^\W_]|[\u0300-\u036f])*", unicodedata.normalize("NFC", value).lower())
    assert UnicodeTokenizer().tokenize(value) == definition


def test_batch_is_the_same_as_one_pair_at_a_time():
    rng = np.random.default_rng(0)
    words = ASCII_WORDS + UNICODE_WORDS
    preds = [" ".join(rng.choice(words, rng.integers(0, 12))) for _ in range(300)]
    refs = [" ".join(rng.choice(words, rng.integers(0, 12))) for _ in range(300)]
    batch = score_pairs(preds, refs, "unicode", workers=1)
    single = np.concatenate([score_pairs([p], [r], "unicode", workers=1) for p, r in zip(preds, refs, strict=True)])
    assert np.array_equal(batch, single)
