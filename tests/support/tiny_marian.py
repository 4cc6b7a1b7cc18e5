"""Write a Marian (OpusMT-layout) checkpoint with random weights and a tokenizer trained on our own text.

The layout is OpusMT's: ``source.spm`` / ``target.spm`` sentencepiece models, a shared ``vocab.json`` with
``</s>`` = 0, ``<unk>`` = 1, the pieces of both models, placeholder pieces up to the requested vocabulary
size, and ``<pad>`` last (also the decoder start token), which is what CTranslate2's converter expects.
Small by default (2+2 layers, d_model 32) for tests; ``benchmarks/bench_build.py`` asks for OpusMT sizes.
"""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from pathlib import Path

from tests.support.generation_text import ENGLISH, SPANISH


def train_sentencepiece(sentences: Sequence[str], vocab_size: int) -> bytes:
    """A unigram sentencepiece model trained on ``sentences`` (``vocab_size`` is an upper bound)."""
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
    )
    return model.getvalue()


def _pieces(model_bytes: bytes) -> list[str]:
    import sentencepiece as spm

    processor = spm.SentencePieceProcessor(model_proto=model_bytes)
    return [processor.id_to_piece(i) for i in range(processor.get_piece_size()) if not processor.is_unknown(i)]


def write_marian_checkpoint(
    directory: str | Path,
    *,
    source_text: Sequence[str] = ENGLISH,
    target_text: Sequence[str] = SPANISH,
    vocab_size: int | None = None,
    spm_vocab_size: int = 120,
    d_model: int = 32,
    layers: int = 2,
    heads: int = 4,
    ffn_dim: int = 64,
    max_positions: int = 128,
    eos_bias: float = 0.0,
    init_std: float = 0.02,
    seed: int = 0,
) -> Path:
    """Write the checkpoint into ``directory`` and return it.

    ``vocab_size`` pads the vocabulary with placeholder pieces (``<pad>`` stays last); ``eos_bias`` is added
    to the ``</s>`` logit through Marian's ``final_logits_bias`` so that random weights stop sooner.
    """
    import torch
    from transformers import GenerationConfig, MarianConfig, MarianMTModel, MarianTokenizer

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    source_spm = train_sentencepiece(source_text, spm_vocab_size)
    target_spm = train_sentencepiece(target_text, spm_vocab_size)
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
    vocab = {token: index for index, token in enumerate(tokens)}
    (directory / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
    pad_id = len(tokens) - 1

    config = MarianConfig(
        vocab_size=len(tokens),
        decoder_vocab_size=len(tokens),
        d_model=d_model,
        encoder_layers=layers,
        decoder_layers=layers,
        encoder_attention_heads=heads,
        decoder_attention_heads=heads,
        encoder_ffn_dim=ffn_dim,
        decoder_ffn_dim=ffn_dim,
        max_position_embeddings=max_positions,
        activation_function="swish",
        scale_embedding=True,
        share_encoder_decoder_embeddings=True,
        tie_word_embeddings=True,
        pad_token_id=pad_id,
        eos_token_id=0,
        decoder_start_token_id=pad_id,
        forced_eos_token_id=0,
        init_std=init_std,
    )
    torch.manual_seed(seed)
    model = MarianMTModel(config)
    if eos_bias:
        with torch.no_grad():
            model.final_logits_bias[0, 0] = eos_bias
    model.generation_config = GenerationConfig(
        bad_words_ids=[[pad_id]],
        decoder_start_token_id=pad_id,
        eos_token_id=0,
        forced_eos_token_id=0,
        pad_token_id=pad_id,
        max_length=max_positions,
        num_beams=4,
    )
    model.save_pretrained(directory)
    tokenizer = MarianTokenizer(
        vocab=str(directory / "vocab.json"),
        source_spm=str(directory / "source.spm"),
        target_spm=str(directory / "target.spm"),
        source_lang="en",
        target_lang="es",
        model_max_length=max_positions,
    )
    tokenizer.save_pretrained(directory)
    return directory
