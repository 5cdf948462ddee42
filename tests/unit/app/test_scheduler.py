"""The scheduler: aligned runs, many jobs, backoff, the pool, overlaps, stop and config changes.

Time is a clock the test advances; no test sleeps through a real schedule.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from manual_clock import ManualClock
from qwentrade.adapters.sim.clock import SteppedClock
from qwentrade.app.scheduler import JobStatus, Scheduler
from qwentrade.domain.errors import InvalidInput
from qwentrade.domain.market import Timeframe
from qwentrade.domain.schedule import EPOCH, CandleClose, Every

T0 = datetime(2024, 1, 1, tzinfo=UTC)
MINUTE = timedelta(minutes=1)


def eventually(predicate: Callable[[], object], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"still not true after {timeout} s")
        time.sleep(0.001)


def settled(scheduler: Scheduler, clock: ManualClock) -> bool:
    """Nothing running and nothing due at the clock's time."""
    now = clock.now()
    return all(
        not s.running and s.next_run is not None and s.next_run > now for s in scheduler.status()
    )


def step(scheduler: Scheduler, clock: ManualClock, delta: timedelta, times: int = 1) -> None:
    for _ in range(times):
        clock.advance(delta)
        eventually(lambda: settled(scheduler, clock))


def by_id(scheduler: Scheduler) -> dict[str, JobStatus]:
    return {s.job_id: s for s in scheduler.status()}


class Recorder:
    """A job that records the scheduled times it was called with."""

    def __init__(self, rows: int | None = None) -> None:
        self.calls: list[datetime] = []
        self.rows = rows
        self._lock = threading.Lock()

    def __call__(self, scheduled: datetime) -> int | None:
        with self._lock:
            self.calls.append(scheduled)
        return self.rows


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0 + timedelta(seconds=30))


@pytest.fixture
def make_scheduler():
    made: list[Scheduler] = []

    def make(clock, **kwargs) -> Scheduler:
        scheduler = Scheduler(clock, **kwargs)
        made.append(scheduler)
        return scheduler

    yield make
    for scheduler in made:
        scheduler.stop(timeout=2)


def test_jobs_run_at_their_aligned_times_in_order(clock, make_scheduler):
    scheduler = make_scheduler(clock)
    minute, candle = Recorder(rows=2), Recorder(rows=None)
    scheduler.add("minute", Every(60), minute)
    scheduler.add("candles", CandleClose(Timeframe.M15), candle)
    scheduler.start()

    step(scheduler, clock, MINUTE, times=30)

    assert minute.calls == [T0 + k * MINUTE for k in range(1, 31)]
    assert candle.calls == [T0 + 15 * MINUTE, T0 + 30 * MINUTE]
    status = by_id(scheduler)
    assert status["minute"].runs == 30
    assert status["minute"].rows_stored == 60
    assert status["candles"].rows_stored == 0
    assert status["candles"].next_run == T0 + 45 * MINUTE
    assert status["candles"].last_success == clock.now()


def test_the_heap_handles_many_jobs(clock, make_scheduler):
    scheduler = make_scheduler(clock, workers=4)
    jobs = {f"job{i}": (1 + i % 10, Recorder(rows=1)) for i in range(200)}
    for job_id, (seconds, recorder) in jobs.items():
        scheduler.add(job_id, Every(seconds), recorder)
    scheduler.start()

    step(scheduler, clock, timedelta(seconds=1), times=60)

    start, end = T0 + timedelta(seconds=30), T0 + timedelta(seconds=90)
    for seconds, recorder in jobs.values():
        epoch_seconds = [int((T0 - EPOCH).total_seconds()) + s for s in range(31, 91)]
        expected = [EPOCH + timedelta(seconds=s) for s in epoch_seconds if s % seconds == 0]
        assert recorder.calls == expected
        assert all(start < t <= end for t in recorder.calls)
    assert sum(s.rows_stored for s in scheduler.status()) == sum(
        len(r.calls) for _, r in jobs.values()
    )


