"""A tiny GPT-NeoX tone model whose weights are set by hand, so that what it writes is known in advance.

``write_tiny_tone_model(directory)`` writes ``directory/base`` (GPT-NeoX, one layer, a byte-level BPE tokenizer
trained on our own text) and ``directory/adapter`` (a real PEFT LoRA), the layout ``make_tone_rewriter``
accepts, and loaded by the real code path (``AutoModelForCausalLM`` + ``PeftModel`` + ``merge_and_unload``).
Nothing is trained and nothing is random. Greedy decoding after a tone prompt writes:

* ``ANSWERS[word]`` then ``\\n\\n### END`` when the input contains ``word`` as a token of its own (written
  after a space, e.g. ``"send me the file"``); with several such words, the earliest in ``ANSWERS`` wins;
* ``DEFAULT_ANSWER`` then ``\\n\\n### END`` when it contains none;
* for ``LOOPS[word]``, text that repeats forever and never reaches ``### END`` (a generation failure);
* ``PAD_LEAK_ANSWER`` if padding is ever attended to (the pad token is the highest-priority trigger), so a
  batch whose attention mask is lost gives a wrong output, not a silently right one.

How (hidden size >= the number of designed tokens; every designed token ``t`` has a one-hot slot):

* **Chain** (the direct path): ``embed_in[t] = EMBED * e_slot(t)`` and ``embed_out[next(t), slot(t)] =
  CHAIN``, so the next token is a function of the current one. Every designed text is checked at build time
  to give each token a single successor (e.g. ``.`` may end several answers, all continuing with ``\\n\\n``).
  The prompt's last token (``\\n``) continues with the default answer's first token, but with the weaker
  weight ``START`` < ``TRIGGER`` < ``CHAIN``.
* **Trigger** (attention head 0): a constant query (a bias in the head's last, non-rotary dimension) and keys
  that are large only at trigger tokens, so the head attends to the input's trigger token whatever the
  length, padding or position; its value writes ``TRIGGER_VALUE`` into the trigger's own dimension, which
  ``embed_out`` reads as the trigger's first answer token with weight ``TRIGGER``. After the prompt that beats
  the default start; on later tokens the chain (``CHAIN``) beats it. Trigger priorities are key sizes.
* **END switch** (the LoRA): without the adapter, an answer's last token continues with ``<|endoftext|>``,
  so the base model alone never writes ``### END`` (every output is a failure). The adapter (rank 8 on
  ``dense_h_to_4h`` and ``dense_4h_to_h``) adds one MLP neuron per last token that writes into a dedicated
  dimension read by ``embed_out`` as ``\\n\\n`` (and against ``<|endoftext|>``). ``writes_end=False`` saves the
  adapter with zero factors (what PEFT starts from): the model that never writes ``### END`` for any input.

:func:`greedy_margins` measures, on the merged model, the smallest gap between the designed next token's
logit and the best other logit along every designed output (64 logits at the narrowest step, whatever the
tone's prompt; tests assert more than 50).
``pickle_adapter`` turns an adapter directory into the shape the real llm-toys adapter ships in
(``adapter_model.bin`` only).
"""

from __future__ import annotations

import json
import re
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from compbench.generation.tone import END_MARKER, tone_prompt

EOS = "<|endoftext|>"
WORDS = r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+"

DEFAULT_ANSWER = "Noted with thanks."
# trigger word -> answer, highest priority first
ANSWERS = {
    "file": "Could you kindly share the document?",
    "monday": "Our meeting moves to Monday.",
    "apples": "Green apples cost two euros per kilo.",
    "tyre": "Your tyre is flat.",
}
# trigger word -> (opening, repeated part): the model writes the opening, then the repeated part forever
LOOPS = {
    "harbour": ("We keep walking", " on and"),
    "cat": ("Meow", " meow"),
}
PAD_LEAK_ANSWER = "Padding leaked."
END_TEXT = f"\n\n{END_MARKER}"

# Sizes of the designed weights (logit gaps scale with them; see greedy_margins).
EMBED = 10.0  # embedding of a designed token, in its slot
CHAIN = 30.0  # embed_out weight from a token's slot to its successor
START = 10.0  # embed_out weight from the prompt's last token to the default answer
TRIGGER = 20.0  # embed_out weight from a trigger's dimension to its answer's first token
TRIGGER_VALUE = 10.0  # what the trigger head writes into the trigger's dimension
END_SWITCH = 20.0  # embed_out weight from the adapter's dimension to "\n\n" (and minus that to EOS)
LORA_RANK = 8

