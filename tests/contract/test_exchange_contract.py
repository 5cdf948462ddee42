"""The Exchange port's contract: every implementation in ``exchange_fixtures.VENUES``
must pass it (the simulated exchange now; the OKX adapter over the fake server later)."""

from __future__ import annotations

import inspect
from datetime import UTC, timedelta
from decimal import Decimal

import pytest
from exchange_fixtures import VENUES, Venue

from qwentrade.domain.errors import ExchangeRejected, OrderNotFound
from qwentrade.domain.market import Timeframe, TimeRange
from qwentrade.domain.venue import (
    AlgoRequest,
    AlgoState,
    AlgoType,
    AttachedAlgo,
    OrderRequest,
    OrderState,
    OrderType,
    PosSide,
)
from qwentrade.ports.exchange import Exchange


@pytest.fixture(params=sorted(VENUES))
def venue(request) -> Venue:
    made = VENUES[request.param]()
    yield made
    made.close()


def last_price(venue: Venue) -> Decimal:
    """The last traded price, read through the port."""
    instrument = instrument_of(venue)
    close = venue.exchange.candles(venue.symbol, Timeframe.M15, limit=1)[-1].close
    return instrument.round_price(Decimal(repr(close)))


def instrument_of(venue: Venue):
    return next(i for i in venue.exchange.instruments() if i.inst_id == venue.symbol)


def offset(venue: Venue, fraction: str) -> Decimal:
    """The last price moved by ``fraction`` (e.g. "-0.05"), rounded to the tick."""
    price = last_price(venue) * (1 + Decimal(fraction))
    return instrument_of(venue).round_price(price)


def test_instruments_carry_contract_facts(venue):
    instrument = instrument_of(venue)
    assert instrument.ct_val > 0 and instrument.lot_sz > 0 and instrument.tick_sz > 0
    assert instrument.min_sz >= instrument.lot_sz and instrument.max_lever >= 1


def test_server_time_is_aware_utc(venue):
    now = venue.exchange.server_time()
    assert now.tzinfo is not None and now.utcoffset() == timedelta(0)


@pytest.mark.parametrize("timeframe", list(Timeframe))
def test_candles_are_oldest_first_aligned_and_only_the_last_may_be_open(venue, timeframe):
    candles = venue.exchange.candles(venue.symbol, timeframe, limit=20)
    assert 1 <= len(candles) <= 20
    times = [c.time for c in candles]
    assert times == sorted(set(times))
    assert all(timeframe.floor(t) == t for t in times)
    assert all(c.confirmed for c in candles[:-1])
    now = venue.exchange.server_time()
    assert all(c.time <= now for c in candles)
    assert all(c.low <= min(c.open, c.close) and c.high >= max(c.open, c.close) for c in candles)


def test_candles_in_a_span(venue):
    now = venue.exchange.server_time()
    start = Timeframe.H1.floor(now) - timedelta(hours=5)
    candles = venue.exchange.candles(
        venue.symbol, Timeframe.H1, TimeRange(start, start + timedelta(hours=3))
    )
    assert [c.time for c in candles] == [start + timedelta(hours=i) for i in range(3)]
    assert all(c.confirmed for c in candles)


def test_funding_and_order_book(venue):
    rate = venue.exchange.funding_rate(venue.symbol)
    assert rate.time > venue.exchange.server_time()
    now = venue.exchange.server_time()
    history = venue.exchange.funding_history(venue.symbol, TimeRange(now - timedelta(days=2), now))
    assert history and [f.time for f in history] == sorted(f.time for f in history)
    assert all(f.time.hour in (0, 8, 16) for f in history)
    book = venue.exchange.order_book(venue.symbol, depth=5)
    assert 1 <= len(book.bids) <= 5 and 1 <= len(book.asks) <= 5
    assert book.bids[0][0] < book.asks[0][0]


