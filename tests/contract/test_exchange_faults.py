"""Transport faults on the wire: what the Exchange port promises when OKX answers late,
badly or not at all. Runs on every venue that can inject wire faults (``venue.faults``).

The promise that matters most: a placement whose answer is lost leaves exactly ONE order
on the venue, whether the venue carried the lost request out or not.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from exchange_fixtures import VENUES, Venue

from qwentrade.domain.errors import ExchangeUnavailable, OutcomeUnknown, RateLimited
from qwentrade.domain.market import Timeframe
from qwentrade.domain.venue import AlgoRequest, OrderRequest, OrderState

ORDER = "/api/v5/trade/order"
ALGO = "/api/v5/trade/order-algo"
BALANCE = "/api/v5/account/balance"


@pytest.fixture(params=sorted(VENUES))
def venue(request) -> Venue:
    made = VENUES[request.param]()
    if not made.wire_faults:
        made.close()
        pytest.skip(f"{made.name} cannot inject wire faults")
    yield made
    made.close()


def orders_with(venue: Venue, client_order_id: str) -> list:
    return [r for r in venue.exchange.order_history(venue.symbol) if r.cl_ord_id == client_order_id]


def assert_one_filled_buy(venue: Venue, client_order_id: str, order) -> None:
    assert order.client_order_id == client_order_id and order.state is OrderState.FILLED
    assert len(orders_with(venue, client_order_id)) == 1
    [position] = venue.exchange.positions(venue.symbol)
    assert position.size == Decimal(1)


@pytest.mark.parametrize("applied", [True, False], ids=["applied", "not-applied"])
def test_a_timed_out_placement_leaves_exactly_one_order(venue, applied):
    venue.config.set("API_REQUEST_TIMEOUT", 1)
    venue.faults.timeout(ORDER, seconds=3, apply=applied, method="POST")
    order = venue.exchange.place_order(OrderRequest(venue.symbol, "buy", "1", "ftTimeout1"))
    assert_one_filled_buy(venue, "ftTimeout1", order)


@pytest.mark.parametrize("applied", [True, False], ids=["applied", "not-applied"])
def test_okx_endpoint_timeout_50004_leaves_exactly_one_order(venue, applied):
    venue.faults.timeout(ORDER, seconds=0, apply=applied, method="POST")
    order = venue.exchange.place_order(OrderRequest(venue.symbol, "buy", "1", "ft50004"))
    assert_one_filled_buy(venue, "ft50004", order)


@pytest.mark.parametrize("applied", [True, False], ids=["applied", "not-applied"])
def test_a_5xx_after_placement_leaves_exactly_one_order(venue, applied):
    venue.faults.server_error(ORDER, status=503, apply=applied, times=2, method="POST")
    order = venue.exchange.place_order(OrderRequest(venue.symbol, "buy", "1", "ft5xx1"))
    assert_one_filled_buy(venue, "ft5xx1", order)


def test_a_failing_lookup_after_a_lost_answer_is_outcome_unknown_never_a_resend(venue):
    venue.faults.timeout(ORDER, seconds=0, apply=True, method="POST")
    venue.faults.server_error(ORDER, status=503, times=None, method="GET")
    with pytest.raises(OutcomeUnknown) as caught:
        venue.exchange.place_order(OrderRequest(venue.symbol, "buy", "1", "ftUnknown1"))
    assert "ftUnknown1" in str(caught.value)
    venue.faults.clear()
    assert len(orders_with(venue, "ftUnknown1")) == 1


def test_a_cancel_whose_answer_was_lost_reports_the_canceled_order(venue):
    [instrument] = [i for i in venue.exchange.instruments() if i.inst_id == venue.symbol]
    close = venue.exchange.candles(venue.symbol, Timeframe.M15, limit=1)[-1].close
    low = instrument.round_price(Decimal(repr(close)) * Decimal("0.8"))
    order = venue.exchange.place_order(
        OrderRequest(venue.symbol, "buy", "1", "ftCancel1", order_type="limit", price=low)
    )
    venue.faults.server_error("/api/v5/trade/cancel-order", status=503, apply=True)
    canceled = venue.exchange.cancel_order(venue.symbol, order_id=order.order_id)
    assert canceled.order_id == order.order_id and canceled.state is OrderState.CANCELED
    assert venue.exchange.open_orders() == []


def test_a_rate_limited_placement_that_was_applied_is_found_not_repeated(venue):
    venue.faults.rate_limit(ORDER, times=2, apply=True, method="POST")
    order = venue.exchange.place_order(OrderRequest(venue.symbol, "buy", "1", "ft50011"))
    assert_one_filled_buy(venue, "ft50011", order)


def test_a_burst_of_rate_limits_is_waited_out(venue):
    venue.faults.rate_limit(BALANCE, times=3)
    assert venue.exchange.balance().cash_balance == venue.starting_cash


def test_more_rate_limits_than_retries_raise_rate_limited(venue):
    venue.config.set("API_MAX_RETRIES", 1)
    venue.faults.rate_limit(BALANCE, times=2)
    with pytest.raises(RateLimited) as caught:
        venue.exchange.balance()
    assert "50011" in str(caught.value)


def test_orders_are_not_placed_when_every_attempt_is_refused(venue):
    venue.config.set("API_MAX_RETRIES", 1)
    venue.faults.rate_limit(ORDER, times=2, apply=False, method="POST")
    with pytest.raises(RateLimited):
        venue.exchange.place_order(OrderRequest(venue.symbol, "buy", "1", "ftRefused"))
    assert orders_with(venue, "ftRefused") == [] and venue.exchange.positions() == []


def test_server_errors_on_queries_are_retried(venue):
    venue.faults.server_error(BALANCE, status=503, times=2)
    venue.faults.server_error(BALANCE, status=502, json_body=False, times=1)
    assert venue.exchange.balance().currency == "USDT"


def test_server_errors_beyond_the_retries_raise_unavailable(venue):
    venue.config.set("API_MAX_RETRIES", 0)
    venue.faults.server_error(BALANCE, status=500)
    with pytest.raises(ExchangeUnavailable):
        venue.exchange.balance()


def test_clock_skew_is_corrected_from_public_time(venue):
    venue.exchange.balance()  # the adapter has measured the clock: no skew
    venue.faults.skew_clock(45)
    assert venue.exchange.balance().currency == "USDT"
    order = venue.exchange.place_order(OrderRequest(venue.symbol, "buy", "1", "ftSkew1"))
    assert_one_filled_buy(venue, "ftSkew1", order)


def test_a_lost_stop_placement_is_found_by_its_algo_client_id(venue):
    venue.exchange.place_order(OrderRequest(venue.symbol, "buy", "1", "ftEntry1"))
    close = venue.exchange.candles(venue.symbol, Timeframe.M15, limit=1)[-1].close
    stop = Decimal(int(close * 0.9))
    venue.faults.server_error(ALGO, status=503, apply=True, method="POST")
    algo = venue.exchange.place_algo(
        AlgoRequest(
            venue.symbol,
            "sell",
            "conditional",
            close_fraction="1",
            sl_trigger_price=stop,
            algo_client_order_id="ftStop1",
        )
    )
    assert algo.algo_client_order_id == "ftStop1" and algo.sl_trigger_price == stop
    assert [a.algo_id for a in venue.exchange.open_algos(venue.symbol)] == [algo.algo_id]
