"""Reaching the Hugging Face Hub: one place that turns "cannot reach it" into one clear line and exit 2.

Every capability that downloads or uploads wraps the call in :func:`hub_access`, naming what it tried to
reach and the local option that avoids the Hub. Offline (no network, or ``HF_HUB_OFFLINE=1``), a missing
repository or revision, a refused token: each becomes a :class:`HubUnreachable` (a ``ConfigError``), never a
traceback.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator

from compbench.errors import ConfigError


class HubUnreachable(ConfigError):
    """The Hub could not be reached (or refused the request) for something a command needs."""


def hub_offline() -> bool:
    """True when the user asked for offline mode (``HF_HUB_OFFLINE`` or ``HF_DATASETS_OFFLINE``)."""
    return any(os.environ.get(name, "").strip().upper() in ("1", "ON", "YES", "TRUE")
               for name in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE"))


def _chain(exc: BaseException) -> list[BaseException]:
    """The exception and its causes, outermost first (libraries wrap connection errors in their own types)."""
    seen: list[BaseException] = []
    while exc is not None and exc not in seen:
        seen.append(exc)
        exc = exc.__cause__ or exc.__context__
    return seen


def _reason(exc: BaseException) -> str:
    """A short cause, without the URL soup and multi-line hints libraries put in their messages."""
    chain = _chain(exc)
    names = [type(e).__name__ for e in chain]
    if "OfflineModeIsEnabled" in names or hub_offline():
        return "offline mode is on (HF_HUB_OFFLINE=1)"
    if any("connect" in n.lower() or "timeout" in n.lower() for n in names) or any(
            isinstance(e, (ConnectionError, TimeoutError)) for e in chain):
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


@contextlib.contextmanager
def hub_access(what: str, avoid: str | None = None) -> Iterator[None]:
    """Run the block; a failure to reach the Hub becomes ``HubUnreachable("cannot reach the Hub for WHAT ...")``.

    ``what`` names the thing (``"dataset knkarthick/dialogsum@f6bf536d"``); ``avoid`` the local option that
    needs no Hub (``"use --sources-dir DIR with the original files"``).
    """
    # huggingface_hub logs a warning per retry; the one-line error below says what happened instead
    hub_logger = logging.getLogger("huggingface_hub")
    level = hub_logger.level
    hub_logger.setLevel(logging.ERROR)
    try:
        yield
    except HubUnreachable:
        raise
    except Exception as exc:
        if not _is_hub_failure(exc):
            raise
        hint = f"; {avoid}" if avoid else ""
        raise HubUnreachable(f"cannot reach the Hugging Face Hub for {what} ({_reason(exc)}){hint}") from None
    finally:
        hub_logger.setLevel(level)
