"""Requests that change the account, and what is done when their answer is lost.

Placements (orders, algo orders) are never re-sent blindly. Each attempt carries OKX's
``expTime`` header (OKX refuses the request once that time has passed), so after a lost
answer - no answer, a timeout, 5xx or 50011, any of which may come after OKX acted - the
adapter waits until the deadline is behind it and looks the placement up by its client
id. Found: that is the answer. Provably absent: it may be sent again, with the same id.
The lookup failing too: ``OutcomeUnknown``, and nothing is sent.

Cancels may be repeated, but a repeat can find nothing left to cancel because the lost
attempt did it: :meth:`Recovery.repeat` says so (None) and the caller checks the state.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from qwentrade.adapters.okx.rest import OkxRest
from qwentrade.adapters.okx.retry import Classified, Failure, FailureKind, run
from qwentrade.domain.errors import DomainError, OrderNotFound, OutcomeUnknown
from qwentrade.domain.market import from_ms
from qwentrade.domain.ratelimit import Priority

#: time after ``expTime`` before a lookup counts as final (the request may be in transit)
EXPIRY_MARGIN = 0.5
#: a found order older than the first attempt by more than this is an earlier one
REUSE_SLACK = timedelta(seconds=5)


class Recovery:
    """Placement with lookup-after-expiry, and repeatable cancels, over one :class:`OkxRest`."""

    def __init__(self, rest: OkxRest, order_expiry_ms: int) -> None:
        self._rest = rest
        self._order_expiry_ms = order_expiry_ms

    def _now(self) -> datetime:
        return from_ms(self._rest.server_ms())

    def place(
        self,
        path: str,
        body: dict,
        priority: Priority,
        symbol: str,
        lookup: Callable[[], Any] | None,
        client_id: str,
    ) -> Any:
        """The acknowledgement item of a placement, or what ``lookup`` found after a
        lost answer. ``lookup`` returns the placed thing or raises OrderNotFound;
        without one (no client id) a lost answer is ``OutcomeUnknown`` at once."""
        rest = self._rest
        policy = rest.policy()
        first_sent = self._now()
        attempt = 0
        while True:
            deadline = rest.server_ms() + self._order_expiry_ms
            try:
                [ack] = rest.attempt(
                    "POST",
                    path,
                    body,
                    priority=priority,
                    private=True,
                    instrument=symbol,
                    headers={"expTime": str(deadline)},
                )
                return ack
            except Classified as e:
                failure = e.failure
            if not failure.retryable:
                raise failure.error from None
            delay = policy.delay(attempt, rest.draw())
            if failure.maybe_applied:
                if failure.kind is FailureKind.RATE_LIMITED:
                    rest.gate.penalise(delay)
                found = self._resolve(failure, lookup, deadline, client_id, first_sent)
                if found is not None:
                    return found
            else:
                rest.after_failure(failure, delay)
            if attempt >= policy.max_retries:
                raise failure.error from None  # provably not placed
            rest.sleep(delay)
            attempt += 1

    def _resolve(
        self,
        failure: Failure,
        lookup: Callable[[], Any] | None,
        deadline_ms: int,
        client_id: str,
        first_sent: datetime,
    ) -> Any:
        """After a lost answer: wait out ``expTime``, then look the placement up."""
        if lookup is None:
            raise OutcomeUnknown(
                f"the answer to a placement without a client id was lost ({failure.error}); "
                "list the open algo orders to see whether it exists"
            )
        wait = (deadline_ms - self._rest.server_ms()) / 1000 + EXPIRY_MARGIN
        if wait > 0:
            self._rest.sleep(wait)
        try:
            found = lookup()
        except OrderNotFound:
            return None
        except DomainError as e:
            raise OutcomeUnknown(
                f"client order id {client_id}: the answer was lost ({failure.error}) and the "
                f"lookup failed ({e}); look it up by client order id, never re-send"
            ) from e
        if found is not None and found.created_at < first_sent - REUSE_SLACK:
            return None  # an earlier order that used the same client id
        return found

    def repeat(
        self,
        path: str,
        body: dict | list,
        priority: Priority,
        symbol: str | None,
        items: bool = True,
    ) -> list | None:
        """A cancel, retried like a query. None when an earlier attempt's answer was lost
        and a repeat then found nothing to cancel (or, with ``items=False``, whatever the
        repeat answered): that attempt probably did it, so the caller checks the state."""
        lost = False

        def once() -> list | None:
            nonlocal lost
            try:
                data = self._rest.attempt(
                    "POST",
                    path,
                    body,
                    priority=priority,
                    private=True,
                    instrument=symbol,
                    items=items,
                )
            except Classified as e:
                if lost and isinstance(e.failure.error, OrderNotFound):
                    return None
                lost = lost or e.failure.maybe_applied
                raise
            return None if lost and not items else data

        rest = self._rest
        return run(once, rest.policy(), rest.sleep, rest.draw, rest.after_failure)
