"""TradingService on the simulated exchange over memory, SQLite and PostgreSQL: open and
close, idempotent keys, one position per symbol, PnL from the venue's fills and fees."""

from __future__ import annotations

import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from test_trading_helpers import BTC, CASH, ETH, make_desk

from qwentrade.adapters.notify import MemoryNotifier, NotifyingRepositories
from qwentrade.app.trading import TradingService
from qwentrade.domain.errors import InvalidInput, NoPosition, PositionExists
from qwentrade.domain.orders import IntentAction, IntentState, OrderIntent
from qwentrade.domain.plans import Side
from qwentrade.domain.records import IntentRecord
from qwentrade.domain.venue import AlgoLeg, AlgoState, OrderRequest

D = Decimal
LEG_REASONS = {AlgoLeg.STOP_LOSS: "stop_loss", AlgoLeg.TAKE_PROFIT: "take_profit"}


@pytest.fixture
def desk(repos):
    return make_desk(repos)


def test_open_then_close_records_everything_and_the_pnl_is_the_cash_change(desk):
    last = desk.last()
    cl = desk.service.open_position(
        BTC, "LONG", 100, last * D("0.97"), last * D("1.05"), leverage=5, signal_id=7
    )
    [held] = desk.exchange.positions(BTC)
    # 100 USDT x 5 / (price x 0.01 BTC) contracts, rounded down to the 0.01 lot
    assert held.size == (D(500) / (last * D("0.01"))).quantize(D("0.01"), "ROUND_DOWN")
    [algo] = desk.exchange.open_algos(BTC)  # attached to the entry: SL and TP, one oco
    assert algo.size == held.size and algo.sl_trigger_price < last < algo.tp_trigger_price
    relation = desk.repos.relations.get(cl)
    assert relation.status == "OPEN" and relation.signal_id == 7
    assert relation.open_order_id and relation.open_time == desk.clock.now()
    assert relation.stop_loss_algo_id == algo.algo_id == relation.take_profit_algo_id
    assert relation.pos_id == held.pos_id
    intent = desk.repos.intents.by_client_order_id(cl)
    assert intent.state == "ACKNOWLEDGED" and intent.order_id == relation.open_order_id
    assert desk.repos.history.order_by_client_id(cl).status == "filled"

    desk.advance(timedelta(hours=2))
    closing = desk.service.close_position(BTC, reason="take a break")
    assert desk.exchange.positions() == [] and desk.exchange.open_algos() == []
    closed = desk.repos.relations.get(cl)
    assert closed.status == "CLOSED" and closed.close_reason == "take a break"
    assert closed.close_order_id == desk.repos.history.order_by_client_id(closing).order_id
    assert closed.close_time == desk.clock.now()
    assert closed.pnl == desk.exchange.balance().cash_balance - CASH  # fees included
    margin = held.avg_price * held.size * D("0.01") / 5
    assert closed.pnl_percentage == (closed.pnl * 100 / margin).quantize(D("0.0001"))
    assert desk.repos.intents.by_client_order_id(closing).state == "ACKNOWLEDGED"
    status = desk.service.order_status(cl)
    assert status["relation"]["status"] == "CLOSED" and status["order"]["status"] == "filled"


def test_a_short_limit_entry_rests_until_filled_and_close_cancels_it_unfilled(desk):
    price = desk.last() * D("1.2")  # far above: a resting sell
    cl = desk.service.open_position(
        BTC, "SHORT", 100, stop_loss_trigger=price * D("1.05"), order_type="limit", price=price
    )
    [order] = desk.exchange.open_orders(BTC)
    assert order.client_order_id == cl and order.price == price.quantize(D("0.1"))
    relation = desk.repos.relations.get(cl)
    assert relation.status == "OPEN" and relation.open_time is None
    with pytest.raises(PositionExists):
        desk.service.open_position(BTC, "LONG", 100)
    desk.service.close_position(BTC)
    assert desk.exchange.open_orders() == [] and desk.exchange.positions() == []
    assert desk.repos.relations.get(cl).status == "FAILED"


def test_the_same_key_never_opens_twice(desk):
    first = desk.service.open_position(BTC, "LONG", 100, key="signal:42")
    assert desk.service.open_position(BTC, "LONG", 100, key="signal:42") == first
    desk.service.close_position(BTC)
    # even once the position is gone, the key stays spent
    assert desk.service.open_position(BTC, "LONG", 100, key="signal:42") == first
    opens = [o for o in desk.exchange.order_history(limit=100) if not o.reduce_only]
    assert len(opens) == 1 and desk.exchange.positions() == []
    derived = OrderIntent("signal:42", BTC, IntentAction.OPEN, Side.LONG, 1, desk.clock.now())
    assert derived.client_order_id == first


