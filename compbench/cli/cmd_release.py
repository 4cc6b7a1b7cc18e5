"""``compbench release`` (a release directory in the Hub repository layout) and ``compbench push`` (to the Hub)."""

from __future__ import annotations

import click

from compbench.cli.common import handle_errors
from compbench.cli.options import out_option

MB = 2**20


def format_upload(report) -> str:
    """The files of a push (or dry run), one per line with its size, then the total."""
    width = max(len(f.path) for f in report.files)
    lines = [f"  {f.path.ljust(width)}  {f.size:>14,} bytes" for f in report.files]
    lines += [f"  delete {path}" for path in report.deleted]
    return "\n".join([*lines, f"{len(report.files)} files, {report.total_bytes:,} bytes"])


def echo_report(report) -> None:
    where = f"{report.repo_id} (branch {report.branch}" + (f", tag {report.tag})" if report.tag else ")")
    if report.dry_run:
        click.echo(f"dry run: would upload to {where}, in one commit:")
        click.echo(format_upload(report))
        return
    if report.unchanged:
        click.echo(f"nothing to push: {where} already holds these files at commit {report.commit}")
        return
    click.echo(f"{'created and pushed' if report.created else 'pushed'} to {where}: commit {report.commit}")
    click.echo(format_upload(report))
    if report.url:
        click.echo(report.url)


def repo_options(func):
    """``--repo-id``, ``--revision``, ``--private`` and ``--dry-run``, shared by ``push`` and ``push-results``."""
    for option in reversed([
        click.option("--repo-id", required=True, metavar="ORG/NAME", help="Hub dataset repository to push to."),
        click.option("--revision", default="main", show_default=True, metavar="BRANCH",
                     help="Branch to commit to (created from main if missing)."),
        click.option("--private", is_flag=True, help="Create the repository private (a public one is refused)."),
        click.option("--dry-run", is_flag=True,
                     help="Check everything and print the files and sizes that would be uploaded; reach nothing."),
    ]):
        func = option(func)
    return func


@click.command()
@click.argument("release_dir", type=click.Path(file_okay=False))
@out_option("Hub dataset repository directory to write (replaced atomically at the end).", required=True)
@click.option("--name", default=None, help="Rename the release (recorded in the manifest) [default: as built].")
@click.option("--max-shard-mb", type=click.IntRange(min=1), default=256, show_default=True,
              help="Cut a split whose Parquet file would exceed this many MiB into shards of equal row counts.")
@handle_errors
def release(release_dir, out, name, max_shard_mb) -> None:
    """Write RELEASE_DIR as a Hub dataset repository: sharded Parquet, manifest, dataset card (deterministic)."""
    from compbench.build.release import write_hub_repo

    manifest = write_hub_repo(release_dir, out, max_shard_bytes=max_shard_mb * MB, name=name)
    rows = sum(f.rows for f in manifest.files)
    click.echo(f"wrote {out}: release {manifest.release}, {len(manifest.files)} data files, {rows:,} rows")


@click.command()
@click.argument("repo_dir", type=click.Path(file_okay=False))
@repo_options
@click.option("--tag", is_flag=True, help="Tag the commit with the release name from the manifest.")
@handle_errors
def push(repo_dir, repo_id, revision, private, dry_run, tag) -> None:
    """Upload the release REPO_DIR to a Hub dataset repository in one commit (token: HF_TOKEN or `hf auth login`)."""
    from compbench.hub import push_release

    echo_report(push_release(repo_dir, repo_id, revision=revision, tag=tag, private=private, dry_run=dry_run))
