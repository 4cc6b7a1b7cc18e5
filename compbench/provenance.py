"""Where a result came from: the command, the date, the git commit and the versions of the packages that matter."""

from __future__ import annotations

import datetime as _dt
import platform
import subprocess
from importlib import metadata
from pathlib import Path

from compbench.schemas import Provenance

TRACKED_PACKAGES = ("compbench", "rouge-score", "rapidfuzz", "numpy", "pandas", "pyarrow", "datasets", "transformers", "peft",
                    "torch")


def git_sha() -> str | None:
    """The commit of the compbench checkout this code runs from, if it runs from one."""
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=Path(__file__).resolve().parent,
                             capture_output=True, text=True, timeout=5, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def package_versions(names: tuple[str, ...] = TRACKED_PACKAGES) -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    if "compbench" not in versions:
        from compbench import __version__

        versions["compbench"] = __version__
    return versions


def provenance(command: str) -> Provenance:
    return Provenance(
        command=command,
        date=_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        git_sha=git_sha(),
        packages=package_versions(),
    )
