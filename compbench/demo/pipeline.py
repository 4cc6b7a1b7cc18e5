"""``compbench demo``: the whole benchmark on a synthetic world, on a CPU, in minutes.

:func:`run_demo` runs every stage of the real pipeline on the world of one seed:

1. the world's sources, in the original formats (:mod:`compbench.demo.sources`);
2. the release, by the real :func:`compbench.build.build` with the world's rules as translator and tone stages
   (the ``synthetic`` generator backend);
3. a tiny Llama base model with a chat template, pretrained on the world's plain text (:mod:`compbench.demo.model`);
4. the nine single-task LoRAs (``compbench train lora``'s code);
5. each of them scored on its own task's test split, beside the base model alone;
6. a bundle of every method of the registry (:mod:`compbench.demo.methods`);
7. ``compbench evaluate`` of every bundle on the 14 compositional sub-tasks of Table 2;
8. ``compbench score`` of every method's predictions;
9. a leaderboard store of those results (``compbench submit``) and ``compbench leaderboard build``: the Table 2,
   3 and 4 layouts and the static page.

Every step writes its directory whole and is skipped on a later run with the same seed and settings
(:mod:`compbench.demo.steps`), so a rerun reuses what is finished and prints the same tables. Torch runs on one
thread and every random choice is seeded: the same seed gives the same tables, byte for byte.
"""

from __future__ import annotations

import datetime as _dt
import os
import shutil
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any

from compbench.demo.methods import TrainingContext, single_tasks, units
from compbench.demo.model import ModelSize
from compbench.demo.sources import Sizes
from compbench.demo.steps import STATE_DIR, Done, Job, Workers
from compbench.errors import InputError
from compbench.extras import require_extra
from compbench.tasks import MAIN_FAMILIES, MAIN_SUBTASKS, TONES, tasks_in_family

DEMO_VERSION = "1"
STAGES: tuple[str, ...] = ("world", "release", "base model", "single-task LoRAs", "single-task scores",
                           "method bundles", "evaluations", "scores", "leaderboard")


@dataclass(frozen=True)
class DemoSettings:
    """Every size and training setting of the demo (the paper's are in docs/demo.md, with why these differ)."""

    sizes: Sizes = field(default_factory=Sizes)
    model: ModelSize = field(default_factory=ModelSize)
    batch_size: int = 16
    max_length: int = 256
    lora_rank: int = 16
    lora_alpha: float = 32
    lora_lr: float = 3e-3
    lora_steps: int = 200
    joint_steps: int = 300  # per family
    calibration_rank: int = 4
    calibration_lr: float = 5e-3
    calibration_steps: int = 80  # per family; the shared variants twice as many
    coefficient_lr: float = 5e-3
    coefficient_steps: int = 40  # per family
    few_examples: int = 5
    lorahub_budget: int = 12
    max_new_tokens: int = 48
    bootstrap: int = 200
    subtasks: tuple[str, ...] = MAIN_SUBTASKS  # the compositional sub-tasks evaluated

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


FULL = DemoSettings()
FAST = replace(FULL, sizes=Sizes(dialogues=(200, 4, 8), conversations=(200, 4, 8), talks=(300, 4, 8),
                                 notes=(200, 4, 8), chats=(2, 2, 8)),
               model=replace(FULL.model, pretrain_documents=2000, pretrain_steps=200),
               lora_steps=60, joint_steps=60, calibration_steps=20, coefficient_steps=12, lorahub_budget=6,
               bootstrap=100,
               # one language and one tone per family: Table 2's cells are then averages over one sub-task
               subtasks=tuple(next(t.id for t in tasks_in_family(f) if t.language in (None, "es")
                                   and t.tone in (None, TONES[0])) for f in MAIN_FAMILIES))


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


def claim(out: Path) -> None:
    """Make ``out`` the demo's directory: new, empty, or one an earlier demo made (it holds ``.demo/``).
    Anything else is refused before anything is written, since the demo replaces its own sub-directories."""
    if out.exists() and not out.is_dir():
        raise InputError("--out exists and is not a directory", out)
    if out.is_dir() and any(out.iterdir()) and not (out / STATE_DIR).is_dir():
        raise InputError(f"--out is a non-empty directory that no earlier demo made (no {STATE_DIR}/); choose a new "
                         "one", out)
    (out / STATE_DIR).mkdir(parents=True, exist_ok=True)


