"""Clocks for the simulated exchange: real time, accelerated time, and stepped time.

All implement the ``qwentrade.ports.clock.Clock`` port (``now()``, ``wait(stop, seconds)``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from qwentrade.domain.errors import InvalidInput
from qwentrade.domain.market import require_utc


class RealClock:
    """Wall-clock UTC time; ``wait`` sleeps for real (interrupted by the stop event)."""

    def now(self) -> datetime:
        """The current UTC time."""
        return datetime.now(UTC)

    def wait(self, stop_event: threading.Event, seconds: float) -> bool:
        """Sleep up to ``seconds``; True when ``stop_event`` was set."""
        return stop_event.wait(max(0.0, seconds))


class AcceleratedClock:
    """Simulated time running ``speed`` times faster than real time from ``start``.

    ``speed=900`` makes one 15-minute candle pass per real second (demos). ``wait(s)``
    waits ``s`` simulated seconds, i.e. ``s / speed`` real seconds.
    """

    def __init__(
        self,
        start: datetime,
        speed: float,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if not speed > 0:
            raise InvalidInput("speed", f"must be positive, got {speed}")
        self._start = require_utc(start, "start")
        self._speed = float(speed)
        self._monotonic = monotonic
        self._origin = monotonic()

    @property
    def speed(self) -> float:
        return self._speed

    def now(self) -> datetime:
        """``start`` plus the real time elapsed since construction times ``speed``."""
        elapsed = (self._monotonic() - self._origin) * self._speed
        return self._start + timedelta(seconds=elapsed)

    def wait(self, stop_event: threading.Event, seconds: float) -> bool:
        """Wait ``seconds`` of simulated time; True when ``stop_event`` was set."""
        return stop_event.wait(max(0.0, seconds) / self._speed)


class SteppedClock:
    """Time that moves only when told to (backtests and tests).

    ``advance(delta)`` / ``set(t)`` move it forward (never back). ``wait(stop, s)``: with
    ``auto_advance=True`` it advances the clock by ``s`` itself and returns at once (a
    single-threaded backtest loop); otherwise it blocks until another thread has moved
    the clock ``s`` seconds on, or ``stop`` is set.
    """

    _POLL_SECONDS = 0.02

    def __init__(self, start: datetime, auto_advance: bool = False) -> None:
        self._now = require_utc(start, "start")
        self._auto_advance = auto_advance
        self._changed = threading.Condition()

    def now(self) -> datetime:
        """The clock's current time."""
        with self._changed:
            return self._now

    def set(self, when: datetime) -> datetime:
        """Move the clock to ``when`` (not earlier than now); returns the new time."""
        when = require_utc(when, "when")
        with self._changed:
            if when < self._now:
                raise InvalidInput(
                    "when",
                    f"{when.isoformat()} is before the clock's {self._now.isoformat()}; "
                    "a stepped clock only moves forward",
                )
            self._now = when
            self._changed.notify_all()
            return self._now

    def advance(self, delta: timedelta) -> datetime:
        """Move the clock forward by ``delta``; returns the new time."""
        if delta < timedelta(0):
            raise InvalidInput("delta", f"must not be negative, got {delta}")
        with self._changed:
            return self.set(self._now + delta)

    def wait(self, stop_event: threading.Event, seconds: float) -> bool:
        """Wait ``seconds`` of clock time; True when ``stop_event`` was set."""
        if stop_event.is_set():
            return True
        with self._changed:
            deadline = self._now + timedelta(seconds=max(0.0, seconds))
            if self._auto_advance:
                self._now = deadline
                self._changed.notify_all()
                return stop_event.is_set()
            while self._now < deadline:
                if stop_event.is_set():
                    return True
                self._changed.wait(self._POLL_SECONDS)
        return stop_event.is_set()
