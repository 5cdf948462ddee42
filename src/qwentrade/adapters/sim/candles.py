"""Candles of every timeframe, aggregated from a path's base candles as seen at a time.

A timeframe's candle is the OHLCV aggregation (first open, highest high, lowest low, last
close, summed volume) of the base candles whose open time falls in it; buckets are
UTC-aligned (``Timeframe.floor``). A candle is ``confirmed`` once its close time has
passed; the one still forming is built from the part of the path walked so far.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np

from qwentrade.adapters.sim.tape import Tape
from qwentrade.domain.errors import InvalidInput
from qwentrade.domain.market import Candle, Timeframe, TimeRange, from_ms, to_ms

MAX_LIMIT = 300


def candles_at(
    tape: Tape,
    symbol: str,
    base: Timeframe,
    timeframe: Timeframe,
    now: datetime,
    span: TimeRange | None,
    limit: int,
) -> list[Candle]:
    """Candles of ``timeframe`` opened by ``now`` (in ``span`` if given), oldest first.

    At most ``limit`` candles, the newest of the range; the last may be unconfirmed.
    """
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput("limit", f"must be a whole number in 1..{MAX_LIMIT}, got {limit!r}")
    tf_ms = int(timeframe.duration.total_seconds() * 1000)
    base_ms = int(base.duration.total_seconds() * 1000)
    if tf_ms < base_ms or tf_ms % base_ms:
        raise InvalidInput(
            "timeframe",
            f"{timeframe.value} cannot be built from this path's {base.value} candles; "
            f"ask for {base.value} or longer",
        )
    now_ms = to_ms(now)
    last_open = to_ms(timeframe.floor(now))
    first_open = to_ms(timeframe.floor(from_ms(tape.first_ms)))
    if span is not None:
        end_ms = to_ms(span.end)
        last_open = min(last_open, end_ms - 1 - (end_ms - 1) % tf_ms)
        start_ms = to_ms(span.start)
        first_open = max(first_open, start_ms + (-start_ms) % tf_ms)
    first_open = max(first_open, last_open - (limit - 1) * tf_ms)
    if last_open < first_open:
        return []
    series = tape.series(now_ms)
    lo = int(np.searchsorted(series.ts, first_open, side="left"))
    hi = int(np.searchsorted(series.ts, min(now_ms, last_open + tf_ms - 1), side="right"))
    if hi <= lo:
        return []
    ts = series.ts[lo:hi]
    o = series.open[lo:hi].copy()
    h = series.high[lo:hi].copy()
    low = series.low[lo:hi].copy()
    c = series.close[lo:hi].copy()
    v = series.volume[lo:hi].copy()
    live = hi - 1
    if now_ms < int(series.ts[live]) + base_ms:
        o[-1], h[-1], low[-1], c[-1], v[-1] = tape.revealed(live, now_ms)
    keys = ts // tf_ms
    if tf_ms == base_ms:
        # base candles open at least a base duration apart: each is its own bucket
        starts = np.arange(len(keys))
        agg_open, agg_high, agg_low, agg_close, agg_volume = o, h, low, c, v
    else:
        starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
        ends = np.r_[starts[1:], len(keys)] - 1
        agg_open = o[starts]
        agg_high = np.maximum.reduceat(h, starts)
        agg_low = np.minimum.reduceat(low, starts)
        agg_close = c[ends]
        agg_volume = np.add.reduceat(v, starts)
    step = timedelta(milliseconds=tf_ms)
    out = []
    for k, key in enumerate(keys[starts]):
        open_time = from_ms(int(key) * tf_ms)
        out.append(
            Candle(
                symbol=symbol,
                time=open_time,
                open=float(agg_open[k]),
                high=float(agg_high[k]),
                low=float(agg_low[k]),
                close=float(agg_close[k]),
                volume=round(float(agg_volume[k]), 6),
                confirmed=open_time + step <= now,
            )
        )
    return out
