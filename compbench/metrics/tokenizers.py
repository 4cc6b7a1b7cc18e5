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

from rouge_score import tokenize as rouge_tokenize  # the function behind DefaultTokenizer; no nltk import

from compbench.errors import ConfigError

# A token is a maximal run of Unicode letters and digits (``\w`` without the underscore) and combining accents
# (U+0300-U+036F) that starts with a letter or digit. Combining accents are included so that decomposed accents stay inside their word even if NFC
# cannot compose them. Underscores are turned into spaces first, so that ``\w`` below never matches one: this is
# ``[^\W_](?:[^\W_]|[\u0300-\u036f])*`` on the original text, written so that the regex engine runs ~1.6x faster.
_WORD_RE = re.compile(r"[^\W_][\w\u0300-\u036f]*")


class UnicodeTokenizer:
    """Lowercase, NFC-normalise, split into runs of Unicode word characters (letters and digits); no stemming."""

    name = "unicode"

    def tokenize(self, text: str) -> list[str]:
        return _WORD_RE.findall(unicodedata.normalize("NFC", text).lower().replace("_", " "))


class CompatTokenizer:
    """rouge-score's default tokenizer, exactly (``DefaultTokenizer(use_stemmer=False)``), under the name ``compat``.

    It calls the function that ``DefaultTokenizer.tokenize`` calls, without importing ``rouge_score.tokenizers``,
    whose Porter-stemmer import loads nltk (and through it scipy and scikit-learn): over a second per process.
    """

    name = "compat"

    def tokenize(self, text: str) -> list[str]:
        return rouge_tokenize.tokenize(text, None)


TOKENIZERS: dict[str, Callable[[], object]] = {"unicode": UnicodeTokenizer, "compat": CompatTokenizer}


def get_tokenizer(name: str) -> object:
    try:
        return TOKENIZERS[name]()
    except KeyError:
        raise ConfigError(f"unknown tokenizer {name!r}; choose one of {', '.join(TOKENIZERS)}") from None
