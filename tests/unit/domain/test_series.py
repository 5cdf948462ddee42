"""domain.series: expected candles, gaps and backfill pages, as properties."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qwentrade.domain.errors import InvalidInput
from qwentrade.domain.market import Timeframe, TimeRange
from qwentrade.domain.series import (
    ceil,
    closed_span,
    expected_opens,
    is_aligned,
    kline_columns,
    missing_opens,
    missing_opens_us,
    missing_ranges,
    normalize_klines,
    plan_pages,
    to_epoch_us,
)

T0 = datetime(2024, 1, 1, tzinfo=UTC)
timeframes = st.sampled_from(list(Timeframe))
instants = st.datetimes(
    min_value=datetime(2020, 1, 1), max_value=datetime(2030, 1, 1), timezones=st.just(UTC)
)
PROPERTY = settings(deadline=None, max_examples=60)


@st.composite
def spans(draw, max_candles: int = 400):
    timeframe = draw(timeframes)
    start = draw(instants)
    length = draw(st.integers(0, max_candles)) * timeframe.duration
    length += draw(st.timedeltas(min_value=timedelta(0), max_value=timeframe.duration))
    return timeframe, TimeRange(start, start + length)


@PROPERTY
@given(spans())
def test_expected_opens_are_every_aligned_time_in_the_span(case):
    timeframe, span = case
    opens = expected_opens(timeframe, span)
    assert all(is_aligned(timeframe, t) and t in span for t in opens)
    assert all(b - a == timeframe.duration for a, b in itertools.pairwise(opens))
    if opens:
        assert opens[0] - timeframe.duration < span.start
        assert opens[-1] + timeframe.duration >= span.end
    else:
        assert ceil(timeframe, span.start) >= span.end


@PROPERTY
@given(timeframes, instants)
def test_ceil_is_the_first_open_at_or_after(timeframe, when):
    up = ceil(timeframe, when)
    assert is_aligned(timeframe, up) and when <= up < when + timeframe.duration


@PROPERTY
@given(timeframes, instants, st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=30)))
def test_closed_span_holds_exactly_the_closed_candles(timeframe, since, elapsed):
    now = since + elapsed
    span = closed_span(timeframe, since, now)
    opens = expected_opens(timeframe, span)
    assert all(t + timeframe.duration <= now for t in opens)
    assert span.end + timeframe.duration > now  # the candle at span.end is still open
    assert span.start == ceil(timeframe, since)


@PROPERTY
@given(spans(), st.data())
def test_missing_and_present_partition_the_expected_candles(case, data):
    timeframe, span = case
    expected = expected_opens(timeframe, span)
    present = data.draw(
        st.lists(st.sampled_from(expected), unique=True) if expected else st.just([])
    )
    noise = [span.end + timeframe.duration, span.start - timedelta(seconds=1)]  # ignored
    missing = missing_opens(timeframe, span, present + noise)
    assert sorted(set(missing) | set(present)) == expected
    assert not set(missing) & set(present)
    assert missing == sorted(missing)


@PROPERTY
@given(spans(), st.data())
def test_missing_ranges_cover_the_gaps_and_nothing_else(case, data):
    timeframe, span = case
    expected = expected_opens(timeframe, span)
    missing = data.draw(
        st.lists(st.sampled_from(expected), unique=True) if expected else st.just([])
    )
    ranges = missing_ranges(timeframe, list(reversed(missing)))
    covered = [t for r in ranges for t in expected_opens(timeframe, r)]
    assert covered == sorted(missing)
    for left, right in itertools.pairwise(ranges):
        assert right.start > left.end  # runs are maximal: at least one candle between them


@PROPERTY
@given(spans(), st.integers(1, 300), st.booleans(), st.data())
def test_pages_hold_every_candle_once_and_at_most_page_size(case, size, newest_first, data):
    timeframe, span = case
    expected = expected_opens(timeframe, span)
    missing = data.draw(
        st.lists(st.sampled_from(expected), unique=True) if expected else st.just([])
    )
    ranges = missing_ranges(timeframe, missing)
    pages = plan_pages(timeframe, ranges, size, newest_first=newest_first)
    per_page = [expected_opens(timeframe, page) for page in pages]
    assert all(1 <= len(opens) <= size for opens in per_page)
    assert sorted(t for opens in per_page for t in opens) == sorted(missing)
    starts = [page.start for page in pages]
    assert starts == sorted(starts, reverse=newest_first)


def test_a_day_with_two_gaps():
    m15 = Timeframe.M15
    span = TimeRange(T0, T0 + timedelta(days=1))
    present = [t for i, t in enumerate(expected_opens(m15, span)) if not (10 <= i < 13 or i == 95)]
    missing = missing_opens(m15, span, present)
    assert missing_ranges(m15, missing) == [
        TimeRange(T0 + 10 * m15.duration, T0 + 13 * m15.duration),
        TimeRange(T0 + 95 * m15.duration, T0 + 96 * m15.duration),
    ]
    assert plan_pages(m15, missing_ranges(m15, missing), 2) == [
        TimeRange(T0 + 10 * m15.duration, T0 + 12 * m15.duration),
        TimeRange(T0 + 12 * m15.duration, T0 + 13 * m15.duration),
        TimeRange(T0 + 95 * m15.duration, T0 + 96 * m15.duration),
    ]


def test_numpy_form_agrees_and_ignores_garbage():
    span = TimeRange(T0, T0 + timedelta(hours=2))
    present = np.array([to_epoch_us(T0), to_epoch_us(T0) + 7, -5], dtype=np.int64)
    assert missing_opens_us(Timeframe.H1, span, present).tolist() == [
        to_epoch_us(T0) + 3_600_000_000
    ]


def test_naive_and_unaligned_inputs_are_refused():
    with pytest.raises(InvalidInput) as info:
        ceil(Timeframe.H4, datetime(2024, 1, 1))
    assert info.value.field == "time"
    with pytest.raises(InvalidInput) as info:
        missing_ranges(Timeframe.H4, [T0 + timedelta(minutes=1)])
    assert info.value.field == "missing"
    with pytest.raises(InvalidInput) as info:
        plan_pages(Timeframe.H4, [], 0)
    assert info.value.field == "page_size"


def test_normalize_klines_shapes_the_frame():
    frame = pl.DataFrame(
        {
            "close": [2.0, 1.0, 3.0],
            "time": [T0 + timedelta(minutes=15), T0, T0 + timedelta(minutes=15)],
            "open": [1, 1, 1],
            "high": [3.0, 3.0, 3.0],
            "low": [0.5, 0.5, 0.5],
            "volume": [1.0, 1.0, 1.0],
            "rsi_7": [float("inf"), 50.0, float("nan")],
        }
    )
    out = normalize_klines(Timeframe.M15, frame, "BTC-USDT-SWAP")
    assert out.columns == list(kline_columns(Timeframe.M15))
    assert out["time"].to_list() == [T0, T0 + timedelta(minutes=15)]
    assert out["close"].to_list() == [1.0, 3.0]  # the last row of a duplicated key wins
    assert out["rsi_7"].to_list() == [50.0, None]  # NaN and infinities become null
    assert out.schema["open"] == pl.Float64
