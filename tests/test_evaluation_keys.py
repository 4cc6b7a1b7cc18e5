"""The generation cache key names what decides an output, and nothing else; plans and engines pickle."""

from __future__ import annotations

import pickle
from dataclasses import replace

from compbench.evaluation.engine import TransformersEngine
from compbench.evaluation.plan import BaseModel, Decoding, FileRef, ModelPlan, WeightUpdate, generation_key

BASE = BaseModel(name="org/model", path="/cache/a", revision="0123abcd")
LORA = FileRef(name="sum", path="/bundles/x/adapters/sum", sha256="a" * 64, task="sum")
PLAN = ModelPlan(BASE, "float32", WeightUpdate("merge", (LORA, replace(LORA, name="tr", sha256="b" * 64)),
                                                merge="ties", parameters_json='{"density":0.5}'))
DECODING = Decoding(max_new_tokens=64)


def key(plan=PLAN, prompt="Summarize ...", decoding=DECODING):
    return generation_key(plan, prompt, decoding)


def test_the_key_ignores_where_files_are_and_who_runs_them():
    moved = replace(PLAN, base=replace(BASE, path="/elsewhere"), update=replace(
        PLAN.update, adapters=tuple(replace(a, path="/moved/" + a.name, name=a.name.upper()) for a in PLAN.update.adapters)))
    assert key(moved) == key()
    local = BaseModel(name="/models/m", path="/models/m", revision="sha256:" + "c" * 32)
    assert key(replace(PLAN, base=local)) == key(replace(PLAN, base=replace(local, name="./m", path="./m")))


def test_the_key_changes_with_everything_that_changes_an_output():
    changed = [
        replace(PLAN, base=replace(BASE, revision="fedcba98")),
        replace(PLAN, dtype="bfloat16"),
        replace(PLAN, update=replace(PLAN.update, adapters=(replace(LORA, sha256="c" * 64),) + PLAN.update.adapters[1:])),
        replace(PLAN, update=replace(PLAN.update, adapters=PLAN.update.adapters[::-1])),
        replace(PLAN, update=replace(PLAN.update, parameters_json='{"density":0.3}')),
        replace(PLAN, update=replace(PLAN.update, merge="dare")),
        replace(PLAN, update=None),
    ]
    keys = {key(plan) for plan in changed} | {key(prompt="Summarize ...!"), key(decoding=Decoding(max_new_tokens=65)),
                                               key(decoding=Decoding(max_new_tokens=64, min_new_tokens=64)), key()}
    assert len(keys) == len(changed) + 4


def test_plans_and_engines_cross_process_boundaries_without_weights():
    assert pickle.loads(pickle.dumps(PLAN)) == PLAN
    engine = TransformersEngine(batch_size=4)
    engine._loaded = ("key", object(), object())  # stands for a loaded model
    copy = pickle.loads(pickle.dumps(engine))
    assert copy._loaded is None and copy.batch_size == 4 and copy.name == "transformers"
