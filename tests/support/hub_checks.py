"""Helpers for tests against the Hub stand-in: small releases to push, and the check that the token leaks nowhere."""

from __future__ import annotations

import contextlib
import io
import logging
import re
from collections.abc import Iterator
from pathlib import Path

from click.testing import CliRunner, Result

from compbench.build.release import write_hub_repo
from compbench.cli import main
from tests.support.hub_standin import TOKEN
from tests.support.release_factory import row, write_release

REFERENCES = {"d1": ["el gato duerme en la casa", "un gato duerme"], "d2": ["la niña come pan", "una niña come"]}


def release_rows(tag: str = "") -> list[dict]:
    rows = [row("sum+tr-es", sid, ref + tag, index=i) for sid, refs in REFERENCES.items() for i, ref in enumerate(refs)]
    rows += [row("sum+tr-es", "t1", "el perro corre" + tag, split="train")]
    return rows + [row("reply+tone-witty", "r1", "Mondays, my favourite" + tag)]


def make_repo_dir(root: Path, name: str = "compbench-test-1", tag: str = "", **options) -> Path:
    """A small release written by `compbench release` (card, manifest, data files)."""
    source = write_release(root.parent / f"{root.name}-source", release_rows(tag), release=name)
    write_hub_repo(source, root, **options)
    return root


def invoke(*args: object) -> Result:
    return CliRunner().invoke(main, [str(a) for a in args])


@contextlib.contextmanager
def hub_debug_log(monkeypatch) -> Iterator[io.StringIO]:
    """Everything huggingface_hub logs, at DEBUG and with its request dumps (HF_DEBUG) on, into a buffer."""
    import huggingface_hub.constants as hub_constants

    monkeypatch.setattr(hub_constants, "HF_DEBUG", True)
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    logger = logging.getLogger("huggingface_hub")
    previous = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        yield buffer
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous)


def assert_token_nowhere(hub, *texts: str, under: Path) -> None:
    """The token reached the stand-in (so it was used) but is in no text, no written file, no committed file."""
    assert TOKEN in hub.tokens_seen
    for text in texts:
        assert TOKEN not in text
    secret = TOKEN.encode()
    for path in under.rglob("*"):
        if path.is_file() and not path.is_symlink():
            assert secret not in path.read_bytes(), path
    for commit in hub.commits:
        assert all(secret not in content for content in commit.added.values())
    assert all(TOKEN not in line for line in hub.requests)


def error_line(result: Result) -> str:
    """The one line a failed command printed (exit 2, no traceback; download progress bars aside)."""
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    lines = [line for line in result.stderr.replace("\r", "\n").splitlines()
             if line.strip() and not re.search(r"\d+it/s\]|\?it/s\]", line)]
    assert len(lines) == 1 and lines[0].startswith("error: "), lines
    return lines[0]
