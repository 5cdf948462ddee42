"""Reconciliation: what to do when the database and the exchange disagree.

:func:`diff` compares what the database records (unresolved intents, trading relations)
with what the exchange reports (positions, open orders, live algo orders, and the lookup
of each unresolved intent's order by its client order id) and returns the actions that
bring them back in line. It decides only; ``app/reconcile.py`` reads, acts and reports.
The views, the rules of a round and the actions are values of
``domain/reconcile_values.py`` (importable from here).

Rules, in the order they are applied:

1. An unresolved intent (NEW, SENT, OUTCOME_UNKNOWN) last touched less than ``grace``
   ago may still be in flight in a live process: it is left alone and its symbol is
   *busy* (rules 3-6 skip a busy symbol this round; the next round sees it settled).
   At start (``ReconcileRules.started_at``) one created before this process started
   has no grace: the process that wrote it is gone. One of a symbol this process is
   working on right now (``ReconcileRules.working``) is in flight whatever its age.
2. An older one is settled by the lookup of its order, never by re-sending:

   - the order exists -> ACKNOWLEDGED with its order id (NEW goes through ``send``);
   - the lookup proved it does not exist -> NEW: ABANDONED (never sent), SENT and
     OUTCOME_UNKNOWN: NOT_FOUND (SENT through ``answer_lost``);
   - the lookup failed (network, rate limit): left alone, the symbol is busy.

   A stop-loss/take-profit intent is looked up among the live algo orders by its client
   order id: found -> ACKNOWLEDGED; not live -> NOT_FOUND (it was never placed, or it
   has triggered or been canceled since; the stop-loss guard below covers the position
   either way).
   An OPEN intent whose order filled but has no relation (the process died between
   placing the order and recording it) gets its relation (:class:`RecordRelation`)
   unless the symbol has an OPEN one already (one OPEN relation per symbol); the OPEN
   relation of an OPEN intent that was never placed, or whose order ended unfilled, is
   marked FAILED (:class:`FailRelation`).
3. (After rule 5, so a flipped position's old relation is closed first.) An open
   position with no OPEN relation of its symbol and direction is *adopted*: a
   relation is recorded for it (:func:`adopted_relation_id`), and the
   adoption is reported.
4. The **stop-loss guard**: an open position whose live stop-loss algo orders cover less
   than its size gets one (:class:`PlaceStopLoss`) for the uncovered contracts, or for
   the whole position (``close_fraction`` 1) when it has none; when its stop-loss
   orders are all at its plan's price (the plan no longer covers a grown position),
   one order for the whole position at that price replaces them (:class:`MergeStops`).
   Its trigger is the stop-loss price of the position's newest relation (its plan)
   when that is still on the protective side of the mark price; otherwise (no plan, or
   a plan the price has already crossed) it is ``default_stop_loss`` (a fraction, e.g.
   0.05 = 5 %) away from the worse of entry and mark: below ``min(entry, mark)`` for a
   LONG, above ``max(entry, mark)`` for a SHORT, rounded away from the price to the
   tick. A crossed plan is not turned into a market close: the guard only protects.
   A position whose stop-losses cover it more than once (a plan replacement interrupted
   between placing the new orders and canceling the old) keeps the one its relation
   names when that one covers it (else whichever covers it); the others are canceled,
   newest first, as long as the rest still covers it
   (:class:`CancelAlgos`; an oco order goes with its take-profit leg: it is the plan
   being replaced). Several orders left making up one stop-loss at one price (an add
   cut short between its own attached stop and the plan replacement) are merged into
   one order (:class:`MergeStops`: the new one placed first). A position with one live
   stop-loss whose newest relation names another (not live) gets its relation pointed
   at it (:class:`PointRelation`).
5. An OPEN relation whose position is gone (no open position of its symbol and
   direction) and whose entry order is not still open is closed as an external close
   (:class:`CloseExternally`, one per symbol and direction).
6. A live reduce-only (or long/short-mode) algo order of a symbol and direction with no
   open position is stale and canceled (:class:`CancelAlgos`).

Applying the actions and diffing again yields nothing (a property the tests check).
"""

from __future__ import annotations

import base64
import hashlib
from datetime import datetime
from decimal import Decimal

import attrs

