"""A fake clock for the permit gate, and a driver that runs real caller threads on it.

The gate sleeps through ``wait(condition, seconds)``; :class:`FakeClock.wait` sleeps until
the test advances the clock (or the gate notifies), so no test sleeps through a schedule.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from qwentrade.adapters.okx.gate import PermitGate
from qwentrade.domain.ratelimit import Priority

SAFETY = 2.0  # real seconds a fake wait may block before looking again (a missed wake-up)


def eventually(predicate: Callable[[], object], timeout: float = 10.0) -> None:
    """Poll ``predicate`` until it holds; fail after ``timeout`` real seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"still not true after {timeout} s: {predicate}")
        time.sleep(0.001)


class FakeClock:
    """Seconds that move only when :meth:`advance` is called."""

    def __init__(self, start: float = 0.0) -> None:
        self.now = start
        self._conditions: set[threading.Condition] = set()
        self._lock = threading.Lock()
        self.wakes: list[float] = []  # the clock times the gate asked to be woken at

    def __call__(self) -> float:
        return self.now

    def wait(self, condition: threading.Condition, seconds: float | None) -> None:
        if seconds is not None and seconds <= 0:
            return
        with self._lock:
            if seconds is not None:
                self.wakes.append(self.now + seconds)
            first = condition not in self._conditions
            self._conditions.add(condition)
        if first:
            return  # an advance may have missed it before it was known: let the gate re-plan
        condition.wait(SAFETY)  # an advance or the gate's notify wakes it; the gate re-plans

    def advance_to(self, at: float) -> None:
        assert at >= self.now, f"time runs forwards: {at} < {self.now}"
        self.now = at  # before notifying: a waiter that has not slept yet sees the new time
        with self._lock:
            conditions = list(self._conditions)
        for condition in conditions:
            with condition:
                condition.notify_all()


class Callers:
    """Caller threads on one gate; each records (name, priority, admitted at) when admitted."""

    def __init__(self, gate: PermitGate, clock: FakeClock) -> None:
        self.gate = gate
        self.clock = clock
        self.admitted: list[tuple[str, Priority, float]] = []
        self.errors: list[tuple[str, BaseException]] = []
        self.threads: list[threading.Thread] = []
        self._lock = threading.Lock()

    def start(
        self,
        name: str,
        priority: Priority,
        endpoint: str = "GET /api/v5/market/candles",
        instrument: str | None = None,
        timeout: float | None = None,
    ) -> None:
        """Start a caller and return once the gate has admitted it or counts it waiting."""
        before = self._seen()

        def call() -> None:
            try:
                with self.gate.permit(priority, endpoint, instrument, timeout) as at, self._lock:
                    self.admitted.append((name, priority, at))
            except BaseException as e:
                with self._lock:
                    self.errors.append((name, e))

        thread = threading.Thread(target=call, name=name, daemon=True)
        self.threads.append(thread)
        thread.start()
        eventually(lambda: self._seen() > before)

    def _seen(self) -> int:
        state = self.gate.state()
        with self._lock:
            finished = len(self.admitted) + len(self.errors)
        return sum(state.waiting.values()) + finished

    def settled(self) -> bool:
        """Every started caller is done or waiting, and nobody is due at the current time."""
        state = self.gate.state()
        due = state.next_admission_at is not None and state.next_admission_at <= self.clock.now
        with self._lock:
            finished = len(self.admitted) + len(self.errors)
        return not due and finished + sum(state.waiting.values()) == len(self.threads)

    def settle(self) -> None:
        eventually(self.settled)

    def step(self) -> float | None:
        """Advance the clock to the gate's next admission time; None when nobody waits."""
        self.settle()
        at = self.gate.state().next_admission_at
        if at is not None:
            self.clock.advance_to(at)
            self.settle()
        return at

    def run(self) -> None:
        """Step until every caller is admitted (or failed)."""
        while self.step() is not None:
            pass
        for thread in self.threads:
            thread.join(5)

    def names(self) -> list[str]:
        with self._lock:
            return [name for name, _, _ in self.admitted]

    def times(self) -> dict[str, float]:
        with self._lock:
            return {name: at for name, _, at in self.admitted}
