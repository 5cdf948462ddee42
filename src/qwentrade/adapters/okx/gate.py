"""PermitGate: the one gate every OKX call passes (the original system's APIManager).

A thread-facing shell around ``domain.ratelimit``: the arithmetic (windows, minimum
interval, who is first) is :class:`PermitSchedule`'s; this module keeps the schedules,
the waiting callers and a :class:`threading.Condition`.

Rules:

1. One global :class:`PermitSchedule` holds ``API_RATE_LIMIT`` calls per
   ``API_RATE_WINDOW`` seconds, ``API_MIN_INTERVAL`` apart (the original's 10 / 2 s and
   0.2 s without a config store). Beside it each endpoint of ``endpoint_limits``
   (``limits.OKX_LIMITS``) has a schedule of its own per counter (per endpoint, or per
   endpoint and instrument): a call needs both, so the tighter limit holds.
2. Waiting callers are served highest :class:`Priority` first, then earliest arrival. A
   lower-ranked caller goes before a higher-ranked one only when it can go now and
   admitting it does not make any higher-ranked caller's admission later (an
   endpoint-limited stop-loss does not stall queries on other endpoints, and no query ever
   delays a stop-loss).
3. A permitted call runs on its caller's thread, after the gate's lock is released: there
   is no worker thread, and a slow call holds up nobody.
4. A waiting thread sleeps until the time its schedule admits it (not a polling tick), or
   until another caller's arrival, admission, time-out or :meth:`PermitGate.close` wakes
   it to look again. Whichever thread looks first admits every caller that is due.
5. Limits come from the ``ConfigStore`` (``API_RATE_LIMIT``, ``API_RATE_WINDOW``,
   ``API_MIN_INTERVAL``), read again when the last read is :data:`CONFIG_TTL` old, outside
   the gate's lock and never by a STOP_LOSS caller (a slow database never holds up a
   stop-loss; it uses the last values read). A change applies without a restart.
6. ``penalise(seconds)`` (OKX answered ``50011``) admits nothing until that much later.
"""

from __future__ import annotations

import itertools
import logging
import math
import threading
import time
from collections.abc import Callable, Hashable, Iterator, Mapping
from contextlib import contextmanager

import attrs

from qwentrade.adapters.okx.limits import OKX_LIMITS, EndpointLimit
from qwentrade.domain.config_keys import CONFIG_KEYS
from qwentrade.domain.errors import ExchangeUnavailable, InvalidInput, RateLimited
from qwentrade.domain.ratelimit import PermitSchedule, Priority, to_ticks
from qwentrade.ports.config import ConfigStore

log = logging.getLogger(__name__)

CONFIG_TTL = 1.0  # seconds a config read is reused before the next admission reads again
LIMIT_KEYS = ("API_RATE_LIMIT", "API_RATE_WINDOW", "API_MIN_INTERVAL")

Wait = Callable[[threading.Condition, float | None], object]


class PermitTimeout(RateLimited):
    """No permit came within the caller's timeout; the request was never sent."""


class GateClosed(ExchangeUnavailable):
    """The gate is closed (the process is stopping); the request was never sent."""


def _by_priority(value: int | float) -> dict[Priority, int | float]:
    return dict.fromkeys(Priority, value)


@attrs.frozen
class GateState:
    """A snapshot of the gate, per priority; waits are in seconds of the gate's clock."""

    waiting: Mapping[Priority, int]
    admitted: Mapping[Priority, int]
    total_wait: Mapping[Priority, float]
    max_wait: Mapping[Priority, float]
    timed_out: Mapping[Priority, int]
    limit: int
    window: float
    min_interval: float
    penalised_until: float | None
    next_admission_at: float | None
    closed: bool


@attrs.define(eq=False)
class _Waiter:
    seq: int
    priority: Priority
    counter: Hashable | None
    endpoint_limit: EndpointLimit | None
    arrived_at: float
    admitted_at: float | None = None


def _condition_wait(condition: threading.Condition, seconds: float | None) -> object:
    return condition.wait(seconds)


def _default_limits() -> tuple[int, float, float]:
    return tuple(CONFIG_KEYS[key].default for key in LIMIT_KEYS)  # type: ignore[return-value]


