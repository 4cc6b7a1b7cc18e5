"""A single-task LoRA scored on its own task's test split, beside the base model alone.

``compbench evaluate`` evaluates methods on compositional sub-tasks; the demo also needs to show that each
single-task LoRA learned its task, so this generates with the evaluation engine (the same prompts, chat
template, greedy decoding and generation cache) and scores with :func:`compbench.scoring.score`.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from compbench.tasks import get_task


def single_task_score(directory: Path, *, task: str, base_model: Path, lora_bundle: Path, release: Path,
                      cache: Path, max_new_tokens: int, batch_size: int, progress: bool) -> dict:
    """Write ``predictions.jsonl`` / ``results.json`` of the LoRA (and ``base.*`` of the base model alone) on
    ``task``'s test split into ``directory``; returns both main scores in percent."""
    from compbench.adapters.lora_io import adapter_sha256
    from compbench.build.cache import GenerationCache
    from compbench.bundle import read_bundle
    from compbench.evaluation.base_model import load_tokenizer, resolve_base_model
    from compbench.evaluation.engine import TransformersEngine
    from compbench.evaluation.generations import GenerationRunner
    from compbench.evaluation.plan import Decoding, FileRef, ModelPlan, WeightUpdate
    from compbench.scoring import score
    from compbench.training.data import load_split
    from compbench.training.formatting import ChatFormatter, user_message

    shutil.rmtree(cache, ignore_errors=True)  # a step's own cache: only a resumed run of this step reads it
    base = resolve_base_model(str(base_model))
    tokenizer = load_tokenizer(base)
    bundle = read_bundle(lora_bundle)
    entry = bundle.manifest.adapters[0]
    path = bundle.adapter_path(entry.name)
    lora = WeightUpdate("adapter", (FileRef(entry.name, str(path), adapter_sha256(path), entry.task),))
    rows = load_split(release, task, "test")
    formatter = ChatFormatter(tokenizer)
    prompts = [formatter.prompt_text(user_message(row)) for row in rows]
    decoding = Decoding(max_new_tokens=max_new_tokens)
    scores = {}
    with GenerationCache(cache) as store:
        runner = GenerationRunner(TransformersEngine(batch_size=batch_size), store, tokenizer, batch_size, progress)
        for name, update in (("lora", lora), ("base", None)):
            outputs = runner.run(ModelPlan(base, "float32", update), prompts, decoding, desc=f"{task} ({name})")
            predictions = directory / f"{name}.predictions.jsonl"
            predictions.write_text("".join(json.dumps({"id": row.id, "prediction": text}, ensure_ascii=False) + "\n"
                                           for row, text in zip(rows, outputs, strict=True)), encoding="utf-8")
            report = score(predictions, data=str(release), subtasks=[task], split="test", bootstrap=0, workers=1,
                           command="compbench demo (single-task test)")
            report.write(directory / f"{name}.results.json")
            scores[name] = report.results.subtasks[task].main
    metric = get_task(task).metric
    return {"metric": "ROUGE-L" if metric == "rougeL" else "W-ROUGE", **scores}
