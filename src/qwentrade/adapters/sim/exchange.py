"""SimExchange (the Exchange port) and SimPrivateStream (the PrivateStream port).

Both only translate to and from :class:`SimEngine`; every rule lives in the engine.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Sequence
from datetime import datetime

from qwentrade.adapters.sim.engine import SimEngine
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
    StreamStatus,
    StreamStatusKind,
    TdMode,
)

log = logging.getLogger(__name__)


class SimExchange:
    """The simulated exchange behind the ``Exchange`` port."""

    def __init__(self, engine: SimEngine) -> None:
        self._engine = engine

    @property
    def engine(self) -> SimEngine:
        return self._engine

    def instruments(self) -> list[Instrument]:
        """Every tradable instrument."""
        return self._engine.instruments()

    def server_time(self) -> datetime:
        """The simulated time."""
        return self._engine.server_time()

    def candles(
        self,
        symbol: str,
        timeframe: Timeframe,
        span: TimeRange | None = None,
        limit: int = 100,
    ) -> list[Candle]:
        """Candles oldest first; the forming one last, unconfirmed."""
        return self._engine.candles(symbol, timeframe, span, limit)

    def funding_rate(self, symbol: str) -> FundingRate:
        """The predicted rate and next settlement time."""
        return self._engine.funding_rate(symbol)

    def funding_history(self, symbol: str, span: TimeRange) -> list[FundingRate]:
        """Settled rates in ``span``, oldest first."""
        return self._engine.funding_history(symbol, span)

    def order_book(self, symbol: str, depth: int = 5) -> BookSnapshot:
        """A synthetic book around the last price."""
        return self._engine.order_book(symbol, depth)

    def balance(self) -> Balance:
        """The USDT balance."""
        return self._engine.balance()

    def positions(self, symbol: str | None = None) -> list[ExchangePosition]:
        """Open positions."""
        return self._engine.positions(symbol)

    def set_leverage(
        self, symbol: str, leverage: int, margin_mode: TdMode, pos_side: PosSide | None = None
    ) -> None:
        """Set leverage for a symbol and margin mode."""
        self._engine.set_leverage(symbol, leverage, margin_mode, pos_side)

    def position_mode(self) -> PositionMode:
        """The position mode."""
        return self._engine.position_mode()

    def set_position_mode(self, mode: PositionMode) -> None:
        """Switch position mode."""
        self._engine.set_position_mode(mode)

    def place_order(self, request: OrderRequest) -> Order:
        """Place an order."""
        return self._engine.place_order(request)

    def cancel_order(
        self, symbol: str, order_id: str | None = None, client_order_id: str | None = None
    ) -> Order:
        """Cancel an open order."""
        return self._engine.cancel_order(symbol, order_id, client_order_id)

    def get_order(
        self, symbol: str, order_id: str | None = None, client_order_id: str | None = None
    ) -> Order:
        """One order by id or client id."""
        return self._engine.get_order(symbol, order_id, client_order_id)

    def open_orders(self, symbol: str | None = None) -> list[Order]:
        """Open orders, oldest first."""
        return self._engine.open_orders(symbol)

    def order_history(
        self, symbol: str | None = None, span: TimeRange | None = None, limit: int = 100
    ) -> list[OrderRecord]:
        """Completed orders, newest first."""
        return self._engine.order_history(symbol, span, limit)

    def position_history(
        self, symbol: str | None = None, span: TimeRange | None = None, limit: int = 100
    ) -> list[PositionRecord]:
        """Position history rows, newest first."""
        return self._engine.position_history(symbol, span, limit)

    def place_algo(self, request: AlgoRequest) -> AlgoOrder:
        """Place a TP/SL algo order."""
        return self._engine.place_algo(request)

    def cancel_algos(self, algos: Sequence[tuple[str, str]]) -> list[AlgoOrder]:
        """Cancel algo orders by (symbol, algo_id)."""
        return self._engine.cancel_algos(algos)

    def open_algos(self, symbol: str | None = None) -> list[AlgoOrder]:
        """Live algo orders, oldest first."""
        return self._engine.open_algos(symbol)


_STOP = object()


class SimPrivateStream:
    """The engine's changes as a ``PrivateStream``.

    ``threaded=True`` (default): events go through a bounded queue to a delivery thread,
    so ``on_event`` never runs under the engine's lock and may call the exchange. If the
    consumer falls ``queue_size`` events behind, the stream behaves like a dropped
    connection: it discards the backlog, then delivers ``StreamStatus`` ``disconnected``
    and ``connected`` so the consumer reconciles. ``threaded=False`` delivers
    synchronously on the engine's thread (deterministic backtests; ``on_event`` must not
    block).
    """

    def __init__(self, engine: SimEngine, queue_size: int = 10_000, threaded: bool = True) -> None:
        self._engine = engine
        self._queue: queue.Queue = queue.Queue(maxsize=queue_size)
        self._threaded = threaded
        self._unsubscribe: Callable[[], None] | None = None
        self._thread: threading.Thread | None = None
        self._on_event: Callable[[StreamEvent], None] | None = None
        self._overflowed = threading.Event()
        self._lock = threading.Lock()

    @property
    def connected(self) -> bool:
        """True between ``connect`` and ``close``."""
        return self._unsubscribe is not None

    def connect(self, on_event: Callable[[StreamEvent], None]) -> None:
        """Start delivering; a ``connected`` StreamStatus comes first."""
        with self._lock:
            if self._unsubscribe is not None:
                return
            self._on_event = on_event
            status = StreamStatus(StreamStatusKind.CONNECTED, self._engine.now)
            if self._threaded:
                self._queue.put(status)
                self._thread = threading.Thread(
                    target=self._deliver, name="sim-private-stream", daemon=True
                )
                self._thread.start()
                self._unsubscribe = self._engine.subscribe(self._enqueue)
            else:
                self._unsubscribe = self._engine.subscribe(self._call)
                self._call(status)

    def close(self) -> None:
        """Stop delivering (idempotent); waits for the delivery thread to end."""
        with self._lock:
            unsubscribe, self._unsubscribe = self._unsubscribe, None
            thread, self._thread = self._thread, None
        if unsubscribe is not None:
            unsubscribe()
        if thread is not None:
            while True:
                try:
                    self._queue.put(_STOP, timeout=0.1)
                    break
                except queue.Full:
                    self._drain()
            thread.join(timeout=5)

    def _call(self, event: StreamEvent) -> None:
        if self._on_event is not None:
            self._on_event(event)

    def _enqueue(self, event: StreamEvent) -> None:
        if self._overflowed.is_set():
            return
        try:
            self._queue.put_nowait(event)
        except queue.Full:
            self._overflowed.set()

    def _drain(self) -> None:
        while True:
            try:
                self._queue.get_nowait()
            except queue.Empty:
                return

    def _deliver(self) -> None:
        while True:
            if self._overflowed.is_set():
                self._drain()
                self._overflowed.clear()
                now = self._engine.now
                for kind in (StreamStatusKind.DISCONNECTED, StreamStatusKind.CONNECTED):
                    self._safe_call(StreamStatus(kind, now, reason="consumer fell behind"))
                continue
            try:
                event = self._queue.get(timeout=0.1)
            except queue.Empty:
                continue
            if event is _STOP:
                return
            self._safe_call(event)

    def _safe_call(self, event: StreamEvent) -> None:
        try:
            self._call(event)
        except Exception:  # the consumer's bug must not kill the stream
            log.exception("private stream consumer failed on %s", type(event).__name__)
