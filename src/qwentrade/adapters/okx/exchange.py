"""OkxExchange: the ``Exchange`` port on OKX's v5 REST API (USDT perpetual swaps).

Every call: permit gate -> ccxt's transport on OKX's raw endpoints (:mod:`.rest`) ->
:mod:`.wire`. Raw endpoints rather than ccxt's unified methods, so none of ccxt's order
quirks applies (a single order sent through ``batch-orders``, an invented ``clOrdId``,
no error on a top-level ``"2"``) and every answer is parsed by code tested on recorded
payloads. Priorities: orders TRADE, stop-loss algos STOP_LOSS, everything else QUERY
(:meth:`OkxExchange.with_priority` for another).

An order whose answer is lost is never re-sent blindly (okx-spec A, DESIGN "Safety
rules"): each placement carries ``expTime`` (OKX refuses it after that time), so once
the deadline has passed a lookup by client order id is final: found -> that order;
absent -> it may be sent again, with the same id; the lookup failing ->
``OutcomeUnknown`` (:mod:`.recovery`).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from qwentrade.adapters.okx import market_stats, wire, wire_market, wire_trade
from qwentrade.adapters.okx.recovery import Recovery
from qwentrade.adapters.okx.rest import Config, Gate, OkxRest
from qwentrade.adapters.okx.retry import (
    DEFAULT_POLICY,
    RetryPolicy,
)
from qwentrade.adapters.okx.signing import OkxCredentials
from qwentrade.domain.errors import DomainError, InvalidInput, OrderNotFound
from qwentrade.domain.instruments import Instrument
from qwentrade.domain.market import (
    BookSnapshot,
    Candle,
    FundingRate,
    Liquidation,
    OpenInterest,
    Sentiment,
    Timeframe,
    TimeRange,
    from_ms,
    to_ms,
)
from qwentrade.domain.ratelimit import Priority
from qwentrade.domain.records import OrderRecord, PositionRecord
from qwentrade.domain.venue import (
    AlgoOrder,
    AlgoRequest,
    AlgoState,
    Balance,
    ExchangePosition,
    Order,
    OrderRequest,
    OrderState,
    PositionMode,
    PosSide,
    TdMode,
)

RECENT_CANDLES = 1440  # /market/candles serves only the latest 1,440 bars
CANDLE_PAGE = 300
HISTORY_PAGE = 100
FUNDING_PAGE = 400
RECENT_ORDER_HISTORY = timedelta(days=7)  # orders-history; older ones are in the archive
ALGO_CANCEL_BATCH = 10
ALGO_KINDS = "conditional,oco"


def _order_ref(order_id: str | None, client_order_id: str | None) -> dict:
    """OKX's reference to one order: ``ordId`` if given, else ``clOrdId``."""
    if not order_id and not client_order_id:
        raise InvalidInput("order_id", "give order_id or client_order_id")
    return {"ordId": order_id} if order_id else {"clOrdId": client_order_id}


