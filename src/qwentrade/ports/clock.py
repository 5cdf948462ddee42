"""The Clock port: what time it is, and how to wait for a while (interruptibly)."""

from __future__ import annotations

import threading
from datetime import datetime
from typing import Protocol


class Clock(Protocol):
    """A source of aware UTC time and of interruptible waits.

    Real, accelerated and stepped (backtest) clocks implement it; every loop that sleeps
    goes through ``wait`` so tests and backtests never sleep through a real schedule.
    """

    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""
        ...

    def wait(self, stop_event: threading.Event, seconds: float) -> bool:
        """Wait ``seconds`` of this clock's time, or until ``stop_event`` is set.

        Returns True when ``stop_event`` was set (the caller should stop), False when the
        time elapsed.
        """
        ...