def test_an_order_whose_sender_died_is_looked_up_by_the_repeat_never_resent(desk):
    """The process dies while the request is out (intent SENT): the repeat with the same
    key looks the order up by clOrdId; not found, it stays OUTCOME_UNKNOWN for
    reconciliation, and nothing is sent again."""
    real = desk.exchange.place_order
    calls = []

    def crash(request):
        calls.append(request)
        raise KeyboardInterrupt  # the process dies here (nothing left the process)

    desk.exchange.place_order = crash
    with pytest.raises(KeyboardInterrupt):
        desk.service.open_position(BTC, "LONG", 100, key="pending:9", pending_order_id="9")
    [stored] = desk.repos.intents.find()
    assert stored.state == "SENT"  # SENT is written before the request leaves
    # after a restart the intent is resolved by looking it up, never re-sent
    desk.exchange.place_order = real
    assert desk.service.open_position(BTC, "LONG", 100, key="pending:9") == stored.client_order_id
    assert desk.exchange.positions() == []
    assert desk.repos.intents.get("pending:9").state == "OUTCOME_UNKNOWN"
    assert len(calls) == 1


def test_a_never_sent_intent_is_sent_on_the_repeat(desk):
    """A crash after writing the intent but before marking it SENT: nothing left the
    process, so the repeat sends that very order (same clOrdId) once."""
    intent = OrderIntent("pending:10", BTC, IntentAction.OPEN, Side.LONG, 1, desk.clock.now())
    desk.repos.intents.add(IntentRecord.from_intent(intent, desk.clock.now()))  # crash after
    cl = desk.service.open_position(BTC, "LONG", 100, key="pending:10")
    assert cl == intent.client_order_id
    assert desk.repos.intents.get("pending:10").state == IntentState.ACKNOWLEDGED.name
    assert len(desk.exchange.positions(BTC)) == 1


def test_one_position_per_symbol(desk):
    desk.service.open_position(BTC, "LONG", 100)
    before = (desk.repos.intents.find(), desk.repos.relations.find())
    with pytest.raises(PositionExists) as info:
        desk.service.open_position(BTC, "SHORT", 100)
    assert info.value.symbol == BTC
    assert (desk.repos.intents.find(), desk.repos.relations.find()) == before
    assert len(desk.exchange.order_history(limit=100)) == 1
    desk.service.open_position(ETH, "SHORT", 100)  # another symbol is free
    assert {p.symbol for p in desk.exchange.positions()} == {BTC, ETH}


def test_a_venue_position_the_database_does_not_know_blocks_an_open(desk):
    desk.exchange.place_order(OrderRequest(BTC, "buy", D("0.1"), "byhand1"))
    with pytest.raises(PositionExists, match="does not know"):
        desk.service.open_position(BTC, "LONG", 100)


def test_concurrent_opens_of_one_symbol_give_exactly_one_position(desk):
    outcomes: list[str] = []
    barrier = threading.Barrier(4)

    def attempt(i: int) -> None:
        barrier.wait()
        try:
            desk.service.open_position(BTC, "LONG" if i % 2 else "SHORT", 100)
            outcomes.append("open")
        except PositionExists:
            outcomes.append("refused")

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(outcomes) == ["open", "refused", "refused", "refused"]
    assert len(desk.exchange.positions(BTC)) == 1
    assert len(desk.repos.relations.find(BTC, status="OPEN")) == 1


def test_two_services_on_one_database_cannot_both_open(desk):
    """A second service (no shared lock) is stopped by the OPEN relation / the index."""
    from qwentrade.app.trading import TradingService

    other = TradingService(desk.exchange, desk.repos, desk.repos.config, desk.clock)
    desk.service.open_position(BTC, "LONG", 100)
    with pytest.raises(PositionExists):
        other.open_position(BTC, "LONG", 100)
    assert len(desk.exchange.order_history(limit=100)) == 1


