"""Health checks off the event loop: each in a worker thread, bounded by a timeout, cached.

A check that hangs (PostgreSQL waiting on a lock, an exchange that never answers) must not
hold ``/health`` or any other request: the loop only awaits the check's future for at
most ``timeout`` seconds. One check of a component runs at a time: a caller arriving
while it runs shares it, and a caller arriving after it has overrun its timeout is
answered at once ("no answer for N s") instead of waiting again. Results are reused for
``ttl`` seconds, so a burst of probes costs one check.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor

import attrs

from qwentrade.app.services import ComponentDisabled, HealthCheck
from qwentrade.domain.errors import DomainError

OK = "ok"
DOWN = "down"
DISABLED = "disabled"
HEALTHY_STATES = frozenset({OK, DISABLED})


@attrs.frozen
class ComponentResult:
    """One component's last known state: ok, down or disabled, with what was seen."""

    state: str
    detail: str
    checked_at: float  # monotonic seconds
    seconds: float  # how long the check took (or has been running)


class HealthMonitor:
    """Runs ``checks`` in its own threads; :meth:`results` awaits them without blocking."""

    def __init__(
        self,
        checks: Mapping[str, HealthCheck],
        timeout: float = 2.0,
        ttl: float = 2.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._checks = dict(checks)
        self._timeout = timeout
        self._ttl = ttl
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._results: dict[str, ComponentResult] = {}
        self._running: dict[str, tuple[Future[ComponentResult], float]] = {}
        self._executor = ThreadPoolExecutor(
            max_workers=max(1, len(self._checks)), thread_name_prefix="health-check"
        )

    @property
    def timeout(self) -> float:
        return self._timeout

    async def results(self) -> dict[str, ComponentResult]:
        """Every component's state: fresh cached results, else checks awaited <= timeout."""
        now = self._monotonic()
        waiting: dict[str, tuple[Future[ComponentResult], float]] = {}
        with self._lock:
            for name, check in self._checks.items():
                cached = self._results.get(name)
                if cached is not None and now - cached.checked_at < self._ttl:
                    continue
                if name not in self._running:
                    future = self._executor.submit(self._run, name, check)
                    self._running[name] = (future, now)
                waiting[name] = self._running[name]
        if waiting:
            deadline = max(started for _, started in waiting.values()) + self._timeout
            pending = [
                asyncio.wrap_future(future) for future, _ in waiting.values() if not future.done()
            ]
            if pending and deadline > now:
                await asyncio.wait(pending, timeout=deadline - now)
        now = self._monotonic()
        out = {}
        with self._lock:
            for name in self._checks:
                if name in waiting and not waiting[name][0].done():
                    running_for = now - waiting[name][1]
                    out[name] = ComponentResult(
                        DOWN,
                        f"no answer within {self._timeout:g} s (checking for {running_for:.1f} s)",
                        now,
                        running_for,
                    )
                else:
                    out[name] = self._results[name]
        return out

    def close(self) -> None:
        """Stop the check threads (a hung check's thread is left to finish on its own)."""
        self._executor.shutdown(wait=False, cancel_futures=True)

    def _run(self, name: str, check: HealthCheck) -> ComponentResult:
        started = self._monotonic()
        try:
            note = check()
            state, detail = OK, note or ""
        except ComponentDisabled as e:
            state, detail = DISABLED, str(e)
        except DomainError as e:
            state, detail = DOWN, f"{type(e).__name__}: {e}"
        except Exception as e:  # a check reports; only the kind: a message may hold a URL
            state, detail = DOWN, type(e).__name__
        finished = self._monotonic()
        result = ComponentResult(state, detail, finished, finished - started)
        with self._lock:
            self._results[name] = result
            self._running.pop(name, None)
        return result
