"""Faults a test can switch on in the fake OKX server.

REST faults match a request by method and path (``None`` matches any) and fire ``times``
times (``None``: until cleared). Whether the request is *applied* (an order placed) before
the fault answers is the ``apply`` flag, because a real timeout, 5xx or late 50011 may
come after OKX acted - the case the trading service must resolve by looking the order up
by its client id::

    okx.faults.timeout("/api/v5/trade/batch-orders", seconds=5)   # applied, answer held 5 s
    okx.faults.server_error(status=503, apply=True)               # applied, then 503
    okx.faults.rate_limit("/api/v5/account/balance", times=3)     # 50011 / HTTP 429
    okx.faults.delay(seconds=0.5)                                 # slow but answered
    okx.faults.duplicate_pushes(2); okx.faults.reorder_pushes(3)  # WebSocket pushes
    okx.faults.drop_websockets()                                  # close every connection
    okx.faults.skew_clock(45)                                     # server clock 45 s ahead

The plan is thread-safe; the server consults it on every request and push.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import attrs

DELAY = "delay"
TIMEOUT = "timeout"
SERVER_ERROR = "server_error"
RATE_LIMIT = "rate_limit"


@attrs.define
class RestFault:
    """One armed REST fault. ``times`` left (``None`` = forever)."""

    kind: str
    path: str | None = None
    method: str | None = None
    times: int | None = 1
    seconds: float = 0.0
    status: int = 503
    apply: bool = True
    json_body: bool = True

    def matches(self, method: str, path: str) -> bool:
        return (self.path is None or self.path == path) and (
            self.method is None or self.method == method
        )


class FaultPlan:
    """The faults currently switched on. Also exported as ``Faults``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rest: list[RestFault] = []
        self._duplicate = 0
        self._reorder = 0
        self._skew = 0.0
        self._drop_listeners: list[Callable[[], None]] = []

    # -- REST ----------------------------------------------------------------------------

    def delay(
        self,
        path: str | None = None,
        seconds: float = 1.0,
        times: int | None = 1,
        method: str | None = None,
    ) -> RestFault:
        """Answer the matching request(s) ``seconds`` late (the request is applied)."""
        return self._arm(RestFault(DELAY, path, method, times, seconds=seconds))

    def timeout(
        self,
        path: str | None = None,
        seconds: float = 30.0,
        times: int | None = 1,
        apply: bool = True,
        method: str | None = None,
    ) -> RestFault:
        """Hold the answer ``seconds`` (or until the server stops), then answer OKX's
        ``50004`` "endpoint request timeout". With ``apply`` the request is carried out
        first, as a real timeout may have been. A client with a shorter timeout sees a
        read timeout; ``seconds=0`` shows it OKX's own 50004 at once."""
        return self._arm(
            RestFault(TIMEOUT, path, method, times, seconds=seconds, apply=apply, status=400)
        )

    def server_error(
        self,
        path: str | None = None,
        status: int = 503,
        times: int | None = 1,
        apply: bool = False,
        json_body: bool = True,
        method: str | None = None,
    ) -> RestFault:
        """Answer HTTP ``status`` (5xx): a JSON OKX body (50001 for 503, 50026 otherwise)
        or, with ``json_body=False``, a plain-text body as a load balancer would."""
        return self._arm(
            RestFault(
                SERVER_ERROR, path, method, times, status=status, apply=apply, json_body=json_body
            )
        )

    def rate_limit(
        self,
        path: str | None = None,
        times: int | None = 1,
        apply: bool = False,
        status: int = 429,
        method: str | None = None,
    ) -> RestFault:
        """Answer ``50011`` "Too Many Requests" (HTTP 429 by default; OKX also uses 200)."""
        return self._arm(RestFault(RATE_LIMIT, path, method, times, status=status, apply=apply))

    def _arm(self, fault: RestFault) -> RestFault:
        with self._lock:
            self._rest.append(fault)
        return fault

    def take_rest(self, method: str, path: str) -> RestFault | None:
        """The first armed fault matching this request, counted as used; None if none."""
        with self._lock:
            for fault in self._rest:
                if fault.matches(method, path):
                    if fault.times is not None:
                        fault.times -= 1
                        if fault.times <= 0:
                            self._rest.remove(fault)
                    return fault
        return None

    # -- WebSocket -----------------------------------------------------------------------

    def duplicate_pushes(self, count: int = 1) -> None:
        """Send each of the next ``count`` data pushes twice."""
        with self._lock:
            self._duplicate += count

    def reorder_pushes(self, count: int = 2) -> None:
        """Hold the next ``count`` data pushes of a connection and send them newest first."""
        with self._lock:
            self._reorder = max(self._reorder, count)

    def take_duplicate(self) -> bool:
        with self._lock:
            if self._duplicate > 0:
                self._duplicate -= 1
                return True
            return False

    def take_reorder(self) -> int:
        """How many pushes to gather and reverse (0: none); resets the request."""
        with self._lock:
            count, self._reorder = self._reorder, 0
            return count

    def drop_websockets(self) -> None:
        """Close every open private WebSocket connection now (code 4006, as OKX's
        "abnormal disconnection")."""
        with self._lock:
            listeners = list(self._drop_listeners)
        for listener in listeners:
            listener()

    def on_drop(self, listener: Callable[[], None]) -> Callable[[], None]:
        """Register what ``drop_websockets`` calls (the server does); returns a remover."""
        with self._lock:
            self._drop_listeners.append(listener)

        def remove() -> None:
            with self._lock:
                if listener in self._drop_listeners:
                    self._drop_listeners.remove(listener)

        return remove

    # -- clock -----------------------------------------------------------------------------

    def skew_clock(self, seconds: float) -> None:
        """Move the server's clock ``seconds`` ahead (negative: behind): request timestamps
        are checked against it and ``/public/time`` reports it."""
        with self._lock:
            self._skew = float(seconds)

    @property
    def clock_skew(self) -> float:
        with self._lock:
            return self._skew

    def clear(self) -> None:
        """Switch every fault off (armed REST faults, push faults, clock skew)."""
        with self._lock:
            self._rest.clear()
            self._duplicate = 0
            self._reorder = 0
            self._skew = 0.0


Faults = FaultPlan
