"""SyncEngine: every data kind's jobs on one scheduler, with status per job.

Rules:

1. One :class:`~qwentrade.app.scheduler.Scheduler` (one thread, a heap of due jobs, a
   pool of ``workers`` threads) runs one job per (kind, target): ``klines_15m:BTC-USDT-
   SWAP``, ``etf_flow:BTC``, ``fear_greed``. Never a thread per job.
2. ``start()`` runs every job once at once (the backfill, gap repair, and the resume
   after a crash: each run fetches only what is missing), candles first, then on its
   schedule. ``stop(timeout=5.0)`` starts nothing new, ends long backfills after the
   page in flight and waits up to ``timeout`` seconds.
3. A failing job never stops another; the scheduler logs it once per failure streak,
   retries after 10 s doubling (to 5 min) and returns to its schedule after a success.
   A job raising :class:`~qwentrade.app.sync.base.JobDisabled` is DISABLED with its
   reason (no CoinGlass key...), not failing; it is asked again at its schedule.
4. Each run is recorded in ``system_status`` under its job id (runs, successes,
   failures, rows, last success, last error; state OK/FAILING/DISABLED with a note), so
   the status survives restarts; :meth:`status` adds the next run and the lag.
5. Each newly stored signal is handed to every ``on_signal`` subscriber; a subscriber's
   exception is logged and never breaks sync.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

import attrs

from qwentrade.app.scheduler import RetrySoon, Scheduler
from qwentrade.app.sync.base import JobDisabled
from qwentrade.app.sync.klines import KlineSync
from qwentrade.app.sync.specs import JobSpec, Scope
from qwentrade.domain.errors import InvalidInput
from qwentrade.domain.records import SignalRecord, StatusRecord
from qwentrade.ports.clock import Clock
from qwentrade.ports.repositories import StatusRepository

log = logging.getLogger(__name__)

OK, FAILING, DISABLED, IDLE = "OK", "FAILING", "DISABLED", "IDLE"


@attrs.frozen
class RunResult:
    """One finished run of a job: state OK, FAILING or DISABLED; ``rows`` written."""

    job_id: str
    kind: str
    target: str | None
    state: str
    rows: int
    at: datetime
    seconds: float
    error: str = ""
    note: str = ""


@attrs.frozen
class _Job:
    spec: JobSpec
    target: str | None

    @property
    def job_id(self) -> str:
        return self.spec.job_id(self.target)


def _one_line(error: BaseException) -> str:
    text = " ".join(str(error).split())
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


class SyncEngine:
    """Runs the sync jobs of ``specs`` for ``symbols`` on one scheduler."""

    def __init__(
        self,
        specs: Sequence[JobSpec],
        symbols: Sequence[str],
        clock: Clock,
        status: StatusRepository | None = None,
        *,
        klines: KlineSync | None = None,
        workers: int = 4,
        stop_event: threading.Event | None = None,
        on_signal: Callable[[SignalRecord], None] | None = None,
        on_run: Callable[[RunResult], None] | None = None,
        backoff_initial: timedelta = timedelta(seconds=10),
        backoff_max: timedelta = timedelta(minutes=5),
    ) -> None:
        if not symbols:
            raise InvalidInput("symbols", "give at least one symbol, e.g. BTC-USDT-SWAP")
        self._clock = clock
        self._status = status
        self._symbols = tuple(symbols)
        self._jobs = [_Job(spec, target) for spec in specs for target in spec.targets(symbols)]
        self._by_id = {job.job_id: job for job in self._jobs}
        self._workers = workers
        self._backoff = (backoff_initial, backoff_max)
        self.stop_event = stop_event if stop_event is not None else threading.Event()
        self._lock = threading.Lock()
        self._scheduler: Scheduler | None = None
        self._last: dict[str, RunResult] = {}
        self._subscribers: list[Callable[[SignalRecord], None]] = []
        self._run_listeners: list[Callable[[RunResult], None]] = []
        if on_signal is not None:
            self._subscribers.append(on_signal)
        if on_run is not None:
            self._run_listeners.append(on_run)
        if klines is not None:
            klines.on_signal = self._publish
            klines.stop_event = self.stop_event

    # -- subscribers ----------------------------------------------------------------------

    def subscribe(self, on_signal: Callable[[SignalRecord], None]) -> None:
        """Call ``on_signal(signal)`` for each newly stored signal (from any thread)."""
        with self._lock:
            self._subscribers.append(on_signal)

    def on_run(self, listener: Callable[[RunResult], None]) -> None:
        """Call ``listener(result)`` after each finished run (the CLI shows them)."""
        with self._lock:
            self._run_listeners.append(listener)

    @property
    def job_ids(self) -> list[str]:
        """Every job's id, in start order."""
        return [job.job_id for job in self._jobs]

    # -- running --------------------------------------------------------------------------

    def start(self) -> None:
        """Schedule every job, start the scheduler, and run each job once now."""
        with self._lock:
            if self._scheduler is not None:
                raise InvalidInput("start", "the sync engine was already started")
            if self.stop_event.is_set():
                raise InvalidInput("start", "the sync engine was stopped; build a new one")
            initial, maximum = self._backoff
            scheduler = Scheduler(
                self._clock,
                self._workers,
                backoff_initial=initial,
                backoff_max=maximum,
                stop_event=self.stop_event,
            )
            for job in self._jobs:
                scheduler.add(job.job_id, job.spec.schedule, self._scheduled(job))
            self._scheduler = scheduler
        scheduler.start()
        log.info("sync engine started: %d jobs for %s", len(self._jobs), ", ".join(self._symbols))
        for job in self._jobs:  # the start-up run: backfill, gap repair, resume
            scheduler.run_now(job.job_id)

    def stop(self, timeout: float = 5.0) -> bool:
        """Stop within ``timeout`` seconds; True when every job ended in time."""
        self.stop_event.set()
        scheduler = self._scheduler
        stopped = True if scheduler is None else scheduler.stop(timeout)
        log.info("sync engine stopped%s", "" if stopped else " (a job was still running)")
        return stopped

    def run_once(
        self, kinds: Iterable[str] | None = None, symbols: Iterable[str] | None = None
    ) -> list[RunResult]:
        """Run the jobs once, one after the other, in this thread; each one's result.

        ``kinds`` narrows to those kinds (table names); ``symbols`` narrows the per-symbol
        jobs to those symbols (ETF and global jobs are not per symbol and stay). A failing
        job is recorded and the next one runs.
        """
        jobs = self._select(kinds, symbols)
        results = []
        for job in jobs:
            if self.stop_event.is_set():
                break
            with contextlib.suppress(Exception):  # recorded by _run; the next job runs
                self._run(job)
            results.append(self._last[job.job_id])
        return results

    def _select(self, kinds: Iterable[str] | None, symbols: Iterable[str] | None) -> list[_Job]:
        known_kinds = list(dict.fromkeys(job.spec.kind for job in self._jobs))
        wanted_kinds = None if kinds is None else list(kinds)
        for kind in wanted_kinds or ():
            if kind not in known_kinds:
                raise InvalidInput("kinds", f"{kind!r} is not a sync kind; known: {known_kinds}")
        wanted_symbols = None if symbols is None else list(symbols)
        for symbol in wanted_symbols or ():
            if symbol not in self._symbols:
                raise InvalidInput(
                    "symbols", f"{symbol!r} is not configured; configured: {self._symbols}"
                )
        return [
            job
            for job in self._jobs
            if (wanted_kinds is None or job.spec.kind in wanted_kinds)
            and (
                wanted_symbols is None
                or job.spec.scope is not Scope.SYMBOL
                or job.target in wanted_symbols
            )
        ]

    def _scheduled(self, job: _Job) -> Callable[[datetime], int]:
        return lambda _scheduled_time: self._run(job)

    def _run(self, job: _Job) -> int:
        started = time.monotonic()
        now = self._clock.now()
        try:
            rows = int(job.spec.run(job.target, now) or 0)
        except RetrySoon as e:  # stored what there was; the scheduler runs it again soon
            self._finish(job, now, started, OK, e.rows, note=e.reason)
            raise
        except JobDisabled as e:
            first = job.job_id not in self._last or self._last[job.job_id].state != DISABLED
            if first:
                log.info("sync job %s disabled: %s", job.job_id, e.reason)
            self._finish(job, now, started, DISABLED, 0, note=e.reason)
            return 0
        except Exception as e:
            self._finish(job, now, started, FAILING, 0, error=_one_line(e))
            raise  # the scheduler backs off and logs once per streak
        self._finish(job, now, started, OK, rows)
        return rows

    def _finish(
        self,
        job: _Job,
        now: datetime,
        started: float,
        state: str,
        rows: int,
        error: str = "",
        note: str = "",
    ) -> None:
        at = self._clock.now()
        result = RunResult(
            job_id=job.job_id,
            kind=job.spec.kind,
            target=job.target,
            state=state,
            rows=rows,
            at=at,
            seconds=time.monotonic() - started,
            error=error,
            note=note,
        )
        with self._lock:
            self._last[job.job_id] = result
            listeners = list(self._run_listeners)
        self._persist(result, job)
        for listener in listeners:
            try:
                listener(result)
            except Exception:
                log.exception("sync run listener failed for %s", job.job_id)

    def _persist(self, result: RunResult, job: _Job) -> None:
        if self._status is None:
            return
        try:
            if result.state != DISABLED:
                self._status.record_run(
                    result.job_id, result.at, result.state == OK, result.rows, result.error
                )
            note = result.note if result.state == DISABLED else self._stored_note(job, result)
            self._status.set_state(result.job_id, result.state, result.at, note=note)
        except Exception as e:  # the database may be what is failing; the run's own
            # outcome is already known and logged by the scheduler
            log.warning("sync status of %s not stored: %s", result.job_id, _one_line(e))

    def _stored_note(self, job: _Job, result: RunResult) -> str:
        """What ``system_status`` keeps beside the counters, for readers in other
        processes: the next run booked (a regular run's next slot is booked before it
        starts) and how far the stored data reaches, e.g. ``next run 2025-03-01T00:15:05
        +00:00; data up to 2025-03-01T00:00:00+00:00`` (the lag is now minus the latter)."""
        parts = [result.note] if result.note else []
        scheduler = self._scheduler
        if scheduler is not None and not result.note:
            booked = {s.job_id: s.next_run for s in scheduler.status()}.get(job.job_id)
            if booked is not None and booked > result.at:
                parts.append(f"next run {booked.isoformat()}")
        if job.spec.newest is not None:
            try:
                newest = job.spec.newest(job.target)
            except Exception:
                newest = None
            if newest is not None:
                parts.append(f"data up to {newest.isoformat()}")
        return "; ".join(parts)

    def _publish(self, signal: SignalRecord) -> None:
        with self._lock:
            subscribers = list(self._subscribers)
        for subscriber in subscribers:
            try:
                subscriber(signal)
            except Exception:
                log.exception("on_signal subscriber failed for %s %s", signal.symbol, signal.time)

    # -- status ---------------------------------------------------------------------------

    def status(self) -> list[dict[str, Any]]:
        """Every job's status as plain data (JSON-ready: times ISO 8601 UTC, lag seconds).

        Keys: ``job``, ``kind``, ``target``, ``state`` (OK, FAILING, DISABLED, IDLE),
        ``running``, ``last_success``, ``last_error``, ``last_error_at``, ``next_run``,
        ``rows_stored`` (total, across restarts), ``runs``, ``consecutive_failures``,
        ``lag_seconds`` (now minus the time the stored data reaches - the last stored
        close for candles - or minus the last success where a kind has no such time),
        ``note`` (a disabled job's reason).
        """
        now = self._clock.now()
        stored: dict[str, StatusRecord] = {}
        if self._status is not None:
            try:
                stored = {record.key: record for record in self._status.all()}
            except Exception as e:
                log.warning("sync status not readable: %s", _one_line(e))
        scheduled = {}
        if self._scheduler is not None:
            scheduled = {s.job_id: s for s in self._scheduler.status()}
        with self._lock:
            last = dict(self._last)
        return [
            self._job_status(job, now, stored.get(job.job_id), scheduled.get(job.job_id), last)
            for job in self._jobs
        ]

    def _job_status(self, job, now, record, scheduled, last) -> dict[str, Any]:
        result: RunResult | None = last.get(job.job_id)
        state = result.state if result else (record.value if record else IDLE)
        last_success = record.last_success_at if record else None
        newest = None
        if job.spec.newest is not None:
            try:
                newest = job.spec.newest(job.target)
            except Exception as e:
                log.debug("newest of %s not readable: %s", job.job_id, e)
        reached = newest if newest is not None else last_success
        return {
            "job": job.job_id,
            "kind": job.spec.kind,
            "target": job.target,
            "state": state,
            "running": bool(scheduled and scheduled.running),
            "last_success": _iso(last_success),
            "last_error": (record.last_error or None) if record else None,
            "last_error_at": _iso(record.last_error_at) if record else None,
            "next_run": _iso(scheduled.next_run) if scheduled else None,
            "rows_stored": record.rows if record else 0,
            "runs": record.runs if record else 0,
            "consecutive_failures": record.consecutive_failures if record else 0,
            "lag_seconds": None if reached is None else (now - reached).total_seconds(),
            "note": (result.note if result else (record.note if record else "")),
        }
