"""A clock for tests whose time moves only when the test advances it."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta


class ManualClock:
    """Clock time that moves only when the test advances it.

    ``wait`` counts from the time this thread last read with ``now()`` (the scheduler reads
    the time, works out how long until the next job, then waits): a test that advances the
    clock between those two steps must not push the wake-up a whole interval later, which
    ``SteppedClock`` (counting from the call) would do.
    """

    def __init__(self, start: datetime) -> None:
        self._now = start
        self._changed = threading.Condition()
        self._read = threading.local()

    def now(self) -> datetime:
        with self._changed:
            self._read.at = self._now
            return self._now

    def wait(self, stop_event: threading.Event, seconds: float) -> bool:
        with self._changed:
            start = getattr(self._read, "at", self._now)
            deadline = start + timedelta(seconds=max(0.0, seconds))
            while self._now < deadline:
                if stop_event.is_set():
                    return True
                self._changed.wait(0.01)
        return stop_event.is_set()

    def advance(self, delta: timedelta) -> None:
        with self._changed:
            self._now += delta
            self._changed.notify_all()
