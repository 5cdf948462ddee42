"""HistoryRepository contract: orders and positions, filters and exact statistics."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from decimal import Decimal

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from storage_samples import BTC, ETH, T0, order, position

from qwentrade.domain.errors import InvalidInput
from qwentrade.domain.stats import OrderStats, PositionStats

H = timedelta(hours=1)


def test_orders_round_trip_with_exact_decimals(repos):
    original = attrs.evolve(order(), price=Decimal("42000.10"), amount=Decimal("0.001"))
    assert repos.history.upsert_orders([original]) == 1
    back = repos.history.order("1001")
    assert back == original
    for name in ("price", "amount", "fee", "avg_price"):  # same digits, not just the same value
        assert str(getattr(back, name)) == str(getattr(original, name))
    assert repos.history.order("nope") is None


def test_upserting_orders_twice_is_idempotent_and_updates_win(repos):
    live = order(status="live")
    repos.history.upsert_orders([live, order("1002", at=T0 + H)])
    repos.history.upsert_orders([live, order("1002", at=T0 + H)])
    assert len(repos.history.orders(limit=None)) == 2
    filled = attrs.evolve(live, status="filled", updated_at=T0 + 2 * H)
    repos.history.upsert_orders([filled])
    assert repos.history.order("1001") == filled
    assert repos.history.latest_order_update() == T0 + 2 * H
    assert repos.history.latest_order_update(ETH) is None


def test_order_queries_filter_and_page_newest_first(repos):
    orders = [order(str(1000 + i), BTC if i % 2 else ETH, T0 + i * H) for i in range(8)]
    orders[3] = attrs.evolve(orders[3], status="canceled")
    repos.history.upsert_orders(orders)
    assert [o.order_id for o in repos.history.orders(BTC)] == ["1007", "1005", "1003", "1001"]
    assert [o.order_id for o in repos.history.orders(status="canceled")] == ["1003"]
    window = repos.history.orders(start=T0 + 2 * H, end=T0 + 5 * H)
    assert [o.order_id for o in window] == ["1004", "1003", "1002"]
    page = repos.history.orders(limit=3, offset=2)
    assert [o.order_id for o in page] == ["1005", "1004", "1003"]


def test_order_by_client_id(repos):
    repos.history.upsert_orders([order("1", cl_ord_id="qtA"), order("2", at=T0 + H)])
    assert repos.history.order_by_client_id("qtA").order_id == "1"
    assert repos.history.order_by_client_id("missing") is None


def test_positions_are_keyed_by_pos_id_and_update_time(repos):
    first = position("p1", at=T0)
    later = position("p1", at=T0 + H, realized="20")
    repos.history.upsert_positions([first, later, later])
    assert repos.history.positions() == [later, first]
    assert repos.history.positions(BTC, start=T0 + H) == [later]
    assert repos.history.positions(ETH) == []
    assert repos.history.latest_position_update() == T0 + H


def test_order_stats_per_symbol_are_exact(repos):
    repos.history.upsert_orders(
        [
            order("1", BTC, fee="-0.1", pnl="0.2"),
            order("2", BTC, T0 + H, fee="-0.2", pnl="0.1"),
            order("3", BTC, T0 + 2 * H, status="canceled", fee="0", pnl="0"),
            order("4", ETH, fee="-1E-10", pnl="-3.33333333333333333333"),
        ]
    )
    assert repos.history.order_stats() == [
        OrderStats(BTC, 3, 2, Decimal("-0.3"), Decimal("0.3")),
        OrderStats(ETH, 1, 1, Decimal("-1E-10"), Decimal("-3.33333333333333333333")),
    ]
    assert repos.history.order_stats(start=T0 + H) == [
        OrderStats(BTC, 2, 1, Decimal("-0.2"), Decimal("0.1"))
    ]


def test_position_stats_count_wins_and_losses(repos):
    repos.history.upsert_positions(
        [
            position("a", BTC, T0, "10.5"),
            position("b", BTC, T0 + H, "-4.25"),
            position("c", BTC, T0 + 2 * H, "0"),
            position("d", ETH, T0, "1"),
        ]
    )
    btc, eth = repos.history.position_stats()
    assert btc == PositionStats(
        BTC, 3, 1, 1, Decimal("45.00"), Decimal("6.25"), Decimal("-7.98"), Decimal("0.000003")
    )
    assert btc.win_rate == pytest.approx(1 / 3)
    assert eth.positions == 1 and eth.wins == 1


def test_naive_times_and_wrong_types_are_refused(repos):
    with pytest.raises(InvalidInput) as info:
        repos.history.orders(end=datetime(2024, 1, 1))
    assert info.value.field == "end"
    with pytest.raises(InvalidInput):
        repos.history.upsert_orders([position()])
    assert repos.history.orders() == []


def test_two_threads_writing_at_once_lose_nothing(repos):
    errors: list[BaseException] = []

    def write(prefix: str) -> None:
        try:
            for i in range(30):
                repos.history.upsert_orders([order(f"{prefix}{i}", at=T0 + i * H)])
                repos.history.upsert_positions([position(f"{prefix}{i}", at=T0 + i * H)])
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=write, args=(p,)) for p in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors
    assert len(repos.history.orders(limit=None)) == 60
    assert len(repos.history.positions(limit=None)) == 60


decimals = st.decimals(
    min_value=Decimal("-1e12"), max_value=Decimal("1e12"), places=12, allow_nan=False
)


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(fees=st.lists(decimals, min_size=1, max_size=8), data=st.data())
def test_any_decimals_round_trip_exactly(repos, fees, data):
    prefix = data.draw(st.uuids()).hex[:12]
    orders = [
        attrs.evolve(order(f"{prefix}{i}"), fee=fee, avg_price=abs(fee) or None)
        for i, fee in enumerate(fees)
    ]
    split = data.draw(st.integers(0, len(orders)))
    repos.history.upsert_orders(orders[split:])
    repos.history.upsert_orders(orders[:split])
    for original in orders:
        back = repos.history.order(original.order_id)
        assert back == original
        assert str(back.fee) == str(original.fee)