def test_add_reduce_and_close_keep_the_plans_sized_to_the_position(desk):
    last = desk.last()
    cl = desk.service.open_position(
        BTC, "LONG", 100, last * D("0.95"), last * D("1.1"), leverage=10
    )
    size0 = desk.exchange.positions(BTC)[0].size
    desk.service.add_position(BTC, 100, stop_loss_trigger=last * D("0.96"))
    held = desk.exchange.positions(BTC)[0]
    assert held.size > size0
    algos = desk.exchange.open_algos(BTC)
    assert sorted((a.sl_trigger_price is not None, a.size) for a in algos) == [
        (False, held.size),
        (True, held.size),
    ]
    relation = desk.repos.relations.get(cl)
    assert relation.stop_loss_price == (last * D("0.96")).quantize(D("0.1"))
    desk.service.reduce_position(BTC, 50)  # half the margin of the first entry
    held2 = desk.exchange.positions(BTC)[0]
    assert held2.size < held.size
    assert all(a.size == held2.size for a in desk.exchange.open_algos(BTC))
    with pytest.raises(InvalidInput) as info:
        desk.service.reduce_position(BTC, 10_000)
    assert info.value.field == "amount"
    desk.service.close_position(BTC, amount=5)  # a partial close (5 USDT of margin)
    assert desk.exchange.positions(BTC)[0].size < held2.size
    desk.service.close_position(BTC)
    closed = desk.repos.relations.get(cl)
    assert closed.status == "CLOSED" and closed.close_reason == "manual"
    assert closed.pnl == desk.exchange.balance().cash_balance - CASH
    with pytest.raises(NoPosition):
        desk.service.close_position(BTC)


def test_several_partial_plans_replace_the_old_orders_new_ones_first(desk):
    last = desk.last()
    cl = desk.service.open_position(BTC, "LONG", 200, last * D("0.95"), leverage=10)
    [old] = desk.exchange.open_algos(BTC)
    seen: list[int] = []
    cancel = desk.exchange.cancel_algos

    def watch(pairs):
        stops = [a for a in desk.exchange.open_algos(BTC) if a.sl_trigger_price is not None]
        seen.append(len(stops))
        return cancel(pairs)

    desk.exchange.cancel_algos = watch
    out = desk.service.set_stop_loss_take_profit(
        cl,
        [
            {"kind": "stop_loss", "trigger_price": last * D("0.97"), "fraction": 1},
            {"kind": "take_profit", "trigger_price": last * D("1.02"), "fraction": "0.5"},
            {"kind": "take_profit", "trigger_price": last * D("1.04"), "fraction": "0.5"},
        ],
    )
    assert min(seen) >= 1  # a stop-loss was live at every cancel
    live = desk.exchange.open_algos(BTC)
    assert old.algo_id not in {a.algo_id for a in live} and len(live) == 3
    size = desk.exchange.positions(BTC)[0].size
    assert sum(a.size for a in live if a.tp_trigger_price) <= size
    assert [p["kind"] for p in out["plans"]] == ["stop_loss", "take_profit", "take_profit"]
    relation = desk.repos.relations.get(cl)
    assert relation.stop_loss_price == (last * D("0.97")).quantize(D("0.1"))
    assert relation.take_profit_price == (last * D("1.02")).quantize(D("0.1"))


def test_an_external_close_is_recorded_with_its_pnl(desk):
    last = desk.last()
    cl = desk.service.open_position(BTC, "SHORT", 100, stop_loss_trigger=last * D("1.1"))
    assert desk.service.handle_external_close(BTC) is None  # still held: nothing to do
    held = desk.exchange.positions(BTC)[0]
    desk.advance(timedelta(minutes=30))
    desk.exchange.place_order(
        OrderRequest(BTC, "buy", held.contracts, "byhand2", reduce_only=True)
    )  # closed in the OKX app
    closed = desk.service.handle_external_close(BTC)
    assert closed.status == "CLOSED" and closed.close_reason == "external"
    assert closed.pnl == desk.exchange.balance().cash_balance - CASH
    assert desk.exchange.open_algos() == []  # the venue swept it; nothing left over
    assert desk.repos.relations.get(cl) == closed
    assert desk.service.handle_external_close(BTC) is None  # idempotent


@pytest.mark.parametrize("side", ["LONG", "SHORT"])
def test_a_close_by_the_exchanges_own_stop_or_target_is_recorded_as_that_leg(desk, side):
    """Whoever notices the position gone (reconciliation calls handle_external_close
    with "external"), the relation says which of the venue's orders closed it."""
    sign = 1 if side == "LONG" else -1
    legs = set()
    for width in ("0.004", "0.006", "0.008"):
        last = desk.last()
        cl = desk.service.open_position(
            BTC,
            side,
            100,
            last * (1 - sign * D(width)),
            last * (1 + sign * D(width)),
            leverage=5,
        )
        for _ in range(3000):
            desk.advance(timedelta(minutes=1))
            if not desk.exchange.positions(BTC):
                break
        [fired] = desk.engine.algo_history(BTC, state=AlgoState.EFFECTIVE, limit=1)
        closed = desk.service.handle_external_close(BTC)
        assert closed.client_order_id == cl and closed.status == "CLOSED"
        assert closed.close_reason == LEG_REASONS[fired.triggered_leg]
        assert closed.close_order_id == fired.order_id
        legs.add(closed.close_reason)
    assert legs == {"stop_loss", "take_profit"}  # both legs seen