def test_market_order_opens_a_position_and_pays_the_fee(venue):
    exchange = venue.exchange
    before = exchange.balance()
    assert before.currency == "USDT" and before.cash_balance == venue.starting_cash
    order = exchange.place_order(OrderRequest(venue.symbol, "buy", "1", "ctOpen1"))
    assert order.client_order_id == "ctOpen1"
    filled = exchange.get_order(venue.symbol, client_order_id="ctOpen1")
    assert filled.order_id == order.order_id and filled.state is OrderState.FILLED
    assert filled.filled_size == Decimal(1) and filled.fee < 0
    [position] = exchange.positions(venue.symbol)
    assert position.size == Decimal(1) and position.direction is PosSide.LONG
    assert position.avg_price == filled.avg_price
    after = exchange.balance()
    assert after.cash_balance == before.cash_balance + filled.fee


def test_an_order_tag_is_echoed_and_defaults_to_empty(venue):
    exchange = venue.exchange
    tagged = exchange.place_order(OrderRequest(venue.symbol, "buy", "1", "ctTag1", tag="ctStrat1"))
    plain = exchange.place_order(OrderRequest(venue.symbol, "sell", "1", "ctTag2"))
    assert tagged.tag == "ctStrat1" and plain.tag == ""
    assert exchange.get_order(venue.symbol, client_order_id="ctTag1").tag == "ctStrat1"


def test_attached_stop_and_target_are_live_algos_after_the_fill(venue):
    exchange = venue.exchange
    stop, target = offset(venue, "-0.05"), offset(venue, "0.05")
    order = exchange.place_order(
        OrderRequest(
            venue.symbol,
            "buy",
            "1",
            "ctProt1",
            attached_algos=[AttachedAlgo(sl_trigger_price=stop, tp_trigger_price=target)],
        )
    )
    algos = exchange.open_algos(venue.symbol)
    assert len(algos) == 1
    [algo] = algos
    assert algo.sl_trigger_price == stop and algo.tp_trigger_price == target
    assert algo.algo_type is AlgoType.OCO and algo.side.value == "sell"
    assert algo.state is AlgoState.LIVE
    assert exchange.get_order(venue.symbol, order_id=order.order_id).attached_algo_ids == (
        algo.algo_id,
    )
    [canceled] = exchange.cancel_algos([(venue.symbol, algo.algo_id)])
    assert canceled.state is AlgoState.CANCELED
    assert exchange.open_algos(venue.symbol) == []


def test_standalone_stop_on_an_open_position(venue):
    exchange = venue.exchange
    exchange.place_order(OrderRequest(venue.symbol, "sell", "2", "ctShort1"))
    algo = exchange.place_algo(
        AlgoRequest(
            venue.symbol,
            "buy",
            "conditional",
            close_fraction="1",
            sl_trigger_price=offset(venue, "0.05"),
            algo_client_order_id="ctStop1",
        )
    )
    assert [a.algo_id for a in exchange.open_algos()] == [algo.algo_id]
    with pytest.raises(ExchangeRejected):  # a stop on the wrong side of the price
        exchange.place_algo(
            AlgoRequest(
                venue.symbol,
                "buy",
                "conditional",
                size="1",
                sl_trigger_price=offset(venue, "-0.05"),
            )
        )


def test_duplicate_client_order_id_is_rejected_while_the_first_is_open(venue):
    exchange = venue.exchange
    low = offset(venue, "-0.2")
    request = OrderRequest(
        venue.symbol, "buy", "1", "ctDup1", order_type=OrderType.LIMIT, price=low
    )
    first = exchange.place_order(request)
    assert first.state is OrderState.LIVE
    with pytest.raises(ExchangeRejected) as caught:
        exchange.place_order(request)
    assert caught.value.code == "51016"
    assert [o.order_id for o in exchange.open_orders(venue.symbol)] == [first.order_id]


def test_cancel_and_unknown_orders(venue):
    exchange = venue.exchange
    low = offset(venue, "-0.2")
    order = exchange.place_order(
        OrderRequest(venue.symbol, "buy", "1", "ctCancel1", order_type="limit", price=low)
    )
    canceled = exchange.cancel_order(venue.symbol, order_id=order.order_id)
    assert canceled.state is OrderState.CANCELED and canceled.filled_size == 0
    assert exchange.open_orders() == []
    with pytest.raises(OrderNotFound):
        exchange.cancel_order(venue.symbol, order_id=order.order_id)
    with pytest.raises(OrderNotFound):
        exchange.get_order(venue.symbol, client_order_id="ctNeverSent")
    with pytest.raises(OrderNotFound):
        exchange.get_order(venue.symbol, order_id="999999999")
    # the client id of a canceled order may be used again
    again = exchange.place_order(
        OrderRequest(venue.symbol, "buy", "1", "ctCancel1", order_type="limit", price=low)
    )
    assert again.order_id != order.order_id


