"""Asking the judge many questions: cache first, then bounded concurrency, one commit per answer.

Worker threads only talk HTTP; the calling thread owns the cache and writes each answer the moment it arrives,
so a run that is killed keeps every answer it received and a rerun asks only the rest. Identical requests are
asked once. A run stops early (``ConfigError``, answers so far kept) when the endpoint refuses outright (401,
403, 404) or when ``max_consecutive_failures`` requests in a row fail after their retries: a server that is down
is not worth 17,500 timeouts.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass

from tqdm.auto import tqdm

from compbench.errors import ConfigError
from compbench.llm_judge.cache import AnswerCache
from compbench.llm_judge.client import Answer
from compbench.llm_judge.requests import JudgeRequest

log = logging.getLogger(__name__)

MAX_CONSECUTIVE_FAILURES = 20
LOGGED_FAILURES = 5  # failures logged one by one; the rest are counted (RunStats, the results' failed counts)


@dataclass
class RunStats:
    requests: int  # distinct requests
    cached: int  # answered from the cache
    sent: int  # answered or failed now
    failed: int


def ask_all(requests: Sequence[JudgeRequest], ask: Callable[[JudgeRequest], Answer], cache: AnswerCache,
            concurrency: int = 8, progress: bool = True,
            max_consecutive_failures: int = MAX_CONSECUTIVE_FAILURES) -> tuple[dict[str, Answer], RunStats]:
    """Answers by request key for every request (cached, new, or failed with its reason)."""
    if concurrency < 1:
        raise ConfigError("the judge's concurrency must be 1 or more")
    unique = {r.key: r for r in requests}
    answers: dict[str, Answer] = {k: Answer(text) for k, text in cache.get_many(list(unique)).items()}
    todo = [r for k, r in unique.items() if k not in answers]
    stats = RunStats(requests=len(unique), cached=len(answers), sent=0, failed=0)
    if not todo:
        return answers, stats
    bar = tqdm(total=len(unique), initial=len(answers), desc="judge", unit="req", disable=not progress)
    pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="judge")
    pending: dict[Future[Answer], JudgeRequest] = {}
    queue = iter(todo)
    consecutive = 0
    try:
        for request in queue:  # keep at most 2 x concurrency in flight, so an early stop cancels little
            pending[pool.submit(ask, request)] = request
            if len(pending) >= 2 * concurrency:
                break
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                request = pending.pop(future)
                answer = future.result()  # FatalEndpointError propagates from here
                answers[request.key] = answer
                stats.sent += 1
                if answer.text is not None:
                    cache.put(request.key, request.model, request.version, answer.text)
                    consecutive = 0
                else:
                    stats.failed += 1
                    consecutive += 1
                    if stats.failed <= LOGGED_FAILURES:
                        log.warning("judge request failed: %s", answer.error)
                    if consecutive >= max_consecutive_failures:
                        raise ConfigError(f"{consecutive} judge requests in a row failed (last: {answer.error}); "
                                          f"answers received so far are cached, rerun to resume")
                bar.update(1)
                next_request = next(queue, None)
                if next_request is not None:
                    pending[pool.submit(ask, next_request)] = next_request
    finally:
        bar.close()
        pool.shutdown(wait=False, cancel_futures=True)
    return answers, stats
