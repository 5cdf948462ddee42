"""Sample rows for the repository contract suites."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import numpy as np
import polars as pl

from qwentrade.domain.market import Timeframe
from qwentrade.domain.orders import IntentAction, OrderIntent
from qwentrade.domain.position import Side
from qwentrade.domain.records import (
    IntentRecord,
    OrderRecord,
    PendingOrderRecord,
    PositionRecord,
    RelationRecord,
    SignalRecord,
)
from qwentrade.domain.series import indicator_columns

T0 = datetime(2024, 1, 1, tzinfo=UTC)
BTC = "BTC-USDT-SWAP"
ETH = "ETH-USDT-SWAP"


def klines(
    symbol: str | None = BTC,
    start: datetime = T0,
    count: int = 10,
    timeframe: Timeframe = Timeframe.M15,
    base: float = 100.0,
) -> pl.DataFrame:
    """``count`` consecutive candles with every indicator column (some nulls)."""
    step = timeframe.duration
    close = base + np.arange(count, dtype=float)
    data: dict[str, object] = {
        "time": pl.Series([start + i * step for i in range(count)]).cast(pl.Datetime("us", "UTC")),
        "open": close - 0.5,
        "high": close + 1.0,
        "low": close - 1.0,
        "close": close,
        "volume": np.full(count, 10.0),
    }
    for offset, name in enumerate(indicator_columns(timeframe)):
        data[name] = [None if i < 2 else float(i * 0.5 + offset) for i in range(count)]
    frame = pl.DataFrame(data)
    if symbol is not None:
        frame = frame.with_columns(pl.lit(symbol).alias("symbol"))
    return frame


def order(
    order_id: str = "1001",
    symbol: str = BTC,
    at: datetime = T0,
    status: str = "filled",
    fee: str = "-0.0123456789",
    pnl: str = "0",
    cl_ord_id: str = "",
) -> OrderRecord:
    return OrderRecord(
        order_id=order_id,
        cl_ord_id=cl_ord_id or f"qt{order_id}",
        symbol=symbol,
        side="buy",
        pos_side="long",
        order_type="market",
        status=status,
        amount=Decimal("1.5"),
        filled_amount=Decimal("1.5") if status == "filled" else Decimal("0"),
        price=None,
        avg_price=Decimal("42123.45678901"),
        leverage=5,
        fee=Decimal(fee),
        pnl=Decimal(pnl),
        reduce_only=False,
        created_at=at,
        updated_at=at + timedelta(seconds=1),
    )


def position(
    pos_id: str = "p1",
    symbol: str = BTC,
    at: datetime = T0,
    realized: str = "12.34",
    margin: str | None = None,
) -> PositionRecord:
    return PositionRecord(
        pos_id=pos_id,
        symbol=symbol,
        pos_side="long",
        margin_mode="cross",
        leverage=10,
        avg_price=Decimal("42000.1"),
        close_avg_price=Decimal("42100.25"),
        open_max_size=Decimal("3"),
        close_total_size=Decimal("3"),
        pnl=Decimal("15.00"),
        realized_pnl=Decimal(realized),
        fee=Decimal("-2.66"),
        funding_fee=Decimal("0.000001"),
        close_type=2,
        created_at=at - timedelta(hours=1),
        updated_at=at,
        margin=None if margin is None else Decimal(margin),
    )


def signal(
    symbol: str = BTC, at: datetime = T0, signal_type: str = "LONG", score: float = 18.0
) -> SignalRecord:
    return SignalRecord(
        symbol=symbol,
        time=at,
        signal_type=signal_type,
        score=score,
        price=Decimal("42000.5"),
        created_at=at + timedelta(minutes=15),
        expire_at=at + timedelta(hours=4, minutes=15),
        details={"environment": {"points": 6, "adx": 27.5}, "trigger": ["ema_cross"]},
    )


def pending(
    order_id: str = "pend-1", symbol: str = BTC, at: datetime = T0, status: str = "PENDING"
) -> PendingOrderRecord:
    return PendingOrderRecord(
        id=order_id,
        symbol=symbol,
        side="LONG",
        trigger_price=Decimal("43000.1"),
        crossing="UP",
        amount=Decimal("2"),
        leverage=5,
        created_at=at,
        expire_at=at + timedelta(hours=1),
        updated_at=at,
        stop_loss_trigger=Decimal("41000"),
        take_profit_trigger=None,
        signal_id=7,
        status=status,
    )


def intent(
    key: str = "entry-1", symbol: str = BTC, at: datetime = T0, action=IntentAction.OPEN
) -> IntentRecord:
    trigger = "40000" if action.is_algo else None
    domain = OrderIntent(key, symbol, action, Side.LONG, "1.25", at, trigger_price=trigger)
    return IntentRecord.from_intent(domain, updated_at=at)


def relation(
    client_order_id: str = "qtoentry1", symbol: str = BTC, at: datetime = T0
) -> RelationRecord:
    return RelationRecord(
        client_order_id=client_order_id,
        symbol=symbol,
        side="LONG",
        created_at=at,
        updated_at=at,
        open_order_id="5001",
        stop_loss_algo_id=f"sl-{client_order_id}",
        stop_loss_price=Decimal("41000.5"),
        take_profit_algo_id=f"tp-{client_order_id}",
        take_profit_price=Decimal("45000"),
        signal_id=7,
        pending_order_id="pend-1",
    )
