"""Runs jobs at their scheduled times: one scheduler thread, a heap of due jobs, a small pool.

Rules:

1. One thread keeps a heap of (due time, job) and sleeps through ``Clock.wait`` until the
   earliest is due; jobs run on a ``ThreadPoolExecutor`` of ``workers`` threads.
2. A job never runs twice at once: a run that falls due while the previous one is still
   running is skipped and counted (``JobStatus.skipped``). Missed times are not replayed.
3. One job's failure never stops another. A failing job is retried after a growing backoff
   (``backoff_initial``, doubled each failure, capped at ``backoff_max``) instead of at its
   schedule; the first success resumes the schedule. The failure is logged once per streak
   (the first failure), its recovery once.
4. A job's schedule may be a callable returning the schedule; it is read again every time
   the next run is computed and at least every ``refresh`` of clock time, so a config change
   is seen without a restart.
5. ``stop(timeout)`` sets the stop event, starts nothing new and waits up to ``timeout`` real
   seconds for running jobs, which should watch :attr:`Scheduler.stop_event`.
6. A run that raises :class:`RetrySoon` succeeded with what it could do but asks to run
   again ``after`` (e.g. the venue has not confirmed the candle that just closed): it is
   not a failure (no backoff, nothing logged above DEBUG); after the extra run the job
   returns to its schedule.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_futures
from datetime import datetime, timedelta

import attrs

from qwentrade.domain.errors import InvalidInput
from qwentrade.domain.schedule import Schedule
from qwentrade.ports.clock import Clock

log = logging.getLogger(__name__)

JobRun = Callable[[datetime], int | None]
ScheduleSource = Schedule | Callable[[], Schedule]


@attrs.frozen
class JobStatus:
    """What one job has done: times are clock times, ``rows_stored`` sums what runs returned."""

    job_id: str
    next_run: datetime | None
    last_run: datetime | None
    last_success: datetime | None
    last_error: str | None
    consecutive_failures: int
    runs: int
    skipped: int
    rows_stored: int
    running: bool


@attrs.define
class _Job:
    job_id: str
    run: JobRun
    source: ScheduleSource
    next_run: datetime | None = None
    anchor: datetime | None = None  # the time next_run was computed from
    generation: int = 0  # heap entries of older generations are stale
    retrying: bool = False  # next_run is a backoff retry, not the schedule
    running: bool = False
    last_run: datetime | None = None
    last_success: datetime | None = None
    last_error: str | None = None
    consecutive_failures: int = 0
    runs: int = 0
    skipped: int = 0
    rows_stored: int = 0

    def schedule(self) -> Schedule:
        source = self.source
        return source if hasattr(source, "next_after") else source()  # type: ignore[operator,return-value]

    def status(self) -> JobStatus:
        return JobStatus(
            job_id=self.job_id,
            next_run=self.next_run,
            last_run=self.last_run,
            last_success=self.last_success,
            last_error=self.last_error,
            consecutive_failures=self.consecutive_failures,
            runs=self.runs,
            skipped=self.skipped,
            rows_stored=self.rows_stored,
            running=self.running,
        )


class RetrySoon(Exception):
    """Raised by a job run that stored ``rows`` but wants another run ``after`` from now."""

    def __init__(self, after: timedelta, reason: str, rows: int = 0) -> None:
        super().__init__(reason)
        self.after = after
        self.reason = reason
        self.rows = rows


def _one_line(error: BaseException) -> str:
    text = " ".join(str(error).split())
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


class Scheduler:
    """Runs registered jobs at their schedules' times on a small thread pool."""

    def __init__(
        self,
        clock: Clock,
        workers: int = 4,
        *,
        backoff_initial: timedelta = timedelta(seconds=10),
        backoff_max: timedelta = timedelta(minutes=5),
        refresh: timedelta = timedelta(minutes=1),
        on_status: Callable[[JobStatus], None] | None = None,
        stop_event: threading.Event | None = None,
    ) -> None:
        if workers < 1:
            raise InvalidInput("workers", f"must be at least 1, got {workers}")
        if not timedelta(0) < backoff_initial <= backoff_max:
            raise InvalidInput(
                "backoff_initial",
                f"{backoff_initial} must be positive and at most backoff_max {backoff_max}",
            )
        if refresh <= timedelta(0):
            raise InvalidInput("refresh", f"must be positive, got {refresh}")
        self._clock = clock
        self._workers = workers
        self._backoff_initial = backoff_initial
        self._backoff_max = backoff_max
        self._refresh = refresh
        self._on_status = on_status
        self.stop_event = stop_event if stop_event is not None else threading.Event()
        self._lock = threading.Lock()
        self._wake = threading.Event()  # set on add/run_now/stop/backoff: look at the heap again
        self._jobs: dict[str, _Job] = {}
        self._heap: list[tuple[datetime, int, int, str]] = []
        self._sequence = itertools.count()
        self._futures: set[Future[None]] = set()
        self._pool: ThreadPoolExecutor | None = None
        self._thread: threading.Thread | None = None
        self._last_refresh: datetime | None = None

    # -- registration and control ------------------------------------------------------

    def add(self, job_id: str, schedule: ScheduleSource, run: JobRun) -> None:
        """Register ``run`` (called with its scheduled time; returns rows stored or None).

        ``schedule`` is a schedule or a callable returning one (read again on every use).
        """
        with self._lock:
            if job_id in self._jobs:
                raise InvalidInput("job_id", f"{job_id!r} is already scheduled; pick another id")
            job = _Job(job_id, run, schedule)
            self._jobs[job_id] = job
            self._schedule_next(job, self._clock.now())
        self._wake.set()

    def start(self) -> None:
        """Start the scheduler thread and the worker pool (once)."""
        with self._lock:
            if self._thread is not None:
                raise InvalidInput("start", "the scheduler was already started; build a new one")
            self._pool = ThreadPoolExecutor(self._workers, thread_name_prefix="qwentrade-job")
            self._thread = threading.Thread(
                target=self._loop, name="qwentrade-scheduler", daemon=True
            )
            self._thread.start()

    def run_now(self, job_id: str) -> bool:
        """Run ``job_id`` at once; False when it is already running (or the scheduler stopped)."""
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None:
                raise InvalidInput(
                    "job_id", f"{job_id!r} is not scheduled; known: {sorted(self._jobs)}"
                )
            if self._pool is None:
                raise InvalidInput("run_now", "start the scheduler first")
            if job.running or self.stop_event.is_set():
                return False
            self._submit(job, self._clock.now())
            return True

    def stop(self, timeout: float = 5.0) -> bool:
        """Stop: start nothing new, wait up to ``timeout`` real seconds for running jobs.

        Returns True when the scheduler thread and every job finished within the timeout.
        """
        deadline = time.monotonic() + max(0.0, timeout)
        self.stop_event.set()
        self._wake.set()
        thread, pool = self._thread, self._pool
        if thread is not None:
            thread.join(max(0.0, deadline - time.monotonic()))
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)
        with self._lock:
            pending = set(self._futures)
        _done, not_done = wait_futures(pending, timeout=max(0.0, deadline - time.monotonic()))
        stopped = not not_done and (thread is None or not thread.is_alive())
        if not stopped:
            running = sorted(j.job_id for j in self._jobs.values() if j.running)
            log.warning("scheduler stop: still running after %.1f s: %s", timeout, running)
        return stopped

    def status(self) -> list[JobStatus]:
        """Each job's status, in the order the jobs were added."""
        with self._lock:
            return [job.status() for job in self._jobs.values()]

    # -- the scheduler thread ---------------------------------------------------------

    def _loop(self) -> None:
        while not self.stop_event.is_set():
            self._wake.clear()  # a wake after this line makes the wait below return at once
            with self._lock:
                now = self._clock.now()
                if self._last_refresh is None or now - self._last_refresh >= self._refresh:
                    self._refresh_schedules(now)
                    self._last_refresh = now
                while self._heap and self._heap[0][0] <= now and not self.stop_event.is_set():
                    due, _, generation, job_id = heapq.heappop(self._heap)
                    job = self._jobs[job_id]
                    if generation == job.generation:
                        self._fire(job, due, now)
                wake_at = now + self._refresh
                if self._heap:
                    wake_at = min(wake_at, self._heap[0][0])
            self._clock.wait(self._wake, (wake_at - self._clock.now()).total_seconds())

    def _fire(self, job: _Job, due: datetime, now: datetime) -> None:
        """Run ``job`` for its time ``due`` unless it is still running; then plan its next run."""
        retry = job.retrying
        job.next_run = None
        if job.running:
            job.skipped += 1
            log.debug("job %s still running at %s: run skipped", job.job_id, due.isoformat())
            self._notify_later(job)
        else:
            self._submit(job, due)
        if not retry:
            self._schedule_next(job, now)
        # After a retry fires, the run's outcome decides the next time (backoff or schedule).

    def _schedule_next(self, job: _Job, after: datetime) -> None:
        try:
            next_run = job.schedule().next_after(after)
        except Exception as e:
            # A broken schedule (bad config) is a failure of the job, retried with backoff.
            self._record_failure(job, e, after, "its schedule")
            return
        self._push(job, next_run, after, retrying=False)

    def _push(self, job: _Job, when: datetime, anchor: datetime | None, *, retrying: bool) -> None:
        job.generation += 1
        job.next_run, job.anchor, job.retrying = when, anchor, retrying
        heapq.heappush(self._heap, (when, next(self._sequence), job.generation, job.job_id))

    def _refresh_schedules(self, now: datetime) -> None:
        """Re-read callable schedules; move a job's next run if its schedule changed."""
        for job in self._jobs.values():
            if job.retrying or job.anchor is None or hasattr(job.source, "next_after"):
                continue
            try:
                next_run = job.schedule().next_after(job.anchor)
            except Exception as e:
                self._record_failure(job, e, now, "its schedule")
                continue
            if next_run != job.next_run:
                self._push(job, next_run, job.anchor, retrying=False)

    # -- running a job on the pool ----------------------------------------------------

    def _submit(self, job: _Job, scheduled: datetime) -> None:
        assert self._pool is not None
        job.running = True
        try:
            future = self._pool.submit(self._execute, job, scheduled)
        except RuntimeError:  # the pool was shut down by stop()
            job.running = False
            return
        self._futures.add(future)
        future.add_done_callback(self._forget)

    def _forget(self, future: Future[None]) -> None:
        with self._lock:
            self._futures.discard(future)

    def _execute(self, job: _Job, scheduled: datetime) -> None:
        if self.stop_event.is_set():
            with self._lock:
                job.running = False
            return
        started = self._clock.now()
        try:
            rows = job.run(scheduled)
        except RetrySoon as e:
            with self._lock:
                job.running = False
                job.runs += 1
                job.last_run = job.last_success = started
                job.rows_stored += e.rows
                job.consecutive_failures, job.last_error = 0, None
                log.debug("job %s runs again in %s: %s", job.job_id, e.after, e.reason)
                self._push(job, self._clock.now() + e.after, job.anchor, retrying=True)
                status = job.status()
            self._wake.set()
            self._notify(status)
            return
        except Exception as e:
            with self._lock:
                job.running = False
                job.runs += 1
                job.last_run = started
                self._record_failure(job, e, self._clock.now(), "")
                status = job.status()
        else:
            with self._lock:
                job.running = False
                job.runs += 1
                job.last_run = started
                job.last_success = started
                job.rows_stored += int(rows or 0)
                if job.consecutive_failures:
                    log.info(
                        "job %s recovered after %d failed runs",
                        job.job_id,
                        job.consecutive_failures,
                    )
                job.consecutive_failures = 0
                job.last_error = None
                if job.retrying:
                    self._schedule_next(job, self._clock.now())
                status = job.status()
        self._wake.set()
        self._notify(status)

    def _record_failure(self, job: _Job, error: Exception, now: datetime, where: str) -> None:
        """Count a failure, log the first of a streak, and plan a retry after the backoff."""
        job.consecutive_failures += 1
        job.last_error = _one_line(error)
        backoff = min(
            self._backoff_initial * 2 ** min(job.consecutive_failures - 1, 32),
            self._backoff_max,
        )
        if job.consecutive_failures == 1:
            log.error(
                "job %s failed%s: %s; retrying in %s, then backing off up to %s "
                "(further failures are not logged until it succeeds)",
                job.job_id,
                f" in {where}" if where else "",
                job.last_error,
                backoff,
                self._backoff_max,
                exc_info=error,
            )
        self._push(job, now + backoff, job.anchor, retrying=True)
        self._wake.set()

    def _notify_later(self, job: _Job) -> None:
        # Called under the lock: hand the callback to the pool so it runs without it.
        if self._on_status is not None and self._pool is not None:
            with contextlib.suppress(RuntimeError):
                self._pool.submit(self._notify, job.status())

    def _notify(self, status: JobStatus) -> None:
        if self._on_status is None:
            return
        try:
            self._on_status(status)
        except Exception:
            log.exception("on_status callback failed for job %s", status.job_id)
