"""Backtest inputs: CSV and Parquet files give the same backtest, 4h candles are derived
from the 15m ones, funding is stored or flat (and the stats say which), and bad input is
refused naming the field."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import polars as pl
import pytest
from backtest_helpers import ETH, ETH_FILE, real_market

import qwentrade
from qwentrade.app.backtest import data
from qwentrade.domain.errors import InvalidInput


@pytest.fixture(scope="module")
def eth_market():
    return real_market()


def test_csv_and_parquet_give_the_same_backtest(tmp_path):
    parquet = tmp_path / "okx_ETH-USDT-SWAP_15m.parquet"
    pl.read_csv(ETH_FILE).write_parquet(parquet)
    from_csv = qwentrade.backtest(ETH_FILE)
    from_parquet = qwentrade.backtest(parquet)  # the symbol from the file name
    assert from_parquet.trades.equals(from_csv.trades)
    assert from_csv.stats["funding_source"] == "flat"


def test_the_4h_candles_are_derived_from_the_15m_ones(eth_market):
    four = eth_market.candles_4h
    first = eth_market.candles.head(16)
    assert four["ts_ms"][0] == first["ts_ms"][0]
    assert (four["open"][0], four["close"][0]) == (first["open"][0], first["close"][-1])
    assert four["high"][0] == first["high"].max() and four["low"][0] == first["low"].min()
    assert four["volume"][0] == pytest.approx(first["volume"].sum())
    assert "ema_21" in four.columns and "histogram" in four.columns


def test_settlements_use_stored_rates_and_fill_the_rest_flat():
    start = int(datetime(2024, 1, 1, tzinfo=UTC).timestamp() * 1000)
    eight = 8 * 3_600_000
    rates, source = data.settlements(
        start, start + 3 * eight, {start + eight: Decimal("-0.0002")}, Decimal("0.0001")
    )
    assert rates == {
        start + eight: Decimal("-0.0002"),
        start + 2 * eight: Decimal("0.0001"),
        start + 3 * eight: Decimal("0.0001"),
    }
    assert source == "stored+flat"


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda: qwentrade.backtest(ETH_FILE, engine="slow"), "engine"),
        (lambda: qwentrade.backtest(ETH_FILE, params={"POLICY_LEVERAGE": 0}), "POLICY_LEVERAGE"),
        (lambda: qwentrade.backtest(ETH_FILE, params={"taker_fee": -1}), "taker_fee"),
        (lambda: qwentrade.backtest(ETH_FILE, params={"intrabar": "random"}), "intrabar"),
        (lambda: qwentrade.backtest(pl.read_csv(ETH_FILE)), "symbol"),
        (lambda: qwentrade.backtest(pl.read_csv(ETH_FILE).drop("volume"), symbol=ETH), "data"),
        (lambda: data.market(pl.read_csv(ETH_FILE).gather_every(3), ETH), "ts_ms"),
        (lambda: data.market(pl.read_csv(ETH_FILE), "DOGE-USDT-SWAP"), "symbol"),
        (
            lambda: data.market(pl.read_csv(ETH_FILE), ETH, start=datetime(2030, 1, 1, tzinfo=UTC)),
            "start",
        ),
    ],
)
def test_bad_input_is_refused_naming_the_field(call, field):
    with pytest.raises(InvalidInput) as caught:
        call()
    assert caught.value.field == field