from qwentrade.domain.numbers import round_to_tick
from qwentrade.domain.orders import CLIENT_ORDER_ID_LENGTH, IntentAction
from qwentrade.domain.reconcile_values import (
    CancelAlgos,
    CloseExternally,
    DatabaseView,
    ExchangeView,
    FailRelation,
    MergeStops,
    PlaceStopLoss,
    PointRelation,
    ReconcileAction,
    ReconcileRules,
    RecordRelation,
    ResolveIntent,
)
from qwentrade.domain.records import IntentRecord, RelationRecord
from qwentrade.domain.venue import (
    AlgoOrder,
    ExchangePosition,
    Order,
    PosSide,
    Side,
)

ADOPTED_PREFIX = "qtx"
LONG, SHORT = "LONG", "SHORT"

# the views, rules and actions (domain/reconcile_values.py) import from here as before
__all__ = [
    "ADOPTED_PREFIX",
    "CancelAlgos",
    "CloseExternally",
    "DatabaseView",
    "ExchangeView",
    "FailRelation",
    "MergeStops",
    "PlaceStopLoss",
    "PointRelation",
    "ReconcileAction",
    "ReconcileRules",
    "RecordRelation",
    "ResolveIntent",
    "adopted_relation_id",
    "algo_direction",
    "diff",
    "position_direction",
    "stop_loss_coverage",
]


# -- helpers -----------------------------------------------------------------------------


def position_direction(position: ExchangePosition) -> str:
    """LONG or SHORT for an open position (net mode: by the sign of its size)."""
    return LONG if position.direction is PosSide.LONG else SHORT


def algo_direction(algo: AlgoOrder) -> str | None:
    """The direction of the position ``algo`` would close, or None when it is not a
    closing order (a net-mode algo that is not reduce-only)."""
    if algo.pos_side is PosSide.LONG:
        return LONG
    if algo.pos_side is PosSide.SHORT:
        return SHORT
    if not algo.reduce_only:
        return None
    return LONG if algo.side is Side.SELL else SHORT


def stop_loss_coverage(algos: tuple[AlgoOrder, ...] | list[AlgoOrder], size: Decimal) -> Decimal:
    """Contracts covered by live stop-loss legs (a whole-position one covers ``size``)."""
    covered = Decimal(0)
    for algo in algos:
        if algo.sl_trigger_price is None or not algo.is_open:
            continue
        covered += size if algo.size is None else algo.size
    return min(covered, size)


def adopted_relation_id(position: ExchangePosition) -> str:
    """The id an adopted position's relation is recorded under (in its client order id
    column): ``qtx`` + 29 base32 characters of the SHA-256 of its posId and open time
    (OKX keeps a posId across positions of one instrument; the open time tells them apart).
    No order carries it: ``x`` is no intent action's letter."""
    millis = int(position.created_at.timestamp() * 1000)
    digest = hashlib.sha256(f"adopted\x1f{position.pos_id}\x1f{millis}".encode()).digest()
    body = base64.b32encode(digest).decode("ascii").lower()
    return ADOPTED_PREFIX + body[: CLIENT_ORDER_ID_LENGTH - len(ADOPTED_PREFIX)]


def _settle(intent: IntentRecord, found: Order | AlgoOrder | None, now: datetime):
    domain = intent.to_intent()
    if found is not None:
        order_id = found.algo_id if isinstance(found, AlgoOrder) else found.order_id
        moves = ("send", "acknowledge") if domain.state.name == "NEW" else ("acknowledge",)
        reason = f"order {order_id} exists"
    else:
        order_id = None
        moves = {
            "NEW": ("abandon",),
            "SENT": ("answer_lost", "not_found"),
            "OUTCOME_UNKNOWN": ("not_found",),
        }[intent.state]
        reason = "never sent" if intent.state == "NEW" else "no such order at the exchange"
    for move in moves:
        domain = domain.apply(move, order_id=order_id if move == "acknowledge" else None)
    after = IntentRecord.from_intent(domain, updated_at=now)
    if found is None:
        after = attrs.evolve(after, error=f"reconciliation: {reason}")
    return ResolveIntent(intent, after, reason)


def _entry_relation(intent: IntentRecord, order: Order, now: datetime) -> RelationRecord:
    return RelationRecord(
        client_order_id=intent.client_order_id,
        symbol=intent.symbol,
        side=intent.side,
        created_at=intent.created_at,
        updated_at=now,
        open_order_id=order.order_id,
        open_time=order.updated_at,
    )