class PermitGate:
    """Rate limits and priorities for one OKX account's REST calls (see the module rules).

    ``clock`` gives seconds on a monotonic scale; ``wait(condition, seconds)`` sleeps on
    the held condition for at most ``seconds`` (None: until notified) and may return
    early - tests pass a fake clock's pair so that nothing sleeps for real.
    """

    def __init__(
        self,
        config: ConfigStore | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        endpoint_limits: Mapping[str, EndpointLimit] = OKX_LIMITS,
        wait: Wait = _condition_wait,
    ) -> None:
        self._config = config
        self._clock = clock
        self._wait = wait
        self._endpoint_limits = dict(endpoint_limits)
        self._condition = threading.Condition()
        limit, window, interval = _default_limits()
        self._schedule = PermitSchedule(limit, window, interval)
        self._counters: dict[Hashable, PermitSchedule] = {}
        self._waiting: list[_Waiter] = []
        self._sequence = itertools.count()
        self._penalised_until = -math.inf
        self._closed = False
        self._config_lock = threading.Lock()
        self._config_read_at: float | None = None
        self._admitted = _by_priority(0)
        self._total_wait = _by_priority(0.0)
        self._max_wait = _by_priority(0.0)
        self._timed_out = _by_priority(0)

    @contextmanager
    def permit(
        self,
        priority: Priority,
        endpoint: str,
        instrument: str | None = None,
        timeout: float | None = None,
    ) -> Iterator[float]:
        """Block the calling thread until admitted; the body is the call.

        ``endpoint`` is ``"METHOD /api/v5/path"`` as in ``limits.OKX_LIMITS`` (one not in the
        table gets the global limit alone); ``instrument`` is the ``instId`` for
        per-instrument limits; ``timeout`` is in seconds (None: wait as long as it takes).
        The ``with`` value is the admission time on the gate's clock. Raises
        :class:`PermitTimeout` (a ``RateLimited``) when the timeout passes first and
        :class:`GateClosed` (an ``ExchangeUnavailable``) once the gate is closed; in both
        cases nothing was sent.
        """
        yield self._acquire(priority, endpoint, instrument, timeout)

    def penalise(self, seconds: float) -> None:
        """OKX answered 50011 (too many requests): admit nothing for ``seconds``."""
        if not isinstance(seconds, int | float) or not 0 <= seconds < math.inf:
            raise InvalidInput("seconds", f"must be a finite number >= 0, got {seconds!r}")
        with self._condition:
            self._penalised_until = max(self._penalised_until, self._clock() + seconds)
            # sleepers wake at their old plan, see the penalty and sleep on: no notify

    def state(self) -> GateState:
        """Waiting callers, admissions, time-outs and waits per priority; current limits."""
        with self._condition:
            waiting = _by_priority(0)
            for waiter in self._waiting:
                waiting[waiter.priority] += 1
            now = self._clock()
            return GateState(
                waiting=waiting,
                admitted=dict(self._admitted),
                total_wait=dict(self._total_wait),
                max_wait=dict(self._max_wait),
                timed_out=dict(self._timed_out),
                limit=self._schedule.limit,
                window=self._schedule.window,
                min_interval=self._schedule.min_interval,
                penalised_until=self._penalised_until if self._penalised_until > now else None,
                next_admission_at=self._next_admission(now),
                closed=self._closed,
            )

    def close(self) -> None:
        """Wake every waiting caller with :class:`GateClosed`; later permits raise it too."""
        with self._condition:
            self._closed = True
            self._condition.notify_all()

    # -- waiting ---------------------------------------------------------------------------

    def _acquire(
        self, priority: Priority, endpoint: str, instrument: str | None, timeout: float | None
    ) -> float:
        if not isinstance(priority, Priority):
            raise InvalidInput("priority", f"must be a Priority, got {priority!r}")
        if not isinstance(endpoint, str) or " /" not in endpoint:
            raise InvalidInput(
                "endpoint",
                f'must be "METHOD /api/v5/path", e.g. "GET /api/v5/market/candles", '
                f"got {endpoint!r}",
            )
        if timeout is not None and (
            not isinstance(timeout, int | float) or not 0 <= timeout < math.inf
        ):
            raise InvalidInput("timeout", f"must be seconds >= 0 or None, got {timeout!r}")
        endpoint_limit = self._endpoint_limits.get(endpoint)
        counter = endpoint_limit.counter(endpoint, instrument) if endpoint_limit else None
        waiter: _Waiter | None = None
        deadline = math.inf
        try:
            while True:
                if priority < Priority.STOP_LOSS or self._config_read_at is None:
                    self._refresh_config()  # outside the lock: a slow store holds up nobody
                with self._condition:
                    now = self._clock()
                    if waiter is None:
                        if self._closed:
                            raise GateClosed("the permit gate is closed: the process is stopping")
                        waiter = _Waiter(
                            next(self._sequence), priority, counter, endpoint_limit, now
                        )
                        deadline = now + timeout if timeout is not None else math.inf
                        self._waiting.append(waiter)
                    if waiter.admitted_at is None and not self._closed:
                        self._admit_due(now)
                    if waiter.admitted_at is not None:  # by this thread or the one that looked
                        return waiter.admitted_at
                    if self._closed:
                        raise GateClosed(
                            f"the permit gate was closed while {endpoint} waited: not sent"
                        )
                    if now >= deadline:
                        self._timed_out[priority] += 1
                        raise PermitTimeout(
                            f"no permit for {endpoint} ({priority.name}) within {timeout:g} s: "
                            "the rate limit is saturated; the request was not sent"
                        )
                    self._sleep(waiter, now, deadline)
        except BaseException:  # also KeyboardInterrupt in a notebook: never leave a ghost
            with self._condition:
                if waiter is not None and waiter in self._waiting:
                    self._waiting.remove(waiter)
                    self._condition.notify_all()  # the callers behind it may go now
            raise

    def _sleep(self, waiter: _Waiter, now: float, deadline: float) -> None:
        """Sleep (lock held, released while waiting) until this waiter's own earliest time.

        A waiter that could go now but must let a higher-ranked one go first sleeps until
        notified: only an admission, a departure or close changes its answer.
        """
        wake = deadline
        plan = self._earliest(waiter, now)
        if plan > now:
            wake = min(wake, plan)
            if self._config is not None and waiter.priority < Priority.STOP_LOSS:
                read_at = self._config_read_at
                stale_at = (now if read_at is None else read_at) + CONFIG_TTL
                if stale_at > now:  # else another caller is reading it and notifies a change
                    wake = min(wake, stale_at)  # wake to see a config change
        self._wait(self._condition, None if wake == math.inf else max(wake - now, 0.0))

    # -- admission (lock held) ------------------------------------------------------------

    def _admit_due(self, now: float) -> None:
        """Admit every caller that may go at ``now``, then wake the others to plan again."""
        if now < self._penalised_until:
            return
        admitted = False
        while (chosen := self._choose(now)) is not None:
            self._admit(chosen, now)
            admitted = True
        if admitted:
            self._condition.notify_all()

    def _next_admission(self, now: float) -> float | None:
        """When the gate admits its next caller (None: nobody waits); ``now`` if one is due."""
        if not self._waiting:
            return None
        if now >= self._penalised_until and self._choose(now) is not None:
            return now
        return min(
            (at for w in self._waiting if (at := self._earliest(w, now)) > now), default=None
        )

    def _choose(self, now: float) -> _Waiter | None:
        ranked = sorted(self._waiting, key=lambda w: (-w.priority, w.arrived_at, w.seq))
        plans = [to_ticks(self._earliest(w, now)) for w in ranked]
        tick = to_ticks(now)
        for i, candidate in enumerate(ranked):
            if plans[i] > tick:
                continue
            if i == 0 or not self._delays(candidate, now, ranked[:i], plans[:i]):
                return candidate
        return None

    def _delays(
        self, candidate: _Waiter, now: float, ahead: list[_Waiter], plans: list[int]
    ) -> bool:
        """Would admitting ``candidate`` at ``now`` make any caller ``ahead`` go later?"""
        schedule = self._schedule.admit(now, candidate.priority)
        counters = dict(self._counters)
        if candidate.counter is not None:
            counters[candidate.counter] = self._counter(candidate).admit(now, candidate.priority)
        for other, plan in zip(ahead, plans, strict=True):
            at = schedule.earliest(now, other.priority)
            if other.counter is not None:
                counter = counters.get(other.counter) or self._counter(other)
                at = max(at, counter.earliest(now, other.priority))
            if to_ticks(at) > plan:
                return True
        return False

    def _admit(self, waiter: _Waiter, now: float) -> None:
        self._schedule = self._schedule.admit(now, waiter.priority)
        if waiter.counter is not None:
            self._counters[waiter.counter] = self._counter(waiter).admit(now, waiter.priority)
        self._waiting.remove(waiter)
        waiter.admitted_at = now
        waited = now - waiter.arrived_at
        self._admitted[waiter.priority] += 1
        self._total_wait[waiter.priority] += waited
        self._max_wait[waiter.priority] = max(self._max_wait[waiter.priority], waited)

    def _earliest(self, waiter: _Waiter, now: float) -> float:
        at = self._schedule.earliest(now, waiter.priority)
        if waiter.counter is not None:
            at = max(at, self._counter(waiter).earliest(now, waiter.priority))
        return max(at, self._penalised_until)

    def _counter(self, waiter: _Waiter) -> PermitSchedule:
        schedule = self._counters.get(waiter.counter)
        if schedule is None:
            assert waiter.endpoint_limit is not None
            limit = waiter.endpoint_limit
            schedule = PermitSchedule(limit.requests, limit.window, min_interval=0.0)
        return schedule

    # -- configuration --------------------------------------------------------------------

    def _refresh_config(self) -> None:
        """Read the limits again when the last read is CONFIG_TTL old (one reader at a time)."""
        if self._config is None:
            return
        read_at = self._config_read_at
        if read_at is not None and self._clock() - read_at < CONFIG_TTL:
            return
        if not self._config_lock.acquire(blocking=False):
            return  # another caller is reading; use the last values meanwhile
        try:
            now = self._clock()
            try:
                values = tuple(self._config.get(key) for key in LIMIT_KEYS)
            except Exception as e:  # the port says get() does not raise; a broken store
                log.warning("permit gate keeps its limits: config unreadable (%s)", e)
                values = (self._schedule.limit, self._schedule.window, self._schedule.min_interval)
            limit, window, interval = values
            with self._condition:
                self._config_read_at = now
                current = self._schedule
                if (current.limit, current.window, current.min_interval) != values:
                    try:
                        self._schedule = attrs.evolve(
                            current, limit=limit, window=window, min_interval=interval
                        )
                    except InvalidInput as e:
                        log.warning("permit gate keeps its limits: config %s", e)
                    else:
                        self._condition.notify_all()  # plans change: everyone looks again
        finally:
            self._config_lock.release()
