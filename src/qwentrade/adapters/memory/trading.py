"""In-memory pending orders, order intents, trading relations and trading leases
(compare-and-set under one lock, like the SQL rows)."""

from __future__ import annotations

import itertools
import threading
from collections import Counter
from datetime import datetime

import attrs

from qwentrade.adapters.memory._common import choice, select, symbol_ok, typed
from qwentrade.domain.errors import InvalidInput, PositionExists
from qwentrade.domain.records import (
    INTENT_STATES,
    PENDING_STATES,
    RELATION_STATUSES,
    SIDES,
    UNRESOLVED_INTENT_STATES,
    IntentRecord,
    LeaseRecord,
    PendingOrderRecord,
    RelationRecord,
    check_intent_identity,
    check_text,
)


class MemoryPendingRepository:
    """PendingRepository in memory (see ``ports.repositories``)."""

    def __init__(self) -> None:
        self._orders: dict[str, PendingOrderRecord] = {}
        self._lock = threading.Lock()

    def save(self, order: PendingOrderRecord, expected_status: str | None = None) -> bool:
        (order,) = typed([order], PendingOrderRecord)
        if expected_status is not None:
            choice(expected_status, PENDING_STATES, "expected_status")
        with self._lock:
            if expected_status is not None:
                stored = self._orders.get(order.id)
                if stored is None or stored.status != expected_status:
                    return False
            self._orders[order.id] = order
            return True

    def get(self, order_id: str) -> PendingOrderRecord | None:
        with self._lock:
            return self._orders.get(order_id)

    def find(
        self,
        symbol: str | None = None,
        status: str | None = None,
        limit: int | None = 100,
        offset: int = 0,
    ) -> list[PendingOrderRecord]:
        symbol = symbol_ok(symbol)
        if status is not None:
            choice(status, PENDING_STATES, "status")
        with self._lock:
            items = list(self._orders.values())
        return select(
            items,
            lambda o: (
                (symbol is None or o.symbol == symbol) and (status is None or o.status == status)
            ),
            lambda o: (o.created_at, o.id),
            True,
            limit,
            offset,
        )

    def open(self, symbol: str | None = None) -> list[PendingOrderRecord]:
        found = self.find(symbol, "PENDING", limit=None)
        return sorted(found, key=lambda o: (o.created_at, o.id))


class MemoryIntentRepository:
    """IntentRepository in memory (see ``ports.repositories``)."""

    def __init__(self) -> None:
        self._intents: dict[str, IntentRecord] = {}
        self._lock = threading.Lock()

    def add(self, intent: IntentRecord) -> IntentRecord:
        (intent,) = typed([intent], IntentRecord)
        with self._lock:
            stored = self._intents.get(intent.intent_id)
            if stored is None:
                for other in self._intents.values():
                    if other.client_order_id == intent.client_order_id:
                        raise InvalidInput(
                            "client_order_id",
                            f"{intent.client_order_id} is already used by intent "
                            f"{other.intent_id!r}: derive a new key for a new intent",
                        )
                self._intents[intent.intent_id] = stored = intent
        check_intent_identity(stored, intent)
        return stored

    def get(self, intent_id: str) -> IntentRecord | None:
        with self._lock:
            return self._intents.get(intent_id)

    def by_client_order_id(self, client_order_id: str) -> IntentRecord | None:
        with self._lock:
            for intent in self._intents.values():
                if intent.client_order_id == client_order_id:
                    return intent
        return None

    def update(self, intent: IntentRecord, expected_state: str) -> bool:
        (intent,) = typed([intent], IntentRecord)
        choice(expected_state, INTENT_STATES, "expected_state")
        with self._lock:
            stored = self._intents.get(intent.intent_id)
            if stored is None:
                return False
            check_intent_identity(stored, intent)
            if stored.state != expected_state:
                return False
            self._intents[intent.intent_id] = intent
            return True

    def count_by_state(self) -> dict[str, int]:
        with self._lock:
            states = [i.state for i in self._intents.values()]
        return dict(Counter(states))

    def unresolved(self, symbol: str | None = None) -> list[IntentRecord]:
        symbol = symbol_ok(symbol)
        with self._lock:
            items = list(self._intents.values())
        return select(
            items,
            lambda i: i.state in UNRESOLVED_INTENT_STATES and symbol in (None, i.symbol),
            lambda i: (i.created_at, i.intent_id),
            False,
            None,
            0,
        )

    def find(
        self,
        symbol: str | None = None,
        state: str | None = None,
        limit: int | None = 100,
        offset: int = 0,
    ) -> list[IntentRecord]:
        symbol = symbol_ok(symbol)
        if state is not None:
            choice(state, INTENT_STATES, "state")
        with self._lock:
            items = list(self._intents.values())
        return select(
            items,
            lambda i: symbol in (None, i.symbol) and state in (None, i.state),
            lambda i: (i.created_at, i.intent_id),
            True,
            limit,
            offset,
        )


