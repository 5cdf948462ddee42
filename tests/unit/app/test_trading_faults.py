"""Lost answers and refusals: an order whose answer is lost is looked up by its clOrdId,
never re-sent; a refused one leaves a FAILED relation and a REJECTED intent; a refused
close puts the stop-loss back."""

from __future__ import annotations

from decimal import Decimal

import pytest
from test_trading_helpers import BTC, make_desk

from qwentrade.domain.errors import (
    ExchangeRejected,
    InsufficientFunds,
    OutcomeUnknown,
    PositionExists,
)

D = Decimal


@pytest.fixture
def desk(repos):
    return make_desk(repos)


def lose_answers(desk, method: str, after_sending: bool, times: int = 1):
    """Make the next ``times`` calls of ``method`` lose their answer (after the venue got
    the request, or before); returns the list of requests seen."""
    real = getattr(desk.exchange, method)
    seen: list = []

    def call(request):
        seen.append(request)
        if len(seen) > times:
            return real(request)
        if after_sending:
            real(request)
        raise OutcomeUnknown("read timeout after sending")

    setattr(desk.exchange, method, call)
    return seen


def test_an_entry_whose_answer_was_lost_is_found_and_recorded(desk):
    seen = lose_answers(desk, "place_order", after_sending=True)
    last = desk.last()
    cl = desk.service.open_position(BTC, "LONG", 100, last * D("0.9"))
    assert len(seen) == 1  # looked up, not sent again
    stored = desk.repos.intents.by_client_order_id(cl)
    assert stored.state == "ACKNOWLEDGED" and "read timeout" in stored.error
    relation = desk.repos.relations.get(cl)
    assert relation.open_order_id == stored.order_id and relation.stop_loss_algo_id
    assert len(desk.exchange.positions(BTC)) == 1


def test_an_entry_that_never_arrived_stays_unknown_and_blocks_the_symbol(desk):
    seen = lose_answers(desk, "place_order", after_sending=False)
    with pytest.raises(OutcomeUnknown, match="not sent again"):
        desk.service.open_position(BTC, "LONG", 100, key="signal:5")
    [stored] = desk.repos.intents.find()
    assert stored.state == "OUTCOME_UNKNOWN"
    assert desk.repos.relations.get(stored.client_order_id).status == "OPEN"
    with pytest.raises(PositionExists):  # until reconciliation settles it
        desk.service.open_position(BTC, "LONG", 100)
    # the same key again: looked up, still not there, not re-sent
    assert desk.service.open_position(BTC, "LONG", 100, key="signal:5") == stored.client_order_id
    assert desk.service.resolve_intent(stored.client_order_id).state == "OUTCOME_UNKNOWN"
    assert len(seen) == 1 and desk.exchange.order_history(limit=100) == []


def test_a_refused_entry_fails_its_relation_and_frees_the_symbol(desk):
    with pytest.raises(InsufficientFunds):  # 20k USDT of margin on a 10k account: 51008
        desk.service.open_position(BTC, "LONG", 20_000, leverage=10)
    [stored] = desk.repos.intents.find()
    assert stored.state == "REJECTED" and stored.error
    relation = desk.repos.relations.get(stored.client_order_id)
    assert relation.status == "FAILED" and relation.close_reason.startswith("rejected")
    desk.service.open_position(BTC, "LONG", 100)
    assert len(desk.exchange.positions(BTC)) == 1


def test_a_refused_close_puts_the_stop_loss_back(desk):
    last = desk.last()
    desk.service.open_position(BTC, "LONG", 100, last * D("0.9"), last * D("1.2"))
    real = desk.exchange.place_order

    def refuse(request):
        if request.reduce_only:
            raise ExchangeRejected("Service temporarily unavailable", "50001")
        return real(request)

    desk.exchange.place_order = refuse
    with pytest.raises(ExchangeRejected):
        desk.service.close_position(BTC)
    held = desk.exchange.positions(BTC)[0]
    stops = [a for a in desk.exchange.open_algos(BTC) if a.sl_trigger_price is not None]
    assert [s.size for s in stops] == [held.size]
    assert stops[0].sl_trigger_price == (last * D("0.9")).quantize(D("0.1"))
    desk.exchange.place_order = real
    desk.service.close_position(BTC)  # a new attempt works
    assert desk.exchange.positions() == []


