"""The values :func:`~qwentrade.domain.reconcile.diff` takes and returns: the views of
the database and of the exchange, the rules of a round (``now``, the grace, the default
stop-loss distance, a start), and the actions that bring the two sides back in line
(``app/reconcile.py`` carries them out). The rules they follow are in
``domain/reconcile.py``'s docstring.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from decimal import Decimal

import attrs

from qwentrade.domain.records import IntentRecord, RelationRecord
from qwentrade.domain.venue import AlgoOrder, ExchangePosition, Order, PosSide, Side, TdMode


@attrs.frozen
class DatabaseView:
    """What the database says: the unresolved intents and the trading relations (every
    OPEN one, plus those of the unresolved intents' client order ids)."""

    intents: tuple[IntentRecord, ...] = attrs.field(default=(), converter=tuple)
    relations: tuple[RelationRecord, ...] = attrs.field(default=(), converter=tuple)


@attrs.frozen
class ExchangeView:
    """What the exchange says.

    ``lookups`` maps a client order id to the order found by it, or ``None`` when the
    exchange answered that there is no such order; an id missing from it was not looked
    up (or the lookup failed). ``tick_sizes`` gives each symbol's price tick.
    """

    positions: tuple[ExchangePosition, ...] = attrs.field(default=(), converter=tuple)
    open_orders: tuple[Order, ...] = attrs.field(default=(), converter=tuple)
    open_algos: tuple[AlgoOrder, ...] = attrs.field(default=(), converter=tuple)
    lookups: Mapping[str, Order | None] = attrs.field(factory=dict)
    tick_sizes: Mapping[str, Decimal] = attrs.field(factory=dict)


@attrs.frozen
class ReconcileRules:
    """The knobs of :func:`diff`: ``now``, the in-flight ``grace`` of an intent, the
    default stop-loss distance as a fraction of the price (0.05 = 5 %), and
    ``started_at``: when given (a reconciliation at start), intents CREATED before it are
    an earlier process's and get no grace (that process is gone), while those this
    process created since may be in flight in it and keep the grace. ``working``: the
    symbols this process's trading service is working on right now: their intents are
    in flight whatever their age."""

    now: datetime
    grace: timedelta = timedelta(0)
    default_stop_loss: Decimal = Decimal("0.05")
    started_at: datetime | None = None
    working: frozenset[str] = attrs.field(default=frozenset(), converter=frozenset)

    def in_flight(self, intent: IntentRecord) -> bool:
        """True when ``intent`` may still be in flight in a live process (rule 1)."""
        if intent.symbol in self.working:
            return True
        if self.started_at is not None and intent.created_at < self.started_at:
            return False
        return self.now - intent.updated_at < self.grace


# -- actions -----------------------------------------------------------------------------


@attrs.frozen
class ResolveIntent:
    """Store ``after`` over ``before`` (a compare-and-set on ``before.state``)."""

    before: IntentRecord
    after: IntentRecord
    reason: str


@attrs.frozen
class RecordRelation:
    """Save ``relation``: an entry whose relation was never recorded, or an adoption."""

    relation: RelationRecord
    adopted: bool


@attrs.frozen
class FailRelation:
    """The OPEN relation ``relation_id``'s entry never opened a position: mark it FAILED."""

    relation_id: str
    reason: str


@attrs.frozen
class PlaceStopLoss:
    """Place a stop-loss for ``symbol``'s ``direction`` position (the guard).

    ``size`` in contracts, or None for the whole position (``close_fraction`` 1).
    ``source`` is ``plan`` (the relation's stop-loss price) or ``default``.
    ``relation_id`` is the client order id of the relation to point at the new algo.
    """

    symbol: str
    direction: str
    side: Side
    pos_side: PosSide
    td_mode: TdMode
    size: Decimal | None
    trigger_price: Decimal
    source: str
    pos_id: str
    relation_id: str | None


@attrs.frozen
class PointRelation:
    """The relation ``relation_id`` names a stop-loss that is not live; its position's one
    live stop-loss is ``algo_id`` at ``trigger_price``: record that."""

    relation_id: str
    algo_id: str
    trigger_price: Decimal | None


@attrs.frozen
class MergeStops:
    """One stop-loss at one price made of several orders (an add cut short between its
    own attached stop and the plan replacement): place one stop of ``size`` at
    ``trigger_price`` first, keep each replaced oco order's take-profit as a take-profit
    of its own (``take_profits``: trigger price and size, None = the whole position),
    then cancel the ``replaced`` orders; the relation names the new ones."""

    symbol: str
    direction: str
    side: Side
    pos_side: PosSide
    td_mode: TdMode
    size: Decimal
    trigger_price: Decimal
    pos_id: str
    relation_id: str | None
    replaced: tuple[tuple[str, str], ...]
    take_profits: tuple[tuple[Decimal, Decimal | None], ...]


@attrs.frozen
class CloseExternally:
    """The ``direction`` position of ``symbol`` is gone: close its OPEN relations."""

    symbol: str
    direction: str
    relation_ids: tuple[str, ...]


@attrs.frozen
class CancelAlgos:
    """Cancel live algo orders that protect no position: ``(symbol, algo_id)`` pairs."""

    symbol: str
    algos: tuple[tuple[str, str], ...]


ReconcileAction = (
    ResolveIntent
    | RecordRelation
    | FailRelation
    | PlaceStopLoss
    | PointRelation
    | MergeStops
    | CloseExternally
    | CancelAlgos
)
