"""Known values for the ROUGE metrics, both tokenizers, and the bootstrap."""

import numpy as np
import pytest
from rouge_score import rouge_scorer

from compbench.errors import ConfigError
from compbench.metrics.bootstrap import (
    family_bootstrap,
    paired_p_value,
    percentile_interval,
    resample_indices,
    subtask_bootstrap,
)
from compbench.metrics.rouge import score_pairs, weighted_rouge
from compbench.metrics.tokenizers import UnicodeTokenizer, get_tokenizer

KEYS = ("rouge1", "rouge2", "rouge3", "rougeL")


def one(prediction, reference, tokenizer="unicode"):
    return dict(zip((*KEYS, "weighted_rouge"), score_pairs([prediction], [reference], tokenizer)[0], strict=True))


def test_compat_on_accented_text_equals_rouge_score():
    pairs = [("El niño está aquí", "el niño estaba aquí"), ("Die Größe der Straße", "die Straße"),
             ("L'élève a réussi l'examen", "l'élève a raté l'examen")]
    scorer = rouge_scorer.RougeScorer(list(KEYS))
    got = score_pairs([p for p, _ in pairs], [r for _, r in pairs], "compat")
    for row, (p, r) in zip(got, pairs, strict=True):
        own = scorer.score(r, p)
        assert list(row[:4]) == [own[k].fmeasure for k in KEYS]


def test_unicode_tokenizer_keeps_letters():
    tok = UnicodeTokenizer()
    assert tok.tokenize("L'été est TRÈS chaud") == ["l", "été", "est", "très", "chaud"]
    assert tok.tokenize("Die Größe, 42 Straßen_namen") == ["die", "größe", "42", "straßen", "namen"]
    # Decomposed accents (e + U+0301) tokenize like the composed letter.
    assert tok.tokenize("esta\u0301") == tok.tokenize("está") == ["está"]
    # rouge-score's default drops them: the reason the default differs.
    assert get_tokenizer("compat").tokenize("está Größe") == ["est", "gr", "e"]


def test_spanish_by_hand():
    s = one("El niño está aquí", "el niño estaba aquí")
    # tokens: [el niño está aquí] vs [el niño estaba aquí]
    assert s["rouge1"] == pytest.approx(3 / 4)
    assert s["rouge2"] == pytest.approx(1 / 3)
    assert s["rouge3"] == pytest.approx(0.0)
    assert s["rougeL"] == pytest.approx(3 / 4)
    assert s["weighted_rouge"] == pytest.approx(0.75 / 6 + (1 / 3) / 3)
    # The ASCII tokenizer turns "está"/"estaba" into "est"/"estaba" and "niño" into "ni", "o": a different score.
    assert one("El niño está aquí", "el niño estaba aquí", "compat")["rouge1"] == pytest.approx(4 / 5)


def test_french_by_hand():
    s = one("L'élève a réussi l'examen", "l'élève a raté l'examen")
    assert s["rouge1"] == pytest.approx(5 / 6)
    assert s["rouge2"] == pytest.approx(3 / 5)
    assert s["rouge3"] == pytest.approx(1 / 4)
    assert s["rougeL"] == pytest.approx(5 / 6)
    assert s["weighted_rouge"] == pytest.approx((5 / 6) / 6 + 0.6 / 3 + 0.25 / 2)


def test_german_by_hand():
    s = one("Die Größe der Straße ist groß", "Die Straße ist groß")
    # P=4/6, R=4/4 for unigrams; bigrams 2 of 5 vs 3; trigrams 1 of 4 vs 2; LCS 4.
    assert s["rouge1"] == pytest.approx(0.8)
    assert s["rouge2"] == pytest.approx(0.5)
    assert s["rouge3"] == pytest.approx(1 / 3)
    assert s["rougeL"] == pytest.approx(0.8)
    assert s["weighted_rouge"] == pytest.approx(0.8 / 6 + 0.5 / 3 + (1 / 3) / 2)


def test_weighted_rouge_formula():
    assert weighted_rouge(0.6, 0.3, 0.1) == pytest.approx(0.1 + 0.1 + 0.05)
    assert weighted_rouge(1.0, 1.0, 1.0) == pytest.approx(1.0)
    assert one("same words here", "same words here")["weighted_rouge"] == pytest.approx(1.0)
    assert one("", "anything at all")["weighted_rouge"] == 0.0


def test_parallel_scoring_equals_serial(monkeypatch):
    from compbench.metrics import rouge

    monkeypatch.setattr(rouge, "PARALLEL_THRESHOLD", 100)  # the chunked path, on a few pairs
    rng = np.random.default_rng(3)
    words = ["casa", "perro", "été", "größe", "niño", "the", "cat", "sat", "on", "mat"]
    preds = [" ".join(rng.choice(words, size=rng.integers(1, 12))) for _ in range(2500)]
    refs = [" ".join(rng.choice(words, size=rng.integers(1, 12))) for _ in range(2500)]
    serial = score_pairs(preds, refs, "unicode", workers=1)
    parallel = score_pairs(preds, refs, "unicode", workers=2)
    assert np.array_equal(serial, parallel)


def test_unknown_tokenizer_is_a_config_error():
    with pytest.raises(ConfigError, match="unknown tokenizer 'ascii'"):
        score_pairs(["a"], ["a"], "ascii")


def test_bootstrap_is_seeded_and_per_subtask():
    values = np.linspace(0, 1, 50)
    a = subtask_bootstrap(values, 7, "sum+tr-es", 500)
    b = subtask_bootstrap(values, 7, "sum+tr-es", 500)
    c = subtask_bootstrap(values, 8, "sum+tr-es", 500)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)
    assert np.array_equal(resample_indices(7, "sum+tr-es", 50, 10), resample_indices(7, "sum+tr-es", 50, 10))
    assert not np.array_equal(resample_indices(7, "sum+tr-es", 50, 10), resample_indices(7, "sum+tr-fr", 50, 10))
    low, high = percentile_interval(a)
    assert low < values.mean() < high


def test_bootstrap_interval_matches_normal_approximation():
    rng = np.random.default_rng(0)
    values = rng.random(2000)
    low, high = percentile_interval(subtask_bootstrap(values, 0, "sum", 2000))
    half = 1.96 * values.std(ddof=1) / np.sqrt(len(values))
    assert (high - low) / 2 == pytest.approx(half, rel=0.1)


def test_family_bootstrap_averages_resamplewise():
    a, b = np.array([1.0, 2.0, 3.0]), np.array([3.0, 4.0, 5.0])
    assert np.array_equal(family_bootstrap({"x": a, "y": b}), np.array([2.0, 3.0, 4.0]))


def test_paired_p_value():
    assert paired_p_value(np.full(999, 0.5)) == pytest.approx(2 / 1000)
    assert paired_p_value(np.concatenate([np.full(500, -1.0), np.full(500, 1.0)])) == 1.0


def test_bootstrap_means_equal_direct_gather():
    from compbench.metrics.bootstrap import bootstrap_means

    values = np.random.default_rng(1).random((40, 3))
    idx = resample_indices(0, "reply", 40, 25)
    direct = np.stack([values[:, j][idx].mean(axis=1) for j in range(3)], axis=1)
    assert np.allclose(bootstrap_means(values, idx), direct, rtol=0, atol=1e-12)
    assert np.allclose(bootstrap_means(values[:, 0], idx), direct[:, 0], rtol=0, atol=1e-12)
