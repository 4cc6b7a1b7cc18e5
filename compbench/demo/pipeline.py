"""``compbench demo``: the whole benchmark on a synthetic world, on a CPU, in minutes.

:func:`run_demo` runs every stage of the real pipeline on the world of one seed:

1. the world's sources, in the original formats (:mod:`compbench.demo.sources`);
2. the release, by the real :func:`compbench.build.build` with the world's rules as translator and tone stages
   (the ``synthetic`` generator backend);
3. a tiny Llama base model with a chat template, pretrained on the world's plain text (:mod:`compbench.demo.model`);
4. the nine single-task LoRAs (``compbench train lora``'s code), each scored on its own task's test split;
5. a bundle of every method of the registry (:mod:`compbench.demo.methods`);
6. ``compbench evaluate`` of every bundle on the 14 compositional sub-tasks of Table 2;
7. ``compbench score`` of every method's predictions;
8. a leaderboard store of those results (``compbench submit``) and ``compbench leaderboard build``: the Table 2,
   3 and 4 layouts and the static page.

Every step writes its directory whole and is skipped on a later run with the same seed and settings
(:mod:`compbench.demo.steps`), so a rerun reuses what is finished and prints the same tables. Torch runs on one
thread and every random choice is seeded: the same seed gives the same tables, byte for byte.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from compbench.demo.methods import TrainingContext, single_tasks, units
from compbench.demo.model import ModelSize
from compbench.demo.sources import Sizes
from compbench.demo.steps import Done, Steps
from compbench.extras import require_extra

DEMO_VERSION = "1"
STAGES: tuple[str, ...] = ("world", "release", "base model", "single-task LoRAs", "method bundles", "evaluations",
                           "scores", "leaderboard")


@dataclass(frozen=True)
class DemoSettings:
    """Every size and training setting of the demo (the paper's are in docs/demo.md, with why these differ)."""

    sizes: Sizes = field(default_factory=Sizes)
    model: ModelSize = field(default_factory=ModelSize)
    batch_size: int = 16
    max_length: int = 256
    lora_rank: int = 16
    lora_alpha: float = 32
    lora_lr: float = 5e-3
    lora_steps: int = 200
    joint_steps: int = 150
    calibration_rank: int = 4
    calibration_lr: float = 5e-3
    calibration_steps: int = 40
    coefficient_lr: float = 5e-3
    coefficient_steps: int = 40
    few_examples: int = 5
    lorahub_budget: int = 20
    max_new_tokens: int = 48
    bootstrap: int = 200

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


FULL = DemoSettings()
FAST = replace(FULL, sizes=Sizes(dialogues=(300, 4, 8), conversations=(300, 4, 8), talks=(400, 4, 8),
                                 notes=(300, 4, 8), chats=(2, 2, 8)),
               model=replace(FULL.model, pretrain_documents=3000, pretrain_steps=200),
               lora_steps=80, joint_steps=60, calibration_steps=15, coefficient_steps=15, lorahub_budget=8,
               bootstrap=100)


@dataclass
class DemoResult:
    """What the demo made: where, the single-task scores, the Table 2 text, the page."""

    out: Path
    seed: int
    fast: bool
    single_task: dict[str, dict[str, Any]]
    table2: str
    page: Path
    tables: Path
    reused: int = 0
    made: int = 0


def run_demo(out: str | Path = "compbench-demo", *, fast: bool = False, seed: int = 0, progress: bool = True,
             echo: Callable[[str], None] = print, settings: DemoSettings | None = None) -> DemoResult:
    """Run the demo into ``out`` (see the module doc); ``fast`` uses smaller sizes (``FAST``)."""
    require_extra("train", "compbench demo (it trains a tiny model and its adapters)")
    require_extra("evaluate", "compbench demo (it evaluates adapter bundles)")
    import warnings

    import torch
    from transformers.utils import logging as transformers_logging

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny models gain nothing from threads, and one thread is bitwise reproducible
    bars = transformers_logging.is_progress_bar_enabled()
    transformers_logging.disable_progress_bar()  # a bar per tiny model load would drown the demo's own progress
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=FutureWarning)  # deprecation notices from the libraries
            return _Demo(Path(out), settings or (FAST if fast else FULL), fast, seed, progress, echo).run()
    finally:
        torch.set_num_threads(threads)
        if bars:
            transformers_logging.enable_progress_bar()