def test_a_failing_job_backs_off_recovers_and_logs_once_per_streak(clock, make_scheduler, caplog):
    outcomes = iter(["fail", "fail", "fail", "ok", "fail", "ok"])
    calls: list[datetime] = []

    def flaky(scheduled: datetime) -> int:
        calls.append(clock.now())
        if next(outcomes) == "fail":
            raise RuntimeError("venue down\nsecond line of detail")
        return 5

    steady = Recorder(rows=1)
    scheduler = make_scheduler(
        clock, backoff_initial=timedelta(seconds=10), backoff_max=timedelta(seconds=30)
    )
    scheduler.add("flaky", CandleClose(Timeframe.M15), flaky)
    scheduler.add("steady", Every(10), steady)
    caplog.set_level(logging.INFO, logger="qwentrade.app.scheduler")
    scheduler.start()

    clock.advance(timedelta(minutes=14, seconds=30))  # 00:15:00, the first close
    eventually(lambda: settled(scheduler, clock))
    flaky_status = by_id(scheduler)["flaky"]
    assert flaky_status.consecutive_failures == 1
    assert flaky_status.last_error == "RuntimeError: venue down second line of detail"
    assert flaky_status.next_run == T0 + timedelta(minutes=15, seconds=10)

    step(scheduler, clock, timedelta(seconds=10))  # 00:15:10, second failure, wait 20 s
    assert by_id(scheduler)["flaky"].next_run == T0 + timedelta(minutes=15, seconds=30)
    step(scheduler, clock, timedelta(seconds=10), times=2)  # 00:15:30, third, capped at 30 s
    assert by_id(scheduler)["flaky"].consecutive_failures == 3
    assert by_id(scheduler)["flaky"].next_run == T0 + timedelta(minutes=16)
    step(scheduler, clock, timedelta(seconds=10), times=3)  # 00:16:00, success
    recovered = by_id(scheduler)["flaky"]
    assert recovered.consecutive_failures == 0
    assert recovered.last_error is None
    assert recovered.last_success == T0 + timedelta(minutes=16)
    assert recovered.next_run == T0 + timedelta(minutes=30)  # back on its schedule
    assert recovered.rows_stored == 5

    step(scheduler, clock, timedelta(seconds=10), times=85)  # 00:30:00 fails, 00:30:10 ok
    minutes = [(t - T0) / timedelta(seconds=1) for t in calls]
    assert minutes == [900, 910, 930, 960, 1800, 1810]
    assert by_id(scheduler)["flaky"].runs == 6
    assert by_id(scheduler)["flaky"].consecutive_failures == 0

    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    recoveries = [r for r in caplog.records if "recovered" in r.getMessage()]
    assert len(errors) == 2  # one per streak, not one per failure
    assert len(recoveries) == 2
    # The other job never stopped: once for the jump to 00:15 (missed times are not
    # replayed), then every 10 s from 00:15:10 to 00:30:10.
    assert steady.calls[0] == T0 + timedelta(seconds=40)
    assert steady.calls[1:] == [T0 + timedelta(seconds=s) for s in range(910, 1811, 10)]


def test_a_slow_job_does_not_block_the_others(clock, make_scheduler):
    release = threading.Event()
    started = threading.Event()

    def slow(scheduled: datetime) -> None:
        started.set()
        release.wait(10)

    fast = Recorder()
    scheduler = make_scheduler(clock, workers=2)
    scheduler.add("slow", Every(60), slow)
    scheduler.add("fast", Every(10), fast)
    scheduler.start()

    clock.advance(timedelta(seconds=30))  # 00:01:00: both due
    assert started.wait(5)
    eventually(lambda: len(fast.calls) == 1)
    for k in range(2, 7):
        # advance only once the fast job is booked for its next slot: a run that is still
        # being booked when the clock jumps past its slot is (by design) not replayed
        # (and is no longer running: a run that falls due while the last one is still
        # finishing is skipped, also by design)
        due = clock.now() + timedelta(seconds=10)
        eventually(
            lambda due=due: (
                by_id(scheduler)["fast"].next_run == due and not by_id(scheduler)["fast"].running
            )
        )
        clock.advance(timedelta(seconds=10))
        eventually(lambda k=k: len(fast.calls) == k)
    assert by_id(scheduler)["slow"].running
    release.set()
    eventually(lambda: not by_id(scheduler)["slow"].running)
    assert len(fast.calls) == 6


