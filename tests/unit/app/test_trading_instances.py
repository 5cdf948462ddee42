"""Several service instances on one database (SQLite file or PostgreSQL): each symbol is
traded by one instance at a time (its lease); a second instance says so at start and
refuses to trade that symbol, and takes it over only once the lease expired."""

from __future__ import annotations

import logging
import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from test_trading_helpers import BTC, ETH, make_desk

from qwentrade.adapters.sql import SqlRepositories
from qwentrade.adapters.sql.repositories.trading import SqlLeaseRepository
from qwentrade.app.locks import TradingLeases
from qwentrade.app.trading import TradingService
from qwentrade.domain.errors import SymbolLeased


@pytest.fixture
def two(sql):
    """Instance A's desk, and instance B: another service on the same venue and database,
    each with its own leases (owners ``A`` and ``B``)."""
    repos = SqlRepositories.from_engine(sql)
    desk = make_desk(repos)

    def leases(owner: str) -> TradingLeases:
        return TradingLeases(
            SqlLeaseRepository(sql), desk.clock, repos.config, owner=owner, symbols=(BTC, ETH)
        )

    a, b = leases("A"), leases("B")
    desk.service.leases = a
    other = TradingService(desk.exchange, repos, repos.config, desk.clock, leases=b)
    yield desk, a, other, b
    a.stop(release=False)
    b.stop(release=False)


def test_the_second_instance_says_so_at_start_and_refuses_those_symbols(two, caplog):
    desk, a, other, b = two
    assert a.start() == {}
    with caplog.at_level(logging.WARNING, logger="qwentrade.app.locks"):
        refused = b.start()
    assert set(refused) == {BTC, ETH} and {r.owner for r in refused.values()} == {"A"}
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 2 and all("another instance trades" in w for w in warnings)
    assert all("(A)" in w and "does not trade it" in w for w in warnings)
    before = (desk.repos.intents.find(), desk.repos.relations.find())
    with pytest.raises(SymbolLeased) as info:
        other.open_position(BTC, "LONG", 100)
    assert info.value.owner == "A" and info.value.symbol == BTC
    assert (desk.repos.intents.find(), desk.repos.relations.find()) == before
    assert desk.exchange.order_history(limit=100) == []
    desk.service.open_position(BTC, "LONG", 100)  # A trades it
    with pytest.raises(SymbolLeased):
        other.close_position(BTC)
    assert len(desk.exchange.positions(BTC)) == 1


def test_a_stopped_instance_hands_over_at_once_a_crashed_one_after_expiry(two):
    desk, a, other, b = two
    a.start()
    a.stop()  # releases its leases
    b.claim(BTC)
    other.open_position(BTC, "LONG", 100)
    b.stop(release=False)  # as if B died: its lease stays until it expires
    with pytest.raises(SymbolLeased):
        desk.service.close_position(BTC)
    desk.advance(timedelta(seconds=29))
    with pytest.raises(SymbolLeased):
        a.claim(BTC)
    desk.advance(timedelta(seconds=2))  # 31 s > TRADING_LEASE_SECONDS (30)
    desk.service.close_position(BTC)
    assert desk.exchange.positions() == []


def test_the_heartbeat_keeps_an_idle_instance_s_symbols(two):
    desk, a, _, b = two
    desk.repos.config.set("TRADING_LEASE_SECONDS", 30)
    a.start()  # claims and starts renewing every 10 s of clock time
    first = a.repository.get(BTC).expires_at
    for step in range(1, 7):  # 60 s in steps of 10 s
        desk.advance(timedelta(seconds=10))
        for _ in range(500):  # the heartbeat thread renews after each step
            if a.repository.get(ETH).expires_at >= first + timedelta(seconds=10 * step):
                break
            threading.Event().wait(0.01)
        with pytest.raises(SymbolLeased):
            b.claim(BTC)
    assert a.repository.get(BTC).expires_at > first + timedelta(seconds=40)
    assert a.held == {BTC, ETH}


def test_concurrent_opens_through_two_instances_without_leases_give_one_position(sql):
    repos = SqlRepositories.from_engine(sql)
    desk = make_desk(repos)
    services = [desk.service, TradingService(desk.exchange, repos, repos.config, desk.clock)]
    outcomes: list[str] = []
    barrier = threading.Barrier(4)

    def attempt(i: int) -> None:
        barrier.wait()
        try:
            services[i % 2].open_position(BTC, "LONG", Decimal(100))
            outcomes.append("open")
        except Exception as e:
            outcomes.append(type(e).__name__)

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(outcomes) == ["PositionExists"] * 3 + ["open"]
    assert len(desk.exchange.positions(BTC)) == 1
    assert len([o for o in desk.exchange.order_history(limit=100)]) == 1


def test_two_sim_containers_on_one_sqlite_file(tmp_path, caplog):
    """``qwentrade serve`` twice on one database: the trading leases are background
    components; the second container says so at start and refuses to trade."""
    from qwentrade.app.container import build, prepare_database
    from qwentrade.app.settings import Settings

    env = {"QWENTRADE_DATABASE_URL": f"sqlite:///{tmp_path / 'one.db'}", "QWENTRADE_SYMBOLS": BTC}
    first, second = (build(Settings.from_env(env)) for _ in range(2))
    prepare_database(first)
    leases = dict(first.background_components())["trading-leases"]
    assert leases is first.trading().leases and leases.start() == {}
    try:
        cl = first.trading().open_position(BTC, "LONG", 100)
        assert first.repositories().relations.get(cl).status == "OPEN"
        with caplog.at_level(logging.WARNING, logger="qwentrade.app.locks"):
            refused = dict(second.background_components())["trading-leases"].start()
        assert set(refused) == {BTC} and "another instance trades BTC-USDT-SWAP" in caplog.text
        with pytest.raises(SymbolLeased):
            second.trading().close_position(BTC)
        leases.stop()  # the first stops and lets go: the second may trade now
        assert second.trading_leases().claim(BTC).owner == second.trading_leases().owner
    finally:
        second.trading_leases().stop()
        leases.stop()
