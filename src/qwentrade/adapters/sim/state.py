"""The simulated account's mutable state: cash, positions, orders, algo orders, history.

Only the engine (under its lock) touches it. Changes are recorded as domain values in
``events`` (in order) for the engine to hand to its listeners.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from datetime import datetime
from decimal import Decimal

import attrs

from qwentrade.adapters.sim.codes import INSTRUMENT_NOT_FOUND, rejected
from qwentrade.adapters.sim.ledger import ZERO, SimPosition, cross_level
from qwentrade.adapters.sim.model import Costs, Intrabar, SizeCaps
from qwentrade.domain.instruments import Instrument
from qwentrade.domain.records import PositionRecord
from qwentrade.domain.venue import (
    AlgoOrder,
    Balance,
    ExchangePosition,
    Order,
    PositionMode,
    PosSide,
    Side,
    TdMode,
)

SETTLE_CURRENCY = "USDT"

PositionKey = tuple[str, PosSide, TdMode]


@attrs.frozen
class FeeRates:
    """Maker and taker fee rates as fractions of the notional (OKX Lv1 defaults)."""

    maker: Decimal = Decimal("0.0002")
    taker: Decimal = Decimal("0.0005")


@attrs.define
class OrderIndex:
    """Order ids (as numbers) and creation times, oldest first: both sorted, as ids are
    handed out in creation order and the engine's clock never goes back."""

    ids: list[int] = attrs.Factory(list)
    keys: list[str] = attrs.Factory(list)
    times: list[datetime] = attrs.Factory(list)

    def add(self, order: Order) -> None:
        self.ids.append(int(order.order_id))
        self.keys.append(order.order_id)
        self.times.append(order.created_at)


