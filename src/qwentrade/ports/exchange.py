"""The Exchange port (market data + trading) and the PrivateStream port.

Written in domain types only. Implementations: ``adapters.sim.SimExchange`` (the
in-memory venue) and the OKX adapter. Both pass the same contract suite
(``tests/contract/test_exchange_contract.py``).

Errors every implementation raises (from ``domain.errors``):

- ``ExchangeRejected(message, code)``: the venue understood and refused; ``code`` is
  OKX's ``sCode`` (e.g. ``51016`` duplicate client order id, ``51001`` unknown
  instrument, ``51121`` bad lot size, ``59102`` leverage too high).
- ``InsufficientFunds``: not enough available margin (OKX ``51008``).
- ``OrderNotFound``: no such order (OKX ``51400``/``51603``).
- ``InvalidInput``: a request that is wrong before it reaches the venue (naming the field).
- ``RateLimited``, ``ExchangeUnavailable``, ``AuthFailed``, ``OutcomeUnknown``: the
  transport failed; after ``OutcomeUnknown`` look the order up with ``get_order`` by its
  client order id, never re-send blindly.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Protocol

from qwentrade.domain.instruments import Instrument
from qwentrade.domain.market import BookSnapshot, Candle, FundingRate, Timeframe, TimeRange
from qwentrade.domain.records import OrderRecord, PositionRecord
from qwentrade.domain.venue import (
    AlgoOrder,
    AlgoRequest,
    Balance,
    ExchangePosition,
    Order,
    OrderRequest,
    PositionMode,
    PosSide,
    StreamEvent,
    TdMode,
)

DEFAULT_CANDLE_LIMIT = 100
MAX_CANDLE_LIMIT = 300


class Exchange(Protocol):
    """An OKX-like venue for USDT-margined perpetual swaps. Sizes are in contracts."""

    # -- reference and market data -----------------------------------------------------

    def instruments(self) -> list[Instrument]:
        """Every tradable SWAP instrument."""
        ...

    def server_time(self) -> datetime:
        """The venue's current time (aware UTC)."""
        ...

    def candles(
        self,
        symbol: str,
        timeframe: Timeframe,
        span: TimeRange | None = None,
        limit: int = DEFAULT_CANDLE_LIMIT,
    ) -> list[Candle]:
        """Candles of ``symbol``, OLDEST FIRST (the adapter reverses OKX's newest-first).

        A candle belongs to ``span`` when its open time is in ``[span.start, span.end)``;
        without ``span`` the most recent ones are returned. At most ``limit`` (1..300)
        candles, the newest ones of the range when it holds more. Closed candles have
        ``confirmed=True``; the one still forming (only ever the last) has
        ``confirmed=False``. Candles that have not opened yet are never returned.
        """
        ...

    def funding_rate(self, symbol: str) -> FundingRate:
        """The current (predicted) funding rate; ``time`` is the next settlement time."""
        ...

    def funding_history(self, symbol: str, span: TimeRange) -> list[FundingRate]:
        """Settled funding rates with settlement time in ``span``, oldest first."""
        ...

    def order_book(self, symbol: str, depth: int = 5) -> BookSnapshot:
        """An order-book snapshot with up to ``depth`` levels a side, best first."""
        ...

    # -- account -----------------------------------------------------------------------

    def balance(self) -> Balance:
        """The USDT balance of the trading account."""
        ...

    def positions(self, symbol: str | None = None) -> list[ExchangePosition]:
        """Open positions (non-zero size), of ``symbol`` or all."""
        ...

    def set_leverage(
        self,
        symbol: str,
        leverage: int,
        margin_mode: TdMode,
        pos_side: PosSide | None = None,
    ) -> None:
        """Set the leverage used for ``symbol`` in ``margin_mode`` (OKX set-leverage).

        ``pos_side`` is only meaningful for isolated margin in long/short mode.
        """
        ...

    def position_mode(self) -> PositionMode:
        """The account's position mode."""
        ...

    def set_position_mode(self, mode: PositionMode) -> None:
        """Switch position mode; refused while positions or orders are open."""
        ...

    # -- orders ------------------------------------------------------------------------

    def place_order(self, request: OrderRequest) -> Order:
        """Place an order and return it as the venue knows it right after.

        A duplicate ``client_order_id`` of a still-open order is rejected with
        ``ExchangeRejected`` code ``51016``; a client id may be reused once its order is
        filled or canceled (as on OKX). Attached TP/SL become algo orders when it fills.
        """
        ...

    def cancel_order(
        self, symbol: str, order_id: str | None = None, client_order_id: str | None = None
    ) -> Order:
        """Cancel an open order by id (preferred) or client id; returns its last state.

        ``OrderNotFound`` when the order is unknown, filled or already canceled (51400).
        """
        ...

    def get_order(
        self, symbol: str, order_id: str | None = None, client_order_id: str | None = None
    ) -> Order:
        """One order by id or client id (the latest when a client id was reused).

        ``OrderNotFound`` when unknown: how an OUTCOME_UNKNOWN intent is resolved.
        """
        ...

    def open_orders(self, symbol: str | None = None) -> list[Order]:
        """Live and partially filled orders, oldest first."""
        ...

    def order_history(
        self, symbol: str | None = None, span: TimeRange | None = None, limit: int = 100
    ) -> list[OrderRecord]:
        """Completed (filled or canceled) orders, newest first, created in ``span``."""
        ...

    def position_history(
        self, symbol: str | None = None, span: TimeRange | None = None, limit: int = 100
    ) -> list[PositionRecord]:
        """Closed and partly closed positions, newest update first, updated in ``span``."""
        ...

    # -- algo (TP/SL) orders -----------------------------------------------------------

    def place_algo(self, request: AlgoRequest) -> AlgoOrder:
        """Place a standalone stop-loss/take-profit (conditional or oco) algo order."""
        ...

    def cancel_algos(self, algos: Sequence[tuple[str, str]]) -> list[AlgoOrder]:
        """Cancel algo orders given as ``(symbol, algo_id)`` pairs; returns them canceled.

        ``OrderNotFound`` when one is unknown or no longer live.
        """
        ...

    def open_algos(self, symbol: str | None = None) -> list[AlgoOrder]:
        """Untriggered (live) algo orders, oldest first."""
        ...


class PrivateStream(Protocol):
    """Account updates pushed by the venue (OKX private WebSocket ``orders``/``positions``).

    ``connect`` starts delivery: each event (an ``Order``, ``AlgoOrder``,
    ``ExchangePosition`` (size 0 = closed), ``Balance`` or ``StreamStatus``) is passed to
    ``on_event`` in the venue's order, from the stream's thread. A ``StreamStatus``
    ``connected`` is delivered after every (re)connection: the consumer should reconcile
    then, since events may have been missed while disconnected. Events may repeat;
    consumers must be idempotent. ``on_event`` should return quickly (hand off to a
    queue). ``close`` stops delivery and is idempotent.
    """

    def connect(self, on_event: Callable[[StreamEvent], None]) -> None:
        """Start delivering events to ``on_event``."""
        ...

    def close(self) -> None:
        """Stop delivering events and release the connection."""
        ...

    @property
    def connected(self) -> bool:
        """True while events are being delivered."""
        ...
