"""The notebook reader: ``qwentrade.open(url)`` gives polars frames with no service running."""

from __future__ import annotations

import contextlib
import io
import re
import sys
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "contract"))
from storage_samples import BTC, ETH, T0, klines, order, position, signal

import qwentrade
from qwentrade import reader
from qwentrade.adapters.sql import SchemaVersionError, SqlRepositories, make_engine, upgrade
from qwentrade.domain.errors import InvalidInput
from qwentrade.domain.market import EtfFlow, FundingRate, Timeframe
from qwentrade.domain.series import kline_columns

M15 = timedelta(minutes=15)


def fill(repos: SqlRepositories) -> None:
    repos.klines.upsert(Timeframe.M15, klines(BTC, count=96))
    repos.klines.upsert(Timeframe.M15, klines(ETH, count=4))
    repos.signals.add(signal(BTC, T0 + 10 * M15))
    repos.signals.add(signal(ETH, T0, "SHORT"))
    repos.history.upsert_orders([order("1", BTC, T0), order("2", ETH, T0 + M15, status="live")])
    repos.history.upsert_positions([position("p1", BTC, T0 + 3 * M15)])
    repos.market.upsert(
        [FundingRate(BTC, T0 + i * timedelta(hours=8), Decimal("0.0001")) for i in range(3)]
        + [EtfFlow("BTC", date(2024, 1, 1), 1e8), EtfFlow("BTC", date(2024, 1, 2), -2e7)]
    )


@pytest.fixture
def db(sql):
    fill(SqlRepositories.from_engine(sql))
    with reader.Reader(sql) as opened:
        yield opened


def test_klines_come_back_with_every_indicator_column(db):
    frame = db.klines(BTC, "15m", start="2024-01-01T01:00", end=T0 + 8 * M15)
    assert frame.columns == list(kline_columns(Timeframe.M15))
    assert frame["time"].to_list() == [T0 + i * M15 for i in range(4, 8)]
    assert frame.schema["time"] == pl.Datetime("us", "UTC")
    assert db.klines(BTC, Timeframe.M15, limit=5).height == 5
    assert db.klines(BTC, "4H").is_empty()


def test_signals_orders_and_positions(db):
    signals = db.signals(BTC)
    assert signals["signal_type"].to_list() == ["LONG"]
    assert signals["details"].str.json_decode()[0]["trigger"] == ["ema_cross"]
    assert db.signals(status="ACTIVE").height == 2
    orders = db.orders()
    assert orders["order_id"].to_list() == ["1", "2"]
    assert orders["avg_price"][0] == Decimal("42123.45678901")
    assert db.orders(status="live")["order_id"].to_list() == ["2"]
    assert db.orders(start=date(2024, 1, 1), end=T0 + M15)["order_id"].to_list() == ["1"]
    assert {"cl_ord_id", "amount", "filled_amount", "status", "created_at"} <= set(orders.columns)
    assert orders["created_at"].to_list() == [T0, T0 + M15]
    positions = db.positions(BTC)
    assert positions["realized_pnl"].to_list() == [Decimal("12.34")]
    assert positions.schema["u_time"] == pl.Datetime("us", "UTC")
    assert positions["updated_at"].to_list() == positions["u_time"].to_list()
    assert positions["pos_size"].to_list() == [Decimal("0")]
    assert positions["avg_price"].to_list() == [Decimal("42000.1")]


def test_market_tables(db):
    funding = db.market("funding_rate", BTC, start=T0 + timedelta(hours=8))
    assert funding["time"].to_list() == [T0 + timedelta(hours=8), T0 + timedelta(hours=16)]
    flows = db.market("etf_flow", "BTC", start=datetime(2024, 1, 1, 6, tzinfo=UTC))
    assert flows["date"].to_list() == [date(2024, 1, 2)]
    empty = db.market("fear_greed")
    assert empty.is_empty() and empty.schema["time"] == pl.Datetime("us", "UTC")
    assert "order_book" in db.tables()
    with pytest.raises(InvalidInput) as info:
        db.market("klines_15m")
    assert info.value.field == "table"
    with pytest.raises(InvalidInput) as info:
        db.orders(start=datetime(2024, 1, 1))
    assert info.value.field == "start"


def readme_example() -> str:
    match = re.search(r"```python\n(.*?)```", reader.__doc__ or "", re.S)
    assert match, "reader.py's docstring holds the README example"
    return match.group(1)


def test_the_readme_example_runs(tmp_path, monkeypatch):
    path = tmp_path / "qwentrade.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    fill(SqlRepositories.from_engine(engine))
    engine.dispose()
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(qwentrade, "open", reader.open, raising=False)  # until __init__ has it
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(readme_example(), "README example", "exec"), {})
    printed = out.getvalue()
    assert "rsi_7" in printed and "macd_line" in printed
    assert "funding_rate" in printed


def test_the_package_exports_open():
    assert getattr(qwentrade, "open", None) is reader.open, (
        "add `from qwentrade.reader import open` to src/qwentrade/__init__.py"
    )


def test_open_refuses_a_missing_file_and_an_empty_database(tmp_path):
    with pytest.raises(FileNotFoundError):
        reader.open(f"sqlite:///{tmp_path / 'missing.db'}")
    assert not (tmp_path / "missing.db").exists()
    empty = tmp_path / "empty.db"
    make_engine(f"sqlite:///{empty}").connect().close()
    with pytest.raises(SchemaVersionError, match="no qwentrade schema"):
        reader.open(f"sqlite:///{empty}")
