"""``compbench push`` against the Hub stand-in: one commit with exactly the release's files, a tag, branches,
private repositories, stale shards, and a token that is used but never shown or written."""

from __future__ import annotations

import re

from compbench.schemas import ReleaseManifest
from tests.support.hub_checks import assert_token_nowhere, error_line, hub_debug_log, invoke, make_repo_dir


def local_files(root):
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_push_creates_the_repo_in_one_tagged_commit(hub, tmp_path, monkeypatch):
    repo_dir = make_repo_dir(tmp_path / "repo")
    with hub_debug_log(monkeypatch) as log:
        result = invoke("push", repo_dir, "--repo-id", "bench/compbench", "--tag")
    assert result.exit_code == 0, result.output
    [commit] = hub.commits
    assert commit.added == local_files(repo_dir) and commit.deleted == []  # exactly the release, in one commit
    assert commit.title == "compbench release compbench-test-1"
    repo = hub.repo("bench/compbench")
    assert repo.branches["main"] == commit.oid and repo.tags == {"compbench-test-1": commit.oid}
    assert not repo.private
    assert f"commit {commit.oid}" in result.output and "created and pushed" in result.output
    assert len(hub.requests) <= 12 and not hub.unhandled
    assert_token_nowhere(hub, result.output, log.getvalue(), under=tmp_path)


def test_dry_run_prints_the_files_and_sizes_and_reaches_nothing(hub, tmp_path):
    repo_dir = make_repo_dir(tmp_path / "repo")
    result = invoke("push", repo_dir, "--repo-id", "bench/compbench", "--tag", "--dry-run")
    assert result.exit_code == 0, result.output
    listed = dict(re.findall(r"^  (\S+)\s+([\d,]+) bytes$", result.output, flags=re.M))
    assert {path: int(size.replace(",", "")) for path, size in listed.items()} == {
        path: len(content) for path, content in local_files(repo_dir).items()}
    assert "tag compbench-test-1" in result.output
    assert f"{len(listed)} files, {sum(len(c) for c in local_files(repo_dir).values()):,} bytes" in result.output
    assert hub.requests == []


def test_a_new_release_on_a_branch_deletes_stale_shards_and_keeps_main(hub, tmp_path):
    first = make_repo_dir(tmp_path / "one")
    assert invoke("push", first, "--repo-id", "bench/compbench", "--tag").exit_code == 0
    main_head = hub.repo("bench/compbench").branches["main"]
    second = make_repo_dir(tmp_path / "two", name="compbench-test-2", tag=" hoy", max_shard_bytes=2_500)
    result = invoke("push", second, "--repo-id", "bench/compbench", "--revision", "next", "--tag")
    assert result.exit_code == 0, result.output
    repo = hub.repo("bench/compbench")
    assert repo.branches["main"] == main_head and repo.tags["compbench-test-1"] == main_head
    commit = hub.commits[-1]
    assert commit.revision == "next" and repo.branches["next"] == commit.oid == repo.tags["compbench-test-2"]
    manifest = ReleaseManifest.model_validate_json((second / "manifest.json").read_text())
    assert any(f.path.endswith("-of-00003.parquet") for f in manifest.files)
    # the branch now holds exactly the second release (plus the repository's .gitattributes)
    assert hub.files("bench/compbench", "next") == {".gitattributes": hub.files("bench/compbench")[".gitattributes"],
                                                    **local_files(second)}
    assert commit.deleted == sorted(set(local_files(first)) - set(local_files(second)) - {"README.md",
                                                                                            "manifest.json"})


def test_an_existing_tag_is_refused_before_anything_is_uploaded(hub, tmp_path):
    repo_dir = make_repo_dir(tmp_path / "repo")
    assert invoke("push", repo_dir, "--repo-id", "bench/compbench", "--tag").exit_code == 0
    again = make_repo_dir(tmp_path / "again", tag=" otra vez")  # other data, same release name
    result = invoke("push", again, "--repo-id", "bench/compbench", "--tag")
    assert "tag 'compbench-test-1' already exists" in error_line(result) and len(hub.commits) == 1


def test_private_repositories(hub, tmp_path):
    repo_dir = make_repo_dir(tmp_path / "repo")
    assert invoke("push", repo_dir, "--repo-id", "bench/secret", "--private").exit_code == 0
    assert hub.repo("bench/secret").private
    assert invoke("push", repo_dir, "--repo-id", "bench/open").exit_code == 0
    result = invoke("push", repo_dir, "--repo-id", "bench/open", "--private")
    assert "exists and is public" in error_line(result)
    assert len(hub.commits) == 2


def test_without_a_token_or_with_a_wrong_one(hub, tmp_path, monkeypatch):
    repo_dir = make_repo_dir(tmp_path / "repo")
    monkeypatch.delenv("HF_TOKEN")
    result = invoke("push", repo_dir, "--repo-id", "bench/compbench")
    assert "no Hugging Face token" in error_line(result) and hub.requests == []
    monkeypatch.setenv("HF_TOKEN", "hf_wrong")
    result = invoke("push", repo_dir, "--repo-id", "bench/compbench")
    assert "HTTP 401" in error_line(result) and "hf_wrong" not in result.output and hub.commits == []


def test_a_directory_that_is_not_exactly_a_release_is_refused(hub, tmp_path):
    repo_dir = make_repo_dir(tmp_path / "repo")
    (repo_dir / "notes.txt").write_text("not part of it")
    result = invoke("push", repo_dir, "--repo-id", "bench/compbench")
    assert "'notes.txt' is not part of the release" in error_line(result)
    (repo_dir / "notes.txt").unlink()
    manifest = ReleaseManifest.model_validate_json((repo_dir / "manifest.json").read_text())
    (repo_dir / manifest.files[0].path).write_bytes(b"edited after release")
    result = invoke("push", repo_dir, "--repo-id", "bench/compbench", "--dry-run")
    assert "sha256 differs from the manifest" in error_line(result)
    result = invoke("push", repo_dir, "--repo-id", "bench/compbench/extra")
    assert "--repo-id" in error_line(result)
    assert hub.requests == []
