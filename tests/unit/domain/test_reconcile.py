"""domain.reconcile.diff: every rule, its guards, and the fixed point (hypothesis)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qwentrade.domain.orders import IntentAction, OrderIntent
from qwentrade.domain.position import Side as PositionSide
from qwentrade.domain.reconcile import (
    CancelAlgos,
    CloseExternally,
    DatabaseView,
    ExchangeView,
    FailRelation,
    MergeStops,
    PlaceStopLoss,
    PointRelation,
    ReconcileRules,
    RecordRelation,
    ResolveIntent,
    adopted_relation_id,
    diff,
    stop_loss_coverage,
)
from qwentrade.domain.records import IntentRecord, RelationRecord
from qwentrade.domain.venue import AlgoOrder, ExchangePosition, Order, Side

NOW = datetime(2026, 1, 1, 12, tzinfo=UTC)
EARLIER = NOW - timedelta(minutes=10)
BTC, ETH = "BTC-USDT-SWAP", "ETH-USDT-SWAP"
TICKS = {BTC: Decimal("0.1"), ETH: Decimal("0.01")}
RULES = ReconcileRules(now=NOW, grace=timedelta(seconds=30), default_stop_loss=Decimal("0.05"))


def make_intent(
    key="k1", symbol=BTC, action=IntentAction.OPEN, side="LONG", state="SENT", at=EARLIER
):
    trigger = Decimal(90) if action.is_algo else None
    intent = OrderIntent(
        key=key,
        symbol=symbol,
        action=action,
        side=PositionSide[side],
        size=Decimal(1),
        created_at=at,
        trigger_price=trigger,
    )
    return attrs.evolve(IntentRecord.from_intent(intent, updated_at=at), state=state)


def make_order(client_order_id, symbol=BTC, filled=Decimal(1), order_id="o1", state="filled"):
    return Order(
        order_id=order_id,
        client_order_id=client_order_id,
        symbol=symbol,
        side="buy",
        pos_side="net",
        order_type="market",
        state=state,
        size=Decimal(1),
        filled_size=filled,
        price=None,
        avg_price=Decimal(100) if filled else None,
        fee=Decimal("-0.01"),
        pnl=Decimal(0),
        leverage=5,
        td_mode="cross",
        reduce_only=False,
        created_at=EARLIER,
        updated_at=EARLIER + timedelta(seconds=1),
    )


def make_position(symbol=BTC, size=Decimal(2), avg=Decimal(100), mark=Decimal(100), pos_id="p1"):
    return ExchangePosition(
        pos_id=pos_id,
        symbol=symbol,
        pos_side="net",
        size=size,
        avg_price=avg,
        mark_price=mark,
        unrealised_pnl=0,
        realised_pnl=0,
        margin=10,
        leverage=5,
        margin_mode="cross",
        liquidation_price=None,
        created_at=EARLIER,
        updated_at=EARLIER,
    )


def make_algo(
    algo_id="a1", symbol=BTC, side="sell", size=None, sl=Decimal(90), tp=None, client_id=""
):
    return AlgoOrder(
        algo_id=algo_id,
        algo_client_order_id=client_id,
        symbol=symbol,
        side=side,
        pos_side="net",
        td_mode="cross",
        algo_type="conditional",
        state="live",
        size=size,
        close_fraction=None if size is not None else Decimal(1),
        sl_trigger_price=sl,
        sl_order_price=None,
        tp_trigger_price=tp,
        tp_order_price=None,
        trigger_price_type="last",
        reduce_only=True,
        leverage=5,
        created_at=EARLIER,
        updated_at=EARLIER,
    )


def make_relation(
    cid="r1", symbol=BTC, side="LONG", stop=None, status="OPEN", at=EARLIER, stop_id="a1"
):
    return RelationRecord(
        client_order_id=cid,
        symbol=symbol,
        side=side,
        created_at=at,
        updated_at=at,
        stop_loss_price=stop,
        stop_loss_algo_id=stop_id,
        status=status,
    )


def run(intents=(), relations=(), positions=(), orders=(), algos=(), lookups=None, rules=RULES):
    database = DatabaseView(intents=intents, relations=relations)
    exchange = ExchangeView(
        positions=positions,
        open_orders=orders,
        open_algos=algos,
        lookups=lookups or {},
        tick_sizes=TICKS,
    )
    return diff(database, exchange, rules)


# -- intents -----------------------------------------------------------------------------


@pytest.mark.parametrize("state", ["NEW", "SENT", "OUTCOME_UNKNOWN"])
def test_an_intent_whose_order_exists_is_acknowledged_with_its_order_id(state):
    intent = make_intent(state=state, action=IntentAction.CLOSE)
    [action] = run([intent], lookups={intent.client_order_id: make_order(intent.client_order_id)})
    assert isinstance(action, ResolveIntent)
    assert action.before == intent
    assert (action.after.state, action.after.order_id) == ("ACKNOWLEDGED", "o1")
    assert action.after.updated_at == NOW


@pytest.mark.parametrize(
    ("state", "final"),
    [("NEW", "ABANDONED"), ("SENT", "NOT_FOUND"), ("OUTCOME_UNKNOWN", "NOT_FOUND")],
)
def test_an_intent_whose_order_provably_does_not_exist_is_failed_never_resent(state, final):
    intent = make_intent(state=state, action=IntentAction.CLOSE)
    actions = run([intent], lookups={intent.client_order_id: None})
    assert [type(a) for a in actions] == [ResolveIntent]
    assert actions[0].after.state == final
    assert "reconciliation" in actions[0].after.error


def test_an_intent_not_looked_up_is_left_alone_and_its_symbol_is_busy():
    intent = make_intent()
    # a position without stop-loss on the busy symbol: nothing happens to it this round
    assert run([intent], positions=[make_position()]) == []
    # the other symbol is handled
    actions = run([intent], positions=[make_position(symbol=ETH)])
    assert [type(a) for a in actions] == [RecordRelation, PlaceStopLoss]
    assert (actions[0].relation.symbol, actions[1].symbol) == (ETH, ETH)


def test_an_intent_younger_than_the_grace_is_in_flight_and_left_alone():
    intent = make_intent(at=NOW - timedelta(seconds=5))
    lookups = {intent.client_order_id: None}
    assert run([intent], positions=[make_position()], lookups=lookups) == []
    at_start = attrs.evolve(RULES, grace=timedelta(0))
    [action, *_] = run([intent], lookups=lookups, rules=at_start)
    assert action.after.state == "NOT_FOUND"


def test_at_start_only_an_earlier_process_intent_loses_its_grace():
    """A young intent created before this process started is a dead process's: settled;
    one this process created since may be in flight in it: left alone."""
    dead = make_intent("dead", at=NOW - timedelta(seconds=5))
    ours = make_intent("ours", symbol=ETH, at=NOW - timedelta(seconds=2))
    lookups = {dead.client_order_id: None, ours.client_order_id: None}
    at_start = attrs.evolve(RULES, started_at=NOW - timedelta(seconds=3))
    assert at_start.in_flight(ours) and not at_start.in_flight(dead)
    actions = run([dead, ours], lookups=lookups, rules=at_start)
    assert [a.before.intent_id for a in actions if isinstance(a, ResolveIntent)] == ["dead"]
    # ours keeps the grace only while it is young
    later = attrs.evolve(at_start, now=NOW + timedelta(seconds=30))
    assert not later.in_flight(ours)


def test_a_filled_entry_without_relation_gets_its_relation_and_is_not_adopted():
    intent = make_intent()
    cid = intent.client_order_id
    actions = run(
        [intent],
        positions=[make_position()],
        algos=[make_algo()],
        lookups={cid: make_order(cid)},
    )
    assert [type(a) for a in actions] == [ResolveIntent, RecordRelation, PointRelation]
    relation = actions[1].relation
    assert not actions[1].adopted
    assert (relation.client_order_id, relation.open_order_id, relation.side) == (cid, "o1", "LONG")
    # its attached stop-loss is live: the relation is pointed at it
    assert actions[2] == PointRelation(cid, "a1", Decimal(90))


def test_an_unfilled_entry_gets_no_relation():
    intent = make_intent()
    cid = intent.client_order_id
    order = make_order(cid, filled=Decimal(0), state="canceled")
    assert [type(a) for a in run([intent], lookups={cid: order})] == [ResolveIntent]


def test_a_filled_add_or_an_entry_of_a_symbol_with_an_open_relation_gets_no_new_relation():
    add = make_intent(action=IntentAction.ADD)
    entry = make_intent(key="k2")
    lookups = {i.client_order_id: make_order(i.client_order_id) for i in (add, entry)}
    actions = run(
        [add, entry], [make_relation()], [make_position()], algos=[make_algo()], lookups=lookups
    )
    assert [type(a) for a in actions] == [ResolveIntent, ResolveIntent]


@pytest.mark.parametrize(
    ("found", "why"),
    [(None, "never placed"), (make_order("x", filled=Decimal(0), state="canceled"), "canceled")],
)
def test_the_open_relation_of_an_entry_that_never_filled_is_failed_not_closed(found, why):
    intent = make_intent()
    cid = intent.client_order_id
    found = None if found is None else attrs.evolve(found, client_order_id=cid)
    resolve, fail = run([intent], [make_relation(cid)], lookups={cid: found})
    assert isinstance(resolve, ResolveIntent)
    assert fail.relation_id == cid and why in fail.reason


def test_the_relation_of_a_live_entry_order_stays_open():
    intent = make_intent()
    cid = intent.client_order_id
    live = make_order(cid, filled=Decimal(0), state="live")
    actions = run([intent], [make_relation(cid)], orders=[live], lookups={cid: live})
    assert [type(a) for a in actions] == [ResolveIntent]


def test_an_algo_intent_is_settled_from_the_live_algos():
    intent = make_intent(action=IntentAction.STOP_LOSS, key="sl1")
    cid = intent.client_order_id
    live = make_algo("a9", client_id=cid)
    [found] = run([intent], [make_relation(stop_id="a9")], [make_position()], algos=[live])
    assert (found.after.state, found.after.order_id) == ("ACKNOWLEDGED", "a9")
    [gone] = run([intent])
    assert gone.after.state == "NOT_FOUND"


def test_final_intents_are_ignored():
    intent = make_intent(state="ACKNOWLEDGED")
    assert run([intent], lookups={intent.client_order_id: None}) == []


# -- positions: adoption and the stop-loss guard --------------------------------------------


def test_an_unknown_position_is_adopted_and_protected_at_the_default_distance():
    position = make_position(avg=Decimal(100), mark=Decimal("98"))
    adopt, guard = run(positions=[position])
    assert isinstance(adopt, RecordRelation) and adopt.adopted
    assert adopt.relation.client_order_id == adopted_relation_id(position)
    assert (adopt.relation.symbol, adopt.relation.side, adopt.relation.pos_id) == (
        BTC,
        "LONG",
        "p1",
    )
    assert isinstance(guard, PlaceStopLoss)
    # below the worse of entry (100) and mark (98), 5 %, rounded down to the tick
    assert guard.trigger_price == Decimal("93.1")
    assert (guard.size, guard.side, guard.source) == (None, Side.SELL, "default")
    assert guard.relation_id == adopt.relation.client_order_id


def test_a_short_position_is_protected_above_the_worse_price():
    position = make_position(size=Decimal(-3), avg=Decimal(100), mark=Decimal(101))
    [_, guard] = run(positions=[position])
    assert (guard.direction, guard.side, guard.trigger_price) == (
        "SHORT",
        Side.BUY,
        Decimal("106.1"),
    )


def test_the_guard_uses_the_newest_plan_when_it_is_still_on_the_protective_side():
    old = make_relation("r0", stop=Decimal(80), at=EARLIER - timedelta(hours=1))
    new = make_relation("r1", stop=Decimal(95))
    [guard] = run(relations=[old, new], positions=[make_position(mark=Decimal(99))])
    assert (guard.trigger_price, guard.source, guard.relation_id) == (Decimal(95), "plan", "r1")


def test_a_crossed_plan_falls_back_to_the_default_distance_from_the_mark():
    relation = make_relation(stop=Decimal(95))
    [guard] = run(relations=[relation], positions=[make_position(mark=Decimal(94))])
    assert (guard.trigger_price, guard.source) == (Decimal("89.3"), "default")


def test_a_partly_covered_position_gets_a_stop_for_the_rest_only():
    partial = make_algo(size=Decimal("0.5"), sl=Decimal(85))  # a partial plan of its own
    take_profit = make_algo("a2", sl=None, tp=Decimal(120), size=Decimal(2))
    [guard] = run(
        relations=[make_relation(stop=Decimal(90))],
        positions=[make_position(size=Decimal(2))],
        algos=[partial, take_profit],
    )
    assert (guard.size, guard.trigger_price) == (Decimal("1.5"), Decimal(90))


def test_a_stop_that_no_longer_covers_a_grown_position_is_replaced_by_one_for_all():
    old = make_algo(size=Decimal("0.5"), tp=Decimal(120))
    [merge] = run(
        relations=[make_relation(stop=Decimal(90))],
        positions=[make_position(size=Decimal(2))],
        algos=[old],
    )
    assert isinstance(merge, MergeStops)
    assert (merge.size, merge.trigger_price, merge.replaced) == (2, 90, ((BTC, "a1"),))
    assert merge.take_profits == ((Decimal(120), Decimal("0.5")),)


@pytest.mark.parametrize("size", [None, Decimal(2), Decimal(3)])
def test_a_covered_position_needs_nothing(size):
    actions = run(
        relations=[make_relation()], positions=[make_position()], algos=[make_algo(size=size)]
    )
    assert actions == []


def test_a_stop_of_the_other_direction_does_not_cover():
    buy_stop = make_algo(side="buy", sl=Decimal(110))  # protects a SHORT
    actions = run(relations=[make_relation()], positions=[make_position()], algos=[buy_stop])
    assert {type(a) for a in actions} == {PlaceStopLoss, CancelAlgos}


def test_an_interrupted_plan_replacement_keeps_the_stop_its_relation_names():
    old = make_algo("a1", size=Decimal(2))
    new = attrs.evolve(make_algo("a2", size=Decimal(2)), created_at=NOW)
    take_profit = make_algo("a3", sl=None, tp=Decimal(120), size=Decimal(2))
    relation = attrs.evolve(make_relation(), stop_loss_algo_id="a1")
    actions = run(relations=[relation], positions=[make_position()], algos=[old, new, take_profit])
    assert actions == [CancelAlgos(BTC, ((BTC, "a2"),))]
    pointed_at_new = attrs.evolve(relation, stop_loss_algo_id="a2")
    actions = run(relations=[pointed_at_new], positions=[make_position()], algos=[old, new])
    assert actions == [CancelAlgos(BTC, ((BTC, "a1"),))]


def test_a_relation_naming_a_dead_stop_is_pointed_at_the_live_one():
    relation = make_relation(stop_id="gone")
    actions = run(relations=[relation], positions=[make_position()], algos=[make_algo("a7")])
    assert actions == [PointRelation("r1", "a7", Decimal(90))]


def test_an_interrupted_add_keeps_the_new_larger_stop_not_the_named_smaller_one():
    old = make_algo("a1", size=Decimal(1))  # named by the relation, covers the old size
    new = attrs.evolve(make_algo("a2", size=Decimal(2)), created_at=NOW)
    actions = run(relations=[make_relation()], positions=[make_position()], algos=[old, new])
    assert actions == [CancelAlgos(BTC, ((BTC, "a1"),)), PointRelation("r1", "a2", Decimal(90))]


def test_partial_stops_that_cover_once_are_all_kept():
    # two partial plans at two prices (a user's choice)
    halves = [make_algo(f"a{n}", size=Decimal(1), sl=Decimal(90 - 5 * n)) for n in range(2)]
    whole = attrs.evolve(make_algo("w", size=None), created_at=NOW)
    assert run(relations=[make_relation()], positions=[make_position()], algos=halves) == []
    # a newer whole-position stop beside them is the surplus (the halves cover it once)
    [action] = run(relations=[make_relation()], positions=[make_position()], algos=[*halves, whole])
    assert action == CancelAlgos(BTC, ((BTC, "w"),))
    # unless the relation names it: then the halves go, newest first
    named = attrs.evolve(make_relation(), stop_loss_algo_id="w")
    [action] = run(relations=[named], positions=[make_position()], algos=[*halves, whole])
    assert action == CancelAlgos(BTC, ((BTC, "a0"), (BTC, "a1")))


def test_one_stop_loss_split_over_orders_at_one_price_is_merged_keeping_take_profits():
    oco = make_algo("a1", size=Decimal("1.5"), tp=Decimal(120))
    added = attrs.evolve(make_algo("a2", size=Decimal("0.5")), created_at=NOW)
    relation = make_relation(stop_id="a2")
    position = make_position()
    [merge] = run(relations=[relation], positions=[position], algos=[oco, added])
    assert isinstance(merge, MergeStops)
    assert (merge.size, merge.trigger_price, merge.side) == (Decimal(2), Decimal(90), Side.SELL)
    assert merge.replaced == ((BTC, "a1"), (BTC, "a2"))
    assert merge.take_profits == ((Decimal(120), Decimal("1.5")),)
    assert merge.relation_id == "r1"


def test_coverage_counts_only_live_stop_loss_legs():
    stop = make_algo(size=Decimal(1))
    assert stop_loss_coverage([stop, attrs.evolve(stop, state="canceled")], Decimal(5)) == 1
    assert stop_loss_coverage([make_algo()], Decimal(5)) == 5


# -- relations whose position is gone; stale algos ------------------------------------------


def test_a_relation_whose_position_is_gone_is_closed_externally():
    relations = [make_relation("r1"), make_relation("r2"), make_relation("r3", symbol=ETH)]
    actions = run(
        relations=relations, positions=[make_position(symbol=ETH)], algos=[make_algo(symbol=ETH)]
    )
    assert actions == [CloseExternally(BTC, "LONG", ("r1", "r2"))]


def test_a_relation_whose_entry_order_is_still_open_is_left_open():
    waiting = make_order("r1", filled=Decimal(0), state="live")
    assert run(relations=[make_relation("r1")], orders=[waiting]) == []


def test_closed_relations_are_not_closed_again():
    assert run(relations=[make_relation(status="CLOSED")]) == []


def test_algos_of_no_position_are_canceled_and_others_kept():
    stale = make_algo("a1", size=Decimal(1))
    stale_tp = make_algo("a2", sl=None, tp=Decimal(120), size=Decimal(1))
    other = make_algo("a3", symbol=ETH)
    opening = attrs.evolve(make_algo("a4", symbol=ETH), reduce_only=False)
    actions = run(
        relations=[make_relation(symbol=ETH, stop_id="a3")],
        positions=[make_position(symbol=ETH)],
        algos=[stale, stale_tp, other, opening],
    )
    assert actions == [CancelAlgos(BTC, ((BTC, "a1"), (BTC, "a2")))]


def test_a_busy_symbol_keeps_its_relations_and_algos():
    intent = make_intent(at=NOW)
    assert run([intent], relations=[make_relation()], algos=[make_algo()]) == []


# -- the fixed point --------------------------------------------------------------------


def apply(database: DatabaseView, exchange: ExchangeView, actions) -> tuple:
    """What the service does with each action, on the two views."""
    intents = {i.intent_id: i for i in database.intents}
    relations = {r.client_order_id: r for r in database.relations}
    algos = list(exchange.open_algos)
    for number, action in enumerate(actions):
        if isinstance(action, ResolveIntent):
            intents[action.after.intent_id] = action.after
        elif isinstance(action, RecordRelation):
            relations[action.relation.client_order_id] = action.relation
        elif isinstance(action, PlaceStopLoss):
            algos.append(
                attrs.evolve(
                    make_algo(f"g{number}", symbol=action.symbol, side=action.side.value),
                    size=action.size,
                    close_fraction=None if action.size else Decimal(1),
                    sl_trigger_price=action.trigger_price,
                )
            )
            if action.relation_id in relations:
                relations[action.relation_id] = attrs.evolve(
                    relations[action.relation_id], stop_loss_algo_id=f"g{number}"
                )
        elif isinstance(action, FailRelation):
            failed = relations[action.relation_id]
            relations[action.relation_id] = attrs.evolve(failed, status="FAILED")
        elif isinstance(action, PointRelation):
            relations[action.relation_id] = attrs.evolve(
                relations[action.relation_id], stop_loss_algo_id=action.algo_id
            )
        elif isinstance(action, MergeStops):
            gone = {algo_id for _, algo_id in action.replaced}
            algos = [a for a in algos if a.algo_id not in gone]
            merged = attrs.evolve(
                make_algo(f"m{number}", symbol=action.symbol, side=action.side.value),
                size=action.size,
                close_fraction=None,
                sl_trigger_price=action.trigger_price,
            )
            algos.append(merged)
            for price, size in action.take_profits:
                take = make_algo(f"t{number}{price}", action.symbol, action.side.value, size)
                algos.append(attrs.evolve(take, sl_trigger_price=None, tp_trigger_price=price))
            if action.relation_id in relations:
                relations[action.relation_id] = attrs.evolve(
                    relations[action.relation_id], stop_loss_algo_id=merged.algo_id
                )
        elif isinstance(action, CloseExternally):
            for cid in action.relation_ids:
                relations[cid] = attrs.evolve(relations[cid], status="CLOSED")
        elif isinstance(action, CancelAlgos):
            gone = {algo_id for _, algo_id in action.algos}
            algos = [a for a in algos if a.algo_id not in gone]
    return (
        DatabaseView(intents=intents.values(), relations=relations.values()),
        attrs.evolve(exchange, open_algos=algos),
    )


@st.composite
def worlds(draw):
    symbols = [BTC, ETH]
    intents, lookups, relations, positions, algos, orders = [], {}, [], [], [], []
    for n in range(draw(st.integers(0, 4))):
        action = draw(st.sampled_from(list(IntentAction)))
        intent = make_intent(
            key=f"k{n}",
            symbol=draw(st.sampled_from(symbols)),
            action=action,
            side=draw(st.sampled_from(["LONG", "SHORT"])),
            state=draw(st.sampled_from(["NEW", "SENT", "OUTCOME_UNKNOWN", "ACKNOWLEDGED"])),
            at=NOW - timedelta(seconds=draw(st.sampled_from([1, 60, 600]))),
        )
        intents.append(intent)
        lookup = draw(st.sampled_from(["found", "filled", "none", "failed"]))
        cid = intent.client_order_id
        if lookup == "none":
            lookups[cid] = None
        elif lookup != "failed":
            filled = Decimal(1) if lookup == "filled" else Decimal(0)
            lookups[cid] = make_order(cid, intent.symbol, filled, order_id=f"o{n}")
        if action is IntentAction.OPEN and draw(st.booleans()):
            relations.append(make_relation(cid, intent.symbol, intent.side))
        if action.is_algo and lookup == "found":
            algos.append(make_algo(f"ai{n}", symbol=intent.symbol, client_id=cid))
    for n, symbol in enumerate(symbols):
        direction = draw(st.sampled_from([None, "LONG", "SHORT"]))
        if direction is not None:
            size = Decimal(draw(st.integers(1, 5))) * (1 if direction == "LONG" else -1)
            avg = Decimal(draw(st.integers(50, 150)))
            mark = Decimal(draw(st.integers(50, 150)))
            positions.append(make_position(symbol, size, avg, mark, pos_id=f"p{n}"))
        for r in range(draw(st.integers(0, 2))):
            relations.append(
                make_relation(
                    f"r{n}{r}",
                    symbol,
                    draw(st.sampled_from(["LONG", "SHORT"])),
                    stop=draw(st.sampled_from([None, Decimal(60), Decimal(140)])),
                    status=draw(st.sampled_from(["OPEN", "OPEN", "CLOSED"])),
                )
            )
            if draw(st.booleans()) and draw(st.booleans()):
                orders.append(make_order(f"r{n}{r}", symbol, Decimal(0), f"e{n}{r}", "live"))
        for a in range(draw(st.integers(0, 3))):
            algos.append(
                make_algo(
                    f"a{n}{a}",
                    symbol,
                    side=draw(st.sampled_from(["buy", "sell"])),
                    size=draw(st.sampled_from([None, Decimal(1), Decimal(2)])),
                    sl=draw(st.sampled_from([None, Decimal(100), Decimal(100)])),
                    tp=draw(st.sampled_from([None, Decimal(100)])),
                )
            )
    database = DatabaseView(intents=intents, relations=relations)
    exchange = ExchangeView(positions, orders, algos, lookups, TICKS)
    return database, exchange, draw(st.sampled_from([timedelta(0), timedelta(seconds=30)]))


@settings(max_examples=300, deadline=None)
@given(worlds())
def test_applying_the_actions_then_diffing_again_yields_nothing(world):
    database, exchange, grace = world
    rules = attrs.evolve(RULES, grace=grace)
    actions = diff(database, exchange, rules)
    database, exchange = apply(database, exchange, actions)
    assert diff(database, exchange, rules) == []


@settings(max_examples=200, deadline=None)
@given(worlds())
def test_every_open_position_of_a_settled_symbol_ends_known_and_fully_stop_lossed(world):
    database, exchange, grace = world
    rules = attrs.evolve(RULES, grace=grace)
    database, exchange = apply(database, exchange, diff(database, exchange, rules))
    busy = {i.symbol for i in database.intents if i.state in ("NEW", "SENT", "OUTCOME_UNKNOWN")}
    for position in exchange.positions:
        if position.symbol in busy:
            continue
        direction = "LONG" if position.size > 0 else "SHORT"
        assert any(
            r.status == "OPEN" and (r.symbol, r.side) == (position.symbol, direction)
            for r in database.relations
        )
        closing = "sell" if direction == "LONG" else "buy"
        protecting = [
            a for a in exchange.open_algos if a.symbol == position.symbol and a.side == closing
        ]
        assert stop_loss_coverage(protecting, position.contracts) == position.contracts
        for algo in protecting:
            if algo.sl_trigger_price is not None and algo.algo_id.startswith("g"):
                below = algo.sl_trigger_price < position.mark_price
                assert below == (direction == "LONG")