class MemoryRelationRepository:
    """RelationRepository in memory (see ``ports.repositories``)."""

    def __init__(self) -> None:
        self._relations: dict[str, RelationRecord] = {}
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def save(self, relation: RelationRecord) -> RelationRecord:
        (relation,) = typed([relation], RelationRecord)
        with self._lock:
            if relation.status == "OPEN" and any(
                r.symbol == relation.symbol
                and r.status == "OPEN"
                and r.client_order_id != relation.client_order_id
                for r in self._relations.values()
            ):
                raise PositionExists(
                    relation.symbol,
                    f"{relation.symbol} already has an open position (another OPEN relation): "
                    "close it before opening a new one",
                )
            old = self._relations.get(relation.client_order_id)
            relation_id = next(self._ids) if old is None else old.id
            stored = self._relations[relation.client_order_id] = attrs.evolve(
                relation, id=relation_id
            )
        return stored

    def get(self, client_order_id: str) -> RelationRecord | None:
        with self._lock:
            return self._relations.get(client_order_id)

    def by_algo_id(self, algo_id: str) -> RelationRecord | None:
        check_text(algo_id, "algo_id")
        with self._lock:
            found = [
                r
                for r in self._relations.values()
                if algo_id in (r.stop_loss_algo_id, r.take_profit_algo_id)
            ]
        return max(found, key=lambda r: r.created_at, default=None)

    def find(
        self,
        symbol: str | None = None,
        side: str | None = None,
        status: str | None = None,
        limit: int | None = 100,
        offset: int = 0,
    ) -> list[RelationRecord]:
        symbol = symbol_ok(symbol)
        if side is not None:
            choice(side, SIDES, "side")
        if status is not None:
            choice(status, RELATION_STATUSES, "status")
        with self._lock:
            items = list(self._relations.values())
        return select(
            items,
            lambda r: (
                symbol in (None, r.symbol) and side in (None, r.side) and status in (None, r.status)
            ),
            lambda r: (r.created_at, r.client_order_id),
            True,
            limit,
            offset,
        )


class MemoryLeaseRepository:
    """LeaseRepository in memory (see ``ports.repositories``): one process's leases."""

    def __init__(self) -> None:
        self._leases: dict[str, LeaseRecord] = {}
        self._lock = threading.Lock()

    def acquire(self, symbol: str, owner: str, now: datetime, expires_at: datetime) -> LeaseRecord:
        wanted = LeaseRecord(symbol, owner, now, expires_at)
        with self._lock:
            held = self._leases.get(symbol)
            if held is None or held.expires_at <= now:
                self._leases[symbol] = wanted
            elif held.owner == owner:
                self._leases[symbol] = attrs.evolve(held, expires_at=wanted.expires_at)
            return self._leases[symbol]

    def release(self, symbol: str, owner: str) -> bool:
        with self._lock:
            held = self._leases.get(symbol)
            if held is None or held.owner != owner:
                return False
            del self._leases[symbol]
            return True

    def get(self, symbol: str) -> LeaseRecord | None:
        with self._lock:
            return self._leases.get(symbol)
