"""When a failed OKX request is tried again, and how long to wait first (pure policy).

The rules:

1. A failure is one of five kinds (:class:`FailureKind`): ``NETWORK`` (no answer: the
   connection failed or dropped, or the read timed out), ``SERVER`` (5xx, or OKX's own
   "system busy"/"endpoint timeout" codes), ``RATE_LIMITED`` (50011, HTTP 429),
   ``CLOCK`` (50102 timestamp expired: refresh the server-time offset) and ``FINAL``
   (parameters, funds, authentication, not found: trying again cannot help).
2. Everything but ``FINAL`` is retried, up to ``max_retries`` times (the config key
   ``API_MAX_RETRIES``, read at call time), waiting ``delay(attempt)``: exponential
   (``base * 2**attempt``, capped at ``cap``) with jitter (between half and all of it).
3. ``NETWORK``, ``SERVER`` and ``RATE_LIMITED`` may come AFTER OKX acted (OKX answers
   50011 or 5xx late too): for an order they mean "outcome unknown". An order is never
   simply re-sent: the exchange waits past the request's ``expTime`` and looks it up by
   its client order id (``OkxExchange.place_order``). ``CLOCK`` and ``FINAL`` answers
   mean OKX refused the request before acting.

:func:`run` is the small runner for everything that may safely be repeated (queries,
leverage, cancels): sleeping and drawing jitter are injected.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from typing import TypeVar

import attrs

from qwentrade.domain.errors import DomainError

T = TypeVar("T")


class FailureKind(enum.Enum):
    NETWORK = "network"
    SERVER = "server"
    RATE_LIMITED = "rate_limited"
    CLOCK = "clock"
    FINAL = "final"


#: kinds after which OKX may have carried the request out
MAYBE_APPLIED = frozenset({FailureKind.NETWORK, FailureKind.SERVER, FailureKind.RATE_LIMITED})


@attrs.frozen
class Failure:
    """A classified failure: its kind and the domain error to raise if we give up."""

    kind: FailureKind
    error: DomainError

    @property
    def retryable(self) -> bool:
        return self.kind is not FailureKind.FINAL

    @property
    def maybe_applied(self) -> bool:
        """True when OKX may have acted on the request although we have no answer."""
        return self.kind in MAYBE_APPLIED


class Classified(Exception):
    """Raised by a transport with the failure already classified."""

    def __init__(self, failure: Failure) -> None:
        super().__init__(str(failure.error))
        self.failure = failure


@attrs.frozen
class RetryPolicy:
    """Exponential backoff with jitter: ``delay(n)`` is in ``[d/2, d]`` for
    ``d = min(cap, base * 2**n)``; ``draw`` is a random number in ``[0, 1)``."""

    max_retries: int = 3
    base: float = 0.5
    cap: float = 8.0

    def delay(self, attempt: int, draw: float) -> float:
        full = min(self.cap, self.base * 2**attempt)
        return full / 2 + full / 2 * draw


#: the default backoff: 0.5 s doubling up to 8 s
DEFAULT_POLICY = RetryPolicy()


def run(
    call: Callable[[], T],
    policy: RetryPolicy,
    sleep: Callable[[float], None],
    draw: Callable[[], float],
    on_failure: Callable[[Failure, float], None] | None = None,
) -> T:
    """``call()``, retried per ``policy`` while it raises a retryable :class:`Classified`.

    ``on_failure(failure, delay)`` runs before each wait (penalise the gate, refresh the
    clock). When retries run out, or the failure is ``FINAL``, its domain error is raised.
    """
    attempt = 0
    while True:
        try:
            return call()
        except Classified as e:
            failure = e.failure
            if not failure.retryable or attempt >= policy.max_retries:
                raise failure.error from e
            delay = policy.delay(attempt, draw())
            if on_failure is not None:
                on_failure(failure, delay)
            sleep(delay)
            attempt += 1
