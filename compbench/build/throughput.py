"""Measured generation throughput, with provenance, and the wall-time estimates ``compbench build --plan`` prints.

The figures live in ``throughput.json`` beside this module, one entry per measured configuration (stage kind,
backend, precision, device, engine, workers), each with the command, machine and date it comes from; the build
benchmark adds or replaces entries (``benchmarks/bench_build.py --record``). An estimate uses the entry of exactly
the configuration asked for. The one extrapolation: a Ray pool of N actors without its own entry is estimated as
N times the 1-actor figure on the same hardware, and says so. Anything else without an entry has no estimate.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from compbench.fileio import write_json
from compbench.schemas import EngineInfo

MEASUREMENTS_FILE = Path(__file__).with_name("throughput.json")
STAGE_KINDS = {"tr": "translation", "tone": "tone"}


@dataclass(frozen=True)
class Configuration:
    """What a throughput figure is a figure of."""

    stage: str  # "translation" or "tone"
    backend: str  # transformers, ctranslate2, vllm
    precision: str  # dtype or CTranslate2 compute type
    device: str  # cpu or cuda
    engine: str  # local or ray
    workers: int  # 1 in process; Ray actors

    def describe(self) -> str:
        where = "in process" if self.engine == "local" else f"{self.engine}, {self.workers} actor(s)"
        return f"{self.stage} via {self.backend} {self.precision} on {self.device}, {where}"


@dataclass(frozen=True)
class Measurement:
    configuration: Configuration
    per_second: float
    workload: str
    command: str
    machine: str
    date: str
    source: str = ""

    def provenance(self) -> str:
        where = f"; {self.source}" if self.source else ""
        return f"{self.per_second:g}/s, `{self.command}` on {self.machine}, {self.date} ({self.workload}{where})"


@dataclass(frozen=True)
class Estimate:
    configuration: Configuration
    seconds: float | None  # None: no measurement for this configuration
    measurement: Measurement | None = None
    scaled_by: int = 1  # > 1: N actors estimated from the 1-actor figure


def stage_configuration(task: str, settings: Mapping[str, object], device: str, engine: EngineInfo) -> Configuration:
    """The configuration a stage of ``task`` runs in: its generator's backend and precision, the device, engine."""
    return Configuration(
        stage=STAGE_KINDS.get(task.partition("-")[0], task),
        backend=str(settings.get("backend", "unknown")),
        precision=str(settings.get("compute_type") or settings.get("dtype") or "unknown"),
        device=device.partition(":")[0],
        engine=engine.name,
        workers=int(engine.options.get("actors", 1)),  # type: ignore[call-overload]
    )


def load_measurements(path: Path | None = None) -> list[Measurement]:
    """The measured figures (default: :data:`MEASUREMENTS_FILE`)."""
    entries = json.loads((path or MEASUREMENTS_FILE).read_text(encoding="utf-8"))["measurements"]
    names = {f.name for f in fields(Configuration)}
    return [Measurement(Configuration(**{k: v for k, v in entry.items() if k in names}),
                        **{k: v for k, v in entry.items() if k not in names}) for entry in entries]


def record_measurement(measurement: Measurement, path: Path | None = None) -> None:
    """Add ``measurement`` to the table, replacing the entry of the same configuration."""
    path = path or MEASUREMENTS_FILE
    document = json.loads(path.read_text(encoding="utf-8"))
    kept = [m for m in load_measurements(path) if m.configuration != measurement.configuration]
    document["measurements"] = [_entry(m) for m in [*kept, measurement]]
    write_json(path, document)


def _entry(measurement: Measurement) -> dict[str, object]:
    entry = asdict(measurement)
    return {**entry.pop("configuration"), **entry}


def estimate(configuration: Configuration, count: int, measurements: list[Measurement] | None = None) -> Estimate:
    """The wall time of ``count`` generations in ``configuration``, from the measured figure (see module doc)."""
    measurements = load_measurements() if measurements is None else measurements
    by_configuration = {m.configuration: m for m in measurements}
    found = by_configuration.get(configuration)
    if found is not None:
        return Estimate(configuration, count / found.per_second, found)
    if configuration.engine == "ray" and configuration.workers > 1:
        one = by_configuration.get(Configuration(**{**asdict(configuration), "workers": 1}))
        if one is not None:
            return Estimate(configuration, count / (one.per_second * configuration.workers), one,
                            scaled_by=configuration.workers)
    return Estimate(configuration, None)


def format_duration(seconds: float) -> str:
    """``"3 d 4 h"``, ``"19 h 3 min"``, ``"12 min"``, ``"40 s"``."""
    seconds = round(seconds)
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes} min"
    return f"{minutes} min" if minutes else f"{secs} s"
