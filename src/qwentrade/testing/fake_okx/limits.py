"""OKX's per-endpoint rate limits as data, and the sliding window that enforces them.

Values are the current docs' (okx-spec section B). ``scope`` says what a limit is counted
per: ``ip``, ``uid`` (the API key), and ``+inst_id`` / ``+inst_type`` variants. Limits
counted in *orders* rather than requests (batch orders, algo cancels) say so with
``per_item=True``: each item counts once against its own ``instId`` bucket. A batch with a
single element counts against the single-order limit, as OKX documents.

A refused request is answered with ``50011`` "Too Many Requests" and HTTP 429.
"""

from __future__ import annotations

import threading
from collections import defaultdict, deque
from collections.abc import Iterable, Mapping

import attrs

IP = "ip"
UID = "uid"
IP_INST_ID = "ip+inst_id"
IP_INST_TYPE = "ip+inst_type"
UID_INST_ID = "uid+inst_id"


@attrs.frozen
class Limit:
    """``requests`` per ``window`` seconds, counted per ``scope``."""

    requests: int
    window: float
    scope: str
    per_item: bool = False


LIMITS: dict[tuple[str, str], Limit] = {
    ("GET", "/api/v5/public/time"): Limit(10, 2.0, IP),
    ("GET", "/api/v5/public/instruments"): Limit(20, 2.0, IP_INST_TYPE),
    ("GET", "/api/v5/market/candles"): Limit(40, 2.0, IP),
    ("GET", "/api/v5/market/history-candles"): Limit(20, 2.0, IP),
    ("GET", "/api/v5/market/books"): Limit(40, 2.0, IP),
    ("GET", "/api/v5/market/ticker"): Limit(20, 2.0, IP),
    ("GET", "/api/v5/public/funding-rate"): Limit(10, 2.0, IP_INST_ID),
    ("GET", "/api/v5/public/funding-rate-history"): Limit(10, 2.0, IP_INST_ID),
    # OKX docs "Public data" / "Trading statistics" (not in okx-spec.md)
    ("GET", "/api/v5/public/open-interest"): Limit(20, 2.0, IP_INST_ID),
    ("GET", "/api/v5/public/liquidation-orders"): Limit(40, 2.0, IP),
    ("GET", "/api/v5/rubik/stat/contracts/open-interest-history"): Limit(10, 2.0, IP_INST_ID),
    ("GET", "/api/v5/rubik/stat/contracts/open-interest-volume"): Limit(5, 2.0, IP),
    ("GET", "/api/v5/rubik/stat/contracts/long-short-account-ratio-contract"): Limit(
        5, 2.0, IP_INST_ID
    ),
    ("GET", "/api/v5/rubik/stat/contracts/long-short-account-ratio"): Limit(5, 2.0, IP),
    ("GET", "/api/v5/asset/currencies"): Limit(6, 1.0, UID),
    ("GET", "/api/v5/account/balance"): Limit(10, 2.0, UID),
    ("GET", "/api/v5/account/positions"): Limit(10, 2.0, UID),
    ("GET", "/api/v5/account/positions-history"): Limit(10, 2.0, UID),
    ("GET", "/api/v5/account/config"): Limit(5, 2.0, UID),
    ("GET", "/api/v5/account/leverage-info"): Limit(20, 2.0, UID),
    ("POST", "/api/v5/account/set-leverage"): Limit(20, 2.0, UID),
    ("POST", "/api/v5/account/set-position-mode"): Limit(5, 2.0, UID),
    ("POST", "/api/v5/trade/order"): Limit(60, 2.0, UID_INST_ID),
    ("POST", "/api/v5/trade/batch-orders"): Limit(300, 2.0, UID_INST_ID, per_item=True),
    ("POST", "/api/v5/trade/cancel-order"): Limit(60, 2.0, UID_INST_ID),
    ("POST", "/api/v5/trade/cancel-batch-orders"): Limit(300, 2.0, UID_INST_ID, per_item=True),
    ("GET", "/api/v5/trade/order"): Limit(60, 2.0, UID_INST_ID),
    ("GET", "/api/v5/trade/orders-pending"): Limit(60, 2.0, UID),
    ("GET", "/api/v5/trade/orders-history"): Limit(40, 2.0, UID),
    ("GET", "/api/v5/trade/orders-history-archive"): Limit(20, 2.0, UID),
    ("POST", "/api/v5/trade/order-algo"): Limit(20, 2.0, UID_INST_ID),
    ("GET", "/api/v5/trade/order-algo"): Limit(20, 2.0, UID),
    ("POST", "/api/v5/trade/cancel-algos"): Limit(20, 2.0, UID_INST_ID, per_item=True),
    ("GET", "/api/v5/trade/orders-algo-pending"): Limit(20, 2.0, UID),
    ("GET", "/api/v5/trade/orders-algo-history"): Limit(20, 2.0, UID),
}

