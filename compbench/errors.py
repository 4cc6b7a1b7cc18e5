"""Errors that reach the user as one clear message (file, line, what was expected), never as a traceback."""

from __future__ import annotations

from pathlib import Path


class CompbenchError(Exception):
    """A problem with the user's input or settings. The CLI prints it and exits with code 2."""

    exit_code = 2

    def __init__(self, message: str, path: str | Path | None = None, line: int | None = None):
        self.message = message
        self.path = str(path) if path is not None else None
        self.line = line
        super().__init__(self.__str__())

    def __str__(self) -> str:
        where = ""
        if self.path is not None:
            where = f"{self.path}:{self.line}: " if self.line is not None else f"{self.path}: "
        return f"{where}{self.message}"


class InputError(CompbenchError):
    """A file the user gave is missing, unreadable or malformed."""


class ConfigError(CompbenchError):
    """An option or setting is invalid (unknown sub-task, tokenizer, method, ...)."""