class OkxExchange:
    """The OKX venue behind the ``Exchange`` port (sizes in contracts).

    ``gate`` is the account's permit gate; ``config`` a ConfigStore (``API_MAX_RETRIES``
    and ``API_REQUEST_TIMEOUT`` are read at call time). ``demo`` adds OKX's simulated
    trading header. ``order_expiry`` is how long an order request stays valid (OKX
    ``expTime``), i.e. how long a lost answer is waited out before the lookup. ``sleep``
    and ``draw`` (jitter) are injected for tests.
    """

    def __init__(
        self,
        gate: Gate,
        *,
        rest_url: str = "https://www.okx.com",
        credentials: OkxCredentials | None = None,
        demo: bool = False,
        config: Config | None = None,
        order_expiry: float = 10.0,
        sleep: Callable[[float], None] = time.sleep,
        draw: Callable[[], float] = random.random,
        backoff: RetryPolicy = DEFAULT_POLICY,
        rest: OkxRest | None = None,
        priority: Priority | None = None,
    ) -> None:
        self._rest = rest or OkxRest(
            gate,
            rest_url=rest_url,
            credentials=credentials,
            demo=demo,
            config=config,
            sleep=sleep,
            draw=draw,
            backoff=backoff,
        )
        self._order_expiry_ms = int(order_expiry * 1000)
        self._recovery = Recovery(self._rest, self._order_expiry_ms)
        self._priority = priority
        self._contract_values: dict[str, Decimal] = {}

    @property
    def rest(self) -> OkxRest:
        return self._rest

    def with_priority(self, priority: Priority) -> OkxExchange:
        """This exchange with every call at ``priority`` (e.g. a closing order at STOP_LOSS)."""
        return OkxExchange(
            self._rest.gate,
            order_expiry=self._order_expiry_ms / 1000,
            rest=self._rest,
            priority=priority,
        )

    def _at(self, default: Priority) -> Priority:
        return default if self._priority is None else self._priority

    def _get(self, path: str, params: dict, private: bool = False, **kw: Any) -> list:
        priority = self._at(kw.pop("priority", Priority.QUERY))
        return self._rest.request("GET", path, params, priority=priority, private=private, **kw)

    def _now(self) -> datetime:
        return from_ms(self._rest.server_ms())

    # -- reference and market data -----------------------------------------------------

    def instruments(self) -> list[Instrument]:
        """Every live USDT-margined linear swap."""
        rows = self._get("public/instruments", {"instType": wire.INST_TYPE})
        return [
            wire_market.instrument_from_okx(r) for r in rows if wire_market.is_tradable_usdt_swap(r)
        ]

    def server_time(self) -> datetime:
        """OKX's clock (``/public/time``); also re-measures the clock offset."""
        return from_ms(self._rest.sync_clock())

    def candles(
        self,
        symbol: str,
        timeframe: Timeframe,
        span: TimeRange | None = None,
        limit: int = 100,
    ) -> list[Candle]:
        """Candles oldest first; only ``confirm == "1"`` ones are ``confirmed``.

        Pages back from ``span.end`` (OKX ``after``) until ``limit`` candles or
        ``span.start`` (OKX ``before``); spans older than the 1,440 recent bars are read
        from ``/market/history-candles``.
        """
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 300:
            raise InvalidInput("limit", f"must be a whole number in 1..300, got {limit!r}")
        step = int(timeframe.duration / timedelta(milliseconds=1))
        start = to_ms(span.start) if span else None
        end = to_ms(span.end) if span else None
        recent_first = to_ms(timeframe.floor(self._now())) - (RECENT_CANDLES - 1) * step
        path = "market/candles"
        if start is not None and start < recent_first:
            path = "market/history-candles"
        found: dict[datetime, Candle] = {}
        cursor = end
        while len(found) < limit:
            params = {
                "instId": symbol,
                "bar": wire_market.BARS[timeframe],
                "limit": str(CANDLE_PAGE),
            }
            if cursor is not None:
                params["after"] = str(cursor)
            if start is not None:
                params["before"] = str(start - 1)
            rows = self._get(path, params, instrument=symbol)
            if not rows:
                break
            for row in rows:
                candle = wire_market.candle_from_okx(symbol, row)
                if span is None or candle.time in span:
                    found.setdefault(candle.time, candle)
            oldest = int(rows[-1][0])
            if cursor is not None and oldest >= cursor:
                break  # the venue ignored the cursor: stop rather than loop
            cursor = oldest
            if start is not None and oldest - step < start:
                break
        return [found[t] for t in sorted(found)][-limit:]

    def funding_rate(self, symbol: str) -> FundingRate:
        """The current rate; ``time`` is the coming settlement."""
        [item] = self._get("public/funding-rate", {"instId": symbol}, instrument=symbol)
        return wire_market.funding_rate_from_okx(item)

    def funding_history(self, symbol: str, span: TimeRange) -> list[FundingRate]:
        """Settled rates with settlement time in ``span``, oldest first (paged back)."""
        start, cursor = to_ms(span.start), to_ms(span.end)
        found: dict[datetime, FundingRate] = {}
        while True:
            params = {
                "instId": symbol,
                "after": str(cursor),
                "before": str(start - 1),
                "limit": str(FUNDING_PAGE),
            }
            rows = self._get("public/funding-rate-history", params, instrument=symbol)
            for row in rows:
                rate = wire_market.funding_history_from_okx(row)
                if rate.time in span:
                    found.setdefault(rate.time, rate)
            if len(rows) < FUNDING_PAGE:
                break
            oldest = int(rows[-1]["fundingTime"])
            if oldest >= cursor or oldest <= start:
                break
            cursor = oldest
        return [found[t] for t in sorted(found)]

    def order_book(self, symbol: str, depth: int = 5) -> BookSnapshot:
        """Up to ``depth`` (1..400) levels a side, best first."""
        if isinstance(depth, bool) or not isinstance(depth, int) or not 1 <= depth <= 400:
            raise InvalidInput("depth", f"must be a whole number in 1..400, got {depth!r}")
        [item] = self._get("market/books", {"instId": symbol, "sz": str(depth)}, instrument=symbol)
        return wire_market.book_from_okx(symbol, item, depth)

    # -- market statistics (beyond the port; see .market_stats) -------------------------

    def open_interest(self, symbol: str) -> OpenInterest:
        """Open interest now, in USD (:func:`.market_stats.open_interest`)."""
        return market_stats.open_interest(self._stats_get, symbol)

    def open_interest_history(
        self, symbol: str, span: TimeRange, period: Timeframe = Timeframe.H1
    ) -> list[OpenInterest]:
        """See :func:`.market_stats.open_interest_history`."""
        return market_stats.open_interest_history(self._stats_get, symbol, span, period)

    def long_short_ratio_history(
        self, symbol: str, span: TimeRange, period: Timeframe = Timeframe.H1
    ) -> list[Sentiment]:
        """See :func:`.market_stats.long_short_ratio_history`."""
        return market_stats.long_short_ratio_history(self._stats_get, symbol, span, period)

    def liquidations(
        self, symbol: str, span: TimeRange, interval: Timeframe = Timeframe.H1
    ) -> list[Liquidation]:
        """See :func:`.market_stats.liquidations` (the last day only)."""
        ct_val = lambda: self._ct_val(symbol)  # noqa: E731
        return market_stats.liquidations(
            self._stats_get, symbol, span, interval, self._now(), ct_val
        )

    def _stats_get(self, path: str, params: dict, instrument: str | None) -> list:
        return self._get(path, params, instrument=instrument)

    def _ct_val(self, symbol: str) -> Decimal:
        return market_stats.contract_value(self._stats_get, self._contract_values, symbol)

    # -- account -----------------------------------------------------------------------

    def balance(self) -> Balance:
        """The USDT balance of the trading account."""
        [item] = self._get("account/balance", {"ccy": wire.SETTLE}, private=True)
        return wire_trade.balance_from_okx(item)

    def positions(self, symbol: str | None = None) -> list[ExchangePosition]:
        """Open positions, oldest first."""
        params = {"instType": wire.INST_TYPE}
        if symbol:
            params["instId"] = symbol
        rows = self._get("account/positions", params, private=True)
        found = [wire_trade.position_from_okx(r) for r in rows]
        return [p for p in reversed(found) if p.size != 0]

    def set_leverage(
        self,
        symbol: str,
        leverage: int,
        margin_mode: TdMode,
        pos_side: PosSide | None = None,
    ) -> None:
        """OKX set-leverage (``posSide`` only for isolated margin in long/short mode)."""
        if isinstance(leverage, bool) or not isinstance(leverage, int) or leverage < 1:
            raise InvalidInput(
                "leverage", f"must be a whole number of at least 1, got {leverage!r}"
            )
        body = {"instId": symbol, "lever": str(leverage), "mgnMode": TdMode(margin_mode).value}
        if pos_side is not None and PosSide(pos_side) is not PosSide.NET:
            body["posSide"] = PosSide(pos_side).value
        self._rest.request(
            "POST",
            "account/set-leverage",
            body,
            priority=self._at(Priority.QUERY),
            private=True,
            instrument=symbol,
        )

    def position_mode(self) -> PositionMode:
        """The account's position mode (``/account/config`` ``posMode``)."""
        [item] = self._get("account/config", {}, private=True)
        return PositionMode(item["posMode"])

    def set_position_mode(self, mode: PositionMode) -> None:
        """Switch position mode; OKX refuses while positions or orders are open."""
        body = {"posMode": PositionMode(mode).value}
        self._rest.request(
            "POST",
            "account/set-position-mode",
            body,
            priority=self._at(Priority.QUERY),
            private=True,
        )

    # -- orders ------------------------------------------------------------------------

    def place_order(self, request: OrderRequest) -> Order:
        """Place one order (``POST /trade/order``, never batch-orders) and return it as
        OKX reports it right after; TP/SL ride along as ``attachAlgoOrds``.

        A lost answer is resolved by looking the order up by its client order id once
        the request's ``expTime`` has passed (see the module docstring).
        """
        body = wire_trade.order_body(request)
        ack = self._recovery.place(
            "trade/order",
            body,
            self._at(Priority.TRADE),
            request.symbol,
            lambda: self._lookup_order(request.symbol, request.client_order_id),
            request.client_order_id,
        )
        if isinstance(ack, Order):
            return ack
        try:
            return self.get_order(request.symbol, order_id=wire._text(ack, "ordId"))
        except DomainError:  # placed for sure; report what the acknowledgement says
            return wire_trade.order_from_ack(request, ack, self._now())

    def _lookup_order(self, symbol: str, client_order_id: str) -> Order:
        return self._fetch_order(symbol, None, client_order_id, Priority.TRADE)

    def _fetch_order(
        self, symbol: str, order_id: str | None, client_order_id: str | None, priority: Priority
    ) -> Order:
        params = {"instId": symbol, **_order_ref(order_id, client_order_id)}
        [item] = self._get("trade/order", params, private=True, priority=priority)
        return wire_trade.order_from_okx(item)

    def cancel_order(
        self, symbol: str, order_id: str | None = None, client_order_id: str | None = None
    ) -> Order:
        """Cancel an open order; returns its last state. ``OrderNotFound`` (51400) when it
        is unknown, filled or already canceled."""
        body = {"instId": symbol, **_order_ref(order_id, client_order_id)}
        answered = self._recovery.repeat(
            "trade/cancel-order", body, self._at(Priority.TRADE), symbol
        )
        order = self._fetch_order(symbol, order_id, client_order_id, self._at(Priority.TRADE))
        if answered is None and order.state is not OrderState.CANCELED:
            raise OrderNotFound(f"OKX 51400: order {order_id or client_order_id} is {order.state}")
        return order

    def get_order(
        self, symbol: str, order_id: str | None = None, client_order_id: str | None = None
    ) -> Order:
        """One order by id or client id (OKX's latest for a reused client id)."""
        return self._fetch_order(symbol, order_id, client_order_id, self._at(Priority.QUERY))

    def open_orders(self, symbol: str | None = None) -> list[Order]:
        """Live and partially filled orders, oldest first."""
        params = {"instType": wire.INST_TYPE}
        if symbol:
            params["instId"] = symbol
        rows = self._paged("trade/orders-pending", params, "ordId", None)
        return [wire_trade.order_from_okx(r) for r in reversed(rows)]

    def _paged(self, path: str, params: dict, cursor_key: str, limit: int | None) -> list:
        """Rows of a newest-first list endpoint, following ``after`` cursors."""
        rows: list = []
        cursor = params.get("after")
        while limit is None or len(rows) < limit:
            page = dict(params, limit=str(HISTORY_PAGE))
            if cursor:
                page["after"] = cursor
            data = self._get(path, page, private=True)
            rows.extend(data)
            if len(data) < HISTORY_PAGE:
                break
            cursor = str(data[-1][cursor_key])
        return rows if limit is None else rows[:limit]

    def order_history(
        self, symbol: str | None = None, span: TimeRange | None = None, limit: int = 100
    ) -> list[OrderRecord]:
        """Completed orders created in ``span``, newest first: the last 7 days from
        ``orders-history``, older ones from ``orders-history-archive`` (3 months)."""
        params = {"instType": wire.INST_TYPE}
        if symbol:
            params["instId"] = symbol
        if span is not None:
            params["begin"] = str(to_ms(span.start))
            params["end"] = str(to_ms(span.end) - 1)
        orders: dict[str, Order] = {}
        rows = self._paged("trade/orders-history", params, "ordId", limit)
        for row in rows:
            orders.setdefault(row["ordId"], wire_trade.order_from_okx(row))
        recent_only = span is not None and span.start >= self._now() - RECENT_ORDER_HISTORY
        if len(orders) < limit and not recent_only:
            older = dict(params)
            if rows:
                older["after"] = str(rows[-1]["ordId"])
            for row in self._paged("trade/orders-history-archive", older, "ordId", limit):
                orders.setdefault(row["ordId"], wire_trade.order_from_okx(row))
        found = [o for o in orders.values() if span is None or o.created_at in span]
        found.sort(key=lambda o: (o.created_at, int(o.order_id or 0)), reverse=True)
        return [o.to_record() for o in found[:limit]]

    def position_history(
        self, symbol: str | None = None, span: TimeRange | None = None, limit: int = 100
    ) -> list[PositionRecord]:
        """Closed and partly closed positions updated in ``span``, newest first."""
        params = {"instType": wire.INST_TYPE}
        if symbol:
            params["instId"] = symbol
        if span is not None:
            params["before"] = str(to_ms(span.start) - 1)
            params["after"] = str(to_ms(span.end))
        rows = self._paged("account/positions-history", params, "uTime", limit)
        records = [wire_trade.position_record_from_okx(r) for r in rows]
        return [r for r in records if span is None or r.updated_at in span]

    # -- algo (TP/SL) orders -----------------------------------------------------------

    def place_algo(self, request: AlgoRequest) -> AlgoOrder:
        """A standalone conditional or oco algo (``POST /trade/order-algo``); STOP_LOSS
        priority when it has a stop-loss leg. A lost answer is resolved by
        ``algoClOrdId`` (``OutcomeUnknown`` when the request has none)."""
        priority = Priority.STOP_LOSS if request.sl_trigger_price is not None else Priority.TRADE
        client_id = request.algo_client_order_id
        lookup = (lambda: self._fetch_algo({"algoClOrdId": client_id})) if client_id else None
        ack = self._recovery.place(
            "trade/order-algo",
            wire_trade.algo_body(request),
            self._at(priority),
            request.symbol,
            lookup,
            client_id,
        )
        if isinstance(ack, AlgoOrder):
            return ack
        algo_id = wire._text(ack, "algoId")
        try:
            return self._fetch_algo({"algoId": algo_id})
        except DomainError:
            return wire_trade.algo_from_ack(request, algo_id, self._now())

    def _fetch_algo(self, params: dict) -> AlgoOrder:
        [item] = self._get("trade/order-algo", params, private=True, priority=Priority.TRADE)
        return wire_trade.algo_from_okx(item)

    def cancel_algos(self, algos: Sequence[tuple[str, str]]) -> list[AlgoOrder]:
        """Cancel ``(symbol, algo_id)`` pairs (10 a request); returns them as they are
        after. ``OrderNotFound`` when one is unknown or no longer live."""
        pairs = list(algos)
        for start in range(0, len(pairs), ALGO_CANCEL_BATCH):
            chunk = pairs[start : start + ALGO_CANCEL_BATCH]
            body = [{"algoId": algo_id, "instId": symbol} for symbol, algo_id in chunk]
            items = self._recovery.repeat(
                "trade/cancel-algos", body, self._at(Priority.TRADE), None, items=False
            )
            for item in items or []:
                error = wire.item_failure(item)
                if error is not None:
                    raise error
        out = [self._fetch_algo({"algoId": algo_id, "instId": s}) for s, algo_id in pairs]
        for algo in out:
            if algo.state is not AlgoState.CANCELED:
                raise OrderNotFound(f"OKX 51400: algo order {algo.algo_id} is {algo.state}")
        return out

    def open_algos(self, symbol: str | None = None) -> list[AlgoOrder]:
        """Live conditional and oco algo orders, oldest first."""
        params = {"instType": wire.INST_TYPE, "ordType": ALGO_KINDS}
        if symbol:
            params["instId"] = symbol
        rows = self._paged("trade/orders-algo-pending", params, "algoId", None)
        return [wire_trade.algo_from_okx(r) for r in reversed(rows)]
