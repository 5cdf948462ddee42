"""Bars finer than the simulated path's base candle (``1m 3m 5m`` on a 15m path), read
from the engine's intra-candle walk.

The simulated market moves inside a base candle along straight lines through four
waypoints a third of the candle apart (open, low, high, close for a green candle; open,
high, low, close for a red one - :mod:`qwentrade.adapters.sim.tape`). A fine bar is that
walk cut into pieces: its open is the walk's price at the bar's open time, its close the
price at its close time, its high and low the extremes among those two and the waypoints
inside it; its volume is the base candle's spread evenly over time. So the fine bars of a
base candle aggregate back to it exactly (first open, highest high, lowest low, last
close, summed volume) and to the prices orders fill at. The bar still forming shows only
the part of the walk already made, as the engine's own candles do.

A fine bar never straddles two base candles: ``1m 3m 5m`` all divide 15m (and every
other base length the fake serves).
"""

from __future__ import annotations

from decimal import Decimal

import numpy as np

from qwentrade.adapters.sim.tape import Tape, waypoints
from qwentrade.domain.market import Candle, from_ms


def _walk_price(points: tuple[float, ...], start: int, step: int, t_ms: int) -> float:
    third = step / 3
    position = min(3.0, max(0.0, (t_ms - start) / third))
    j = min(2, int(position))
    return points[j] + (points[j + 1] - points[j]) * (position - j)


def fine_candles(
    tape: Tape,
    step: int,
    symbol: str,
    length: int,
    window: tuple[int, int],
    now_ms: int,
    tick: Decimal,
) -> list[Candle]:
    """Bars of ``length`` ms opening in ``window`` (inclusive, oldest first), as the walk
    of ``tape`` (base candles of ``step`` ms) has revealed them at ``now_ms``; prices
    rounded to ``tick``."""
    oldest, newest = window
    newest = min(newest, now_ms - now_ms % length)
    if newest < oldest:
        return []
    series = tape.series(now_ms)
    if step % length:
        raise ValueError(f"a {length} ms bar does not divide the {step} ms base candle")
    places = max(0, -tick.normalize().as_tuple().exponent)  # type: ignore[operator]
    first = int(np.searchsorted(series.ts, oldest - oldest % step, side="left"))
    out: list[Candle] = []
    index = first
    while index < len(series):
        start = int(series.ts[index])
        if start > newest:
            break
        points = waypoints(
            float(series.open[index]),
            float(series.high[index]),
            float(series.low[index]),
            float(series.close[index]),
        )
        inner = [(start + round(j * step / 3), points[j]) for j in (1, 2)]
        volume = float(series.volume[index]) * length / step
        for opened in range(start, start + step, length):
            if opened < oldest or opened > newest:
                continue
            closes = opened + length
            seen_to = min(closes, now_ms)
            open_px = _walk_price(points, start, step, opened)
            close_px = _walk_price(points, start, step, seen_to)
            prices = [open_px, close_px] + [p for t, p in inner if opened < t < seen_to]
            out.append(
                Candle(
                    symbol,
                    from_ms(opened),
                    round(open_px, places),
                    round(max(prices), places),
                    round(min(prices), places),
                    round(close_px, places),
                    round(volume * (seen_to - opened) / length, 6),
                    confirmed=closes <= now_ms,
                )
            )
        index += 1
    return out
