"""Permit gate arithmetic: windows, minimum interval, priorities, reservations."""

from __future__ import annotations

import itertools
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qwentrade.domain.errors import InvalidInput
from qwentrade.domain.ratelimit import PermitRequest, PermitSchedule, Priority, to_ticks
from qwentrade.testing.strategies import arrivals


def simulate(schedule: PermitSchedule, pattern: list[tuple[float, Priority]]):
    """Drive the schedule as the gate does: ask who is next, admit unless someone arrives first.

    Returns [(request, admitted_at)] in admission order.
    """
    incoming = [PermitRequest(i, priority, at) for i, (at, priority) in enumerate(pattern)]
    waiting: list[PermitRequest] = []
    admitted: list[tuple[PermitRequest, float]] = []
    now, nxt = 0.0, 0
    while nxt < len(incoming) or waiting:
        if not waiting:
            now = max(now, incoming[nxt].arrived_at)
        while nxt < len(incoming) and incoming[nxt].arrived_at <= now:
            waiting.append(incoming[nxt])
            nxt += 1
        request, at = schedule.next_admission(now, waiting)
        if nxt < len(incoming) and incoming[nxt].arrived_at <= at:
            now = incoming[nxt].arrived_at  # someone arrives before the plan: ask again
            continue
        schedule = schedule.admit(at, request.priority)
        waiting.remove(request)
        admitted.append((request, at))
        now = at
    return admitted


schedules = st.builds(
    lambda limit, window, gap, reserved: PermitSchedule(
        limit, window / 1000, gap / 1000, min(reserved, limit - 1)
    ),
    st.integers(1, 12),
    st.integers(1, 3000),
    st.sampled_from([0, 0, 1, 50, 200, 700]),
    st.integers(0, 3),
)


@settings(max_examples=300, deadline=None)
@given(schedule=schedules, pattern=arrivals())
def test_no_window_holds_more_than_the_limit_and_priorities_are_respected(schedule, pattern):
    admitted = simulate(schedule, pattern)
    assert sorted(r.id for r, _ in admitted) == list(range(len(pattern)))
    times = [to_ticks(at) for _, at in admitted]  # limits are exact on whole microseconds
    assert times == sorted(times)
    limit, window = schedule.limit, to_ticks(schedule.window)
    for i in range(len(times) - limit):
        assert times[i + limit] >= times[i] + window  # at most `limit` in any [t, t + window)
    for before, after in itertools.pairwise(times):
        assert after >= before + to_ticks(schedule.min_interval)
    for k, (request, at) in enumerate(admitted):
        # a request of lower priority than STOP_LOSS never uses the reserved permits
        if request.priority < Priority.STOP_LOSS and schedule.reserved:
            lim = limit - schedule.reserved
            assert k < lim or times[k] >= times[k - lim] + window
        for other, _ in admitted[k + 1 :]:
            if other.arrived_at <= at:  # it was waiting when `request` went
                assert other.priority <= request.priority
    order = {request.id: k for k, (request, _) in enumerate(admitted)}
    for high, _ in admitted:
        for low, _ in admitted:
            if high.priority > low.priority and low.arrived_at >= high.arrived_at:
                assert order[high.id] < order[low.id]


@settings(max_examples=200, deadline=None)
@given(schedule=schedules, pattern=arrivals())
def test_nobody_waits_longer_than_the_limits_require(schedule, pattern):
    admitted = simulate(schedule, pattern)
    ticks = [to_ticks(at) for _, at in admitted]
    for k, (request, _) in enumerate(admitted):
        bounds = [to_ticks(request.arrived_at)]
        if k:
            bounds.append(ticks[k - 1] + to_ticks(schedule.min_interval))
        lim = schedule.limit_for(request.priority)
        if k >= lim:
            bounds.append(ticks[k - lim] + to_ticks(schedule.window))
        assert ticks[k] == max(bounds)


def test_defaults_are_ten_per_two_seconds_and_two_hundred_milliseconds_apart():
    schedule = PermitSchedule()
    assert (schedule.limit, schedule.window, schedule.min_interval) == (10, 2.0, 0.2)
    assert schedule.earliest(5.0) == 5.0
    schedule = schedule.admit(5.0)
    assert schedule.earliest(5.0) == 5.2
    for k in range(1, 10):
        # float noise does not matter: 5.0 + 0.2 * 3 is 5.6000000000000005, checked as 5.6
        schedule = schedule.admit(5.0 + 0.2 * k)
    # ten admissions from 5.0 to 6.8: the eleventh waits for 5.0 + 2.0
    assert schedule.earliest(6.9) == 7.0
    assert len(schedule.admissions) == 10
    with pytest.raises(InvalidInput):
        schedule.admit(6.999999)


def test_admit_refuses_a_time_the_limits_do_not_allow():
    schedule = PermitSchedule(limit=2, window=1.0, min_interval=0.0).admit(0.0).admit(0.1)
    with pytest.raises(InvalidInput, match=r"next one at 1\.0") as caught:
        schedule.admit(0.5)
    assert caught.value.field == "at"
    assert schedule.admit(1.0).admissions == (0.1, 1.0)


def test_reserved_permits_are_kept_for_stop_losses():
    schedule = PermitSchedule(limit=3, window=1.0, min_interval=0.0, reserved=1)
    schedule = schedule.admit(0.0, Priority.QUERY).admit(0.0, Priority.TRADE)
    assert schedule.earliest(0.0, Priority.QUERY) == 1.0
    assert schedule.earliest(0.0, Priority.STOP_LOSS) == 0.0
    with pytest.raises(InvalidInput):
        schedule.admit(0.5, Priority.TRADE)
    assert schedule.admit(0.5, Priority.STOP_LOSS).admissions == (0.0, 0.0, 0.5)


def test_next_goes_by_priority_then_arrival_then_given_order():
    schedule = PermitSchedule()
    waiting = [
        PermitRequest("q", Priority.QUERY, 0.0),
        PermitRequest("t2", Priority.TRADE, 0.3),
        PermitRequest("t1", Priority.TRADE, 0.2),
        PermitRequest("t1b", Priority.TRADE, 0.2),
    ]
    assert schedule.next_admission(1.0, waiting) == (waiting[2], 1.0)
    stop = PermitRequest("s", Priority.STOP_LOSS, 0.9)
    assert schedule.next_admission(1.0, [*waiting, stop]) == (stop, 1.0)
    assert schedule.next_admission(1.0, []) is None


@pytest.mark.parametrize(
    ("field", "kwargs"),
    [
        ("limit", {"limit": 0}),
        ("limit", {"limit": True}),
        ("window", {"window": 0}),
        ("window", {"window": math.inf}),
        ("min_interval", {"min_interval": -0.1}),
        ("reserved", {"limit": 2, "reserved": 2}),
    ],
)
def test_bad_limits_name_the_field(field, kwargs):
    with pytest.raises(InvalidInput) as caught:
        PermitSchedule(**kwargs)
    assert caught.value.field == field
