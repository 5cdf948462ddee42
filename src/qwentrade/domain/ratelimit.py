"""The permit gate's arithmetic: who may call the exchange next, and when.

Pure and clock-free: every function takes ``now``. Times are floats in seconds on one
monotonic clock (``time.monotonic()`` in the thread-facing gate, a counter in tests). The
limits are checked on whole microseconds (:data:`RESOLUTION`), in integers, so that 5.4 +
0.2 is 5.6 and a boundary never depends on float rounding.

Rules, for a :class:`PermitSchedule` with ``limit`` L, ``window`` W and ``min_interval`` M:

* no half-open interval ``[t, t + W)`` holds more than L admissions: the k-th admission
  waits until ``admission[k - L] + W``;
* two admissions are at least M apart;
* ``reserved`` R of the L permits of any window are kept for STOP_LOSS: TRADE and QUERY
  see a limit of L - R, so a stop-loss finds a permit even while queries saturate the gate;
* among waiting requests the highest :class:`Priority` goes first (STOP_LOSS > TRADE >
  QUERY), then the earliest arrival, then the order given: a higher priority never waits
  for a lower one, wherever it arrived.

The schedule remembers only the last L admission times, all it needs.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Hashable, Iterable

import attrs

from qwentrade.domain.errors import InvalidInput

RESOLUTION = 1_000_000  # ticks per second: times are compared in whole microseconds


def to_ticks(seconds: float) -> int:
    """``seconds`` as whole microseconds, the unit every limit is checked in."""
    return round(seconds * RESOLUTION)


class Priority(enum.IntEnum):
    """Request priorities; a larger value goes first."""

    QUERY = 0
    TRADE = 1
    STOP_LOSS = 2


@attrs.frozen
class PermitRequest:
    """A caller waiting for a permit: ``id`` is the caller's token, ``arrived_at`` in seconds."""

    id: Hashable
    priority: Priority
    arrived_at: float


def _check_number(field: str, value: float, minimum: float, strict: bool) -> None:
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or value < minimum or (strict and value == minimum):
        bound = f"> {minimum}" if strict else f">= {minimum}"
        raise InvalidInput(field, f"must be a finite number {bound}, got {value!r}")


@attrs.frozen
class PermitSchedule:
    """The admissions so far and the limits; :meth:`admit` returns the next schedule.

    Defaults: 10 requests per 2 s window, 200 ms between two requests, nothing reserved.
    """

    limit: int = 10
    window: float = 2.0
    min_interval: float = 0.2
    reserved: int = 0
    admissions: tuple[float, ...] = ()

    def __attrs_post_init__(self) -> None:
        if isinstance(self.limit, bool) or not isinstance(self.limit, int) or self.limit < 1:
            raise InvalidInput("limit", f"must be a whole number >= 1, got {self.limit!r}")
        _check_number("window", self.window, 0.0, strict=True)
        _check_number("min_interval", self.min_interval, 0.0, strict=False)
        if (
            isinstance(self.reserved, bool)
            or not isinstance(self.reserved, int)
            or not 0 <= self.reserved < self.limit
        ):
            raise InvalidInput(
                "reserved", f"must be a whole number in 0..{self.limit - 1}, got {self.reserved!r}"
            )

    def limit_for(self, priority: Priority) -> int:
        """Admissions per window a request of ``priority`` may use."""
        return self.limit if priority >= Priority.STOP_LOSS else self.limit - self.reserved

    def earliest(self, now: float, priority: Priority = Priority.STOP_LOSS) -> float:
        """The first time >= ``now`` at which a request of ``priority`` may be admitted.

        ``now`` itself when allowed at once, else a whole microsecond.
        """
        _check_number("now", now, -math.inf, strict=False)
        at = self._earliest_tick(priority)
        return now if at <= to_ticks(now) else at / RESOLUTION

    def _earliest_tick(self, priority: Priority) -> int:
        at = -(2**62)
        if self.admissions:
            at = to_ticks(self.admissions[-1]) + to_ticks(self.min_interval)
        lim = self.limit_for(priority)
        if len(self.admissions) >= lim:
            at = max(at, to_ticks(self.admissions[-lim]) + to_ticks(self.window))
        return at

    def wait_time(self, now: float, priority: Priority = Priority.STOP_LOSS) -> float:
        """Seconds a request of ``priority`` arriving at ``now`` waits if it goes next."""
        return self.earliest(now, priority) - now

    def next_admission(
        self, now: float, waiting: Iterable[PermitRequest]
    ) -> tuple[PermitRequest, float] | None:
        """Who goes next among ``waiting`` (arrived by ``now``), and when; None if nobody waits.

        The time is only a plan: if another request arrives before it, ask again.
        """
        best = min(waiting, key=lambda r: (-r.priority, r.arrived_at), default=None)
        if best is None:
            return None
        return best, self.earliest(max(now, best.arrived_at), best.priority)

    def admit(self, at: float, priority: Priority = Priority.STOP_LOSS) -> PermitSchedule:
        """The schedule after admitting a request of ``priority`` at ``at``.

        Raises :class:`InvalidInput` naming ``at`` when the limits do not allow it yet.
        """
        _check_number("at", at, -math.inf, strict=False)
        if self._earliest_tick(priority) > to_ticks(at):
            earliest = self.earliest(at, priority)
            raise InvalidInput(
                "at",
                f"{at} is too early for a {priority.name} request: the rate limit allows the "
                f"next one at {earliest}; wait {earliest - at:.6f} s",
            )
        return attrs.evolve(self, admissions=(*self.admissions, at)[-self.limit :])
