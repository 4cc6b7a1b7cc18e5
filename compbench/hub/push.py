"""``compbench push``: a release directory to a Hub dataset repository, in one commit, tagged with its version.

What is uploaded is exactly ``README.md``, ``manifest.json`` and the data files the manifest lists, each checked
against its sha256 first; anything else in the directory is refused, so the repository holds what the manifest
says and nothing more. Data files of an earlier release on the branch that this one does not hold (other shard
counts, dropped configs) are deleted in the same commit. ``--tag`` tags the commit with the release name from the
manifest (``compbench-0.1.0``); a tag that exists already is refused before anything is uploaded.
"""

from __future__ import annotations

from pathlib import Path

from compbench.build.release import CARD_NAME
from compbench.errors import InputError
from compbench.hub.commit import CommitReport, UploadFile, commit_files, target
from compbench.references import read_manifest, release_files
from compbench.schemas import MANIFEST_NAME, ReleaseManifest


def release_upload(repo_dir: str | Path) -> tuple[ReleaseManifest, list[UploadFile]]:
    """The manifest and the files of ``repo_dir`` to upload (card, manifest, data files), all checked."""
    root = Path(repo_dir)
    if not root.is_dir():
        raise InputError("release directory not found", root)
    manifest = read_manifest(root)
    if not (root / CARD_NAME).is_file():
        raise InputError(f"no {CARD_NAME} (the dataset card): write the directory with `compbench release`", root)
    data = release_files(root, manifest=manifest)
    files = [UploadFile.at(CARD_NAME, root / CARD_NAME), UploadFile.at(MANIFEST_NAME, root / MANIFEST_NAME),
             *(UploadFile.at(entry.path, path) for entry, path in data)]
    known = {f.path for f in files}
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root).as_posix()
        if path.is_file() and relative not in known:
            raise InputError(f"{relative!r} is not part of the release (not in {MANIFEST_NAME}); remove it, or "
                             "write a clean directory with `compbench release`", root)
    return manifest, files


def push_release(repo_dir: str | Path, repo_id: str, *, revision: str | None = None, tag: bool = False,
                 private: bool = False, dry_run: bool = False) -> CommitReport:
    """Upload the release directory ``repo_dir`` to the dataset repository ``repo_id`` (``ORG/NAME``) on branch
    ``revision`` (default ``main``) in one commit; ``tag`` tags it with the release name. ``dry_run`` checks the
    directory and reports the files and sizes that would be uploaded without reaching the Hub."""
    hub_id, branch = target(repo_id, revision)
    manifest, files = release_upload(repo_dir)
    tag_name = manifest.release if tag else None
    if dry_run:
        return CommitReport(hub_id.repo_id, branch, files, dry_run=True, tag=tag_name)
    return commit_files(hub_id, branch, files, message=f"compbench release {manifest.release}", private=private,
                        tag=tag_name, stale=lambda path: path.startswith("data/"),
                        avoid="use --dry-run to check what would be uploaded")
