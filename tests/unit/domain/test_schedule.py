"""Next run times: strictly after now, aligned, and the earliest aligned time."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from qwentrade.domain.errors import InvalidInput
from qwentrade.domain.market import Timeframe
from qwentrade.domain.schedule import (
    EPOCH,
    FUNDING_TIMES,
    CandleClose,
    Every,
    TimesOfDay,
    daily_at,
)

T = datetime(2024, 3, 5, 7, 59, 59, tzinfo=UTC)
MICRO = timedelta(microseconds=1)

instants = st.integers(
    int((datetime(2000, 1, 1, tzinfo=UTC) - EPOCH) / MICRO),
    int((datetime(2100, 1, 1, tzinfo=UTC) - EPOCH) / MICRO),
).map(lambda n: EPOCH + n * MICRO)
# Exact boundaries are where an off-by-one hides: draw them often.
boundaries = st.integers(0, 200_000).map(
    lambda n: datetime(2024, 1, 1, tzinfo=UTC) + n * timedelta(minutes=5)
)
nows = st.one_of(instants, boundaries)

candle_schedules = st.builds(
    CandleClose,
    st.sampled_from(list(Timeframe)),
    st.integers(0, 14 * 60 * 1_000_000).map(lambda n: n * MICRO),
)
times_of_day = st.times().map(lambda t: t.replace(tzinfo=None))
day_schedules = st.lists(times_of_day, min_size=1, max_size=6).map(TimesOfDay)
every_schedules = st.integers(1, 3 * 86_400 * 1_000_000).map(lambda n: Every(n * MICRO))


def is_candle_aligned(schedule: CandleClose, when: datetime) -> bool:
    return (when - schedule.delay - EPOCH) % schedule.timeframe.duration == timedelta(0)


def is_time_of_day(schedule: TimesOfDay, when: datetime) -> bool:
    return when.tzinfo == UTC and when.time() in schedule.times


def is_every_aligned(schedule: Every, when: datetime) -> bool:
    return (when - EPOCH) % schedule.interval == timedelta(0)


@given(candle_schedules, nows)
def test_candle_close_is_the_next_aligned_close(schedule, now):
    nxt = schedule.next_after(now)
    assert nxt > now
    assert is_candle_aligned(schedule, nxt)
    # No aligned time strictly between: the previous one is at or before now.
    assert nxt - schedule.timeframe.duration <= now
    assert nxt.tzinfo == UTC


@given(day_schedules, nows)
def test_times_of_day_is_the_next_listed_time(schedule, now):
    nxt = schedule.next_after(now)
    assert nxt > now
    assert is_time_of_day(schedule, nxt)
    assert nxt - now <= timedelta(days=1)
    # No listed time strictly between now and nxt, today or tomorrow.
    for day in (now.date(), now.date() + timedelta(days=1)):
        for moment in schedule.times:
            candidate = datetime.combine(day, moment, tzinfo=UTC)
            assert not now < candidate < nxt


@given(every_schedules, nows)
def test_every_is_the_next_multiple_of_the_interval(schedule, now):
    nxt = schedule.next_after(now)
    assert nxt > now
    assert is_every_aligned(schedule, nxt)
    assert nxt - schedule.interval <= now


@given(st.one_of(candle_schedules, day_schedules, every_schedules), nows)
def test_asking_again_from_the_run_time_gives_the_following_time(schedule, now):
    first = schedule.next_after(now)
    second = schedule.next_after(first)
    assert second > first
    assert schedule.next_after(first - MICRO) == first


def test_candle_close_examples():
    assert CandleClose(Timeframe.M15).next_after(T) == datetime(2024, 3, 5, 8, 0, tzinfo=UTC)
    at_close = datetime(2024, 3, 5, 8, 0, tzinfo=UTC)
    assert CandleClose(Timeframe.M15).next_after(at_close) == datetime(
        2024, 3, 5, 8, 15, tzinfo=UTC
    )
    assert CandleClose(Timeframe.H4, timedelta(seconds=5)).next_after(at_close) == datetime(
        2024, 3, 5, 8, 0, 5, tzinfo=UTC
    )
    assert CandleClose(Timeframe.D1).next_after(T) == datetime(2024, 3, 6, tzinfo=UTC)


def test_candle_close_names_the_candle_that_just_closed():
    schedule = CandleClose(Timeframe.H1, timedelta(seconds=10))
    run = schedule.next_after(T)
    assert run == datetime(2024, 3, 5, 8, 0, 10, tzinfo=UTC)
    assert schedule.closed_open(run) == datetime(2024, 3, 5, 7, 0, tzinfo=UTC)


def test_funding_and_daily_examples():
    assert FUNDING_TIMES.next_after(T) == datetime(2024, 3, 5, 8, 0, tzinfo=UTC)
    assert FUNDING_TIMES.next_after(datetime(2024, 3, 5, 16, tzinfo=UTC)) == datetime(
        2024, 3, 6, tzinfo=UTC
    )
    daily = daily_at(time(8))
    assert daily.next_after(T) == datetime(2024, 3, 5, 8, tzinfo=UTC)
    assert daily.next_after(datetime(2024, 3, 5, 8, tzinfo=UTC)) == datetime(
        2024, 3, 6, 8, tzinfo=UTC
    )


def test_every_examples():
    assert Every(30).next_after(T) == datetime(2024, 3, 5, 8, 0, tzinfo=UTC)
    assert Every(timedelta(minutes=7)).next_after(EPOCH) == EPOCH + timedelta(minutes=7)
    assert Every(0.5).interval == timedelta(milliseconds=500)


def test_times_of_day_parse_sorts_and_drops_repeats():
    assert TimesOfDay.parse("16:00, 00:00/08:00,08:00") == FUNDING_TIMES
    assert TimesOfDay.parse("08:00:30").times == (time(8, 0, 30),)


def test_times_of_day_round_trips_an_aware_utc_time():
    assert TimesOfDay([time(8, tzinfo=UTC)]) == daily_at(time(8))


@pytest.mark.parametrize(
    ("build", "field"),
    [
        (lambda: CandleClose(Timeframe.M15, timedelta(minutes=15)), "delay"),
        (lambda: CandleClose(Timeframe.M15, timedelta(seconds=-1)), "delay"),
        (lambda: TimesOfDay([]), "times"),
        (lambda: TimesOfDay(["08:00"]), "times"),
        (lambda: TimesOfDay.parse("8 o'clock"), "times"),
        (lambda: TimesOfDay.parse(""), "times"),
        (lambda: Every(0), "interval"),
        (lambda: Every(timedelta(seconds=-5)), "interval"),
    ],
)
def test_invalid_schedules_name_the_field(build, field):
    with pytest.raises(InvalidInput) as caught:
        build()
    assert caught.value.field == field


def test_naive_now_is_rejected():
    with pytest.raises(InvalidInput, match="now"):
        Every(10).next_after(datetime(2024, 1, 1))