def test_add_and_reduce_notices_say_the_fill_price(repos):
    """The order row is written before the intent is acknowledged, so the notice the
    acknowledgement causes has the fill's average price."""
    notifier = MemoryNotifier()
    told = NotifyingRepositories(repos, notifier)
    desk = make_desk(
        repos, make=lambda ex, _r, config, clock: TradingService(ex, told, config, clock)
    )
    desk.service.open_position(BTC, "LONG", 100, desk.last() * D("0.9"))
    desk.advance(timedelta(minutes=5))
    added = desk.service.add_position(BTC, 50)
    desk.advance(timedelta(minutes=5))
    reduced = desk.service.reduce_position(BTC, 30)
    prices = {
        cl: f" at {desk.repos.history.order_by_client_id(cl).avg_price.normalize():f}"
        for cl in (added, reduced)
    }
    [add] = [n for n in notifier.sent if n.title.startswith("Added")]
    [cut] = [n for n in notifier.sent if n.title.startswith("Reduced")]
    assert prices[added] in add.body and prices[reduced] in cut.body, (add.body, cut.body)


def test_current_positions_are_plain_values(desk):
    last = desk.last()
    cl = desk.service.open_position(BTC, "LONG", 100, last * D("0.9"))
    [view] = desk.service.current_positions()
    assert view["cl_ord_id"] == cl and view["side"] == "LONG"
    assert view["plans"][0]["kind"] == "stop_loss"
    assert desk.service.current_positions(ETH) == []
    import json

    json.dumps(desk.service.current_positions())
    json.dumps(desk.service.order_status(cl))


def test_a_resting_entry_that_fills_later_is_recorded_from_the_order_update(desk):
    last = desk.last()
    price = last * D("0.999")
    cl = desk.service.open_position(
        BTC, "LONG", 100, price * D("0.9"), order_type="limit", price=price
    )
    assert desk.repos.relations.get(cl).open_time is None
    for _ in range(200):  # the generated market wanders through the limit within hours
        desk.advance(timedelta(minutes=15))
        if desk.exchange.positions(BTC):
            break
    order = desk.exchange.get_order(BTC, client_order_id=cl)
    assert order.state.value == "filled"
    desk.service.record_order(order)
    desk.service.record_order(order)  # a repeated push changes nothing more
    relation = desk.repos.relations.get(cl)
    [held] = desk.exchange.positions(BTC)
    [algo] = desk.exchange.open_algos(BTC)
    assert relation.open_time == order.updated_at and relation.pos_id == held.pos_id
    assert relation.stop_loss_algo_id == algo.algo_id
    assert desk.repos.history.order_by_client_id(cl).status == "filled"
    with pytest.raises(InvalidInput) as info:
        desk.service.record_order("not an order")
    assert info.value.field == "order"


def test_default_leverage_and_margin_mode_are_read_from_the_config_at_each_open(desk):
    desk.repos.config.set("TRADING_DEFAULT_LEVERAGE", 3)
    desk.repos.config.set("TRADING_MARGIN_MODE", "isolated")
    desk.service.open_position(BTC, "LONG", 100)
    [held] = desk.exchange.positions(BTC)
    assert held.leverage == 3 and held.margin_mode.value == "isolated"
    assert held.size == (D(300) / (desk.last() * D("0.01"))).quantize(D("0.01"), "ROUND_DOWN")
    desk.repos.config.set("TRADING_DEFAULT_LEVERAGE", 100)  # SOL allows 50 at most: capped
    desk.repos.config.set("TRADING_MARGIN_MODE", "cross")
    desk.service.open_position("SOL-USDT-SWAP", "SHORT", 50)
    [sol] = desk.exchange.positions("SOL-USDT-SWAP")
    assert sol.leverage == 50 and sol.margin_mode.value == "cross"
    # orders on an existing position follow its margin mode, not today's default
    desk.service.add_position(BTC, 50)
    desk.service.reduce_position(BTC, 20)
    assert [p.margin_mode.value for p in desk.exchange.positions(BTC)] == ["isolated"]
    desk.service.close_position(BTC)
    assert desk.exchange.positions(BTC) == []
