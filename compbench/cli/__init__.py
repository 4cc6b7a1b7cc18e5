"""The ``compbench`` command: thin click wrappers over the library's public functions."""

from __future__ import annotations

import click

from compbench import __version__
from compbench.cli import (
    cmd_adapters,
    cmd_build,
    cmd_demo,
    cmd_efficiency,
    cmd_evaluate,
    cmd_judge,
    cmd_leaderboard,
    cmd_methods,
    cmd_release,
    cmd_results,
    cmd_score,
    cmd_submit,
    cmd_tasks,
    cmd_train,
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="compbench")
def main() -> None:
    """Build, score and publish the compositional multi-tasking benchmark."""


main.add_command(cmd_tasks.tasks)
main.add_command(cmd_build.build)
main.add_command(cmd_score.score)
main.add_command(cmd_score.compare)
main.add_command(cmd_judge.judge)
main.add_command(cmd_efficiency.efficiency_command)
main.add_command(cmd_adapters.adapters)
main.add_command(cmd_train.train)
main.add_command(cmd_methods.methods)
main.add_command(cmd_evaluate.evaluate_command)
main.add_command(cmd_evaluate.run_grid_command)
main.add_command(cmd_release.release)
main.add_command(cmd_release.push)
main.add_command(cmd_results.push_results)
main.add_command(cmd_results.pull_results)
main.add_command(cmd_leaderboard.leaderboard)
main.add_command(cmd_submit.submit)
main.add_command(cmd_demo.demo)
