"""Metrics: ROUGE-1/2/3/L and weighted ROUGE per example, tokenizers, bootstrap intervals."""

from compbench.metrics.rouge import METRIC_DESCRIPTIONS, score_pairs, weighted_rouge
from compbench.metrics.tokenizers import TOKENIZERS, get_tokenizer

__all__ = ["METRIC_DESCRIPTIONS", "TOKENIZERS", "get_tokenizer", "score_pairs", "weighted_rouge"]
