"""Values stored under the original system's column names: what is derived, and how."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import attrs
import pytest

from qwentrade.domain.errors import InvalidInput
from qwentrade.domain.market import (
    FundingRate,
    Liquidation,
    OpenInterest,
    next_funding_time,
    with_24h_change,
)
from qwentrade.domain.pending import PendingOrder
from qwentrade.domain.records import PendingOrderRecord, PositionRecord
from qwentrade.testing import builders

T0 = datetime(2024, 1, 1, tzinfo=UTC)
H = timedelta(hours=1)
BTC = "BTC-USDT-SWAP"


@pytest.mark.parametrize(
    ("time", "expected"),
    [
        (T0, T0 + 8 * H),
        (T0 + 5 * H, T0 + 8 * H),
        (T0 + 8 * H, T0 + 16 * H),
        (T0 + 23 * H, T0 + 24 * H),
    ],
)
def test_the_next_funding_time_is_the_next_settlement_on_the_8_hour_grid(time, expected):
    assert next_funding_time(time) == expected


def test_funding_rate_next_time_must_be_aware():
    with pytest.raises(InvalidInput) as info:
        FundingRate(BTC, T0, Decimal("0.0001"), None, datetime(2024, 1, 1, 8))
    assert info.value.field == "next_funding_time"


def test_open_interest_change_is_against_the_point_24_hours_earlier():
    points = [
        OpenInterest(BTC, T0, 100.0),
        OpenInterest(BTC, T0 + 12 * H, 120.0),
        OpenInterest(BTC, T0 + 24 * H, 110.0),
        OpenInterest("ETH-USDT-SWAP", T0 + 24 * H, 50.0),
        OpenInterest(BTC, T0 + 36 * H, 90.0, change_24h=1.0),  # a stale value is replaced
    ]
    changed = with_24h_change(points)
    assert [(p.change_24h, p.change_percent_24h) for p in changed] == [
        (None, None),
        (None, None),
        (10.0, pytest.approx(10.0)),
        (None, None),  # other symbol: no point 24 h earlier
        (-30.0, pytest.approx(-25.0)),
    ]
    assert [attrs.evolve(p, change_24h=None, change_percent_24h=None) for p in changed] == [
        attrs.evolve(p, change_24h=None) for p in points
    ]


def test_a_change_from_zero_has_no_percentage():
    changed = with_24h_change([OpenInterest(BTC, T0, 0.0), OpenInterest(BTC, T0 + 24 * H, 5.0)])
    assert (changed[1].change_24h, changed[1].change_percent_24h) == (5.0, None)


def test_total_liquidation_is_the_sum():
    assert Liquidation(BTC, T0, 2.5, 1.5).total_liquidation == 4.0
    assert Liquidation(BTC, T0, 2.5, 1.5, 4.0) == Liquidation(BTC, T0, 2.5, 1.5)


def position(close_type: int, opened: str = "3", closed: str = "1.25", **extra) -> PositionRecord:
    return PositionRecord(
        pos_id="p1",
        symbol=BTC,
        pos_side="long",
        margin_mode="cross",
        leverage=10,
        avg_price=Decimal("100"),
        close_avg_price=Decimal("101"),
        open_max_size=Decimal(opened),
        close_total_size=Decimal(closed),
        pnl=Decimal("1"),
        realized_pnl=Decimal("0.9"),
        fee=Decimal("-0.1"),
        funding_fee=Decimal("0"),
        close_type=close_type,
        created_at=T0,
        updated_at=T0 + H,
        **extra,
    )


@pytest.mark.parametrize(
    ("close_type", "size", "unrealized"),
    [(1, "1.75", None), (4, "1.75", None), (2, "0", "0"), (3, "0", "0"), (5, "0", "0")],
)
def test_position_size_left_follows_the_close_type(close_type, size, unrealized):
    record = position(close_type)
    assert record.pos_size == Decimal(size)
    assert record.unrealized_pnl == (None if unrealized is None else Decimal(unrealized))
    assert record.margin is None


def test_position_values_given_are_kept():
    record = position(1, pos_size="2", unrealized_pnl="-1.5", margin="20.01")
    assert (record.pos_size, record.unrealized_pnl, record.margin) == (
        Decimal("2"),
        Decimal("-1.5"),
        Decimal("20.01"),
    )


def test_pending_record_carries_the_signal_and_the_original_names():
    domain = builders.pending(id="p9", signal_id=42)
    record = PendingOrderRecord.from_pending(domain, updated_at=T0)
    assert (record.signal_id, record.status, record.amount, record.expire_at) == (
        42,
        "PENDING",
        domain.amount,
        domain.expire_at,
    )
    assert record.to_pending() == domain
    with pytest.raises(InvalidInput) as info:
        builders.pending(signal_id="7")  # type: ignore[arg-type]
    assert info.value.field == "signal_id"


def test_pending_order_and_its_record_use_the_same_names():
    domain_names = [field.name for field in attrs.fields(PendingOrder)]
    record_names = [field.name for field in attrs.fields(PendingOrderRecord)]
    assert domain_names == [name for name in record_names if name != "updated_at"]
    domain = builders.pending(
        id="p10", signal_id=3, stop_loss_trigger="100", take_profit_trigger="130"
    )
    record = PendingOrderRecord.from_pending(domain, updated_at=T0)
    assert (record.stop_loss_trigger, record.take_profit_trigger) == (
        Decimal("100"),
        Decimal("130"),
    )
    assert (record.side, record.crossing, record.updated_at) == ("LONG", "UP", T0)
    assert record.to_pending() == domain
    done, _ = domain.apply("cancel", T0 + H, reason="by hand")
    stored = PendingOrderRecord.from_pending(done, updated_at=T0 + H)
    assert (stored.status, stored.closed_at, stored.reason) == ("CANCELLED", T0 + H, "by hand")
    assert stored.to_pending() == done
