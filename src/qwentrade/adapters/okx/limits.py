"""OKX's per-endpoint REST rate limits, as data: one row per endpoint the adapter calls.

Values from ``okx-spec.md`` section B (the current OKX docs), except where a row says
otherwise. The permit gate enforces each row beside the configured global limit
(``API_RATE_LIMIT`` per ``API_RATE_WINDOW``), so the tighter of the two always holds.

Facts the table relies on:

1. OKX counts each endpoint separately; a row is keyed ``"METHOD /api/v5/path"``.
2. ``rule`` says who shares a counter. The gate is one per account, so a per-user (UID)
   and a per-IP counter are both one counter per endpoint here; a per-instrument rule
   (``UID + instId`` or ``IP + instId``) is one counter per endpoint and instrument.
   An IP counter shared with other processes on the same address is not visible to one
   gate: OKX answers ``50011`` and the caller calls ``PermitGate.penalise``.
3. Two endpoints count orders, not requests (``trade/batch-orders`` 300 orders / 2 s, at
   most 20 per request; ``trade/cancel-algos`` 20 orders / 2 s, at most 10 per request).
   The gate counts requests, so their rows hold what is safe for a full request:
   300 / 20 = 15 and 20 / 10 = 2 requests per 2 s.
4. An endpoint missing from the table is limited by the global limit alone.
"""

from __future__ import annotations

import enum
from collections.abc import Hashable, Mapping
from types import MappingProxyType

import attrs

from qwentrade.domain.errors import InvalidInput


class LimitRule(enum.Enum):
    """Who shares one OKX counter (okx-spec.md B: "IP", "UID", "UID+instId")."""

    IP = "IP"
    IP_INSTRUMENT = "IP+instId"
    USER = "UID"
    USER_INSTRUMENT = "UID+instId"

    @property
    def per_instrument(self) -> bool:
        """True when each instrument has a counter of its own."""
        return self in (LimitRule.IP_INSTRUMENT, LimitRule.USER_INSTRUMENT)


@attrs.frozen
class EndpointLimit:
    """At most ``requests`` calls per ``window`` seconds, counted per ``rule``."""

    requests: int
    window: float
    rule: LimitRule

    def __attrs_post_init__(self) -> None:
        if isinstance(self.requests, bool) or not isinstance(self.requests, int):
            raise InvalidInput("requests", f"must be a whole number >= 1, got {self.requests!r}")
        if self.requests < 1:
            raise InvalidInput("requests", f"must be a whole number >= 1, got {self.requests!r}")
        if not isinstance(self.window, int | float) or not 0 < self.window < float("inf"):
            raise InvalidInput("window", f"must be a number of seconds > 0, got {self.window!r}")

    def counter(self, endpoint: str, instrument: str | None) -> Hashable:
        """The key of the counter a call to ``endpoint`` on ``instrument`` uses.

        A per-instrument call without an instrument shares one counter with the others
        that have none, which can only over-count.
        """
        return (endpoint, instrument) if self.rule.per_instrument else (endpoint, None)


_IP, _IP_INST = LimitRule.IP, LimitRule.IP_INSTRUMENT
_UID, _UID_INST = LimitRule.USER, LimitRule.USER_INSTRUMENT

OKX_LIMITS: Mapping[str, EndpointLimit] = MappingProxyType(
    {
        # public market data (B1-B6, B20)
        "GET /api/v5/market/candles": EndpointLimit(40, 2.0, _IP),
        "GET /api/v5/market/history-candles": EndpointLimit(20, 2.0, _IP),
        "GET /api/v5/public/funding-rate": EndpointLimit(10, 2.0, _IP_INST),
        "GET /api/v5/public/funding-rate-history": EndpointLimit(10, 2.0, _IP_INST),
        "GET /api/v5/market/books": EndpointLimit(40, 2.0, _IP),
        # OKX counts instruments per IP + instType; we ask for SWAP only: one counter
        "GET /api/v5/public/instruments": EndpointLimit(20, 2.0, _IP),
        "GET /api/v5/public/time": EndpointLimit(10, 2.0, _IP),
        # market statistics: not in okx-spec.md; OKX docs "Public data" ("Get open
        # interest" 20 / 2 s IP + instId; "Get liquidation orders" 40 / 2 s IP) and
        # "Trading statistics" (per-contract series: 10 and 5 / 2 s, IP + instId)
        "GET /api/v5/public/open-interest": EndpointLimit(20, 2.0, _IP_INST),
        "GET /api/v5/public/liquidation-orders": EndpointLimit(40, 2.0, _IP),
        "GET /api/v5/rubik/stat/contracts/open-interest-history": EndpointLimit(10, 2.0, _IP_INST),
        "GET /api/v5/rubik/stat/contracts/long-short-account-ratio-contract": EndpointLimit(
            5, 2.0, _IP_INST
        ),
        # account (B7-B11)
        "GET /api/v5/account/balance": EndpointLimit(10, 2.0, _UID),
        "GET /api/v5/account/positions": EndpointLimit(10, 2.0, _UID),
        "GET /api/v5/account/positions-history": EndpointLimit(10, 2.0, _UID),
        "POST /api/v5/account/set-leverage": EndpointLimit(20, 2.0, _UID),
        "GET /api/v5/account/config": EndpointLimit(5, 2.0, _UID),
        # not in okx-spec.md; OKX docs "Set position mode": 5 requests / 2 s, UID
        "POST /api/v5/account/set-position-mode": EndpointLimit(5, 2.0, _UID),
        # trade (B12-B16)
        "POST /api/v5/trade/order": EndpointLimit(60, 2.0, _UID_INST),
        "POST /api/v5/trade/batch-orders": EndpointLimit(300 // 20, 2.0, _UID_INST),  # fact 3
        "POST /api/v5/trade/cancel-order": EndpointLimit(60, 2.0, _UID_INST),
        "GET /api/v5/trade/order": EndpointLimit(60, 2.0, _UID_INST),
        "GET /api/v5/trade/orders-history": EndpointLimit(40, 2.0, _UID),
        "GET /api/v5/trade/orders-history-archive": EndpointLimit(20, 2.0, _UID),
        # algo orders: stop-loss and take-profit (B17-B19)
        "POST /api/v5/trade/order-algo": EndpointLimit(20, 2.0, _UID_INST),
        "POST /api/v5/trade/cancel-algos": EndpointLimit(20 // 10, 2.0, _UID_INST),  # fact 3
        "GET /api/v5/trade/orders-algo-pending": EndpointLimit(20, 2.0, _UID),
        # not in okx-spec.md; OKX docs "Get algo order details": 20 requests / 2 s, UID
        "GET /api/v5/trade/order-algo": EndpointLimit(20, 2.0, _UID),
        # not in okx-spec.md; OKX docs "Get currencies": 6 requests / 1 s, UID (B21: ccxt
        # load_markets calls it when credentials are set)
        "GET /api/v5/asset/currencies": EndpointLimit(6, 1.0, _UID),
    }
)