def _adopted(position: ExchangePosition, now: datetime) -> RelationRecord:
    return RelationRecord(
        client_order_id=adopted_relation_id(position),
        symbol=position.symbol,
        side=position_direction(position),
        created_at=now,
        updated_at=now,
        open_time=position.created_at,
        pos_id=position.pos_id,
    )


def _guard_price(
    position: ExchangePosition, plan: Decimal | None, tick: Decimal, fraction: Decimal
) -> tuple[Decimal, str]:
    long = position_direction(position) == LONG
    mark = position.mark_price
    if plan is not None and (plan < mark if long else plan > mark):
        return plan, "plan"
    entry = position.avg_price if position.avg_price is not None else mark
    if long:
        return round_to_tick(min(entry, mark) * (1 - fraction), tick, "down"), "default"
    return round_to_tick(max(entry, mark) * (1 + fraction), tick, "up"), "default"


def _surplus_stops(
    algos: list[AlgoOrder], relations: list[RelationRecord], size: Decimal
) -> list[AlgoOrder]:
    """Stop-loss orders beyond what covers ``size`` once: those no relation names,
    newest first."""
    named = {r.stop_loss_algo_id for r in relations} | {r.take_profit_algo_id for r in relations}
    stops = [a for a in algos if a.sl_trigger_price is not None]
    # the named ones are kept only when they cover the position by themselves (an add
    # interrupted after its larger stop was placed: the new one is what covers)
    kept = (
        named
        if stop_loss_coverage([a for a in stops if a.algo_id in named], size) >= size
        else set()
    )
    total = sum((size if a.size is None else a.size for a in stops), Decimal(0))
    surplus = []
    for algo in sorted(stops, key=lambda a: (a.created_at, a.algo_id), reverse=True):
        share = size if algo.size is None else algo.size
        if algo.algo_id not in kept and total - share >= size:
            surplus.append(algo)
            total -= share
    return surplus


def _merge(
    position: ExchangePosition,
    direction: str,
    stops: list[AlgoOrder],
    relation: RelationRecord | None,
) -> MergeStops:
    take_profits = tuple(
        (a.tp_trigger_price, a.size) for a in stops if a.tp_trigger_price is not None
    )
    return MergeStops(
        symbol=position.symbol,
        direction=direction,
        side=Side.SELL if direction == LONG else Side.BUY,
        pos_side=position.pos_side,
        td_mode=position.margin_mode,
        size=position.contracts,
        trigger_price=stops[0].sl_trigger_price,  # type: ignore[arg-type]
        pos_id=position.pos_id,
        relation_id=None if relation is None else relation.client_order_id,
        replaced=tuple(sorted((a.symbol, a.algo_id) for a in stops)),
        take_profits=take_profits,  # type: ignore[arg-type]
    )


def _newest(relations: list[RelationRecord]) -> RelationRecord | None:
    return max(relations, key=lambda r: (r.created_at, r.client_order_id), default=None)


# -- the diff ----------------------------------------------------------------------------


