"""Helpers every command shares: turning library errors into one message and exit code 2."""

from __future__ import annotations

import functools
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