def test_a_run_due_while_the_previous_is_running_is_skipped(clock, make_scheduler):
    release = threading.Event()
    concurrent = []
    active = threading.Semaphore(1)

    def slow(scheduled: datetime) -> None:
        if not active.acquire(blocking=False):
            concurrent.append(scheduled)
            return
        try:
            release.wait(10)
        finally:
            active.release()

    scheduler = make_scheduler(clock)
    scheduler.add("slow", Every(60), slow)
    scheduler.start()

    clock.advance(timedelta(seconds=30))  # 00:01:00 starts
    eventually(lambda: by_id(scheduler)["slow"].running)
    for k in range(2, 5):  # 00:02 .. 00:04 fall due while it runs
        clock.advance(MINUTE)
        eventually(lambda k=k: by_id(scheduler)["slow"].next_run == T0 + (k + 1) * MINUTE)
    status = by_id(scheduler)["slow"]
    assert status.skipped == 3
    assert status.runs == 0
    release.set()
    eventually(lambda: not by_id(scheduler)["slow"].running)
    step(scheduler, clock, MINUTE)  # 00:05 runs normally
    status = by_id(scheduler)["slow"]
    assert (status.runs, status.skipped, concurrent) == (2, 3, [])


def test_stop_within_the_timeout_with_a_job_running():
    clock = SteppedClock(T0)
    scheduler = Scheduler(clock)
    started = threading.Event()
    later = Recorder()

    def cooperative(scheduled: datetime) -> None:
        started.set()
        scheduler.stop_event.wait(30)  # a long job that watches the stop event

    scheduler.add("long", Every(60), cooperative)
    scheduler.add("later", Every(3600), later)
    scheduler.start()
    assert scheduler.run_now("long")
    assert started.wait(5)
    assert not scheduler.run_now("long")  # never twice at once

    begun = time.monotonic()
    assert scheduler.stop(timeout=3)
    assert time.monotonic() - begun < 3
    clock.advance(timedelta(hours=2))  # nothing new starts after stop
    time.sleep(0.05)
    assert later.calls == []
    assert not scheduler.run_now("later")


def test_stop_gives_up_after_the_timeout_on_a_job_that_ignores_it():
    clock = SteppedClock(T0)
    scheduler = Scheduler(clock)
    release = threading.Event()
    scheduler.add("stubborn", Every(60), lambda scheduled: release.wait(10) and None)
    scheduler.start()
    scheduler.run_now("stubborn")
    eventually(lambda: scheduler.status()[0].running)

    begun = time.monotonic()
    assert not scheduler.stop(timeout=0.2)
    assert time.monotonic() - begun < 2
    release.set()


def test_a_schedule_change_is_picked_up_without_restart(clock, make_scheduler):
    config = {"schedule": Every(3600)}
    recorder = Recorder()
    scheduler = make_scheduler(clock, refresh=MINUTE)
    scheduler.add("sync", lambda: config["schedule"], recorder)
    scheduler.start()
    assert by_id(scheduler)["sync"].next_run == T0 + timedelta(hours=1)

    config["schedule"] = Every(120)
    clock.advance(MINUTE)  # 00:01:30, one refresh interval after the start
    eventually(lambda: by_id(scheduler)["sync"].next_run == T0 + 2 * MINUTE)
    step(scheduler, clock, MINUTE, times=3)  # 00:04:30
    assert recorder.calls == [T0 + 2 * MINUTE, T0 + 4 * MINUTE]


def test_on_status_reports_every_run_and_a_broken_callback_is_contained(clock, make_scheduler):
    seen: list[JobStatus] = []

    def on_status(status: JobStatus) -> None:
        seen.append(status)
        raise RuntimeError("status table unavailable")

    scheduler = make_scheduler(clock, on_status=on_status)
    scheduler.add("sync", Every(60), Recorder(rows=3))
    scheduler.start()
    step(scheduler, clock, MINUTE, times=2)
    eventually(lambda: len(seen) == 2)
    assert [(s.runs, s.rows_stored) for s in seen] == [(1, 3), (2, 6)]


def test_bad_registrations_name_the_field(clock):
    scheduler = Scheduler(clock)
    scheduler.add("sync", Every(60), Recorder())
    with pytest.raises(InvalidInput, match="job_id"):
        scheduler.add("sync", Every(60), Recorder())
    with pytest.raises(InvalidInput, match="job_id"):
        scheduler.run_now("nope")
    with pytest.raises(InvalidInput, match="workers"):
        Scheduler(clock, workers=0)
    with pytest.raises(InvalidInput, match="backoff_initial"):
        Scheduler(clock, backoff_initial=timedelta(minutes=10), backoff_max=MINUTE)
