"""TradingService through the OKX adapter against the fake OKX server (real ccxt, real
HTTP on loopback) with PostgreSQL storage: the whole life of a position."""

from __future__ import annotations

from decimal import Decimal

import pytest

from db_helpers import empty_tables
from okx_helpers import okx_client
from qwentrade.adapters.sim import RealClock
from qwentrade.adapters.sql import SqlRepositories
from qwentrade.app.trading import TradingService
from qwentrade.domain.errors import PositionExists
from qwentrade.testing.fake_okx import FakeOkx

BTC = "BTC-USDT-SWAP"
D = Decimal
pytestmark = pytest.mark.postgres


@pytest.fixture
def okx():
    server = FakeOkx(history_days=3, seed=5, balance=10000).start()
    exchange, _ = okx_client(server)
    yield server, exchange
    server.stop()


@pytest.fixture
def service(okx, postgres_engine):
    empty_tables(postgres_engine)
    repos = SqlRepositories.from_engine(postgres_engine)
    server, exchange = okx
    return TradingService(exchange, repos, repos.config, RealClock()), repos, server, exchange


def test_a_position_s_whole_life_over_the_okx_wire_and_postgresql(service):
    trading, repos, server, exchange = service
    cash = exchange.balance().cash_balance
    last = server.engine.last_price(BTC)
    cl = trading.open_position(
        BTC, "LONG", 100, last * D("0.95"), last * D("1.1"), leverage=5, signal_id=3
    )
    [held] = exchange.positions(BTC)
    relation = repos.relations.get(cl)
    assert relation.status == "OPEN" and relation.open_order_id and relation.pos_id == held.pos_id
    [algo] = exchange.open_algos(BTC)
    assert relation.stop_loss_algo_id == algo.algo_id
    assert repos.intents.by_client_order_id(cl).state == "ACKNOWLEDGED"
    assert repos.history.order_by_client_id(cl).status == "filled"
    with pytest.raises(PositionExists):
        trading.open_position(BTC, "SHORT", 100)
    out = trading.set_stop_loss_take_profit(
        cl,
        [
            {"kind": "stop_loss", "trigger_price": last * D("0.96"), "fraction": 1},
            {"kind": "take_profit", "trigger_price": last * D("1.05"), "fraction": "0.5"},
        ],
    )
    assert sorted(p["kind"] for p in out["plans"]) == ["stop_loss", "take_profit"]
    trading.reduce_position(BTC, 30)
    size = exchange.positions(BTC)[0].contracts
    assert all(a.size == size for a in exchange.open_algos(BTC))
    closing = trading.close_position(BTC, reason="done")
    assert exchange.positions(BTC) == [] and exchange.open_algos(BTC) == []
    closed = repos.relations.get(cl)
    assert closed.status == "CLOSED" and closed.close_reason == "done"
    assert closed.close_order_id == repos.history.order_by_client_id(closing).order_id
    assert closed.pnl == exchange.balance().cash_balance - cash