def test_a_lost_plan_answer_keeps_the_old_orders(desk):
    last = desk.last()
    cl = desk.service.open_position(BTC, "LONG", 100, last * D("0.9"))
    [old] = desk.exchange.open_algos(BTC)
    lose_answers(desk, "place_algo", after_sending=False)
    with pytest.raises(OutcomeUnknown):
        desk.service.set_stop_loss_take_profit(
            cl, [{"kind": "stop_loss", "trigger_price": last * D("0.95"), "fraction": 1}]
        )
    assert [a.algo_id for a in desk.exchange.open_algos(BTC)] == [old.algo_id]
    unknown = desk.repos.intents.find(state="OUTCOME_UNKNOWN")
    assert [i.action for i in unknown] == ["STOP_LOSS"]


def test_a_plan_order_whose_answer_was_lost_is_resolved_among_the_algo_orders(desk):
    """resolve_intent looks a stop-loss/take-profit intent up among the live algo orders
    (not among ordinary orders): found -> ACKNOWLEDGED with the algo id; one that never
    arrived is left OUTCOME_UNKNOWN for reconciliation."""
    last = desk.last()
    cl = desk.service.open_position(BTC, "LONG", 100, last * D("0.9"))
    plans = [{"kind": "stop_loss", "trigger_price": last * D("0.95"), "fraction": 1}]
    lose_answers(desk, "place_algo", after_sending=True)  # arrived; the answer lost
    with pytest.raises(OutcomeUnknown):
        desk.service.set_stop_loss_take_profit(cl, plans)
    [arrived] = desk.repos.intents.find(state="OUTCOME_UNKNOWN")
    placed = [
        a
        for a in desk.exchange.open_algos(BTC)
        if a.algo_client_order_id == arrived.client_order_id
    ]
    assert len(placed) == 1
    got = desk.service.resolve_intent(arrived.client_order_id)
    assert (got.state, got.order_id) == ("ACKNOWLEDGED", placed[0].algo_id)
    lose_answers(desk, "place_algo", after_sending=False)  # never arrived
    with pytest.raises(OutcomeUnknown):
        desk.service.set_stop_loss_take_profit(cl, plans)
    [lost] = desk.repos.intents.find(state="OUTCOME_UNKNOWN")
    assert desk.service.resolve_intent(lost.client_order_id).state == "OUTCOME_UNKNOWN"
    assert desk.service.resolve_intent(arrived.client_order_id).state == "ACKNOWLEDGED"


@pytest.mark.parametrize("crash_in", ["place_algo", "cancel_algos"])
def test_a_repeated_add_finishes_the_plan_replacement_its_first_call_left(desk, crash_in):
    """The process dies inside the add's plan replacement (before the new orders are
    placed, or after, before the old ones go): the repeat with the same key sends no
    new order and leaves one stop-loss covering the grown position, named by its
    relation, at the add's trigger."""
    last = desk.last()
    cl = desk.service.open_position(BTC, "LONG", 100, last * D("0.9"), last * D("1.2"))
    real = getattr(desk.exchange, crash_in)

    def crash(*args, **kwargs):
        raise KeyboardInterrupt  # the process dies here

    setattr(desk.exchange, crash_in, crash)
    stop = (last * D("0.92")).quantize(D("0.1"))
    with pytest.raises(KeyboardInterrupt):
        desk.service.add_position(BTC, 50, stop_loss_trigger=stop, key="add:1")
    setattr(desk.exchange, crash_in, real)
    orders = len(desk.exchange.order_history(BTC, limit=100))
    again = desk.service.add_position(BTC, 50, stop_loss_trigger=stop, key="add:1")
    assert again == desk.repos.intents.get("add:1").client_order_id
    assert len(desk.exchange.order_history(BTC, limit=100)) == orders  # nothing re-sent
    [held] = desk.exchange.positions(BTC)
    stops = [a for a in desk.exchange.open_algos(BTC) if a.sl_trigger_price is not None]
    assert len(stops) == 1, stops
    [only] = stops
    assert only.size in (None, held.contracts) and only.sl_trigger_price == stop
    relation = desk.repos.relations.get(cl)
    assert relation.stop_loss_algo_id == only.algo_id and relation.stop_loss_price == stop
    targets = [a for a in desk.exchange.open_algos(BTC) if a.tp_trigger_price is not None]
    assert [a.size for a in targets] == [held.contracts]  # the take-profit resized too
    # a third call finds the plans current and changes nothing
    before = desk.exchange.open_algos(BTC)
    assert desk.service.add_position(BTC, 50, stop_loss_trigger=stop, key="add:1") == again
    assert desk.exchange.open_algos(BTC) == before