def test_closing_writes_position_and_order_history(venue):
    exchange = venue.exchange
    opened = exchange.place_order(OrderRequest(venue.symbol, "buy", "2", "ctHist1"))
    closed = exchange.place_order(
        OrderRequest(venue.symbol, "sell", "2", "ctHist2", reduce_only=True)
    )
    assert closed.state is OrderState.FILLED
    assert exchange.positions(venue.symbol) == []
    [record] = exchange.position_history(venue.symbol)
    assert record.close_type == 2 and record.close_total_size == Decimal(2)
    assert record.avg_price == opened.avg_price
    assert record.pnl == closed.pnl
    assert record.fee == opened.fee + closed.fee
    history = exchange.order_history(venue.symbol)
    assert [r.order_id for r in history[:2]] == [closed.order_id, opened.order_id]
    assert history[0].created_at.tzinfo == UTC or history[0].created_at.utcoffset() == timedelta(0)


def test_reduce_only_without_a_position_is_rejected(venue):
    with pytest.raises(ExchangeRejected):
        venue.exchange.place_order(
            OrderRequest(venue.symbol, "sell", "1", "ctRo1", reduce_only=True)
        )
    assert venue.exchange.positions() == []


def test_stop_fires_when_the_market_crosses_it(venue):
    if venue.advance is None:
        pytest.skip(f"{venue.name} cannot move its market on demand")
    exchange = venue.exchange
    # a stop a hair below the price: the generated market crosses it within days
    exchange.place_order(
        OrderRequest(
            venue.symbol,
            "buy",
            "1",
            "ctFire1",
            attached_algos=[
                AttachedAlgo(
                    sl_trigger_price=offset(venue, "-0.002"),
                    tp_trigger_price=offset(venue, "0.002"),
                )
            ],
        )
    )
    for _ in range(96 * 5):
        venue.advance(timedelta(minutes=15))
        if not exchange.positions(venue.symbol):
            break
    assert exchange.positions(venue.symbol) == []
    assert exchange.open_algos(venue.symbol) == []
    assert exchange.position_history(venue.symbol)[0].close_type == 2


def test_a_reduce_only_order_is_canceled_when_its_position_closes(venue):
    exchange = venue.exchange
    exchange.place_order(OrderRequest(venue.symbol, "buy", "1", "ctRoc1"))
    target = exchange.place_order(
        OrderRequest(
            venue.symbol,
            "sell",
            "1",
            "ctRoc2",
            order_type="limit",
            price=offset(venue, "0.02"),
            reduce_only=True,
        )
    )
    assert target.state is OrderState.LIVE
    exchange.place_order(OrderRequest(venue.symbol, "sell", "1", "ctRoc3", reduce_only=True))
    assert exchange.positions(venue.symbol) == []
    assert exchange.get_order(venue.symbol, order_id=target.order_id).state is OrderState.CANCELED
    assert exchange.open_orders(venue.symbol) == []


def test_a_limit_price_outside_the_price_band_is_refused(venue):
    exchange = venue.exchange
    with pytest.raises(ExchangeRejected) as caught:
        exchange.place_order(
            OrderRequest(
                venue.symbol, "buy", "1", "ctBand1", order_type="limit", price=offset(venue, "0.2")
            )
        )
    assert caught.value.code == "51006"
    assert exchange.open_orders(venue.symbol) == [] and exchange.positions(venue.symbol) == []


def test_every_port_method_is_implemented_with_the_ports_parameters(venue):
    port_methods = [
        name
        for name, member in vars(Exchange).items()
        if callable(member) and not name.startswith("_")
    ]
    assert "place_order" in port_methods
    for name in port_methods:
        implemented = getattr(venue.exchange, name, None)
        assert callable(implemented), f"{venue.name} lacks {name}"
        wanted = list(inspect.signature(getattr(Exchange, name)).parameters)[1:]
        got = list(inspect.signature(implemented).parameters)
        assert got == wanted, f"{venue.name}.{name}{got} differs from the port's {wanted}"
