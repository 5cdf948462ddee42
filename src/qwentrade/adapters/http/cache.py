"""The caches of the read endpoints, each bounded: a client asking ever new queries (a new
``start`` for each /klines call) must not grow the process without limit.

- :class:`BoundedMemoryStore`: Litestar's response cache store (routes declared with
  ``cache=N``, e.g. /signals): an answer is reused for N seconds, and the first request
  after that pays the whole read.
- :class:`RefreshAheadCache`: stale-while-revalidate for the reads whose miss is costly
  (/klines, /metrics). An answer younger than its freshness is served as is; an older one
  is still served while ONE background read per key (single-flight) replaces it; one
  older than the hard age (:data:`HARD_AGE_FACTOR` x the freshness) is never served: the
  request waits for a new read (shared with any other request waiting for the same key).
  A read that fails is never stored: the requests waiting for it get its error, and a
  failed background read leaves the older answer until its hard age.

Both sit behind the API-key guard: Litestar runs a route's guards before its handler and
before its response cache, so a request without the key never reaches a cached answer.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Hashable
from datetime import timedelta

import anyio.to_thread
import attrs
from litestar.stores.memory import MemoryStore

log = logging.getLogger(__name__)

MAX_ENTRIES = 256  # a /klines answer of 1,000 candles is ~0.5 MB: at most ~130 MB held
HARD_AGE_FACTOR = 3  # an answer older than 3x its freshness is never served


class BoundedMemoryStore(MemoryStore):
    """Litestar's memory store keeping at most ``max_entries`` keys (the oldest go first)."""

    def __init__(self, max_entries: int = MAX_ENTRIES) -> None:
        super().__init__()
        self.max_entries = max_entries

    async def set(
        self, key: str, value: str | bytes, expires_in: int | timedelta | None = None
    ) -> None:
        await super().set(key, value, expires_in)
        # No await from here on: nothing else on the event loop runs in between.
        while len(self._store) > self.max_entries:
            del self._store[next(iter(self._store))]

    @property
    def entries(self) -> int:
        """Keys held now (no ``__len__``: Litestar's registry would take an empty store
        for a missing one and replace it)."""
        return len(self._store)


def freshness(fresh: float, what: str) -> str:
    """The OpenAPI description of a route answered through :class:`RefreshAheadCache`."""
    hard = HARD_AGE_FACTOR * fresh
    return (
        f"Shared answers: {what} is served as is for {fresh:g} s; up to {hard:g} s old it is "
        "still served while one background read replaces it; an older one is never served "
        f"(the request waits for a new read). No answer is older than {hard:g} s."
    )


@attrs.frozen
class Answer:
    """An encoded answer and when the read that produced it began (the cache's clock)."""

    body: bytes
    born: float


@attrs.define
class _Read:
    task: asyncio.Task[Answer]
    awaited: bool = False  # a request waits for it (and reports its error itself)


class RefreshAheadCache:
    """Encoded answers by key, refreshed ahead of their hard age (see the module).

    Everything runs on the event loop except ``read`` itself (a worker thread), so the
    maps need no lock. ``clock`` is a monotonic function of seconds (injectable in tests).
    """

    def __init__(
        self, max_entries: int = MAX_ENTRIES, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.max_entries = max_entries
        self.clock = clock
        self._answers: dict[Hashable, Answer] = {}
        self._reads: dict[Hashable, _Read] = {}

    async def get(self, key: Hashable, read: Callable[[], bytes], fresh: float) -> bytes:
        """The answer of ``key``: cached if younger than ``fresh`` seconds; cached while one
        background ``read`` replaces it if younger than ``HARD_AGE_FACTOR * fresh``; else
        the answer of a new ``read`` (or of the one already running for ``key``)."""
        answer = self._answers.get(key)
        if answer is not None:
            age = self.clock() - answer.born
            if age < fresh:
                return answer.body
            if age < fresh * HARD_AGE_FACTOR:
                self._start(key, read)  # no-op while one runs for the key
                return answer.body
        running = self._start(key, read)
        running.awaited = True
        # shield: a client that goes away must not cancel the read others wait for
        return (await asyncio.shield(running.task)).body

    @property
    def entries(self) -> int:
        """Keys held now."""
        return len(self._answers)

    @property
    def reading(self) -> int:
        """Reads running now (one at most per key)."""
        return len(self._reads)

    async def close(self) -> None:
        """Wait for the reads still running (app shutdown: no task left pending)."""
        tasks = [running.task for running in self._reads.values()]
        await asyncio.gather(*tasks, return_exceptions=True)

    def _start(self, key: Hashable, read: Callable[[], bytes]) -> _Read:
        running = self._reads.get(key)
        if running is None:
            task = asyncio.get_running_loop().create_task(self._read(key, read))
            running = self._reads[key] = _Read(task)
            task.add_done_callback(lambda done: self._report(key, running))
        return running

    async def _read(self, key: Hashable, read: Callable[[], bytes]) -> Answer:
        born = self.clock()
        try:
            body = await anyio.to_thread.run_sync(read)
        finally:
            del self._reads[key]  # registered by _start before this task first ran
        answer = Answer(body, born)
        self._answers.pop(key, None)  # re-inserted last: the oldest written goes first
        self._answers[key] = answer
        while len(self._answers) > self.max_entries:
            del self._answers[next(iter(self._answers))]
        return answer

    @staticmethod
    def _report(key: Hashable, running: _Read) -> None:
        """Log a background read's failure (one a request waits for is its error)."""
        if running.task.cancelled():
            return
        error = running.task.exception()  # retrieved: never "exception never retrieved"
        if error is not None and not running.awaited:
            log.warning("background refresh of %s failed: %s", key, error)