def default_workers() -> int:
    """Worker processes: one per available core, at most four (each holds a tiny model and its libraries)."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return max(1, min(4, cores))


def run_demo(out: str | Path = "compbench-demo", *, fast: bool = False, seed: int = 0, progress: bool = True,
             echo: Callable[[str], None] = print, settings: DemoSettings | None = None,
             workers: int | None = None) -> DemoResult:
    """Run the demo into ``out`` (see the module doc); ``fast`` uses smaller sizes (:data:`FAST`).

    ``workers`` processes run independent steps side by side (default: one per core, at most four); each step
    is single-threaded and seeded, so the tables do not depend on how many run at once.
    """
    require_extra("train", "compbench demo (it trains a tiny model and its adapters)")
    require_extra("evaluate", "compbench demo (it evaluates adapter bundles)")
    claim(Path(out))
    import warnings

    import torch
    from transformers.utils import logging as transformers_logging

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny models gain nothing from threads, and one thread is bitwise reproducible
    bars = transformers_logging.is_progress_bar_enabled()
    transformers_logging.disable_progress_bar()  # a bar per tiny model load would drown the demo's own progress
    pool = Workers(default_workers() if workers is None else workers)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=FutureWarning)  # deprecation notices from the libraries
            return _Demo(Path(out), settings or (FAST if fast else FULL), fast, seed, progress, echo, pool).run()
    finally:
        pool.close()
        torch.set_num_threads(threads)
        if bars:
            transformers_logging.enable_progress_bar()


class _Demo:
    def __init__(self, out: Path, settings: DemoSettings, fast: bool, seed: int, progress: bool,
                 echo: Callable[[str], None], pool: Workers):
        self.out, self.settings, self.fast, self.seed, self.echo, self.pool = out, settings, fast, seed, echo, pool
        # Progress bars inside steps only when steps run one at a time: bars of parallel workers would interleave.
        self.bars = progress and pool.count == 1
        self.stage_number = 0
        self.reused = self.made = 0

    # ---------------------------------------------------------------------------------------- plumbing
    def stage(self, title: str, jobs: list[Job]) -> list[Done]:
        """Run one stage's jobs (in parallel where there are several), one line per finished job."""
        self.stage_number += 1
        self.echo(f"[{self.stage_number}/{len(STAGES)}] {title}" + (f" ({len(jobs)} steps)" if len(jobs) > 1 else ""))
        count = 0

        def on_done(job: Job, done: Done) -> None:
            nonlocal count
            count += 1
            if done.reused:
                self.reused += 1
            else:
                self.made += 1
            how = "reused" if done.reused else f"{done.seconds:.1f} s"
            extra = f", {job.report(done)}" if job.report else ""
            position = f"[{count}/{len(jobs)}] " if len(jobs) > 1 else ""
            self.echo(f"    {position}{job.label or job.name}: {how}{extra}")

        return self.pool.run(self.out, [replace(job, identity={"demo": DEMO_VERSION, "step": job.name,
                                                               **job.identity}) for job in jobs], on_done)

    def cache(self, name: str) -> Path:
        """A generation cache of one step's own (so steps never share one across processes)."""
        return self.out / STATE_DIR / "cache" / name

    # ------------------------------------------------------------------------------------------- stages
    def run(self) -> DemoResult:
        from compbench.generation.synthetic import world_id

        s, seed = self.settings, self.seed
        self.out.mkdir(parents=True, exist_ok=True)
        (sources,) = self.stage(STAGES[0], [Job(
            "sources", {"seed": seed, "world": world_id(seed), "sizes": s.sizes.to_dict()},
            partial(make_sources, seed=seed, sizes=s.sizes),
            "sources (DialogSum, Persona Chat, TED, Sound Natural and SAMSum files)")])
        self.echo("    note: tr-es / tr-fr / tr-de are synthetic stand-in languages (Synthetic-E, -F, -D), not "
                  "Spanish, French or German")
        (release,) = self.stage(STAGES[1], [Job(
            "release", {"sources": sources.fingerprint},
            partial(make_release, sources=sources.path, seed=seed, progress=self.bars), "release (compbench build)",
            lambda d: f"{d.info['rows']:,} rows in {d.info['files']} files")])
        (base,) = self.stage(STAGES[2], [Job(
            "models/base", {"sources": sources.fingerprint, "model": s.model.to_dict(), "seed": seed},
            partial(make_base_model, seed=seed, size=s.model, checkpoints=self.out / STATE_DIR / "checkpoints" / "base",
                    progress=self.bars), "tokenizer and pretrained tiny Llama",
            lambda d: f"{d.info['parameters']:,} parameters, loss {d.info['first_loss']:.2f} -> "
                      f"{d.info['last_loss']:.2f} in {d.info['steps']} steps")])
        base_name = f"synthetic-llama-{base.info['parameters'] / 1e6:.1f}m"
        loras, single = self._loras(base, release)
        bundles = self._bundles(base, release, loras)
        runs = self._evaluations(base, release, loras, bundles)
        results = self._scores(release, runs, base_name)
        (board,) = self.stage(STAGES[8], [Job(
            "leaderboard", {"release": release.fingerprint, "results": {k: v.fingerprint for k, v in results.items()},
                            "seed": seed, "bootstrap": s.bootstrap},
            partial(make_leaderboard, release=release.path, results=[d.path for d in results.values()], seed=seed,
                    bootstrap=s.bootstrap), "store, submissions and site (compbench submit, leaderboard build)")])
        tables = board.path / "site" / "tables" / board.info["group"]
        return DemoResult(out=self.out, seed=seed, fast=self.fast, single_task=single,
                          table2=(tables / "table2.md").read_text(encoding="utf-8"),
                          page=board.path / "site" / "index.html", tables=tables, reused=self.reused, made=self.made)

    def _loras(self, base: Done, release: Done) -> tuple[dict[str, Done], dict[str, dict]]:
        s = self.settings
        tasks = single_tasks(s.subtasks)
        settings = {"rank": s.lora_rank, "alpha": s.lora_alpha, "lr": s.lora_lr, "steps": s.lora_steps,
                    "batch": s.batch_size, "max_length": s.max_length}
        jobs = [Job(f"loras/{task}", {"base": base.fingerprint, "release": release.fingerprint, "task": task,
                                      "seed": self.seed, **settings},
                    partial(make_lora, base=base.path, release=release.path, task=task, seed=self.seed, settings=s,
                            progress=self.bars), f"{task} LoRA",
                    lambda d: f"loss {d.info['first_loss']:.2f} -> {d.info['last_loss']:.2f}") for task in tasks]
        loras = dict(zip(tasks, self.stage(STAGES[3], jobs), strict=True))
        from compbench.demo.single_task import single_task_score

        jobs = [Job(f"single-task/{task}", {"lora": loras[task].fingerprint, "release": release.fingerprint,
                                            "max_new_tokens": s.max_new_tokens},
                    partial(single_task_score, task=task, base_model=base.path, lora_bundle=loras[task].path,
                            release=release.path, cache=self.cache(f"single-task/{task}"),
                            max_new_tokens=s.max_new_tokens, batch_size=s.batch_size, progress=self.bars),
                    f"{task} on its test split",
                    lambda d: f"{d.info['metric']} {d.info['lora']:.1f} with its LoRA, {d.info['base']:.1f} without")
                for task in tasks]
        scored = self.stage(STAGES[4], jobs)
        return loras, {task: done.info for task, done in zip(tasks, scored, strict=True)}

    def _bundles(self, base: Done, release: Done, loras: dict[str, Done]) -> dict[tuple[str, str], Done]:
        from compbench.methods import METHODS

        context = TrainingContext(str(base.path), str(release.path), {t: d.path for t, d in loras.items()},
                                  self.settings, self.seed, self.bars)
        training = {k: v for k, v in self.settings.to_dict().items()
                    if k not in ("sizes", "model", "max_new_tokens", "bootstrap")}
        keys, jobs = [], []
        for spec in METHODS.values():
            for unit in units(spec, self.settings.subtasks):
                if unit.make is None:
                    continue
                keys.append((spec.id, unit.label))
                jobs.append(Job(f"bundles/{spec.id}/{unit.label}",
                                {"base": base.fingerprint, "release": release.fingerprint, "seed": self.seed,
                                 "method": spec.to_dict(), "subtasks": list(unit.subtasks), "training": training,
                                 "inputs": {t: loras[t].fingerprint for t in unit.inputs}},
                                partial(unit.make, context=context), f"{spec.id} {unit.label}", _bundle_report))
        return dict(zip(keys, self.stage(STAGES[5], jobs), strict=True))

    def _evaluations(self, base: Done, release: Done, loras: dict[str, Done],
                     bundles: dict[tuple[str, str], Done]) -> dict[str, list[Done]]:
        from compbench.methods import METHODS

        s = self.settings
        methods, jobs = [], []
        for spec in METHODS.values():
            for unit in units(spec, s.subtasks):
                made = bundles.get((spec.id, unit.label)) or (loras[unit.bundle] if unit.bundle else None)
                name = f"runs/{spec.id}/{unit.label}"
                methods.append(spec.id)
                jobs.append(Job(name, {"base": base.fingerprint, "release": release.fingerprint, "seed": self.seed,
                                       "bundle": made.fingerprint if made else None, "method": spec.id,
                                       "subtasks": list(unit.subtasks), "max_new_tokens": s.max_new_tokens,
                                       "batch_size": s.batch_size},
                                partial(make_run, bundle=made.path if made else None, method=spec.id,
                                        subtasks=unit.subtasks, base=base.path, release=release.path,
                                        cache=self.cache(name), seed=self.seed, settings=s, progress=self.bars),
                                f"{spec.id} {unit.label}"))
        runs: dict[str, list[Done]] = {}
        for method, done in zip(methods, self.stage(STAGES[6], jobs), strict=True):
            runs.setdefault(method, []).append(done)
        return runs

    def _scores(self, release: Done, runs: dict[str, list[Done]], base_name: str) -> dict[str, Done]:
        jobs = [Job(f"results/{method}", {"release": release.fingerprint, "runs": [r.fingerprint for r in method_runs],
                                          "seed": self.seed, "bootstrap": self.settings.bootstrap,
                                          "base_name": base_name},
                    partial(make_results, method=method, runs=[r.path for r in method_runs], release=release.path,
                            base_name=base_name, seed=self.seed, bootstrap=self.settings.bootstrap),
                    method, _families_report)
                for method, method_runs in runs.items()]
        return dict(zip(runs, self.stage(STAGES[7], jobs), strict=True))