class _Demo:
    def __init__(self, out: Path, settings: DemoSettings, fast: bool, seed: int, progress: bool,
                 echo: Callable[[str], None]):
        self.out, self.settings, self.fast, self.seed, self.progress, self.echo = out, settings, fast, seed, progress, echo
        self.steps = Steps(out)
        self.stage_number = 0
        self.reused = self.made = 0
        self.base_name = ""

    # ---------------------------------------------------------------------------------------- plumbing
    def stage(self, title: str) -> None:
        self.stage_number += 1
        self.echo(f"[{self.stage_number}/{len(STAGES)}] {title}")

    def step(self, name: str, identity: dict[str, Any], make: Callable[[Path], dict | None],
             label: str | None = None, report: Callable[[Done], str] | None = None) -> Done:
        done = self.steps.run(name, {"demo": DEMO_VERSION, "step": name, **identity}, make)
        if done.reused:
            self.reused += 1
        else:
            self.made += 1
        how = "reused" if done.reused else f"{done.seconds:.1f} s"
        extra = f", {report(done)}" if report else ""
        self.echo(f"    {label or name}: {how}{extra}")
        return done

    # ------------------------------------------------------------------------------------------- stages
    def run(self) -> DemoResult:
        from compbench.generation.synthetic import world_id

        s = self.settings
        self.out.mkdir(parents=True, exist_ok=True)
        self.cache = self.out / "cache"
        self.stage(STAGES[0])
        sources = self.step("sources", {"seed": self.seed, "world": world_id(self.seed), "sizes": s.sizes.to_dict()},
                            self._sources, label="sources (DialogSum, Persona Chat, TED, Sound Natural, SAMSum files)")
        self.echo("    note: tr-es / tr-fr / tr-de are synthetic stand-in languages (Synthetic-E, -F, -D), not "
                  "Spanish, French or German")
        self.stage(STAGES[1])
        release = self.step("release", {"sources": sources.fingerprint}, self._release,
                            report=lambda d: f"{d.info['rows']:,} rows in {d.info['files']} files")
        self.stage(STAGES[2])
        base = self.step("models/base", {"sources": sources.fingerprint, "model": s.model.to_dict(),
                                         "seed": self.seed}, self._base_model,
                         report=lambda d: f"{d.info['parameters']:,} parameters, loss {d.info['first_loss']:.2f} -> "
                                          f"{d.info['last_loss']:.2f}")
        self.base_name = f"synthetic-llama-{base.info['parameters'] / 1e6:.1f}m"
        self.stage(STAGES[3])
        loras, single = self._loras(base, release)
        self.stage(STAGES[4])
        bundles = self._bundles(base, release, loras)
        self.stage(STAGES[5])
        runs = self._evaluations(base, release, loras, bundles)
        self.stage(STAGES[6])
        results = self._scores(release, runs)
        self.stage(STAGES[7])
        board = self.step("leaderboard", {"release": release.fingerprint,
                                          "results": {k: v.fingerprint for k, v in results.items()},
                                          "seed": self.seed, "bootstrap": s.bootstrap},
                          lambda d: self._leaderboard(d, release.path, results),
                          label="store, submissions and site")
        tables = board.path / "site" / "tables" / board.info["group"]
        return DemoResult(out=self.out, seed=self.seed, fast=self.fast, single_task=single,
                          table2=(tables / "table2.md").read_text(encoding="utf-8"), page=board.path / "site" / "index.html",
                          tables=tables, reused=self.reused, made=self.made)

    def _sources(self, directory: Path) -> dict:
        from compbench.demo.sources import write_sources
        from compbench.demo.world import World

        write_sources(World(self.seed), directory, self.settings.sizes)
        return {}

    def _release(self, directory: Path) -> dict:
        from compbench.build import build
        from compbench.build.generators import model_provider
        from compbench.generation.synthetic import world_id

        world = world_id(self.seed)
        result = build(directory, sources_dir=self.out / "sources", cache_dir=self.cache,
                       generators=model_provider(backend="synthetic", translator=world, tone_model=world),
                       release=f"compbench-demo-{world.replace(':', '-')}", progress=self.progress)
        return {"files": len(result.manifest.files), "rows": sum(f.rows for f in result.manifest.files)}

    def _base_model(self, directory: Path) -> dict:
        from compbench.demo.model import new_model, pretrain, save_model, train_tokenizer
        from compbench.demo.sources import pretraining_corpus
        from compbench.demo.world import World

        size = self.settings.model
        corpus = pretraining_corpus(World(self.seed), size.pretrain_documents)
        tokenizer = train_tokenizer(corpus, size.vocab_size)
        model = new_model(tokenizer, size, self.seed)
        result = pretrain(model, tokenizer, corpus, size, self.seed, progress=self.progress,
                          checkpoint_dir=self.out / ".demo" / "checkpoints" / "base")
        save_model(model, tokenizer, directory)
        return {"parameters": sum(p.numel() for p in model.parameters()), "first_loss": result.first_loss,
                "last_loss": result.last_loss, "steps": result.steps}

    def _loras(self, base: Done, release: Done) -> tuple[dict[str, Done], dict[str, dict]]:
        from compbench.demo.single_task import single_task_score

        s = self.settings
        loras: dict[str, Done] = {}
        scores: dict[str, dict] = {}
        for task in single_tasks():
            identity = {"base": base.fingerprint, "release": release.fingerprint, "task": task, "seed": self.seed,
                        "rank": s.lora_rank, "alpha": s.lora_alpha, "lr": s.lora_lr, "steps": s.lora_steps,
                        "batch": s.batch_size, "max_length": s.max_length}
            loras[task] = lora = self.step(f"loras/{task}", identity,
                                           lambda d, task=task: self._train_lora(d, base.path, release.path, task),
                                           label=f"{task} LoRA",
                                           report=lambda d: f"loss {d.info['first_loss']:.2f} -> {d.info['last_loss']:.2f}")
            scored = self.step(f"single-task/{task}", {"lora": lora.fingerprint, "release": release.fingerprint,
                                                       "max_new_tokens": s.max_new_tokens},
                               lambda d, lora=lora, task=task: single_task_score(
                                   d, task, base.path, lora.path, release.path, self.cache, s.max_new_tokens,
                                   s.batch_size, self.progress),
                               label=f"{task} single-task test",
                               report=lambda d: f"{d.info['metric']} {d.info['lora']:.1f} with its LoRA "
                                                f"(base model alone: {d.info['base']:.1f})")
            scores[task] = scored.info
        return loras, scores

    def _train_lora(self, directory: Path, base: Path, release: Path, task: str) -> dict:
        from compbench.training.bundles import train_lora_bundle
        from compbench.training.loop import TrainConfig
        from compbench.training.lora import LoraSettings

        s = self.settings
        config = TrainConfig(learning_rate=s.lora_lr, batch_size=s.batch_size, max_steps=s.lora_steps, seed=self.seed,
                             checkpoint_every=0)
        bundle = train_lora_bundle(str(base), release, [task], directory, config=config,
                                   settings=LoraSettings(r=s.lora_rank, alpha=s.lora_alpha, dropout=0.0),
                                   examples=s.lora_steps * s.batch_size, max_length=s.max_length,
                                   checkpoint_dir=directory.with_name(directory.name + ".checkpoints"),
                                   progress=self.progress)
        p = bundle.manifest.parameters
        return {"first_loss": p["first_loss"], "last_loss": p["last_loss"]}

    def _bundles(self, base: Done, release: Done, loras: dict[str, Done]) -> dict[tuple[str, str], Done]:
        from compbench.methods import METHODS

        context = TrainingContext(str(base.path), str(release.path), {t: d.path for t, d in loras.items()},
                                  self.settings, self.seed, self.progress)
        training = {k: v for k, v in self.settings.to_dict().items() if k not in ("sizes", "model", "max_new_tokens",
                                                                                   "bootstrap")}
        made: dict[tuple[str, str], Done] = {}
        for spec in METHODS.values():
            for unit in units(spec):
                if unit.make is None:
                    continue
                identity = {"base": base.fingerprint, "release": release.fingerprint, "seed": self.seed,
                            "method": spec.to_dict(), "subtasks": list(unit.subtasks), "training": training,
                            "inputs": {t: loras[t].fingerprint for t in unit.inputs}}
                made[(spec.id, unit.label)] = self.step(
                    f"bundles/{spec.id}/{unit.label}", identity,
                    lambda d, unit=unit: unit.make(d, context), label=f"{spec.id} {unit.label}",
                    report=_loss_report)
        return made

    def _evaluations(self, base: Done, release: Done, loras: dict[str, Done],
                     bundles: dict[tuple[str, str], Done]) -> dict[str, list[Done]]:
        from compbench.evaluation.engine import TransformersEngine
        from compbench.methods import METHODS

        s = self.settings
        engine = TransformersEngine(device="cpu", batch_size=s.batch_size)
        runs: dict[str, list[Done]] = {}
        for spec in METHODS.values():
            for unit in units(spec):
                made = bundles.get((spec.id, unit.label)) or (loras[unit.bundle] if unit.bundle else None)
                identity = {"base": base.fingerprint, "release": release.fingerprint, "seed": self.seed,
                            "bundle": made.fingerprint if made else None, "method": spec.id,
                            "subtasks": list(unit.subtasks), "max_new_tokens": s.max_new_tokens}
                runs.setdefault(spec.id, []).append(self.step(
                    f"runs/{spec.id}/{unit.label}", identity,
                    lambda d, unit=unit, made=made, spec=spec: self._evaluate(d, spec.id, unit, made, base, release,
                                                                              engine),
                    label=f"{spec.id} {unit.label}"))
        return runs

    def _evaluate(self, directory: Path, method: str, unit, made: Done | None, base: Done, release: Done,
                  engine) -> dict:
        from compbench.evaluation.runner import evaluate

        s = self.settings
        evaluation = evaluate(made.path if made else None, data=str(release.path), method=None if made else method,
                              base_model=str(base.path), subtasks=list(unit.subtasks), split="test", out=directory,
                              batch_size=s.batch_size, max_new_tokens=s.max_new_tokens, seed=self.seed, bootstrap=0,
                              progress=self.progress, cache_dir=self.cache, engine=engine,
                              command=f"compbench demo --seed {self.seed}")
        return {"generated": evaluation.generated, "cached": evaluation.cached}

    def _scores(self, release: Done, runs: dict[str, list[Done]]) -> dict[str, Done]:
        results: dict[str, Done] = {}
        for method, method_runs in runs.items():
            identity = {"release": release.fingerprint, "runs": [r.fingerprint for r in method_runs],
                        "seed": self.seed, "bootstrap": self.settings.bootstrap, "base_name": self.base_name}
            results[method] = self.step(f"results/{method}", identity,
                                        lambda d, method=method, method_runs=method_runs: self._score(
                                            d, method, method_runs, release.path),
                                        label=method, report=_table2_report)
        return results

    def _score(self, directory: Path, method: str, method_runs: list[Done], release: Path) -> dict:
        from compbench import __version__
        from compbench.fileio import write_json
        from compbench.schemas import Results
        from compbench.scoring import score
        from compbench.tasks import MAIN_FAMILIES

        lines = [line for run in method_runs
                 for line in (run.path / "predictions.jsonl").read_text(encoding="utf-8").splitlines() if line]
        (directory / "predictions.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
        first = Results.model_validate_json((method_runs[0].path / "results.json").read_text(encoding="utf-8"))
        report = score(directory / "predictions.jsonl", data=str(release), split="test", seed=self.seed,
                       bootstrap=self.settings.bootstrap, workers=1, method=method, base_model=self.base_name,
                       efficiency=first.efficiency, command=f"compbench demo --seed {self.seed}")
        report.write(directory / "results.json")
        write_json(directory / "metadata.json", {
            "method": method, "base_model": self.base_name, "authors": ["compbench demo"],
            "date": _dt.date.today().isoformat(), "compbench_version": __version__,
            "description": f"compbench demo, synthetic world seed {self.seed}: a tiny model on made-up languages, "
                           "not a result on the real benchmark"})
        families = report.results.families
        return {family: families[family].main for family in MAIN_FAMILIES if family in families}

    def _leaderboard(self, directory: Path, release: Path, results: dict[str, Done]) -> dict:
        from compbench.leaderboard.site import build_leaderboard
        from compbench.leaderboard.store import init_store
        from compbench.leaderboard.submit import submit

        store = directory / "store"
        init_store(store, str(release), split="test", seed=self.seed, bootstrap=self.settings.bootstrap)
        for done in results.values():
            submit(done.path, store, workers=1)
        report = build_leaderboard(store, directory / "site")
        if len(report.groups) != 1:
            raise RuntimeError(f"expected one table group, got {report.groups}")
        return {"group": report.groups[0], "entries": report.entries}


def _loss_report(done: Done) -> str:
    info = done.info
    if "first_loss" in info and info["first_loss"] is not None:
        return f"loss {info['first_loss']:.2f} -> {info['last_loss']:.2f}"
    if "weights" in info:
        return "weights " + ", ".join(f"{w:.2f}" for w in info["weights"])
    return "written"


def _table2_report(done: Done) -> str:
    return "  ".join(f"{family} {value:.1f}" for family, value in done.info.items())


def format_single_task(scores: dict[str, dict]) -> str:
    """The single-task scores as a small table: task, metric, with its LoRA, base model alone."""
    lines = ["task        metric   LoRA    base model alone"]
    for task, info in scores.items():
        lines.append(f"{task:<12}{info['metric']:<9}{info['lora']:>5.1f}   {info['base']:>5.1f}")
    return "\n".join(lines)


__all__ = ["DemoResult", "DemoSettings", "FAST", "FULL", "STAGES", "format_single_task", "run_demo"]