class SimState:
    """Everything the simulated account holds."""

    def __init__(
        self,
        instruments: dict[str, Instrument],
        cash: Decimal,
        fees: FeeRates,
        mode: PositionMode,
        default_leverage: int,
        maintenance_rates: dict[str, Decimal],
        price_of: Callable[[str], Decimal],
        now: datetime,
        costs: Callable[[], Costs] = Costs,
        intrabar: Intrabar = Intrabar.STOP_FIRST,
        size_caps: dict[str, SizeCaps] | None = None,
    ) -> None:
        self.instruments = instruments
        self.cash = cash
        self.fees = fees
        self.mode = mode
        self.default_leverage = default_leverage
        self.maintenance_rates = maintenance_rates
        self.price_of = price_of
        self.now = now
        self.costs = costs  # called at each fill or placement that needs them
        self.intrabar = intrabar
        self.size_caps = size_caps or {}
        self.leverage: dict[tuple[str, TdMode, PosSide], int] = {}
        self.positions: dict[PositionKey, SimPosition] = {}
        self.orders: dict[str, Order] = {}
        # every order's id and creation time in creation order, overall (key None) and per
        # symbol: ids rise and times never fall along each list, so the history is bisected
        self.order_index: dict[str | None, OrderIndex] = {None: OrderIndex()}
        self.open_orders: dict[str, dict[str, None]] = {s: {} for s in instruments}
        self.live_client_ids: dict[str, str] = {}
        self.latest_client_ids: dict[str, str] = {}
        self.algos: dict[str, AlgoOrder] = {}
        self.live_algos: dict[str, dict[str, None]] = {s: {} for s in instruments}
        self.live_algo_client_ids: dict[str, str] = {}
        self.history: list[PositionRecord] = []
        self.events: list[Order | AlgoOrder | ExchangePosition | Balance] = []
        self._next_order = 1_000_000_000_001
        self._algo_ids = itertools.count(2_000_000_000_001)
        self._pos_ids = itertools.count(3_000_000_000_001)
        self._trade_ids = itertools.count(4_000_000_001)

    # -- ids -----------------------------------------------------------------------------

    def next_order_id(self) -> str:
        order_id = self._next_order
        self._next_order += 1
        return str(order_id)

    def peek_order_id(self) -> str:
        """The id the next order will get."""
        return str(self._next_order)

    def next_algo_id(self) -> str:
        return str(next(self._algo_ids))

    def next_pos_id(self) -> str:
        return str(next(self._pos_ids))

    def next_trade_id(self) -> str:
        return str(next(self._trade_ids))

    def index_order(self, order: Order) -> None:
        """Add a new order to the history index (called once, at creation)."""
        self.order_index[None].add(order)
        self.order_index.setdefault(order.symbol, OrderIndex()).add(order)

    # -- lookups -------------------------------------------------------------------------

    def instrument(self, symbol: str) -> Instrument:
        """The instrument, or ExchangeRejected 51001."""
        try:
            return self.instruments[symbol]
        except KeyError:
            raise rejected(
                INSTRUMENT_NOT_FOUND,
                f"symbol {symbol!r} does not exist; use one of {', '.join(self.instruments)}",
            ) from None

    def caps(self, symbol: str) -> SizeCaps:
        """The symbol's maximum order sizes."""
        return self.size_caps.get(symbol) or SizeCaps()

    def rate(self, symbol: str) -> Decimal:
        return self.maintenance_rates[symbol]

    def leverage_key(self, symbol: str, td_mode: TdMode, pos_side: PosSide) -> tuple:
        per_side = td_mode is TdMode.ISOLATED and self.mode is PositionMode.LONG_SHORT_MODE
        return (symbol, td_mode, pos_side if per_side else PosSide.NET)

    def leverage_for(self, symbol: str, td_mode: TdMode, pos_side: PosSide) -> int:
        """The leverage set for this symbol and margin mode (default otherwise)."""
        key = self.leverage_key(symbol, td_mode, pos_side)
        fallback = min(self.default_leverage, self.instruments[symbol].max_lever)
        return self.leverage.get(key, fallback)

    def positions_of(self, symbol: str) -> list[SimPosition]:
        return [p for (s, _, _), p in self.positions.items() if s == symbol]

    def active_symbols(self) -> list[str]:
        """Symbols with an open order, a live algo or a position, in instrument order."""
        held = {key[0] for key in self.positions}
        return [
            s for s in self.instruments if self.open_orders[s] or self.live_algos[s] or s in held
        ]

    def iter_open_orders(self, symbol: str | None = None) -> Iterator[Order]:
        symbols = [symbol] if symbol else list(self.instruments)
        for s in symbols:
            for order_id in self.open_orders.get(s, {}):
                yield self.orders[order_id]

    def iter_live_algos(self, symbol: str | None = None) -> Iterator[AlgoOrder]:
        symbols = [symbol] if symbol else list(self.instruments)
        for s in symbols:
            for algo_id in self.live_algos.get(s, {}):
                yield self.algos[algo_id]

    # -- order effects -------------------------------------------------------------------

    def order_effect(
        self,
        symbol: str,
        side: Side,
        pos_side: PosSide,
        td_mode: TdMode,
        reduce_only: bool,
        contracts: Decimal,
    ) -> tuple[PositionKey, Decimal, Decimal, int]:
        """How an order of ``contracts`` would act now: (key, closing, opening, direction).

        ``direction`` (+1 long, -1 short) is the direction of the opening part. In net mode
        an opposite order first closes, then (unless reduce-only) opens the other way; in
        long/short mode buy+long and sell+short open, the other two close.
        """
        key = (symbol, pos_side, td_mode)
        position = self.positions.get(key)
        held = position.contracts if position else ZERO
        order_direction = 1 if side is Side.BUY else -1
        if pos_side is PosSide.NET:
            if position and position.direction == -order_direction:
                closing = min(contracts, held)
            else:
                closing = ZERO
            opening = ZERO if reduce_only else contracts - closing
            return key, closing, opening, order_direction
        opens = (pos_side is PosSide.LONG) == (side is Side.BUY)
        direction = 1 if pos_side is PosSide.LONG else -1
        if opens and not reduce_only:
            return key, ZERO, contracts, direction
        return key, min(contracts, held) if not opens else ZERO, ZERO, direction

    # -- money ---------------------------------------------------------------------------

    def margin_totals(self) -> dict[str, Decimal]:
        """upnl, cross_upnl, cross_im, iso_margin, order_frozen at current prices."""
        upnl = cross_upnl = cross_im = iso_margin = ZERO
        for position in self.positions.values():
            mark = self.price_of(position.symbol)
            pnl = position.upnl(mark)
            upnl += pnl
            if position.margin_mode is TdMode.ISOLATED:
                iso_margin += position.margin
            else:
                cross_upnl += pnl
                cross_im += position.initial_margin(mark)
        frozen = ZERO
        for order in self.iter_open_orders():
            if order.reduce_only or order.price is None:
                continue
            _, _, opening, _ = self.order_effect(
                order.symbol,
                order.side,
                order.pos_side,
                order.td_mode,
                False,
                order.remaining_size,
            )
            ct_val = self.instruments[order.symbol].ct_val
            frozen += opening * ct_val * order.price / order.leverage
        return {
            "upnl": upnl,
            "cross_upnl": cross_upnl,
            "cross_im": cross_im,
            "iso_margin": iso_margin,
            "order_frozen": frozen,
        }

    def available(self) -> Decimal:
        """Margin free for new orders (may be negative when under water)."""
        t = self.margin_totals()
        return self.cash - t["iso_margin"] + t["cross_upnl"] - t["cross_im"] - t["order_frozen"]

    def balance(self) -> Balance:
        """The USDT balance now."""
        t = self.margin_totals()
        available = self.cash - t["iso_margin"] + t["cross_upnl"] - t["cross_im"]
        available -= t["order_frozen"]
        return Balance(
            currency=SETTLE_CURRENCY,
            equity=self.cash + t["upnl"],
            cash_balance=self.cash,
            available=max(ZERO, available),
            frozen=t["cross_im"] + t["iso_margin"] + t["order_frozen"],
            unrealised_pnl=t["upnl"],
            updated_at=self.now,
        )

    def cross_equity_excluding(self, symbol: str) -> Decimal:
        """Cross equity net of maintenance margin, without ``symbol``'s cross positions."""
        equity = self.cash
        for (s, _, mode), position in self.positions.items():
            if mode is TdMode.ISOLATED:
                equity -= position.margin
            elif s != symbol:
                mark = self.price_of(s)
                equity += position.upnl(mark) - position.maintenance_margin(mark, self.rate(s))
        return equity

    # -- snapshots and events ------------------------------------------------------------

    def liquidation_price(self, position: SimPosition) -> Decimal | None:
        rate = self.rate(position.symbol)
        if position.margin_mode is TdMode.ISOLATED:
            return position.liquidation_level(position.margin, rate)
        group = [p for p in self.positions_of(position.symbol) if p.margin_mode is TdMode.CROSS]
        found = cross_level(
            group,
            self.cross_equity_excluding(position.symbol),
            rate,
            position.instrument.tick_sz,
        )
        return found[0] if found else None

    def snapshot(self, position: SimPosition) -> ExchangePosition:
        mark = self.price_of(position.symbol)
        liquidation = self.liquidation_price(position) if position.size else None
        return position.snapshot(mark, self.rate(position.symbol), liquidation, self.now)

    def emit(self, value: Order | AlgoOrder | ExchangePosition | Balance) -> None:
        self.events.append(value)

    def emit_position(self, position: SimPosition) -> None:
        self.events.append(self.snapshot(position))

    def emit_balance(self) -> None:
        self.events.append(self.balance())

    def drain(self) -> list[Order | AlgoOrder | ExchangePosition | Balance]:
        events, self.events = self.events, []
        return events
