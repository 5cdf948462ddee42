"""The exchange calls of :class:`~qwentrade.adapters.sim.engine.SimEngine` (a base class of
it: the engine owns the state, the tapes and the price path these read): market data,
the account, orders and algo orders, each one a locked call into :mod:`.state`,
:mod:`.trading`, :mod:`.algos`, :mod:`.history`, :mod:`.market` or :mod:`.account`.

``_locked`` is the engine's one way in: under its lock, bring the market up to the clock,
do the call, then hand the events it made to the subscribers.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from decimal import Decimal
from functools import wraps
from typing import TYPE_CHECKING

from qwentrade.adapters.sim import account, algos, history, market, trading
from qwentrade.adapters.sim.candles import candles_at
from qwentrade.adapters.sim.codes import ORDER_NOT_FOUND
from qwentrade.adapters.sim.history import check_limit
from qwentrade.adapters.sim.prices import PricePath
from qwentrade.adapters.sim.state import SimState
from qwentrade.adapters.sim.tape import Tape
from qwentrade.domain.errors import InvalidInput
from qwentrade.domain.instruments import Instrument
from qwentrade.domain.market import (
    BookSnapshot,
    Candle,
    FundingRate,
    Timeframe,
    TimeRange,
)
from qwentrade.domain.records import OrderRecord, PositionRecord
from qwentrade.domain.venue import (
    AlgoOrder,
    AlgoRequest,
    AlgoState,
    Balance,
    ExchangePosition,
    Order,
    OrderRequest,
    PositionMode,
    PosSide,
    TdMode,
)

if TYPE_CHECKING:
    from datetime import datetime

    from qwentrade.adapters.sim.engine import SimEngine


def _locked(method):
    @wraps(method)
    def wrapper(self: SimEngine, *args, **kwargs):
        with self._lock:
            try:
                self._sync()
                return method(self, *args, **kwargs)
            finally:
                self._dispatch()

    return wrapper


class ExchangeCalls:
    """The calls of the exchange port (module docstring). The engine provides what they
    use."""

    _state: SimState
    _tapes: dict[str, Tape]
    _path: PricePath
    _price_of: Callable[[str], Decimal]

    # -- market data -------------------------------------------------------------------

    @_locked
    def instruments(self) -> list[Instrument]:
        """Every instrument, in the order given."""
        return list(self._state.instruments.values())

    @_locked
    def server_time(self) -> datetime:
        """The engine's current time."""
        return self._state.now

    @_locked
    def last_price(self, symbol: str) -> Decimal:
        """The last (and mark) price of ``symbol`` now."""
        self._state.instrument(symbol)
        return self._price_of(symbol)

    @_locked
    def candles(
        self, symbol: str, timeframe: Timeframe, span: TimeRange | None = None, limit: int = 100
    ) -> list[Candle]:
        """Candles oldest first, the forming one last with ``confirmed=False`` (see port)."""
        self._state.instrument(symbol)
        return candles_at(
            self._tapes[symbol],
            symbol,
            self._path.base,
            Timeframe(timeframe),
            self._state.now,
            span,
            limit,
        )

    @_locked
    def funding_rate(self, symbol: str) -> FundingRate:
        """The predicted rate (the last settled one) with the next settlement time."""
        self._state.instrument(symbol)
        return market.current_funding(self._path, symbol, self._state.now)

    @_locked
    def funding_history(self, symbol: str, span: TimeRange) -> list[FundingRate]:
        """Settlements in ``span`` up to now, oldest first (``realized_rate`` set)."""
        self._state.instrument(symbol)
        return market.funding_settlements(self._path, symbol, span, self._state.now)

    @_locked
    def order_book(self, symbol: str, depth: int = 5) -> BookSnapshot:
        """A synthetic book one tick apart around the last price (sizes in contracts)."""
        instrument = self._state.instrument(symbol)
        return market.synthetic_book(instrument, self._price_of(symbol), self._state.now, depth)

    # -- account -----------------------------------------------------------------------

    @_locked
    def balance(self) -> Balance:
        """The USDT balance now."""
        return self._state.balance()

    @_locked
    def positions(self, symbol: str | None = None) -> list[ExchangePosition]:
        """Open positions, oldest first."""
        if symbol is not None:
            self._state.instrument(symbol)
        held = [
            p
            for p in self._state.positions.values()
            if p.contracts and (symbol is None or p.symbol == symbol)
        ]
        held.sort(key=lambda p: int(p.pos_id))
        return [self._state.snapshot(p) for p in held]

    @_locked
    def set_leverage(
        self, symbol: str, leverage: int, margin_mode: TdMode, pos_side: PosSide | None = None
    ) -> None:
        """Set leverage (see ``account.set_leverage``)."""
        account.set_leverage(self._state, symbol, leverage, margin_mode, pos_side)

    @_locked
    def leverage(self, symbol: str, margin_mode: TdMode, pos_side: PosSide = PosSide.NET) -> int:
        """The leverage new orders of ``symbol`` in ``margin_mode`` would use."""
        self._state.instrument(symbol)
        return self._state.leverage_for(symbol, TdMode(margin_mode), PosSide(pos_side))

    @_locked
    def position_mode(self) -> PositionMode:
        """The account's position mode."""
        return self._state.mode

    @_locked
    def set_position_mode(self, mode: PositionMode) -> None:
        """Switch position mode; refused (59000) while anything is open."""
        account.set_position_mode(self._state, mode)

    # -- orders ------------------------------------------------------------------------

    @_locked
    def place_order(self, request: OrderRequest) -> Order:
        """Place an order (see ``trading``); raises with OKX codes on refusal."""
        return trading.place(self._state, request)

    @_locked
    def cancel_order(
        self, symbol: str, order_id: str | None = None, client_order_id: str | None = None
    ) -> Order:
        """Cancel an open order; OrderNotFound (51400) when not open."""
        return trading.cancel(self._state, symbol, order_id, client_order_id)

    @_locked
    def get_order(
        self, symbol: str, order_id: str | None = None, client_order_id: str | None = None
    ) -> Order:
        """An order by id or (latest) client id; OrderNotFound (51603) when unknown."""
        return trading.find(self._state, symbol, order_id, client_order_id, ORDER_NOT_FOUND)

    @_locked
    def open_orders(self, symbol: str | None = None) -> list[Order]:
        """Open orders, oldest first."""
        if symbol is not None:
            self._state.instrument(symbol)
        found = list(self._state.iter_open_orders(symbol))
        found.sort(key=lambda o: int(o.order_id))
        return found

    @_locked
    def order_history(
        self,
        symbol: str | None = None,
        span: TimeRange | None = None,
        limit: int = 100,
        after_order_id: str | None = None,
        before_order_id: str | None = None,
    ) -> list[OrderRecord]:
        """Filled and canceled orders created in ``span``, newest first, at most ``limit``.

        ``after_order_id`` keeps only orders older than that id, ``before_order_id`` only
        newer ones (OKX ``after``/``before``, exclusive; see ``history``).
        """
        check_limit(limit)
        if symbol is not None:
            self._state.instrument(symbol)
        return history.order_page(self._state, symbol, span, limit, after_order_id, before_order_id)

    @_locked
    def position_history(
        self, symbol: str | None = None, span: TimeRange | None = None, limit: int = 100
    ) -> list[PositionRecord]:
        """Position history rows (one per close event), newest first."""
        check_limit(limit)
        if symbol is not None:
            self._state.instrument(symbol)
        out = []
        for record in reversed(self._state.history):
            if span is not None and record.updated_at < span.start:
                break  # rows are appended as the clock moves on: the rest are older still
            if symbol is not None and record.symbol != symbol:
                continue
            if span is not None and record.updated_at not in span:
                continue
            out.append(record)
            if len(out) == limit:
                break
        return out

    # -- algo orders -------------------------------------------------------------------

    @_locked
    def place_algo(self, request: AlgoRequest) -> AlgoOrder:
        """Place a standalone TP/SL algo order (see ``algos``)."""
        return algos.place(self._state, request)

    @_locked
    def cancel_algos(self, pairs: Sequence[tuple[str, str]]) -> list[AlgoOrder]:
        """Cancel live algos given as (symbol, algo_id) pairs; all or nothing."""
        return algos.cancel(self._state, pairs)

    @_locked
    def open_algos(self, symbol: str | None = None) -> list[AlgoOrder]:
        """Live algo orders, oldest first."""
        if symbol is not None:
            self._state.instrument(symbol)
        found = list(self._state.iter_live_algos(symbol))
        found.sort(key=lambda a: int(a.algo_id))
        return found

    @_locked
    def get_algo(
        self, symbol: str, algo_id: str | None = None, algo_client_order_id: str | None = None
    ) -> AlgoOrder:
        """One algo order by id or client id, in any state; OrderNotFound when unknown."""
        if not algo_id and not algo_client_order_id:
            raise InvalidInput("algo_id", "give algo_id or algo_client_order_id")
        return algos.find(self._state, symbol, algo_id, algo_client_order_id)

    @_locked
    def algo_history(
        self,
        symbol: str | None = None,
        state: AlgoState | str | None = None,
        limit: int = 100,
        after_algo_id: str | None = None,
        before_algo_id: str | None = None,
    ) -> list[AlgoOrder]:
        """Finished algo orders (effective, canceled, order_failed), newest first.

        ``state`` keeps one of those states; ``after_algo_id``/``before_algo_id`` keep
        algos older/newer than that id (OKX ``after``/``before``, exclusive). At most
        ``limit``.
        """
        check_limit(limit)
        if symbol is not None:
            self._state.instrument(symbol)
        wanted = history.finished_algo_state(state)
        return history.algo_page(self._state, symbol, wanted, limit, after_algo_id, before_algo_id)