# ---------------------------------------------------------------------------------------------- the steps
# Module-level, so that a worker process can run them.
def make_sources(directory: Path, *, seed: int, sizes: Sizes) -> dict:
    from compbench.demo.sources import write_sources
    from compbench.demo.world import World

    write_sources(World(seed), directory, sizes)
    return {}


def make_release(directory: Path, *, sources: Path, seed: int, progress: bool) -> dict:
    """``compbench build --sources-dir SOURCES --backend synthetic --tone-backend synthetic`` into ``directory``."""
    from compbench.build import build
    from compbench.build.generators import model_provider
    from compbench.generation.synthetic import world_id

    world = world_id(seed)
    result = build(directory, sources_dir=sources, cache_dir=directory.parent / f".{directory.name}.cache",
                   generators=model_provider(backend="synthetic", tone_backend="synthetic", translator=world,
                                              tone_model=world),
                   release=f"compbench-demo-{world.replace(':', '-')}", progress=progress)
    shutil.rmtree(directory.parent / f".{directory.name}.cache", ignore_errors=True)
    return {"files": len(result.manifest.files), "rows": sum(f.rows for f in result.manifest.files)}


def make_base_model(directory: Path, *, seed: int, size: ModelSize, checkpoints: Path, progress: bool) -> dict:
    """Train the tokenizer on the world's text, pretrain the tiny Llama on it, save both."""
    from compbench.demo.model import new_model, pretrain, save_model, train_tokenizer
    from compbench.demo.sources import pretraining_corpus
    from compbench.demo.world import World

    corpus = pretraining_corpus(World(seed), size.pretrain_documents)
    tokenizer = train_tokenizer(corpus, size.vocab_size)
    model = new_model(tokenizer, size, seed)
    result = pretrain(model, tokenizer, corpus, size, seed, progress=progress, checkpoint_dir=checkpoints)
    save_model(model, tokenizer, directory)
    shutil.rmtree(checkpoints, ignore_errors=True)
    return {"parameters": sum(p.numel() for p in model.parameters()), "first_loss": result.first_loss,
            "last_loss": result.last_loss, "steps": result.steps}


