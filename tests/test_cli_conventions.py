"""Every command's options against the CLI conventions of docs/cli.md (compbench/cli/options.py)."""

from __future__ import annotations

import re
from collections.abc import Iterator

import click
import pytest

from compbench.cli import main
from compbench.cli.options import CONVENTIONS, DTYPE_CHOICES, RETIRED
from compbench.engines import ENGINES
from compbench.evaluation.engine import EVALUATION_ENGINES
from compbench.tasks import SPLITS


def walk(command: click.Command, path: tuple[str, ...] = ()) -> Iterator[tuple[str, click.Command]]:
    if isinstance(command, click.Group):
        for name, sub in command.commands.items():
            yield from walk(sub, (*path, name))
    else:
        yield " ".join(path), command


COMMANDS = dict(walk(main))
OPTIONS = [(name, option) for name, command in COMMANDS.items() for option in command.params
           if isinstance(option, click.Option)]


def option_ids() -> list[str]:
    return [f"{name} {option.opts[0]}" for name, option in OPTIONS]


def test_the_walk_sees_every_command():
    assert {"tasks", "score", "compare", "build", "efficiency", "train lora", "adapters merge"} <= set(COMMANDS)


@pytest.mark.parametrize(("command", "option"), OPTIONS, ids=option_ids())
def test_no_retired_names(command, option):
    retired = [name for name in option.opts + option.secondary_opts if name in RETIRED]
    assert not retired, f"{command}: {retired[0]} is retired, use {RETIRED[retired[0]]}"


def _int_range_from_1(option: click.Option) -> bool:
    return isinstance(option.type, click.IntRange) and option.type.min == 1


CHECKS = {
    "--data": lambda o: o.metavar == "DIR_OR_HUB_ID" and not o.multiple,
    "--out": lambda o: isinstance(o.type, click.Path) and not o.multiple,
    "--subtask": lambda o: o.multiple and o.name == "subtasks",
    "--split": lambda o: isinstance(o.type, click.Choice) and tuple(o.type.choices) == SPLITS,
    "--limit": _int_range_from_1,
    "--json": lambda o: o.is_flag and o.name == "as_json",
    "--device": lambda o: not o.is_flag,
    "--dtype": lambda o: isinstance(o.type, click.Choice) and tuple(o.type.choices) == DTYPE_CHOICES,
    "--batch-size": _int_range_from_1,
    "--seed": lambda o: o.type is click.INT or isinstance(o.type, click.IntRange),
    "--no-progress": lambda o: o.is_flag,
    "--cache-dir": lambda o: isinstance(o.type, click.Path),
    "--base-model": lambda o: not o.is_flag,
    "--max-new-tokens": _int_range_from_1,
    "--engine": lambda o: isinstance(o.type, click.Choice) and tuple(o.type.choices) in (ENGINES, EVALUATION_ENGINES)
    and o.default == "local",
    "--ray-address": lambda o: o.metavar == "ADDR" and o.default is None,
    "--actors": lambda o: _int_range_from_1(o) and o.default is None,
    "--gpus-per-actor": lambda o: isinstance(o.type, click.FloatRange) and o.type.min == 0 and o.default is None,
    "--cpus-per-actor": lambda o: isinstance(o.type, click.FloatRange) and o.default is None,
    "--judge-endpoint": lambda o: o.metavar == "URL",
    "--judge-model": lambda o: o.metavar == "NAME",
    "--store": lambda o: isinstance(o.type, click.Path) and not o.multiple,
}


def test_every_convention_has_a_check():
    assert set(CHECKS) == set(CONVENTIONS)


@pytest.mark.parametrize(("command", "option"), [(c, o) for c, o in OPTIONS if o.opts[0] in CONVENTIONS],
                         ids=[f"{c} {o.opts[0]}" for c, o in OPTIONS if o.opts[0] in CONVENTIONS])
def test_conventional_names_mean_the_conventional_thing(command, option):
    assert CHECKS[option.opts[0]](option), f"{command} {option.opts[0]} differs from docs/cli.md"
    assert not [o for o in option.opts if not o.startswith("--")], f"{command} {option.opts[0]}: no short aliases"


def _default(option: click.Option) -> object:
    """The option's default value, or None when it has none (click marks "no default" with a sentinel)."""
    default = option.default
    return None if default in (False, ()) or type(default).__name__ == "Sentinel" else default


DEFAULT_IN_HELP = re.compile(r"[\[(]default[:\s]|default:")


@pytest.mark.parametrize(("command", "option"), OPTIONS, ids=option_ids())
def test_help_shows_the_true_default_once(command, option):
    help_text = (option.help or "").lower()
    default = None if option.is_flag else _default(option)
    said = bool(DEFAULT_IN_HELP.search(help_text))
    if option.show_default and default is not None:
        assert not said, f"{command} {option.opts[0]}: default shown twice (help and [default: {default}])"
    elif default is not None:
        assert said, f"{command} {option.opts[0]}: its default {default!r} is not shown (use show_default)"
    if re.search(r"default:? (all|every)", help_text):
        assert default is None, f"{command} {option.opts[0]}: help says all, but the default is {default!r}"