# Inputs whose prompts train the tokenizer (with the designed texts): the tests' own sentences.
TOKENIZER_INPUTS = [
    "hey send me the file",
    "the meeting is moved to monday",
    "see you at the harbour",
    "Thanks a lot, see you tomorrow.",
    "I would love to join you for dinner on Friday.",
]


@dataclass(frozen=True)
class ToneDesign:
    """What the tiny tone model writes (see the module docstring); a loop is ``(opening, repeated)``."""

    default: str = DEFAULT_ANSWER
    answers: Mapping[str, str] = field(default_factory=lambda: dict(ANSWERS))
    loops: Mapping[str, tuple[str, str]] = field(default_factory=lambda: dict(LOOPS))
    pad_leak: str = PAD_LEAK_ANSWER

    def expected(self, text: str) -> str | None:
        """What the model writes for ``text`` before ``### END`` (``None``: it never gets there).

        A trigger counts where it follows a space and no letter follows it (then it is a BPE token of its own).
        """
        words = set(re.findall(r"(?<= )[^\W\d_]+", text))
        for word in [*self.answers, *self.loops]:  # priority order: answers first, then loops
            if word in words:
                return self.answers.get(word)
        return self.default


TONE_DESIGN = ToneDesign()


def write_tiny_tokenizer(directory: Path, texts: Sequence[str], vocab_size: int = 600) -> None:
    """Train a byte-level BPE tokenizer on ``texts`` and save it as a transformers fast tokenizer.

    The split before byte-level BPE is GPT-2's, except that a run of whitespace stays one piece (so
    ``"\\n\\n"`` can be one token, as in GPT-NeoX's own vocabulary, distinct from the prompt's final ``"\\n"``).
    """
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(WORDS), behavior="isolated"),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ])
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=[EOS],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(texts, trainer=trainer)
    wrapped = PreTrainedTokenizerFast(tokenizer_object=tokenizer, eos_token=EOS, bos_token=EOS, unk_token=EOS,
                                      model_input_names=["input_ids", "attention_mask"])  # as GPT-NeoX's
    wrapped.save_pretrained(directory)


def _tokenizer_texts(design: ToneDesign) -> list[str]:
    prompts = [tone_prompt(tone, text) for tone in ("professional", "casual", "witty", "paraphrase")
               for text in TOKENIZER_INPUTS]
    designed = [answer + END_TEXT for answer in [design.default, design.pad_leak, *design.answers.values()]]
    designed += [opening + repeated * 3 for opening, repeated in design.loops.values()]
    triggers = [f"the {word}" for word in [*design.answers, *design.loops]]
    # Repetition makes every designed word one BPE token, which keeps the chains short and free of clashes.
    return prompts + (designed + triggers) * 20


@dataclass
class _Plan:
    """Token-level plan: each designed token's successor, the triggers and where each answer starts."""

    after_prompt: int  # the prompt's last token
    default_first: int
    successors: dict[int, int]  # token -> next token (the base model's chain)
    end_first: int  # "\n\n", which (with the adapter) follows every answer's last token
    last_tokens: set[int]  # answers' last tokens: EOS in the base, "\n\n" with the adapter
    triggers: list[tuple[int, int]]  # (trigger token, first token of its text), highest priority first


def _single_token(tokenizer, text: str) -> int:
    ids = tokenizer(text)["input_ids"]
    if len(ids) != 1:
        raise AssertionError(f"{text!r} should be one token of the tiny tokenizer, got {ids}")
    return ids[0]


def _add_chain(successors: dict[int, int], tokens: Sequence[int], what: str) -> None:
    for current, following in zip(tokens, tokens[1:], strict=False):
        if successors.setdefault(current, following) != following:
            raise AssertionError(f"token {current} in {what!r} would need two successors; reword a design text")


