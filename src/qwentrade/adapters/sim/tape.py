"""The intra-candle price path: how the simulated market moves inside a base candle.

A base candle of duration ``d`` opening at ``T`` is walked through four waypoints, a
third of the candle apart, joined by straight lines:

- a GREEN candle (close >= open, dojis included): open at ``T``, low at ``T+d/3``, high
  at ``T+2d/3``, close at ``T+d``;
- a RED candle (close < open): open, HIGH first, then low, then close.

The path alone would favour one side: a green candle reaches a long's stop-loss below
before its take-profit above, but a red one reaches the take-profit first, so a long
would win on every red candle touching both. Which of the two fires is therefore not left
to the path: by default the stop-loss is taken (:mod:`.model`, rule 2); each segment
carries the lowest and highest price still ahead in its candle (``rest_low``,
``rest_high``) for that rule. Between the close of one candle and the open of the next
the price JUMPS (a *gap* segment at the next open time, belonging to that candle).
Nothing after the current time is ever revealed by the market data, so a backtest cannot
peek ahead: the live candle shows only the part of its path already walked.
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

    ``gap`` segments are instantaneous jumps (``start_ms == end_ms``). ``rest_low`` and
    ``rest_high`` bound the candle's path after this segment's end (its later waypoints;
    the segment's own end when nothing follows in the candle).
    """

    start: Decimal
    end: Decimal
    start_ms: int
    end_ms: int
    gap: bool
    rest_low: Decimal | None = None
    rest_high: Decimal | None = None

    def ahead(self, current: Decimal) -> tuple[Decimal, Decimal]:
        """(lowest, highest) price from ``current`` to the end of the candle."""
        low = min(current, self.end, self.rest_low if self.rest_low is not None else self.end)
        high = max(current, self.end, self.rest_high if self.rest_high is not None else self.end)
        return low, high


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
        rest: tuple[Decimal, Decimal] | None = None  # what follows the tail in its candle
        while i < n:
            start = int(s.ts[i])
            if start > to_ms:
                break
            points = [
                self.to_decimal(p) for p in waypoints(s.open[i], s.high[i], s.low[i], s.close[i])
            ]
            rest = None
            for j in range(4):
                t = start + round(j * third)
                if t <= from_ms:
                    continue
                if t > to_ms:
                    rest = (min(points[j:]), max(points[j:]))
                    break
                p = points[j]
                after = points[j + 1 :] or [p]
                low, high = min(after), max(after)
                if j == 0:
                    # the close of the previous candle, then the jump to this open
                    if prev_t < t:
                        before = self.to_decimal(s.close[i - 1]) if i > 0 else prev_p
                        yield Segment(prev_p, before, prev_t, t, False, before, before)
                        prev_p = before
                    if p != prev_p:
                        yield Segment(prev_p, p, t, t, True, low, high)
                else:
                    yield Segment(prev_p, p, prev_t, t, False, low, high)
                prev_t, prev_p = t, p
            i += 1
        if prev_t < to_ms:
            end = self.price(to_ms)
            low, high = rest if rest is not None else (end, end)
            yield Segment(prev_p, end, prev_t, to_ms, False, low, high)
