"""When a job runs next: pure functions of ``now``.

Rules, for every schedule here:

1. ``next_after(now)`` is strictly later than ``now``: a job that has just run at its time is
   not due again at the same instant.
2. Run times are aligned to fixed points of UTC time, never to when the process started, so
   a restart or a second process agrees on them:

   * :class:`CandleClose` - each close of a ``Timeframe`` candle (multiples of its duration
     since the epoch, as ``Timeframe.floor`` aligns bars), plus a fixed ``delay`` that gives
     the venue time to publish the closed candle;
   * :class:`TimesOfDay` - each listed UTC time of day, every day (funding at
     00:00/08:00/16:00, a daily job at 08:00);
   * :class:`Every` - multiples of ``interval`` since the epoch.
3. ``next_after(now)`` is the earliest aligned time after ``now``: no aligned time lies
   strictly between the two. Missed times are not replayed; the caller asks again from its
   own ``now``.

Times are compared in whole microseconds, the resolution of ``datetime``.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, time, timedelta
from typing import Protocol

import attrs

from qwentrade.domain.errors import InvalidInput
from qwentrade.domain.market import Timeframe, require_utc

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


class Schedule(Protocol):
    """Anything that names the next run time after ``now``."""

    def next_after(self, now: datetime) -> datetime:
        """The earliest aligned run time strictly after ``now`` (aware UTC)."""
        ...


def _micros(span: timedelta) -> int:
    return span // _MICROSECOND


def _next_multiple(now: datetime, period: timedelta, offset: timedelta) -> datetime:
    """The earliest ``EPOCH + offset + k * period`` strictly after ``now`` (integer k)."""
    since = _micros(require_utc(now, "now") - EPOCH) - _micros(offset)
    step = _micros(period)
    return EPOCH + offset + timedelta(microseconds=(since // step + 1) * step)


def _as_interval(value: timedelta | float) -> timedelta:
    if isinstance(value, timedelta):
        return value
    return timedelta(seconds=value)


@attrs.frozen
class CandleClose:
    """Right after each ``timeframe`` candle closes, ``delay`` later (0 <= delay < duration)."""

    timeframe: Timeframe
    delay: timedelta = timedelta(0)

    def __attrs_post_init__(self) -> None:
        if not timedelta(0) <= self.delay < self.timeframe.duration:
            raise InvalidInput(
                "delay",
                f"{self.delay} must be at least 0 and shorter than one "
                f"{self.timeframe.label} candle ({self.timeframe.duration})",
            )

    def next_after(self, now: datetime) -> datetime:
        """The first candle close plus ``delay`` strictly after ``now``."""
        return _next_multiple(now, self.timeframe.duration, self.delay)

    def closed_open(self, run_time: datetime) -> datetime:
        """Open time of the candle that had just closed at ``run_time`` (the one to fetch)."""
        return self.timeframe.last_closed_open(require_utc(run_time, "run_time") - self.delay)


def _times_of_day(values: Iterable[time]) -> tuple[time, ...]:
    result = []
    for value in values:
        if not isinstance(value, time):
            raise InvalidInput("times", f"expected datetime.time values, got {value!r}")
        offset = value.utcoffset()
        if offset not in (None, timedelta(0)):
            raise InvalidInput("times", f"{value.isoformat()} is not UTC: give UTC times of day")
        result.append(value.replace(tzinfo=None))
    if not result:
        raise InvalidInput("times", "give at least one UTC time of day, e.g. 08:00")
    return tuple(sorted(set(result)))


@attrs.frozen
class TimesOfDay:
    """At each of ``times`` (UTC times of day), every day; kept sorted and without repeats."""

    times: tuple[time, ...] = attrs.field(converter=_times_of_day)

    @classmethod
    def parse(cls, text: str) -> TimesOfDay:
        """From ``"00:00,08:00,16:00"`` (HH:MM or HH:MM:SS, UTC, comma or slash separated)."""
        parts = [p.strip() for p in str(text).replace("/", ",").split(",") if p.strip()]
        try:
            return cls(time.fromisoformat(p) for p in parts)
        except ValueError as e:
            if isinstance(e, InvalidInput):
                raise
            raise InvalidInput("times", f"{text!r} is not a list of HH:MM UTC times: {e}") from e

    def next_after(self, now: datetime) -> datetime:
        """The first listed time of day strictly after ``now``, today or tomorrow."""
        now = require_utc(now, "now")
        for day in (now.date(), now.date() + timedelta(days=1)):
            for moment in self.times:
                candidate = datetime.combine(day, moment, tzinfo=UTC)
                if candidate > now:
                    return candidate
        raise AssertionError("unreachable: tomorrow always has a listed time after now")


FUNDING_TIMES = TimesOfDay((time(0), time(8), time(16)))
"""OKX's perpetual-swap funding times: 00:00, 08:00 and 16:00 UTC."""


def daily_at(moment: time) -> TimesOfDay:
    """Once a day at ``moment`` (UTC)."""
    return TimesOfDay((moment,))


@attrs.frozen
class Every:
    """Every ``interval`` (a timedelta or seconds), aligned to multiples of it since the epoch."""

    interval: timedelta = attrs.field(converter=_as_interval)

    def __attrs_post_init__(self) -> None:
        if self.interval <= timedelta(0):
            raise InvalidInput("interval", f"{self.interval} must be positive, e.g. 30 seconds")

    def next_after(self, now: datetime) -> datetime:
        """The first multiple of ``interval`` since the epoch strictly after ``now``."""
        return _next_multiple(now, self.interval, timedelta(0))