def make_lora(directory: Path, *, base: Path, release: Path, task: str, seed: int, settings: DemoSettings,
              progress: bool) -> dict:
    """``compbench train lora --task TASK`` into ``directory``."""
    from compbench.demo.methods import steps_config
    from compbench.training.bundles import train_lora_bundle
    from compbench.training.lora import LoraSettings

    s = settings
    bundle = train_lora_bundle(str(base), release, [task], directory,
                               config=steps_config(s.lora_lr, s.batch_size, s.lora_steps, seed),
                               settings=LoraSettings(r=s.lora_rank, alpha=s.lora_alpha, dropout=0.0),
                               max_length=s.max_length, progress=progress,
                               checkpoint_dir=directory.with_name(directory.name + ".checkpoints"))
    p = bundle.manifest.parameters
    return {"first_loss": p["first_loss"], "last_loss": p["last_loss"]}


def make_run(directory: Path, *, bundle: Path | None, method: str, subtasks: tuple[str, ...], base: Path,
             release: Path, cache: Path, seed: int, settings: DemoSettings, progress: bool) -> dict:
    """``compbench evaluate`` of one bundle (or an adapter-free method) on its sub-tasks' test splits."""
    from compbench.evaluation.runner import evaluate

    s = settings
    shutil.rmtree(cache, ignore_errors=True)  # a step's cache serves only a resumed run of that same step
    evaluation = evaluate(bundle, data=str(release), method=None if bundle else method, base_model=str(base),
                          subtasks=list(subtasks), split="test", out=directory, batch_size=s.batch_size,
                          max_new_tokens=s.max_new_tokens, seed=seed, bootstrap=0, progress=progress,
                          cache_dir=cache, command=f"compbench demo --seed {seed}")
    return {"generated": evaluation.generated}


