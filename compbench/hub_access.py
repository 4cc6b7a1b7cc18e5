"""Reaching the Hugging Face Hub: one place that turns "cannot reach it" into one clear line and exit 2.

Every capability that downloads or uploads wraps the call in :func:`hub_access`, naming what it tried to
reach and the local option that avoids the Hub. Offline (no network, or ``HF_HUB_OFFLINE=1``), a missing
repository or revision, a refused token: each becomes a :class:`HubUnreachable` (a ``ConfigError``), never a
traceback. :func:`parse_hub_id` reads the ``ORG/NAME[@REVISION]`` ids that ``--data`` and ``--repo-id`` take.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass

from compbench.errors import ConfigError, InputError


class HubUnreachable(ConfigError):
    """The Hub could not be reached (or refused the request) for something a command needs."""


def hub_offline() -> bool:
    """True when the user asked for offline mode (``HF_HUB_OFFLINE`` or ``HF_DATASETS_OFFLINE``)."""
    return any(os.environ.get(name, "").strip().upper() in ("1", "ON", "YES", "TRUE")
               for name in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE"))


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """The exception and the ones it was raised from (libraries wrap a refused connection in their own errors)."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or exc.__context__


def _is_connection_failure(exc: BaseException) -> bool:
    name = type(exc).__name__.lower()
    return "connect" in name or "timeout" in name or isinstance(exc, (ConnectionError, TimeoutError))


def _reason(exc: BaseException) -> str:
    """A short cause, without the URL soup and multi-line hints libraries put in their messages."""
    names = [type(cause).__name__ for cause in _causes(exc)]
    if "OfflineModeIsEnabled" in names or hub_offline():
        return "offline mode is on (HF_HUB_OFFLINE=1)"
    if any(_is_connection_failure(cause) for cause in _causes(exc)):
        return "no connection to the Hub"
    name = names[0]
    if name in ("RepositoryNotFoundError", "DatasetNotFoundError"):
        return "repository not found, or private without a valid token"
    if name == "RevisionNotFoundError":
        return "revision not found"
    if name in ("EntryNotFoundError", "RemoteEntryNotFoundError", "LocalEntryNotFoundError"):
        return "file not found there (or not cached while offline)"
    if name == "GatedRepoError":
        return "gated repository: accept its terms and log in"
    status = getattr(getattr(exc, "response", None), "status_code", None)
    if status in (401, 403):
        return f"HTTP {status}: the token was refused or lacks write access (set HF_TOKEN or run `hf auth login`)"
    if status is not None:
        return f"HTTP {status}"
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else name
    return f"{name}: {first[:160]}"


def _is_hub_failure(exc: BaseException) -> bool:
    """Errors raised by huggingface_hub, datasets, transformers or the HTTP stack when the Hub is out of reach."""
    module = type(exc).__module__ or ""
    if module.startswith(("huggingface_hub", "httpx", "httpcore", "requests", "urllib3", "datasets")):
        return True
    if isinstance(exc, (ConnectionError, TimeoutError)):
        return True
    # transformers wraps download failures in OSError with a message about connecting to the Hub
    return isinstance(exc, OSError) and ("huggingface.co" in str(exc) or "offline" in str(exc).lower())


def _quiet_retries(record: logging.LogRecord) -> bool:
    """Drop huggingface_hub's per-retry warnings (a retry announcement, the error that caused it)."""
    if record.levelno != logging.WARNING:
        return True
    message = record.getMessage()
    return not (message.startswith("Retrying in") or "thrown while requesting" in message)


@contextlib.contextmanager
def hub_access(what: str, avoid: str | None = None, *, online_only: bool = False) -> Iterator[None]:
    """Run the block; a failure to reach the Hub becomes ``HubUnreachable("cannot reach the Hub for WHAT ...")``.

    ``what`` names the thing (``"dataset knkarthick/dialogsum@f6bf536d"``); ``avoid`` the local option that
    needs no Hub (``"use --sources-dir DIR with the original files"``). ``online_only``: the block needs the live
    Hub (an upload, a listing to mirror), so offline mode refuses it up front instead of trying the local cache.
    """
    hint = f"; {avoid}" if avoid else ""
    if online_only and hub_offline():
        raise HubUnreachable(f"cannot reach the Hugging Face Hub for {what} (offline mode is on (HF_HUB_OFFLINE=1))"
                             f"{hint}")
    # huggingface_hub logs two warnings per retry; the one-line error below says what happened instead
    http_logger = logging.getLogger("huggingface_hub.utils._http")
    http_logger.addFilter(_quiet_retries)
    try:
        yield
    except HubUnreachable:
        raise
    except Exception as exc:
        if not _is_hub_failure(exc):
            raise
        raise HubUnreachable(f"cannot reach the Hugging Face Hub for {what} ({_reason(exc)}){hint}") from None
    finally:
        http_logger.removeFilter(_quiet_retries)


@dataclass(frozen=True)
class HubId:
    """A Hub repository id with an optional revision (branch, tag or commit): ``ORG/NAME[@REVISION]``."""

    repo_id: str
    revision: str | None = None

    def __str__(self) -> str:
        return f"{self.repo_id}@{self.revision}" if self.revision else self.repo_id


def parse_hub_id(text: str, *, what: str = "--repo-id", revision: bool = True, hint: str | None = None) -> HubId:
    """``ORG/NAME`` or (if ``revision``) ``ORG/NAME@REVISION``, checked with huggingface_hub's own id rules."""
    from huggingface_hub.utils import HFValidationError, validate_repo_id

    repo_id, at, rev = text.partition("@")
    problem = None
    if repo_id.count("/") != 1:
        problem = "expected ORG/NAME"
    elif at and not revision:
        problem = "expected ORG/NAME without @REVISION"
    elif at and not rev.strip():
        problem = "empty revision after '@'"
    else:
        try:
            validate_repo_id(repo_id)
        except HFValidationError as exc:
            problem = str(exc).splitlines()[0]
    if problem:
        raise InputError(f"{what}: {hint or problem}" + (f" ({problem})" if hint else ""), text)
    return HubId(repo_id, rev or None)