def _plan(tokenizer, design: ToneDesign) -> _Plan:
    eos = tokenizer.eos_token_id
    prompt_ends = {tokenizer(tone_prompt("professional", text))["input_ids"][-1] for text in TOKENIZER_INPUTS}
    if len(prompt_ends) != 1:
        raise AssertionError(f"prompts end with different tokens {prompt_ends}")
    (after_prompt,) = prompt_ends
    end_tokens = tokenizer(END_TEXT)["input_ids"]
    if len(end_tokens) != 3 or after_prompt in end_tokens:
        raise AssertionError(f"'\\n\\n### END' should be three tokens other than the prompt's last: {end_tokens}")
    successors: dict[int, int] = {}
    _add_chain(successors, [*end_tokens, eos], END_TEXT)
    last_tokens: set[int] = set()
    first_tokens: dict[str, int] = {}
    for answer in [design.default, design.pad_leak, *design.answers.values()]:
        tokens = tokenizer(answer)["input_ids"]
        _add_chain(successors, tokens, answer)
        last_tokens.add(tokens[-1])
        first_tokens[answer] = tokens[0]
    for opening, repeated in design.loops.values():
        head, cycle = tokenizer(opening)["input_ids"], tokenizer(repeated)["input_ids"]
        if len(set(head + cycle)) != len(head + cycle):
            raise AssertionError(f"loop {opening!r} + {repeated!r} repeats a token")
        _add_chain(successors, head + cycle + cycle[:1], opening + repeated)
        first_tokens[opening] = head[0]
    clash = last_tokens & set(successors)
    if clash:
        raise AssertionError(f"answers' last tokens {clash} also continue elsewhere")
    for token in last_tokens:
        successors[token] = eos  # the base model's ending; the adapter changes it to "\n\n"
    triggers = [(_single_token(tokenizer, f" {word}"), first_tokens[answer])
                for word, answer in design.answers.items()]
    triggers += [(_single_token(tokenizer, f" {word}"), first_tokens[opening])
                 for word, (opening, _) in design.loops.items()]
    triggers.insert(0, (eos, first_tokens[design.pad_leak]))  # padding (= EOS) beats every trigger
    return _Plan(after_prompt, first_tokens[design.default], successors, end_tokens[0], last_tokens, triggers)


