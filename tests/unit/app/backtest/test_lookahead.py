"""No look-ahead: cutting the history at any candle changes nothing before the cut. Every
trade closed by the cut (and every equity point up to it) is the same with or without the
candles after it, for both engines; a trade still open there differs only by its forced
end, which happens at the cut's last close."""

from __future__ import annotations

import pytest
from backtest_helpers import ETH, ETH_FILE, assert_same_trades, real_market
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qwentrade.app.backtest import data, run
from qwentrade.app.backtest.params import BacktestParams

FULL = data.read_file(ETH_FILE)
PARAMS = BacktestParams()


@pytest.fixture(scope="module")
def eth_market():
    return real_market()


def _closed_before(result, cut_ms: int):
    import polars as pl

    return result.trades.filter(pl.col("exit_time").dt.epoch("ms") < cut_ms)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cut=st.integers(min_value=400, max_value=FULL.height - 1))
def test_the_future_never_changes_the_past(eth_market, cut):
    whole = run(eth_market, PARAMS, engine="fast")
    part_market = data.market(FULL.head(cut), ETH)
    part = run(part_market, PARAMS, engine="fast")
    cut_ms = int(FULL["ts_ms"][cut - 1]) + data.MS_15M
    assert_same_trades(_closed_before(part, cut_ms), _closed_before(whole, cut_ms))
    n = part.equity.height - 1  # the last point may include the forced close
    assert part.equity["equity"].head(n).to_list() == whole.equity["equity"].head(n).to_list()


def test_the_replay_cut_short_agrees_with_the_whole_replay(eth_market):
    cut = 900
    whole = run(data.market(FULL.head(1400), ETH), PARAMS, engine="replay")
    part = run(data.market(FULL.head(cut), ETH), PARAMS, engine="replay")
    cut_ms = int(FULL["ts_ms"][cut - 1]) + data.MS_15M
    closed = _closed_before(part, cut_ms)
    assert closed.height > 10
    assert_same_trades(closed, _closed_before(whole, cut_ms))