def diff(
    database: DatabaseView, exchange: ExchangeView, rules: ReconcileRules
) -> list[ReconcileAction]:
    """The actions that make the database and the exchange agree (module docstring)."""
    now = rules.now
    actions: list[ReconcileAction] = []
    busy: set[str] = set()
    relations_by_id = {r.client_order_id: r for r in database.relations}
    live_algos = {a.algo_client_order_id: a for a in exchange.open_algos if a.algo_client_order_id}
    new_relations: list[RelationRecord] = []
    failed: set[str] = set()

    # 1-2: intents
    for intent in sorted(database.intents, key=lambda i: (i.created_at, i.intent_id)):
        if intent.state not in ("NEW", "SENT", "OUTCOME_UNKNOWN"):
            continue
        if rules.in_flight(intent):
            busy.add(intent.symbol)
            continue
        found: Order | AlgoOrder | None
        if IntentAction[intent.action].is_algo:
            found = live_algos.get(intent.client_order_id)
        elif intent.client_order_id in exchange.lookups:
            found = exchange.lookups[intent.client_order_id]
        else:
            busy.add(intent.symbol)
            continue
        actions.append(_settle(intent, found, now))
        if intent.action != "OPEN" or isinstance(found, AlgoOrder):
            continue
        relation = relations_by_id.get(intent.client_order_id)
        if isinstance(found, Order) and found.filled_size > 0:
            if relation is None and not any(
                r.status == "OPEN" and r.symbol == intent.symbol
                for r in [*database.relations, *new_relations]
            ):
                relation = _entry_relation(intent, found, now)
                new_relations.append(relation)
                actions.append(RecordRelation(relation, adopted=False))
        elif (
            relation is not None
            and relation.status == "OPEN"
            and (found is None or not found.state.is_open)
        ):
            failed.add(relation.client_order_id)
            why = "never placed" if found is None else f"entry {found.state.value} unfilled"
            actions.append(FailRelation(relation.client_order_id, why))

    open_relations: dict[tuple[str, str], list[RelationRecord]] = {}
    for relation in [*database.relations, *new_relations]:
        if relation.status == "OPEN" and relation.client_order_id not in failed:
            open_relations.setdefault((relation.symbol, relation.side), []).append(relation)
    positions = {
        (p.symbol, position_direction(p)): p
        for p in sorted(exchange.positions, key=lambda p: p.pos_id)
        if p.is_open
    }
    algos_by_key: dict[tuple[str, str], list[AlgoOrder]] = {}
    for algo in exchange.open_algos:
        direction = algo_direction(algo)
        if algo.is_open and direction is not None:
            algos_by_key.setdefault((algo.symbol, direction), []).append(algo)

    # 5 (first: a flipped position's old relation closes before the new one is adopted):
    # relations whose position is gone
    open_entries = {o.client_order_id for o in exchange.open_orders}
    for (symbol, direction), relations in sorted(open_relations.items()):
        if symbol in busy or (symbol, direction) in positions:
            continue
        closable = tuple(
            sorted(r.client_order_id for r in relations if r.client_order_id not in open_entries)
        )
        if closable:
            actions.append(CloseExternally(symbol, direction, closable))

    # 3-4: every open position is known and protected
    for (symbol, direction), position in sorted(positions.items()):
        if symbol in busy:
            continue
        relations = open_relations.get((symbol, direction), [])
        if not relations:
            adopted = _adopted(position, now)
            relations = [adopted]
            actions.append(RecordRelation(adopted, adopted=True))
        size = position.contracts
        algos = algos_by_key.get((symbol, direction), [])
        covered = stop_loss_coverage(algos, size)
        if covered >= size:
            surplus = _surplus_stops(algos, relations, size)
            if surplus:
                pairs = tuple(sorted((a.symbol, a.algo_id) for a in surplus))
                actions.append(CancelAlgos(symbol, pairs))
            stops = [a for a in algos if a.sl_trigger_price is not None and a not in surplus]
            newest = _newest(relations)
            live = {a.algo_id for a in stops}
            if len(stops) > 1 and len({a.sl_trigger_price for a in stops}) == 1:
                actions.append(_merge(position, direction, stops, newest))
            elif len(stops) == 1 and newest is not None and newest.stop_loss_algo_id not in live:
                [stop] = stops
                actions.append(
                    PointRelation(newest.client_order_id, stop.algo_id, stop.sl_trigger_price)
                )
            continue
        newest = _newest(relations)
        planned = next(
            (
                r.stop_loss_price
                for r in sorted(relations, key=lambda r: r.created_at, reverse=True)
                if r.stop_loss_price is not None
            ),
            None,
        )
        partial = [a for a in algos if a.sl_trigger_price is not None]
        if partial and {a.sl_trigger_price for a in partial} == {planned}:
            # the plan's stop no longer covers the grown position (an add cut short before
            # its plans were replaced): one order for the whole, at the plan's price
            actions.append(_merge(position, direction, partial, newest))
            continue
        tick = exchange.tick_sizes.get(symbol, Decimal("0.1"))
        price, source = _guard_price(position, planned, tick, rules.default_stop_loss)
        actions.append(
            PlaceStopLoss(
                symbol=symbol,
                direction=direction,
                side=Side.SELL if direction == LONG else Side.BUY,
                pos_side=position.pos_side,
                td_mode=position.margin_mode,
                size=None if covered == 0 else size - covered,
                trigger_price=price,
                source=source,
                pos_id=position.pos_id,
                relation_id=None if newest is None else newest.client_order_id,
            )
        )

    # 6: algo orders that protect nothing
    for (symbol, direction), algos in sorted(algos_by_key.items()):
        if symbol in busy or (symbol, direction) in positions:
            continue
        actions.append(CancelAlgos(symbol, tuple(sorted((a.symbol, a.algo_id) for a in algos))))
    return actions
