"""One commit to a Hub dataset repository through ``huggingface_hub``: the part ``push`` and ``push-results`` share.

The repository is created if it does not exist (private if asked; an existing public repository is never filled
when ``--private`` was asked for), the branch is created from ``main`` if missing, and every file goes into **one**
commit whose parent is the branch head read just before (a concurrent change makes it fail instead of mixing). The
token is whatever ``huggingface_hub`` finds (``HF_TOKEN``, or the file ``hf auth login`` wrote); compbench only
checks that there is one, and never prints, logs or writes it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from compbench.errors import ConfigError
from compbench.hub_access import HubId, hub_access, parse_hub_id

DEFAULT_BRANCH = "main"


@dataclass(frozen=True)
class UploadFile:
    """A file of the commit: its path in the repository, its size in bytes, and its content (a file on disk, or
    bytes made for the commit such as an entry's metadata)."""

    path: str
    size: int
    source: Path | bytes

    @classmethod
    def at(cls, path: str, local: Path) -> UploadFile:
        return cls(path, local.stat().st_size, local)

    @classmethod
    def of(cls, path: str, content: bytes) -> UploadFile:
        return cls(path, len(content), content)


@dataclass
class CommitReport:
    """What a push did (or, for a dry run, would do)."""

    repo_id: str
    branch: str
    files: list[UploadFile]
    dry_run: bool
    tag: str | None = None
    created: bool = False  # the repository did not exist before
    commit: str | None = None  # commit id on the Hub (the branch head when nothing changed)
    url: str | None = None
    deleted: list[str] = field(default_factory=list)
    unchanged: bool = False  # the branch already held exactly these files: no commit was made

    @property
    def total_bytes(self) -> int:
        return sum(f.size for f in self.files)


def target(repo_id: str, branch: str | None) -> tuple[HubId, str]:
    """``--repo-id ORG/NAME`` (no ``@``: the branch is ``--revision``) and the branch, checked."""
    hub_id = parse_hub_id(repo_id, what="--repo-id", revision=False)
    branch = branch or DEFAULT_BRANCH
    if not branch.strip() or branch != branch.strip():
        raise ConfigError(f"--revision must be a branch name, got {branch!r}")
    return hub_id, branch


def commit_files(hub_id: HubId, branch: str, files: list[UploadFile], *, message: str, private: bool,
                 tag: str | None = None, stale: Callable[[str], bool] | None = None,
                 if_absent: list[UploadFile] = (), avoid: str | None = None) -> CommitReport:
    """Create the repository and branch if needed and commit ``files`` in one commit, with ``if_absent`` files
    that the branch does not hold yet, deleting the remote files ``stale(path)`` selects that the commit does not
    hold; then tag the commit ``tag`` (which must not exist yet)."""
    from huggingface_hub import CommitOperationAdd, CommitOperationDelete, HfApi, get_token
    from huggingface_hub.errors import RepositoryNotFoundError

    report = CommitReport(hub_id.repo_id, branch, list(files), dry_run=False, tag=tag)
    with hub_access(f"dataset repository {hub_id.repo_id}", avoid, online_only=True):
        if get_token() is None:
            raise ConfigError(f"no Hugging Face token to push to {hub_id.repo_id}: set HF_TOKEN or run "
                              "`hf auth login`")
        api = HfApi()
        try:
            info = api.repo_info(hub_id.repo_id, repo_type="dataset")
        except RepositoryNotFoundError:
            api.create_repo(hub_id.repo_id, repo_type="dataset", private=private or None, exist_ok=True)
            info, report.created = api.repo_info(hub_id.repo_id, repo_type="dataset"), True
        if private and not info.private:
            raise ConfigError(f"{hub_id.repo_id} exists and is public; --private only applies when the repository is "
                              "created: make it private on the Hub first, or push without --private")
        refs = api.list_repo_refs(hub_id.repo_id, repo_type="dataset")
        branches = {ref.name: ref.target_commit for ref in refs.branches}
        tags = {ref.name: ref.target_commit for ref in refs.tags}
        if tag is not None and tag in tags:
            raise ConfigError(f"tag {tag!r} already exists in {hub_id.repo_id} (commit {tags[tag][:12]}); a tag names "
                              "one release and never moves: give this release a new name")
        if branch not in branches:
            if branch in tags:
                raise ConfigError(f"--revision {branch!r} is a tag of {hub_id.repo_id}; commits go to a branch")
            api.create_branch(hub_id.repo_id, branch=branch, repo_type="dataset", exist_ok=True)
            branches[branch] = api.repo_info(hub_id.repo_id, repo_type="dataset", revision=branch).sha
        parent = branches[branch]
        remote = set(api.list_repo_files(hub_id.repo_id, repo_type="dataset", revision=parent))
        report.files += [f for f in if_absent if f.path not in remote]
        local = {f.path for f in report.files}
        report.deleted = sorted(path for path in remote if stale is not None and stale(path) and path not in local)
        operations = [CommitOperationAdd(path_in_repo=f.path, path_or_fileobj=f.source if isinstance(f.source, bytes)
                                         else str(f.source)) for f in report.files]
        operations += [CommitOperationDelete(path_in_repo=path) for path in report.deleted]
        info = api.create_commit(hub_id.repo_id, operations, commit_message=message, repo_type="dataset",
                                 revision=branch, parent_commit=parent)
        report.commit, report.url, report.unchanged = info.oid, info.commit_url, info.oid == parent
        if tag is not None:
            api.create_tag(hub_id.repo_id, tag=tag, tag_message=message, revision=info.oid, repo_type="dataset")
    return report