def write_tiny_tone_model(directory: str | Path, *, design: ToneDesign = TONE_DESIGN, writes_end: bool = True) -> Path:
    """Write ``directory/base`` and ``directory/adapter`` (see the module docstring) and return ``directory``."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoTokenizer, GPTNeoXConfig, GPTNeoXForCausalLM

    directory = Path(directory)
    base_dir, adapter_dir = directory / "base", directory / "adapter"
    write_tiny_tokenizer(base_dir, _tokenizer_texts(design))
    tokenizer = AutoTokenizer.from_pretrained(base_dir)
    plan = _plan(tokenizer, design)

    designed = sorted({plan.after_prompt, *plan.successors, *plan.successors.values(),
                       *(token for token, _ in plan.triggers)})
    slot = {token: index for index, token in enumerate(designed)}
    trigger_dim = {token: len(designed) + k for k, (token, _) in enumerate(plan.triggers)}
    switch_dim = len(designed) + len(plan.triggers)
    hidden = 128 * -(-(switch_dim + 1) // 128)
    heads = 4
    head_size = hidden // heads
    config = GPTNeoXConfig(
        vocab_size=len(tokenizer), hidden_size=hidden, num_hidden_layers=1, num_attention_heads=heads,
        intermediate_size=4 * hidden, max_position_embeddings=512, rotary_pct=0.25, hidden_act="gelu",
        use_parallel_residual=True, tie_word_embeddings=False,
        bos_token_id=tokenizer.eos_token_id, eos_token_id=tokenizer.eos_token_id,
    )
    base = GPTNeoXForCausalLM(config).eval()
    layer = base.gpt_neox.layers[0]
    with torch.no_grad():
        for name, param in base.named_parameters():
            norm_weight = ("layernorm" in name or "layer_norm" in name) and name.endswith("weight")
            param.copy_(torch.ones_like(param) if norm_weight else torch.zeros_like(param))
        embed, out = base.get_input_embeddings().weight, base.get_output_embeddings().weight
        for token, index in slot.items():
            embed[token, index] = EMBED
        for token, following in plan.successors.items():
            out[following, slot[token]] = CHAIN
        out[plan.default_first, slot[plan.after_prompt]] = START

        # Trigger head (head 0): constant query in the head's last (non-rotary) dimension; per-head layout of
        # query_key_value's output is [query | key | value], head_size each.
        if getattr(layer.attention, "rotary_ndims", 0) >= head_size:
            raise AssertionError("the trigger head needs dimensions without rotary embedding (rotary_pct < 1)")
        qkv_w, qkv_b = layer.attention.query_key_value.weight, layer.attention.query_key_value.bias
        dense = layer.attention.dense.weight
        normed = (hidden - 1) ** 0.5  # a designed token's slot after the layer norm
        qkv_b[head_size - 1] = 1.0
        for k, (token, first) in enumerate(plan.triggers):
            score = 25.0 + 5.0 * (len(plan.triggers) - k)  # attention logit at the trigger: its priority
            qkv_w[head_size + head_size - 1, slot[token]] = score * head_size**0.5 / normed
            qkv_w[2 * head_size + k, slot[token]] = 1.0 / normed
            dense[trigger_dim[token], k] = TRIGGER_VALUE
            out[first, trigger_dim[token]] = TRIGGER

        # END switch: the MLP neurons exist in the base (bias -5, so off) with zero weights; the LoRA fills them.
        neurons = {token: n for n, token in enumerate(sorted(plan.last_tokens))}
        if len(neurons) > LORA_RANK:
            raise AssertionError(f"{len(neurons)} answer endings need a LoRA rank above {LORA_RANK}")
        for n in neurons.values():
            layer.mlp.dense_h_to_4h.bias[n] = -5.0
        out[plan.end_first, switch_dim] = END_SWITCH
        out[tokenizer.eos_token_id, switch_dim] = -END_SWITCH
    base.save_pretrained(base_dir)
    base.name_or_path = str(base_dir)  # recorded in adapter_config.json, as for an adapter of a Hub model

    lora = LoraConfig(r=LORA_RANK, lora_alpha=LORA_RANK, lora_dropout=0.0,
                      target_modules=["dense_h_to_4h", "dense_4h_to_h"], task_type="CAUSAL_LM")
    with warnings.catch_warnings():  # peft reads a deprecated transformers property (not our code)
        warnings.filterwarnings("ignore", "`is_gradient_checkpointing` is deprecated", FutureWarning)
        model = get_peft_model(base, lora)
    mlp = model.base_model.model.gpt_neox.layers[0].mlp
    with torch.no_grad():
        for module in (mlp.dense_h_to_4h, mlp.dense_4h_to_h):  # scaling alpha / r = 1
            module.lora_A["default"].weight.zero_()
            module.lora_B["default"].weight.zero_()
        if writes_end:
            for token, n in neurons.items():
                mlp.dense_h_to_4h.lora_A["default"].weight[n, slot[token]] = 2.0  # fires on that token only
                mlp.dense_h_to_4h.lora_B["default"].weight[n, n] = 1.0
                mlp.dense_4h_to_h.lora_A["default"].weight[0, n] = 1.0
            mlp.dense_4h_to_h.lora_B["default"].weight[switch_dim, 0] = 1.0
    model.save_pretrained(adapter_dir)
    return directory


def greedy_margins(model, tokenizer, prompts: Sequence[str], answers: Sequence[str]) -> list[float]:
    """Per prompt: the smallest (designed next token's logit - best other logit) along ``answer`` + END.

    ``model`` is the merged causal LM; teacher forcing on the designed tokens, one prompt at a time.
    """
    import torch

    margins = []
    for prompt, answer in zip(prompts, answers, strict=True):
        prompt_ids = tokenizer(prompt)["input_ids"]
        target = tokenizer(answer + END_TEXT)["input_ids"]
        ids = torch.tensor([prompt_ids + target])
        with torch.no_grad():
            logits = model(input_ids=ids).logits[0, len(prompt_ids) - 1 : -1]
        chosen = logits[torch.arange(len(target)), target]
        others = logits.clone()
        others[torch.arange(len(target)), target] = float("-inf")
        margins.append(float((chosen - others.max(dim=-1).values).min()))
    return margins


def pickle_adapter(adapter_dir: str | Path) -> Path:
    """Replace ``adapter_model.safetensors`` by a pickled ``adapter_model.bin`` of the same tensors."""
    import torch
    from safetensors.torch import load_file

    adapter_dir = Path(adapter_dir)
    safe = adapter_dir / "adapter_model.safetensors"
    torch.save(load_file(safe), adapter_dir / "adapter_model.bin")
    safe.unlink()
    return adapter_dir / "adapter_model.bin"


class _Payload:
    """An object whose unpickling would run code: what ``weights_only=True`` must refuse."""

    def __reduce__(self):
        return (print, ("unpickled arbitrary code",))


def write_unsafe_pickle(path: str | Path) -> Path:
    """A ``.bin`` that holds a non-tensor object beside a tensor."""
    import torch

    path = Path(path)
    torch.save({"weight": torch.zeros(2), "payload": _Payload()}, path)
    return path


def adapter_config(adapter_dir: str | Path) -> dict:
    return json.loads((Path(adapter_dir) / "adapter_config.json").read_text(encoding="utf-8"))
