"""Tokenizers for ROUGE, passed to ``rouge_score.rouge_scorer.RougeScorer(tokenizer=...)``.

rouge-score's default tokenizer lowercases and then deletes every character outside ``[a-z0-9]``, so
``está`` becomes ``est`` and ``Größe`` becomes the two tokens ``gr`` and ``e``: Spanish, French and German outputs
lose letters and gain spurious tokens. The ``unicode`` tokenizer (the default here) keeps every Unicode letter
and digit. ``compat`` is rouge-score's own default tokenizer, for comparing with numbers computed that way.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable

from rouge_score.tokenizers import DefaultTokenizer

from compbench.errors import ConfigError

# A token is a maximal run of Unicode letters, marks and digits (``\w`` without the underscore). Combining marks
# are included so that decomposed accents stay inside their word even if NFC cannot compose them.
_WORD_RE = re.compile(r"[^\W_](?:[^\W_]|[\u0300-\u036f])*")


class UnicodeTokenizer:
    """Lowercase, NFC-normalise, split into runs of Unicode word characters (letters and digits); no stemming."""

    name = "unicode"

    def tokenize(self, text: str) -> list[str]:
        return _WORD_RE.findall(unicodedata.normalize("NFC", text).lower())


class CompatTokenizer(DefaultTokenizer):
    """rouge-score's default tokenizer, exactly (no stemmer), under the name ``compat``."""

    name = "compat"

    def __init__(self) -> None:
        super().__init__(use_stemmer=False)


TOKENIZERS: dict[str, Callable[[], object]] = {"unicode": UnicodeTokenizer, "compat": CompatTokenizer}


def get_tokenizer(name: str) -> object:
    try:
        return TOKENIZERS[name]()
    except KeyError:
        raise ConfigError(f"unknown tokenizer {name!r}; choose one of {', '.join(TOKENIZERS)}") from None