#: Which single-request endpoint a one-element batch counts against.
SINGLE_OF_BATCH = {
    "/api/v5/trade/batch-orders": "/api/v5/trade/order",
    "/api/v5/trade/cancel-batch-orders": "/api/v5/trade/cancel-order",
}


def bucket_keys(
    limit: Limit,
    path: str,
    ip: str,
    uid: str,
    inst_ids: Iterable[str],
    inst_type: str,
) -> dict[tuple, int]:
    """Bucket key -> cost of one request under ``limit``.

    ``inst_ids`` holds one ``instId`` per item (one element for a plain request).
    """
    ids = list(inst_ids) or [""]
    if limit.scope == IP:
        return {(path, ip): 1}
    if limit.scope == UID:
        return {(path, uid): 1}
    if limit.scope == IP_INST_TYPE:
        return {(path, ip, inst_type): 1}
    who = ip if limit.scope == IP_INST_ID else uid
    if not limit.per_item:
        return {(path, who, ids[0]): 1}
    costs: dict[tuple, int] = defaultdict(int)
    for inst_id in ids:
        costs[(path, who, inst_id)] += 1
    return dict(costs)


class SlidingWindow:
    """Counts admitted costs per bucket over the last ``window`` seconds. Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._events: dict[tuple, deque[tuple[float, int]]] = defaultdict(deque)

    def admit(self, costs: Mapping[tuple, int], limit: Limit, now: float) -> bool:
        """Admit (and count) a request costing ``costs`` per bucket, or refuse it whole."""
        with self._lock:
            for key, cost in costs.items():
                if self._used(key, limit.window, now) + cost > limit.requests:
                    return False
            for key, cost in costs.items():
                self._events[key].append((now, cost))
            return True

    def _used(self, key: tuple, window: float, now: float) -> int:
        events = self._events[key]
        while events and events[0][0] <= now - window:
            events.popleft()
        return sum(cost for _, cost in events)

    def clear(self) -> None:
        with self._lock:
            self._events.clear()


class RateLimiter:
    """Applies :data:`LIMITS` (or a table given for tests) to incoming requests."""

    def __init__(self, table: Mapping[tuple[str, str], Limit] | None = None) -> None:
        self._table = dict(LIMITS if table is None else table)
        self._window = SlidingWindow()

    @property
    def table(self) -> dict[tuple[str, str], Limit]:
        return dict(self._table)

    def admit(
        self,
        method: str,
        path: str,
        now: float,
        ip: str,
        uid: str = "",
        inst_ids: Iterable[str] = (),
        inst_type: str = "",
    ) -> bool:
        """True when the request may run now (and is counted); False means answer 50011."""
        ids = list(inst_ids)
        if len(ids) == 1 and path in SINGLE_OF_BATCH:
            path = SINGLE_OF_BATCH[path]
        limit = self._table.get((method, path))
        if limit is None:
            return True
        costs = bucket_keys(limit, path, ip, uid, ids, inst_type)
        return self._window.admit(costs, limit, now)

    def reset(self) -> None:
        """Forget every request counted so far."""
        self._window.clear()
