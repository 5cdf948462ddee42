"""KlineRepository.missing_closes on memory, SQLite and PostgreSQL agrees with the plain
Python computation (``domain.series.missing_opens`` over every stored time) on any gap
pattern, span and timeframe; the SQL stores answer it from counts and gaps in the database."""

from __future__ import annotations

import itertools
import uuid
from datetime import timedelta

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from storage_samples import T0, klines

from qwentrade.domain.market import Timeframe, TimeRange
from qwentrade.domain.series import missing_in_gaps, missing_opens, open_count

SLOTS = 80
TIMEFRAMES = st.sampled_from([Timeframe.M15, Timeframe.H4, Timeframe.D1])


@st.composite
def gap_patterns(draw):
    """A timeframe, the slots stored (any pattern: none, all, runs, singles) and a span
    that may start or end off the grid, before, inside or after the stored candles."""
    timeframe = draw(TIMEFRAMES)
    kind = draw(st.sampled_from(["random", "runs", "all", "none"]))
    if kind == "random":
        stored = draw(st.sets(st.integers(0, SLOTS - 1), max_size=SLOTS))
    elif kind == "runs":
        cuts = sorted(draw(st.sets(st.integers(0, SLOTS), min_size=2, max_size=8)))
        stored = {s for lo, hi in zip(cuts[::2], cuts[1::2], strict=False) for s in range(lo, hi)}
    else:
        stored = set(range(SLOTS)) if kind == "all" else set()
    step = timeframe.duration
    first = draw(st.integers(-5, SLOTS + 5))
    length = draw(st.integers(0, SLOTS + 10))
    nudge = timedelta(minutes=draw(st.sampled_from([0, 0, 1, 7, 14])))
    start = T0 + first * step + nudge
    end = start + length * step + timedelta(minutes=draw(st.sampled_from([0, 0, 3])))
    return timeframe, sorted(stored), TimeRange(start, end)


def store(repos, timeframe: Timeframe, symbol: str, slots: list[int]) -> list:
    every = klines(symbol, count=SLOTS, timeframe=timeframe)
    rows = every.filter(pl.int_range(pl.len()).is_in(slots))
    if rows.height:
        repos.klines.upsert(timeframe, rows)
    return rows["time"].to_list()


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(pattern=gap_patterns())
def test_missing_closes_agrees_with_the_python_computation(repos, pattern):
    timeframe, slots, span = pattern
    symbol = f"G{uuid.uuid4().hex[:10].upper()}-USDT-SWAP"  # a fresh series per example
    present = store(repos, timeframe, symbol, slots)
    # a neighbour series in the same table must not count
    store(repos, timeframe, f"N{symbol}", list(range(0, SLOTS, 3)))
    expected = missing_opens(timeframe, span, present)
    assert repos.klines.missing_closes(symbol, timeframe, span.start, span.end) == expected


# -- the pure arithmetic the SQL stores lean on


@given(
    timeframe=TIMEFRAMES,
    stored=st.sets(st.integers(0, SLOTS - 1), max_size=SLOTS),
    first=st.integers(-5, SLOTS + 5),
    length=st.integers(0, SLOTS + 10),
    minutes=st.integers(0, 59),
)
def test_gaps_between_stored_neighbours_give_the_missing_opens(
    timeframe, stored, first, length, minutes
):
    step = timeframe.duration
    start = T0 + first * step + timedelta(minutes=minutes)
    span = TimeRange(start, start + length * step)
    times = [T0 + s * step for s in sorted(stored) if span.start <= T0 + s * step < span.end]
    if times:
        inner = [(a, b) for a, b in itertools.pairwise(times) if b - a > step]
        gaps = [(None, times[0]), *inner, (times[-1], None)]
    else:
        gaps = [(None, None)]
    assert missing_in_gaps(timeframe, span, gaps) == missing_opens(timeframe, span, times)
    assert open_count(timeframe, span) == len(missing_opens(timeframe, span, []))
