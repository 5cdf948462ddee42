"""What every part of TradingService shares: its collaborators, the per-symbol locks, and
the reads of the venue and the relations (instruments, the held position, the OPEN
relation, the last price, the position mode) with the adoption of an unknown position."""

from __future__ import annotations

import contextlib
import logging
import threading
from collections import Counter
from collections.abc import Iterator
from decimal import Decimal
from typing import Protocol

import attrs

from qwentrade.app.locks import SymbolLocks, TradingLeases
from qwentrade.app.trading.inputs import _text
from qwentrade.domain.errors import (
    AuthFailed,
    ExchangeRejected,
    InsufficientFunds,
    InvalidInput,
    NoPosition,
)
from qwentrade.domain.instruments import Instrument
from qwentrade.domain.market import Timeframe
from qwentrade.domain.numbers import to_decimal
from qwentrade.domain.orders import IntentAction, IntentState, OrderIntent
from qwentrade.domain.plans import Side
from qwentrade.domain.position import Position
from qwentrade.domain.records import RelationRecord
from qwentrade.domain.venue import ExchangePosition, PositionMode, PosSide, TdMode
from qwentrade.ports.clock import Clock
from qwentrade.ports.config import ConfigStore
from qwentrade.ports.exchange import Exchange
from qwentrade.ports.repositories import HistoryRepository, IntentRepository, RelationRepository

log = logging.getLogger(__name__)

MARGIN_MODE = "TRADING_MARGIN_MODE"
# Venue answers that prove an order was refused (nothing placed): the intent is REJECTED.
REFUSALS = (ExchangeRejected, InsufficientFunds, AuthFailed, InvalidInput)
ZERO = Decimal(0)


class TradingRepositories(Protocol):
    """What the service stores: intents, relations and the order history."""

    @property
    def intents(self) -> IntentRepository: ...

    @property
    def relations(self) -> RelationRepository: ...

    @property
    def history(self) -> HistoryRepository: ...


class _WorkingLocks:
    """The per-symbol locks, telling which symbols an operation holds right now."""

    def __init__(self) -> None:
        self._locks = SymbolLocks()
        self._held: Counter[str] = Counter()
        self._guard = threading.Lock()

    @contextlib.contextmanager
    def __call__(self, symbol: str) -> Iterator[None]:
        with self._locks(symbol):
            with self._guard:
                self._held[symbol] += 1
            try:
                yield
            finally:
                with self._guard:
                    self._held[symbol] -= 1
                    if self._held[symbol] <= 0:
                        del self._held[symbol]

    def working(self) -> frozenset[str]:
        with self._guard:
            return frozenset(self._held)


class TradingBase:
    """The collaborators TradingService is built with and the reads every part of it uses
    (the parts are mixins of this class; TradingService.__init__ sets these)."""

    exchange: Exchange
    intents: IntentRepository
    relations: RelationRepository
    history: HistoryRepository
    config: ConfigStore
    clock: Clock
    leases: TradingLeases | None
    _locks: _WorkingLocks
    _instruments: dict[str, Instrument] | None
    _position_mode: PositionMode | None

    def _instrument(self, symbol: object) -> Instrument:
        text = _text(symbol, "symbol").strip().upper()
        if self._instruments is None or text not in self._instruments:
            self._instruments = {i.inst_id: i for i in self.exchange.instruments()}
        found = self._instruments.get(text)
        if found is None:
            known = ", ".join(sorted(self._instruments)[:10])
            raise InvalidInput("symbol", f"{symbol!r} is not a tradable swap; e.g. {known}")
        return found

    def _open_position(self, symbol: str) -> tuple[RelationRecord, ExchangePosition]:
        relation = self._open_relation(symbol)
        held = self._held(symbol)
        if held is None:
            raise NoPosition(symbol, f"{symbol} has no open position")
        if relation is None:
            relation = self._adopt(held)
        return relation, held

    def _claim(self, symbol: str) -> None:
        if self.leases is not None:
            self.leases.claim(symbol)

    def _td_mode(self) -> TdMode:
        return TdMode(str(self.config.get(MARGIN_MODE)))

    def _pos_side(self, side: Side) -> PosSide:
        if self._position_mode is None:
            self._position_mode = self.exchange.position_mode()
        if self._position_mode is PositionMode.NET_MODE:
            return PosSide.NET
        return PosSide(side.value)

    def _last_price(self, symbol: str) -> Decimal:
        candles = self.exchange.candles(symbol, Timeframe.M15, limit=1)
        if not candles:
            raise InvalidInput("price", f"no last price of {symbol} is known: give a price")
        return to_decimal(candles[-1].close, "price")

    def _held(self, symbol: str) -> ExchangePosition | None:
        return next((p for p in self.exchange.positions(symbol) if p.is_open), None)

    def _open_relation(self, symbol: str) -> RelationRecord | None:
        found = self.relations.find(symbol, status="OPEN", limit=1)
        return found[0] if found else None

    def _position(
        self, instrument: Instrument, relation: RelationRecord, held: ExchangePosition
    ) -> Position:
        """The domain position of what the venue holds (for plan checks)."""
        avg = held.avg_price if held.avg_price is not None else held.mark_price
        position, _ = Position.open(
            instrument,
            Side[relation.side],
            held.contracts,
            avg,
            max(1, min(held.leverage, instrument.max_lever)),
            self.clock.now(),
        )
        exact = avg * held.contracts * instrument.ct_val
        return attrs.evolve(position, entry_value=exact)

    def _adopt(self, held: ExchangePosition) -> RelationRecord:
        """A relation for a venue position the database does not know (reported)."""
        now = self.clock.now()
        side = "LONG" if held.direction is PosSide.LONG else "SHORT"
        intent = OrderIntent(
            f"adopt:{held.symbol}:{held.pos_id}:{held.created_at.isoformat()}",
            held.symbol,
            IntentAction.OPEN,
            Side[side],
            held.contracts,
            now,
            state=IntentState.ACKNOWLEDGED,
        )
        log.warning("adopting a %s %s position the database did not know", side, held.symbol)
        return self.relations.save(
            RelationRecord(
                client_order_id=intent.client_order_id,
                symbol=held.symbol,
                side=side,
                created_at=held.created_at,
                updated_at=now,
                open_time=held.created_at,
                pos_id=held.pos_id,
                close_reason="",
            )
        )


def _error(error: Exception) -> str:
    code = getattr(error, "code", "")
    text = str(error)[:300]
    return f"{code} {text}".strip() if code else text
