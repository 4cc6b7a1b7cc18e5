"""Helpers every command shares: turning library errors into one message and exit code 2."""

from __future__ import annotations

import functools
import shlex
from collections.abc import Callable
from typing import Any

import click

from compbench.errors import CompbenchError
from compbench.tasks import UnknownTaskError


def handle_errors(func: Callable[..., Any]) -> Callable[..., Any]:
    """Print a :class:`CompbenchError` as ``error: file:line: message`` and exit 2, without a traceback."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except (CompbenchError, UnknownTaskError) as exc:
            click.echo(f"error: {exc}", err=True)
            raise SystemExit(getattr(exc, "exit_code", 2)) from None

    return wrapper


def requires(extra: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Check, before the command runs (help still works), that the optional ``extra`` is installed."""

    def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            from compbench.extras import require_extra

            require_extra(extra, f"compbench {click.get_current_context().command_path.split(' ', 1)[-1]}")
            return func(*args, **kwargs)

        return wrapper

    return decorate


def command_line() -> str:
    """The current command as a canonical shell line (``compbench score p.jsonl --data ...``) for provenance."""
    ctx = click.get_current_context()
    words = ["compbench", ctx.info_name or ""]
    for param in ctx.command.params:
        value = ctx.params.get(param.name)
        if value is None or value is False or value == () or value == param.default:
            continue
        if isinstance(param, click.Argument):
            words.append(str(value))
            continue
        flag = param.opts[0]
        values = value if isinstance(value, (tuple, list)) else [value]
        for item in values:
            words.extend([flag] if item is True else [flag, str(item)])
    return shlex.join(words)
