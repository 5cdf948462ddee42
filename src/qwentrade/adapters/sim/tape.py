"""The intra-candle price path: how the simulated market moves inside a base candle.

A base candle of duration ``d`` opening at ``T`` is walked through four waypoints, a
third of the candle apart, joined by straight lines:

- a GREEN candle (close >= open, dojis included): open at ``T``, low at ``T+d/3``, high
  at ``T+2d/3``, close at ``T+d``;
- a RED candle (close < open): open, HIGH first, then low, then close.

This is the usual conservative convention: the wick against the candle's direction comes
first, so a long's stop-loss below is touched before its take-profit above in a green
candle (and a short's stop above before its target below in a red one). Between the
close of one candle and the open of the next the price JUMPS (a *gap* segment at the
next open time): orders and triggers crossed by a gap execute at the gap's end price,
not at their own level. Nothing after the current time is ever revealed, so a backtest
cannot peek ahead: the live candle shows only the part of its path already walked.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import attrs
import numpy as np

from qwentrade.adapters.sim.prices import PricePath, Series
from qwentrade.domain.market import from_ms, to_ms


@attrs.frozen
class Segment:
    """A straight piece of the path from ``start`` to ``end`` price (times in epoch ms).

    ``gap`` segments are instantaneous jumps (``start_ms == end_ms``).
    """

    start: Decimal
    end: Decimal
    start_ms: int
    end_ms: int
    gap: bool


def waypoints(open_: float, high: float, low: float, close: float) -> tuple[float, ...]:
    """The four prices a base candle walks through, in order (see module docstring)."""
    if close >= open_:
        return (open_, low, high, close)
    return (open_, high, low, close)


class Tape:
    """One symbol's walk along its price path, at millisecond resolution."""

    def __init__(self, path: PricePath, symbol: str, digits: int) -> None:
        self._path = path
        self._symbol = symbol
        self._digits = digits
        self._step = int(path.base.duration.total_seconds() * 1000)
        self._series: Series | None = None
        self._first = to_ms(path.first_time(symbol))

    @property
    def first_ms(self) -> int:
        return self._first

    def series(self, until_ms: int) -> Series:
        """The base candles, generated up to the one containing ``until_ms`` at least."""
        s = self._series
        if s is None or len(s) == 0 or (s.ts[-1] < until_ms and self._extends()):
            # ask a day ahead so a stepping backtest does not regrow the path every step
            ahead = until_ms + 86_400_000
            self._series = s = self._path.series(self._symbol, from_ms(ahead))
        return s

    def _extends(self) -> bool:
        return self._path.last_time(self._symbol) is None

    def to_decimal(self, price: float) -> Decimal:
        """A path price as an exact Decimal at the symbol's tick precision."""
        return Decimal(f"{price:.{self._digits}f}")

    def price_float(self, t_ms: int) -> float:
        """The path price at ``t_ms`` as a float."""
        s = self.series(t_ms)
        i = int(np.searchsorted(s.ts, t_ms, side="right")) - 1
        if i < 0:
            return float(s.open[0])
        start = int(s.ts[i])
        if t_ms >= start + self._step:
            return float(s.close[i])
        points = waypoints(s.open[i], s.high[i], s.low[i], s.close[i])
        third = self._step / 3
        position = (t_ms - start) / third
        j = min(2, int(position))
        frac = position - j
        return points[j] + (points[j + 1] - points[j]) * frac

    def price(self, t_ms: int) -> Decimal:
        """The path price at ``t_ms`` rounded to the tick."""
        return self.to_decimal(self.price_float(t_ms))

    def revealed(self, index: int, t_ms: int) -> tuple[float, float, float, float, float]:
        """(open, high, low, close, volume) of base candle ``index`` as seen at ``t_ms``."""
        s = self.series(t_ms)
        start = int(s.ts[index])
        if t_ms >= start + self._step:
            return (s.open[index], s.high[index], s.low[index], s.close[index], s.volume[index])
        points = waypoints(s.open[index], s.high[index], s.low[index], s.close[index])
        third = self._step / 3
        passed = [points[j] for j in range(4) if start + j * third <= t_ms]
        now = self.price_float(t_ms)
        seen = [*passed, now]
        digits = self._digits
        return (
            float(s.open[index]),
            round(max(seen), digits),
            round(min(seen), digits),
            round(now, digits),
            float(s.volume[index]) * (t_ms - start) / self._step,
        )

    def segments(self, from_ms: int, to_ms: int) -> Iterator[Segment]:
        """The path's segments over ``(from_ms, to_ms]``, in time order."""
        if to_ms <= from_ms:
            return
        s = self.series(to_ms)
        i = max(0, int(np.searchsorted(s.ts, from_ms, side="right")) - 1)
        third = self._step / 3
        prev_t, prev_p = from_ms, self.price(from_ms)
        n = len(s)
        while i < n:
            start = int(s.ts[i])
            if start > to_ms:
                break
            points = waypoints(s.open[i], s.high[i], s.low[i], s.close[i])
            for j in range(4):
                t = start + round(j * third)
                if t <= from_ms:
                    continue
                if t > to_ms:
                    break
                p = self.to_decimal(points[j])
                if j == 0:
                    # the close of the previous candle, then the jump to this open
                    if prev_t < t:
                        before = self.to_decimal(s.close[i - 1]) if i > 0 else prev_p
                        yield Segment(prev_p, before, prev_t, t, gap=False)
                        prev_p = before
                    if p != prev_p:
                        yield Segment(prev_p, p, t, t, gap=True)
                else:
                    yield Segment(prev_p, p, prev_t, t, gap=False)
                prev_t, prev_p = t, p
            i += 1
        if prev_t < to_ms:
            end = self.price(to_ms)
            yield Segment(prev_p, end, prev_t, to_ms, gap=False)