def make_results(directory: Path, *, method: str, runs: list[Path], release: Path, base_name: str, seed: int,
                 bootstrap: int) -> dict:
    """``compbench score`` of a method's predictions on the 14 sub-tasks, and its leaderboard metadata."""
    from compbench import __version__
    from compbench.fileio import write_json
    from compbench.schemas import Results
    from compbench.scoring import score

    lines = [line for run in runs for line in (run / "predictions.jsonl").read_text(encoding="utf-8").splitlines()
             if line]
    (directory / "predictions.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    evaluated = [Results.model_validate_json((run / "results.json").read_text(encoding="utf-8")) for run in runs]
    subtasks = [s for s in MAIN_SUBTASKS if any(s in result.subtasks for result in evaluated)]
    report = score(directory / "predictions.jsonl", data=str(release), subtasks=subtasks, split="test", seed=seed,
                   bootstrap=bootstrap, workers=1, method=method, base_model=base_name,
                   efficiency=evaluated[0].efficiency, command=f"compbench demo --seed {seed}")
    report.write(directory / "results.json")
    write_json(directory / "metadata.json", {
        "method": method, "base_model": base_name, "authors": ["compbench demo"],
        "date": _dt.date.today().isoformat(), "compbench_version": __version__,
        "description": f"compbench demo, synthetic world seed {seed}: a tiny model on made-up languages, not a "
                       "result on the real benchmark"})
    families = report.results.families
    return {family: families[family].main for family in MAIN_FAMILIES if family in families}


def make_leaderboard(directory: Path, *, release: Path, results: list[Path], seed: int, bootstrap: int) -> dict:
    """A store pinned to the release, every method's results submitted (rescored), and the site built."""
    from compbench.leaderboard.site import build_leaderboard
    from compbench.leaderboard.store import init_store
    from compbench.leaderboard.submit import submit

    store = directory / "store"
    init_store(store, str(release), split="test", seed=seed, bootstrap=bootstrap)
    for path in results:
        submit(path, store, workers=1)
    report = build_leaderboard(store, directory / "site")
    if len(report.groups) != 1:
        raise RuntimeError(f"expected one table group, got {report.groups}")
    return {"group": report.groups[0], "entries": report.entries}


def _bundle_report(done: Done) -> str:
    info = done.info
    if "first_loss" in info and info["first_loss"] is not None:
        return f"loss {info['first_loss']:.2f} -> {info['last_loss']:.2f}"
    if "weights" in info:
        return "weights " + ", ".join(f"{w:.2f}" for w in info["weights"])
    return "written"


def _families_report(done: Done) -> str:
    return "  ".join(f"{family} {value:.1f}" for family, value in done.info.items())


def format_single_task(scores: dict[str, dict]) -> str:
    """The single-task scores as a small table: task, metric, with its LoRA, base model alone."""
    width = max([len("task"), *map(len, scores)]) + 2
    lines = [f"{'task':<{width}}metric   LoRA    base model alone"]
    for task, info in scores.items():
        lines.append(f"{task:<{width}}{info['metric']:<9}{info['lora']:>5.1f}   {info['base']:>5.1f}")
    return "\n".join(lines)


__all__ = ["DemoResult", "DemoSettings", "FAST", "FULL", "STAGES", "format_single_task", "run_demo"]
