"""A batching window: concurrent callers' commands go to Salesforce in one `apply`.

The consumer loop hands over one partition's batch at a time, all partitions of a poll
concurrently; applied one by one, a poll spread over 12 partitions would make ~12 small
sObject Collections calls instead of one or two full ones (issue 5, protocols.md C11: a call
counts one whether it carries 1 record or 200). So every caller `submit`s its commands and
awaits its own outcomes; the window flushes everything it holds in ONE call of `apply` when it
holds `max_size` items or `window_s` after the first one arrived, and hands each caller its
slice of the outcomes, in order.

Failures: when the merged call raises, each caller's commands are applied again on their own,
so one caller's poisoned command (or a rep whose session is refused, LS-13) fails only that
caller — whose partition the consumer loop then retries and, if need be, splits. `Stopped`
(the connector is shutting down) is not retried: every waiting caller gets it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

log = logging.getLogger(__name__)
T = TypeVar("T")
R = TypeVar("R")


class Stopped(RuntimeError):
    """Stopped before the batch was applied: the messages are redelivered later."""


@dataclass
class _Submission(Generic[T, R]):
    items: Sequence[T]
    done: asyncio.Future[list[R]] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class BatchWindow(Generic[T, R]):
    """Coalesces concurrent `submit` calls into calls of `apply` (one result per item)."""

    def __init__(
        self,
        apply: Callable[[list[T]], Awaitable[list[R]]],
        *,
        window_s: float,
        max_size: int,
    ) -> None:
        self.apply = apply
        self.window_s = window_s
        self.max_size = max_size
        self.flushes = 0  # merged calls of `apply`, for tests and logs
        self._pending: list[_Submission[T, R]] = []
        self._size = 0
        self._timer: asyncio.Task[None] | None = None
        self._running: set[asyncio.Task[None]] = set()

    async def submit(self, items: Sequence[T]) -> list[R]:
        """The results of `items`, in order, once the window they joined has been applied."""
        if not items:
            return []
        submission: _Submission[T, R] = _Submission(items)
        self._pending.append(submission)
        self._size += len(items)
        if self._size >= self.max_size:
            self._flush()
        elif self._timer is None:
            self._timer = asyncio.create_task(self._flush_later())
        return await submission.done  # a cancelled caller's commands are still applied

    async def _flush_later(self) -> None:
        await asyncio.sleep(self.window_s)
        self._timer = None
        self._flush()

    def _flush(self) -> None:
        if self._timer is not None and self._timer is not asyncio.current_task():
            self._timer.cancel()
        self._timer = None
        batch, self._pending, self._size = self._pending, [], 0
        if batch:
            task = asyncio.create_task(self._run(batch))
            self._running.add(task)  # keep a reference until done (asyncio holds weak ones)
            task.add_done_callback(self._running.discard)

    async def _run(self, batch: list[_Submission[T, R]]) -> None:
        self.flushes += 1
        try:
            await self._apply_merged(batch)
        finally:  # cancelled (shutdown): nobody may wait for ever; their messages come again
            for submission in batch:
                _settle(submission, exc=Stopped("stopped before the batch was applied"))

    async def _apply_merged(self, batch: list[_Submission[T, R]]) -> None:
        try:
            results = await self.apply([item for s in batch for item in s.items])
        except Exception as exc:
            if isinstance(exc, Stopped) or len(batch) == 1:
                for submission in batch:
                    _settle(submission, exc=exc)
                return
            log.warning(
                "merged apply failed; applying each caller's commands on their own",
                extra={"callers": len(batch), "error": repr(exc)[:200]},
            )
            for submission in batch:
                await self._run_alone(submission)
            return
        start = 0
        for submission in batch:
            end = start + len(submission.items)
            _settle(submission, results=results[start:end])
            start = end

    async def _run_alone(self, submission: _Submission[T, R]) -> None:
        try:
            results = await self.apply(list(submission.items))
        except Exception as exc:
            _settle(submission, exc=exc)
        else:
            _settle(submission, results=results)


def _settle(
    submission: _Submission[T, R],
    results: list[R] | None = None,
    exc: BaseException | None = None,
) -> None:
    if submission.done.done():  # the caller was cancelled meanwhile
        return
    if exc is not None:
        submission.done.set_exception(exc)
    elif results is None or len(results) != len(submission.items):
        submission.done.set_exception(RuntimeError("apply returned the wrong number of results"))
    else:
        submission.done.set_result(results)
