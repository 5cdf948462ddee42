"""In-memory order/position history, signals and component status."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

import attrs

from qwentrade.adapters.memory._common import choice, in_span, select, symbol_ok, typed
from qwentrade.domain.errors import InvalidInput
from qwentrade.domain.market import require_utc
from qwentrade.domain.records import (
    COMPONENT_STATES,
    SIGNAL_STATUSES,
    OrderRecord,
    PositionRecord,
    SignalRecord,
    StatusRecord,
    check_span,
    check_text,
)
from qwentrade.domain.stats import OrderStats, PositionStats

FILLED_STATES = ("filled", "partially_filled")


class MemoryHistoryRepository:
    """HistoryRepository in memory (see ``ports.repositories``)."""

    def __init__(self) -> None:
        self._orders: dict[str, OrderRecord] = {}
        self._positions: dict[tuple[str, datetime], PositionRecord] = {}
        self._lock = threading.Lock()

    def upsert_orders(self, orders: Sequence[OrderRecord]) -> int:
        keyed = {o.order_id: o for o in typed(orders, OrderRecord)}
        with self._lock:
            self._orders.update(keyed)
        return len(keyed)

    def upsert_positions(self, positions: Sequence[PositionRecord]) -> int:
        keyed = {(p.pos_id, p.updated_at): p for p in typed(positions, PositionRecord)}
        with self._lock:
            self._positions.update(keyed)
        return len(keyed)

    def order(self, order_id: str) -> OrderRecord | None:
        with self._lock:
            return self._orders.get(check_text(order_id, "order_id"))

    def order_by_client_id(self, client_order_id: str) -> OrderRecord | None:
        check_text(client_order_id, "client_order_id")
        with self._lock:
            found = [o for o in self._orders.values() if o.cl_ord_id == client_order_id]
        return max(found, key=lambda o: (o.created_at, o.order_id), default=None)

    def orders(
        self,
        symbol: str | None = None,
        status: str | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        limit: int | None = 100,
        offset: int = 0,
    ) -> list[OrderRecord]:
        start, end = check_span(start, end)
        symbol = symbol_ok(symbol)
        if status is not None:
            check_text(status, "status")
        with self._lock:
            items = list(self._orders.values())
        return select(
            items,
            lambda o: (
                (symbol is None or o.symbol == symbol)
                and (status is None or o.status == status)
                and in_span(o.created_at, start, end)
            ),
            lambda o: (o.created_at, o.order_id),
            True,
            limit,
            offset,
        )

    def positions(
        self,
        symbol: str | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        limit: int | None = 100,
        offset: int = 0,
    ) -> list[PositionRecord]:
        start, end = check_span(start, end)
        symbol = symbol_ok(symbol)
        with self._lock:
            items = list(self._positions.values())
        return select(
            items,
            lambda p: (symbol is None or p.symbol == symbol) and in_span(p.updated_at, start, end),
            lambda p: (p.updated_at, p.pos_id),
            True,
            limit,
            offset,
        )

    def latest_order_update(self, symbol: str | None = None) -> datetime | None:
        symbol = symbol_ok(symbol)
        with self._lock:
            times = [o.updated_at for o in self._orders.values() if symbol in (None, o.symbol)]
        return max(times, default=None)

    def latest_position_update(self, symbol: str | None = None) -> datetime | None:
        symbol = symbol_ok(symbol)
        with self._lock:
            times = [p.updated_at for p in self._positions.values() if symbol in (None, p.symbol)]
        return max(times, default=None)

    def order_stats(
        self, start: datetime | None = None, end: datetime | None = None
    ) -> list[OrderStats]:
        orders = self.orders(start=start, end=end, limit=None)
        totals: dict[str, list[Any]] = {}
        for o in orders:
            row = totals.setdefault(o.symbol, [0, 0, Decimal(0), Decimal(0)])
            row[0] += 1
            row[1] += o.status in FILLED_STATES
            row[2] += o.fee
            row[3] += o.pnl
        return [OrderStats(symbol, *totals[symbol]) for symbol in sorted(totals)]

    def position_stats(
        self, start: datetime | None = None, end: datetime | None = None
    ) -> list[PositionStats]:
        positions = self.positions(start=start, end=end, limit=None)
        totals: dict[str, list[Any]] = {}
        for p in positions:
            row = totals.setdefault(p.symbol, [0, 0, 0] + [Decimal(0)] * 4)
            row[0] += 1
            row[1] += p.realized_pnl > 0
            row[2] += p.realized_pnl < 0
            row[3] += p.pnl
            row[4] += p.realized_pnl
            row[5] += p.fee
            row[6] += p.funding_fee
        return [PositionStats(symbol, *totals[symbol]) for symbol in sorted(totals)]


class MemorySignalRepository:
    """SignalRepository in memory (see ``ports.repositories``)."""

    def __init__(self) -> None:
        self._signals: dict[int, SignalRecord] = {}
        self._keys: dict[tuple[str, datetime, str], int] = {}
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def add(self, signal: SignalRecord) -> SignalRecord:
        if not isinstance(signal, SignalRecord):
            raise InvalidInput("signal", f"expected a SignalRecord, got {signal!r}")
        key = (signal.symbol, signal.time, signal.signal_type)
        with self._lock:
            signal_id = self._keys.get(key)
            if signal_id is None:
                signal_id = self._keys[key] = next(self._ids)
                stored = attrs.evolve(signal, id=signal_id)
            else:
                old = self._signals[signal_id]
                stored = attrs.evolve(
                    old,
                    score=signal.score,
                    price=signal.price,
                    details=signal.details,
                    expire_at=signal.expire_at,
                )
            self._signals[signal_id] = stored
        return stored

    def get(self, signal_id: int) -> SignalRecord | None:
        with self._lock:
            return self._signals.get(signal_id)

    def find(
        self,
        symbol: str | None = None,
        status: str | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        limit: int | None = 100,
        offset: int = 0,
    ) -> list[SignalRecord]:
        start, end = check_span(start, end)
        symbol = symbol_ok(symbol)
        if status is not None:
            choice(status, SIGNAL_STATUSES, "status")
        with self._lock:
            items = list(self._signals.values())
        return select(
            items,
            lambda s: (
                (symbol is None or s.symbol == symbol)
                and (status is None or s.status == status)
                and in_span(s.time, start, end)
            ),
            lambda s: (s.time, s.id),
            True,
            limit,
            offset,
        )

    def active(self, now: datetime, symbol: str | None = None) -> list[SignalRecord]:
        now = require_utc(now, "now")
        symbol = symbol_ok(symbol)
        with self._lock:
            items = list(self._signals.values())
        return select(
            items,
            lambda s: (
                s.status == "ACTIVE"
                and s.expire_at > now
                and (symbol is None or s.symbol == symbol)
            ),
            lambda s: (s.time, s.id),
            True,
            None,
            0,
        )

    def set_status(self, signal_id: int, status: str, expected: str | None = None) -> bool:
        choice(status, SIGNAL_STATUSES, "status")
        if expected is not None:
            choice(expected, SIGNAL_STATUSES, "expected")
        with self._lock:
            stored = self._signals.get(signal_id)
            if stored is None or (expected is not None and stored.status != expected):
                return False
            self._signals[signal_id] = attrs.evolve(stored, status=status)
            return True

    def expire(self, now: datetime) -> int:
        now = require_utc(now, "now")
        with self._lock:
            due = [s for s in self._signals.values() if s.status == "ACTIVE" and s.expire_at <= now]
            for s in due:
                self._signals[s.id] = attrs.evolve(s, status="EXPIRED")  # type: ignore[index]
        return len(due)


class MemoryStatusRepository:
    """StatusRepository in memory (see ``ports.repositories``)."""

    def __init__(self) -> None:
        self._status: dict[str, StatusRecord] = {}
        self._lock = threading.Lock()

    def record_run(
        self, component: str, at: datetime, ok: bool, rows: int = 0, error: str = ""
    ) -> StatusRecord:
        check_text(component, "component")
        if isinstance(rows, bool) or not isinstance(rows, int) or rows < 0:
            raise InvalidInput("rows", f"must be a non-negative integer, got {rows!r}")
        at = require_utc(at, "at")
        with self._lock:
            old = self._status.get(component) or StatusRecord(component, "IDLE", at)
            new = attrs.evolve(
                old,
                value="OK" if ok else "FAILING",
                updated_at=at,
                last_run_at=at,
                last_success_at=at if ok else old.last_success_at,
                last_error_at=old.last_error_at if ok else at,
                last_error=old.last_error if ok else error,
                runs=old.runs + 1,
                successes=old.successes + int(ok),
                failures=old.failures + int(not ok),
                consecutive_failures=0 if ok else old.consecutive_failures + 1,
                rows=old.rows + rows,
            )
            self._status[component] = new
        return new

    def set_state(self, component: str, state: str, at: datetime, note: str = "") -> None:
        check_text(component, "component")
        choice(state, COMPONENT_STATES, "state")
        at = require_utc(at, "at")
        with self._lock:
            old = self._status.get(component) or StatusRecord(component, state, at)
            self._status[component] = attrs.evolve(old, value=state, note=note, updated_at=at)

    def get(self, component: str) -> StatusRecord | None:
        with self._lock:
            return self._status.get(component)

    def all(self) -> list[StatusRecord]:
        with self._lock:
            return [self._status[name] for name in sorted(self._status)]
