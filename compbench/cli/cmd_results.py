"""``compbench push-results`` and ``compbench pull-results``: results entries to and from a Hub repository."""

from __future__ import annotations

import click

from compbench.cli.cmd_release import echo_report, repo_options
from compbench.cli.common import handle_errors
from compbench.cli.options import out_option


@click.command("push-results")
@click.argument("results_dir", type=click.Path(file_okay=False))
@repo_options
@handle_errors
def push_results(results_dir, repo_id, revision, private, dry_run) -> None:
    """Add RESULTS_DIR (results.json, results.examples.parquet, predictions.jsonl) as one entry of a results
    repository on the Hub."""
    from compbench.hub import push_results as push

    echo_report(push(results_dir, repo_id, revision=revision, private=private, dry_run=dry_run))


@click.command("pull-results")
@click.option("--repo-id", required=True, metavar="ORG/NAME[@REVISION]", help="Hub results repository.")
@click.option("--revision", default=None, metavar="REVISION", help="Branch, tag or commit [default: main].")
@out_option("Leaderboard store directory: entries go to STORE/entries/<entry>/.", required=True)
@handle_errors
def pull_results(repo_id, revision, out) -> None:
    """Fetch every entry of a Hub results repository into a local store, each checked against its metadata."""
    from compbench.hub import pull_results as pull

    report = pull(repo_id, out, revision=revision)
    click.echo(f"{len(report.entries)} entries in {report.repo_id}; {len(report.added)} new in {out}")
    for entry in report.added:
        click.echo(f"  + {entry}")
