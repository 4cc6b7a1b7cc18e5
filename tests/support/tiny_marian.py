"""Marian (OpusMT-layout) checkpoints for tests and benchmarks: hand-set weights that translate by design, or
random weights of any size.

The layout is OpusMT's, which is what CTranslate2's converter expects: ``source.spm`` / ``target.spm``
sentencepiece models trained on our own text, a shared ``vocab.json`` with ``</s>`` = 0, ``<unk>`` = 1, the
pieces of both models, optional placeholder pieces, and ``<pad>`` last (the decoder start token, with a zero
embedding); embeddings shared by encoder, decoder and output projection; sinusoidal positions; post-LN
layers; swish activations.

``write_tiny_marian(directory)`` sets every weight by hand (nothing random, nothing trained) so that greedy
and beam search (tested: 1 and 4 beams), in transformers and in CTranslate2 (float32 and int8), translate:

* a source containing a word of ``TRANSLATIONS`` to that translation and ``</s>`` (the word is a source piece
  of its own, a sentencepiece user-defined symbol, so it also counts at the start of a longer word); with
  several such words, the earliest in ``TRANSLATIONS`` wins;
* a source containing a word of ``LOOPS`` to text that repeats forever and never emits ``</s>``;
* any other source to ``DEFAULT_TRANSLATION`` and ``</s>``;
* anything to ``PAD_LEAK_TRANSLATION`` if padding positions of the source are ever attended to.
``NEVER_ENDING`` (``MarianDesign(default=LOOP, translations={}, loops={})``) never emits ``</s>`` at all.
``MarianDesign.expected(text)`` states the translation in advance; the designed words are single target
pieces too, and each token of the designed texts is checked at build time to have one successor.

How (d_model 256, one decoder and one encoder layer; a designed target token ``t`` has an input slot
``i(t)`` and an output slot ``o(t)`` and the embedding ``EMBED * (e_o(t) + e_i(t))``; a trigger has one
slot; all other tokens share one slot; all slots lie in the first (sine) half of the dimensions, where the
position-0 encoding is uniform; weight rows hold few distinct values, so int8 quantization barely moves them):

* encoder: attention and feed-forward weights zero, so its output is the layer-normed embedding plus
  position; padding (zero embedding) stands out in the low-frequency cosine dimensions.
* decoder cross-attention, head 0: a constant query (a bias) and keys that are large only at trigger tokens
  (larger still at padding), so the head attends to the source's highest-priority trigger whatever the
  length or batch, and to all tokens alike when there is none. Its values write ``OPENING`` into the output
  slot of the source's opening (the first token of its translation) at every step.
* decoder feed-forward: one neuron per designed token ``t`` fires only when ``i(t)`` is the input and writes
  ``CHAIN_OUT`` into ``o(next(t))`` and takes it out of ``t``'s own slots: an order-1 chain that beats the
  opening's ``OPENING`` after the first step. One neuron per other slot takes that token's own slot out, so
  an undesigned token is followed by the opening again.
* output: the (tied) embedding, so a token's logit reads its two slots; tokens outside the design get the
  output bias ``OTHERS``, which makes them the runner-up at every step. Beam search's other hypotheses are
  therefore restarts of the designed output: they finish after it (one token longer at least) or, for a
  loop, never, so transformers and CTranslate2 (which stops after ``beam_size`` finished hypotheses) both
  return the designed output and stop soon after it ends.

The decoder start (``<pad>``, zero embedding, as in OpusMT and CTranslate2's ``start_from_zero_embedding``)
gets the opening from cross-attention alone. ``max_positions`` is 128 (OpusMT has 512): keep ``max_length``
below it for loops, which run to the limit.

:func:`forced_margins` measures, in transformers, the smallest gap between the designed token's logit and the
best other logit along designed outputs (61 logits at the narrowest step; tests assert more than 50); tests check
CTranslate2's int8 scores of the same outputs. ``write_random_marian`` keeps random weights of any shape
(OpusMT's for ``benchmarks/bench_build.py``, which times outputs forced to a fixed length).
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.generation_text import ENGLISH, SPANISH

DEFAULT_TRANSLATION = "Vale."
# source word -> translation, highest priority first
TRANSLATIONS = {
    "Hello": "Hola, buenos días.",
    "Thanks": "Muchas gracias.",
    "dinner": "Me encantaría cenar contigo.",
    "apples": "Las manzanas verdes cuestan dos euros.",
    "train": "El tren al aeropuerto sale cada veinte minutos.",
}
LOOP = ("Y", " sigue y")  # the opening, then the repeated part, forever
# source word -> a translation that never ends
LOOPS = {"chess": LOOP, "tyre": LOOP}
PAD_LEAK_TRANSLATION = "Relleno filtrado."

# Sizes of the designed weights (logit gaps scale with them; see forced_margins).
D_MODEL = 256
EMBED = 8.0
OPENING = 12.0  # what cross-attention writes, at every step, into the output slot of the source's opening
CHAIN_OUT = 40.0  # what a chain neuron writes into its successor's output slot (about, once normed)
OTHERS = 10.0  # output bias of every token outside the design


@dataclass(frozen=True)
class MarianDesign:
    """What the designed checkpoint translates (see the module docstring); a loop is ``(opening, repeated)``."""

    default: str | tuple[str, str] = DEFAULT_TRANSLATION
    translations: Mapping[str, str] = field(default_factory=lambda: dict(TRANSLATIONS))
    loops: Mapping[str, tuple[str, str]] = field(default_factory=lambda: dict(LOOPS))
    pad_leak: str = PAD_LEAK_TRANSLATION

    def expected(self, text: str) -> str | None:
        """The translation of ``text`` (``None``: it never ends), for trigger words written as whole words."""
        words = set(re.findall(r"\w+", text))
        for word in [*self.translations, *self.loops]:
            if word in words:
                return self.translations.get(word)
        return self.default if isinstance(self.default, str) else None

    def outputs(self) -> list[str | tuple[str, str]]:
        return [self.default, self.pad_leak, *self.translations.values(), *self.loops.values()]


MARIAN_DESIGN = MarianDesign()
NEVER_ENDING = MarianDesign(default=LOOP, translations={}, loops={})


def train_sentencepiece(sentences: Sequence[str], vocab_size: int, symbols: Sequence[str] = ()) -> bytes:
    """A unigram sentencepiece model trained on ``sentences`` (``vocab_size`` is an upper bound).

    ``symbols`` are pieces the model always keeps whole (sentencepiece's user-defined symbols).
    """
    import sentencepiece as spm

    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(sentences),
        model_writer=model,
        vocab_size=vocab_size,
        hard_vocab_limit=False,
        character_coverage=1.0,
        model_type="unigram",
        bos_id=-1,
        eos_id=-1,
        unk_id=0,
        minloglevel=2,
        num_threads=1,
        user_defined_symbols=list(symbols),
    )
    return model.getvalue()


def _pieces(model_bytes: bytes) -> list[str]:
    import sentencepiece as spm

    processor = spm.SentencePieceProcessor(model_proto=model_bytes)
    return [processor.id_to_piece(i) for i in range(processor.get_piece_size()) if not processor.is_unknown(i)]


def _write_vocabulary(directory: Path, source_text: Sequence[str], target_text: Sequence[str],
                      spm_vocab_size: int, vocab_size: int | None, max_positions: int,
                      source_symbols: Sequence[str] = (), target_symbols: Sequence[str] = ()):
    """Write the sentencepiece models, ``vocab.json`` and the tokenizer files; return the tokenizer."""
    from transformers import MarianTokenizer

    directory.mkdir(parents=True, exist_ok=True)
    source_spm = train_sentencepiece(source_text, spm_vocab_size, source_symbols)
    target_spm = train_sentencepiece(target_text, spm_vocab_size, target_symbols)
    (directory / "source.spm").write_bytes(source_spm)
    (directory / "target.spm").write_bytes(target_spm)
    tokens = ["</s>", "<unk>"]
    for piece in _pieces(source_spm) + _pieces(target_spm):
        if piece not in tokens:
            tokens.append(piece)
    if vocab_size is not None:
        if vocab_size < len(tokens) + 1:
            raise ValueError(f"vocab_size {vocab_size} is smaller than the {len(tokens) + 1} real pieces")
        tokens += [f"<placeholder_{i}>" for i in range(vocab_size - 1 - len(tokens))]
    tokens.append("<pad>")
    (directory / "vocab.json").write_text(json.dumps({t: i for i, t in enumerate(tokens)}, ensure_ascii=False),
                                          encoding="utf-8")
    tokenizer = MarianTokenizer(
        vocab=str(directory / "vocab.json"),
        source_spm=str(directory / "source.spm"),
        target_spm=str(directory / "target.spm"),
        source_lang="en",
        target_lang="es",
        model_max_length=max_positions,
    )
    tokenizer.save_pretrained(directory)
    return tokenizer


def _config(vocab: int, pad_id: int, d_model: int, layers: int, heads: int, ffn_dim: int, max_positions: int,
            init_std: float = 0.02):
    from transformers import MarianConfig

    return MarianConfig(
        vocab_size=vocab, decoder_vocab_size=vocab, d_model=d_model, encoder_layers=layers, decoder_layers=layers,
        encoder_attention_heads=heads, decoder_attention_heads=heads, encoder_ffn_dim=ffn_dim,
        decoder_ffn_dim=ffn_dim, max_position_embeddings=max_positions, activation_function="swish",
        scale_embedding=True, share_encoder_decoder_embeddings=True, tie_word_embeddings=True,
        pad_token_id=pad_id, eos_token_id=0, decoder_start_token_id=pad_id, forced_eos_token_id=0,
        init_std=init_std,
    )


def _save(model, directory: Path, pad_id: int, max_positions: int) -> None:
    from transformers import GenerationConfig

    model.generation_config = GenerationConfig(
        bad_words_ids=[[pad_id]], decoder_start_token_id=pad_id, eos_token_id=0, forced_eos_token_id=0,
        pad_token_id=pad_id, max_length=max_positions, num_beams=4,
    )
    model.save_pretrained(directory)


def write_random_marian(
    directory: str | Path,
    *,
    vocab_size: int | None = None,
    spm_vocab_size: int = 120,
    d_model: int = 32,
    layers: int = 2,
    heads: int = 4,
    ffn_dim: int = 64,
    max_positions: int = 128,
    seed: int = 0,
) -> Path:
    """A checkpoint of the given shape with random weights (what it generates is not known in advance).

    ``vocab_size`` pads the vocabulary with placeholder pieces (``<pad>`` stays last). For timing only.
    """
    import torch
    from transformers import MarianMTModel

    directory = Path(directory)
    tokenizer = _write_vocabulary(directory, ENGLISH, SPANISH, spm_vocab_size, vocab_size, max_positions)
    pad_id = tokenizer.pad_token_id
    torch.manual_seed(seed)
    model = MarianMTModel(_config(len(tokenizer), pad_id, d_model, layers, heads, ffn_dim, max_positions))
    _save(model, directory, pad_id, max_positions)
    return directory


def _loop_text(loop: tuple[str, str], times: int = 3) -> str:
    opening, repeated = loop
    return opening + repeated * times


@dataclass
class _Plan:
    successors: dict[int, int]  # target token -> next token (</s> ends a translation)
    default_first: int
    triggers: list[tuple[int, int]]  # (source trigger token, first token of its output), highest priority first
    pad_first: int  # first token of the pad-leak translation


def _target_ids(tokenizer, text: str) -> list[int]:
    ids = tokenizer(text_target=text)["input_ids"]
    if tokenizer.decode(ids, skip_special_tokens=True) != text:
        raise AssertionError(f"{text!r} does not survive the target tokenizer: {tokenizer.decode(ids)!r}")
    return ids  # ends with </s>


def _plan(tokenizer, design: MarianDesign) -> _Plan:
    successors: dict[int, int] = {}
    first: dict[object, int] = {}

    def add(tokens: list[int], what: str) -> None:
        for current, following in zip(tokens, tokens[1:], strict=False):
            if successors.setdefault(current, following) != following:
                raise AssertionError(f"token {tokenizer.convert_ids_to_tokens(current)!r} in {what!r} would need "
                                     "two successors; reword a design text")

    for output in design.outputs():
        if isinstance(output, str):
            tokens = _target_ids(tokenizer, output)
        else:
            opening = _target_ids(tokenizer, output[0])[:-1]
            repeated = _target_ids(tokenizer, _loop_text(output, 2))[len(opening):-1]
            cycle = repeated[: len(repeated) // 2]
            if repeated != cycle * 2 or len(set(opening + cycle)) != len(opening + cycle):
                raise AssertionError(f"loop {output!r} does not tokenize as an opening and a repeated part")
            tokens = opening + cycle + cycle[:1]
        add(tokens, str(output))
        first[output] = tokens[0]
    triggers = []
    for word, output in [*design.translations.items(), *design.loops.items()]:
        pieces = tokenizer(word)["input_ids"][:-1]  # drop </s>
        if len(pieces) != 1:
            raise AssertionError(f"trigger {word!r} should be one source piece, got "
                                 f"{tokenizer.convert_ids_to_tokens(pieces)}")
        triggers.append((pieces[0], first[output]))
    trigger_tokens = {token for token, _ in triggers}
    if trigger_tokens & (set(successors) | set(successors.values())):
        raise AssertionError("a trigger word is also a piece of a designed translation")
    return _Plan(successors, first[design.default], triggers, first[design.pad_leak])


def write_tiny_marian(
    directory: str | Path,
    *,
    design: MarianDesign = MARIAN_DESIGN,
    spm_vocab_size: int = 160,
    max_positions: int = 128,
) -> Path:
    """Write the designed checkpoint (see the module docstring) into ``directory`` and return it."""
    import torch
    from transformers import MarianMTModel

    directory = Path(directory)
    designed_target = [o if isinstance(o, str) else _loop_text(o) for o in design.outputs()]
    # Every designed word is a piece of its own (as common words are in OpusMT's vocabularies).
    target_symbols = sorted({f"\u2581{word}" for text in designed_target for word in re.findall(r"\w+", text)})
    source_symbols = [f"\u2581{word}" for word in [*design.translations, *design.loops]]
    tokenizer = _write_vocabulary(directory, ENGLISH, list(SPANISH) + designed_target, spm_vocab_size, None,
                                  max_positions, source_symbols, target_symbols)
    plan = _plan(tokenizer, design)
    pad_id, vocab = tokenizer.pad_token_id, len(tokenizer)

    chain_tokens = sorted(set(plan.successors) | set(plan.successors.values()))
    half = D_MODEL // 2
    other_slot = 2 * len(chain_tokens) + len(plan.triggers)
    if other_slot >= half:
        raise AssertionError(f"{other_slot + 1} slots do not fit in the first {half} dimensions; raise D_MODEL")
    out_slot = {t: 2 * k for k, t in enumerate(chain_tokens)}
    in_slot = {t: 2 * k + 1 for k, t in enumerate(chain_tokens)}
    trigger_slot = {t: 2 * len(chain_tokens) + k for k, (t, _) in enumerate(plan.triggers)}
    low_cosines = list(range(D_MODEL - 16, D_MODEL))  # ~1 at every position < 512; no token's slot is there

    heads, head_dim, ffn = 4, D_MODEL // 4, 4 * D_MODEL
    model = MarianMTModel(_config(vocab, pad_id, D_MODEL, 1, heads, ffn, max_positions)).eval()
    with torch.no_grad():
        for name, param in model.named_parameters():
            if "embed_positions" in name:
                continue
            norm_weight = "layer_norm" in name and name.endswith("weight")
            param.copy_(torch.ones_like(param) if norm_weight else torch.zeros_like(param))
        shared = model.get_input_embeddings().weight
        shared[:, other_slot] = EMBED
        shared[pad_id] = 0.0
        for token in chain_tokens:
            shared[token] = 0.0
            shared[token, out_slot[token]] = shared[token, in_slot[token]] = EMBED
        for token, slot in trigger_slot.items():
            shared[token] = 0.0
            shared[token, slot] = EMBED

        layer = model.model.decoder.layers[0]
        cross = layer.encoder_attn
        normed = D_MODEL**0.5  # a one-slot token's slot after the encoder's layer norm (about)
        cross.q_proj.bias[0] = 1.0  # head 0's query is constant: where it attends depends on the keys only
        # Value dimensions of head 0, each written into one opening's output slot.
        pad_dim, default_dim = 1 + len(plan.triggers), 2 + len(plan.triggers)
        openings = {pad_dim: plan.pad_first, default_dim: plan.default_first}
        # Padding: key above every trigger's; value = the low cosines (about 1 at padding, 0.1 at a token) - 0.2.
        cross.k_proj.weight[0, low_cosines] = 80.0 * head_dim**0.5 / len(low_cosines)
        cross.v_proj.weight[pad_dim, low_cosines] = 1.0 / len(low_cosines)
        cross.v_proj.bias[pad_dim] = -0.2
        # Default: every source token carries it except triggers and padding, so it counts only when the head
        # attends to all tokens alike (no trigger).
        cross.v_proj.bias[default_dim] = 1.0
        cross.v_proj.weight[default_dim, low_cosines] = -1.0 / len(low_cosines)
        for k, (token, first_out) in enumerate(plan.triggers):
            score = 25.0 + 5.0 * (len(plan.triggers) - k)  # the attention logit at the trigger: its priority
            cross.k_proj.weight[0, trigger_slot[token]] = score * head_dim**0.5 / normed
            cross.v_proj.weight[1 + k, trigger_slot[token]] = 1.0 / normed
            cross.v_proj.weight[default_dim, trigger_slot[token]] = -1.0 / normed
            openings[1 + k] = first_out
        for value_dim, first_out in openings.items():
            cross.out_proj.weight[out_slot[first_out], value_dim] = OPENING

        fc1, fc2 = layer.fc1, layer.fc2
        for n, (token, following) in enumerate(sorted(plan.successors.items())):
            fc1.weight[n, in_slot[token]] = 2.0  # about 22 - 8 when the token is the decoder's input, else -8
            fc1.bias[n] = -8.0
            fc2.weight[out_slot[following], n] += CHAIN_OUT / 10.0
            fc2.weight[out_slot[token], n] -= CHAIN_OUT / 10.0
            fc2.weight[in_slot[token], n] -= CHAIN_OUT / 10.0
        # Tokens outside the design (and triggers) are the runner-up at every step (a small output bias), and
        # what follows one is the source's opening again: beam search's other hypotheses are restarts of the
        # designed output, which finish after it or (for a loop) never.
        for n, slot in enumerate([other_slot, *trigger_slot.values()], start=len(plan.successors)):
            fc1.weight[n, slot] = 2.0  # about 32 - 8 when that token is the decoder's input, else -8
            fc1.bias[n] = -8.0
            fc2.weight[slot, n] = -CHAIN_OUT / 10.0
        others = [t for t in range(vocab) if t != pad_id and t not in out_slot and t not in trigger_slot]
        model.final_logits_bias[0, others] = OTHERS
    _save(model, directory, pad_id, max_positions)
    return directory


def forced_margins(model, tokenizer, sources: Sequence[str], targets: Sequence[str]) -> list[float]:
    """Per source: the smallest (designed token's logit - best other logit) along ``target`` + ``</s>``.

    Teacher forcing in transformers; ``<pad>`` (never generated) is left out of "other".
    """
    import torch

    margins = []
    for source, target in zip(sources, targets, strict=True):
        encoded = tokenizer([source], text_target=[target], return_tensors="pt")
        labels = encoded.pop("labels")
        with torch.no_grad():
            logits = model(**encoded, labels=labels).logits[0]
        logits[:, tokenizer.pad_token_id] = float("-inf")
        steps = torch.arange(labels.shape[1])
        chosen = logits[steps, labels[0]]
        logits[steps, labels[0]] = float("-inf")
        margins.append(float((chosen - logits.max(dim=-1).values).min()))
    return margins
