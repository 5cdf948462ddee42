"""``qwentrade serve`` as a subprocess: the API key's first start, a trade over HTTP, a
clean stop, and kill -9 then restart against a fake OKX server and PostgreSQL."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import uuid
from decimal import Decimal

import httpx
import pytest
import sqlalchemy as sa

from conftest import Service, wait_for
from qwentrade.adapters.sql import SqlRepositories, make_engine, upgrade
from qwentrade.testing.fake_okx import FakeOkx

BTC = "BTC-USDT-SWAP"
KEY_LINE = re.compile(r"^    (\S{40,})$", re.M)


def read_until(process: subprocess.Popen[str], pattern: str, timeout: float = 30) -> str:
    """Lines of ``process``'s output up to the first one containing ``pattern``."""
    lines = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line)
        if pattern in line:
            return "".join(lines)
    raise AssertionError(f"{pattern!r} not in the output:\n{''.join(lines)}")


def stop(svc: Service) -> tuple[int, float, str]:
    started = time.monotonic()
    svc.process.send_signal(signal.SIGTERM)
    code = svc.process.wait(timeout=10)
    return code, time.monotonic() - started, svc.process.stdout.read()


def last_price(url: str, key: str) -> Decimal:
    candles = httpx.get(
        f"{url}/klines/{BTC}/15m", params={"limit": 1}, headers={"X-API-Key": key}, timeout=10
    ).json()["candles"]
    return Decimal(str(candles[-1]["close"]))


def open_long(url: str, key: str, price: Decimal) -> str:
    body = {
        "symbol": BTC,
        "side": "LONG",
        "amount": "100",
        "leverage": 5,
        "stop_loss_trigger": str((price * Decimal("0.9")).quantize(Decimal("0.1"))),
        "take_profit_trigger": str((price * Decimal("1.1")).quantize(Decimal("0.1"))),
        "key": "e2e-open-1",
    }
    response = httpx.post(
        f"{url}/trading/open-position", json=body, headers={"X-API-Key": key}, timeout=30
    )
    assert response.status_code == 200, response.text
    return response.json()["cl_ord_id"]


def candles_stored(url: str, key: str) -> bool:
    response = httpx.get(f"{url}/klines/{BTC}/15m", headers={"X-API-Key": key}, timeout=5)
    return response.json()["count"] > 0


def without_policy(url: str) -> None:
    """The signal policy trades by itself in sim mode: off, so the test's trade is alone."""
    engine = make_engine(url)
    upgrade(engine)
    SqlRepositories.from_engine(engine).config.set("POLICY_ENABLED", "false")
    engine.dispose()


def test_first_start_prints_a_key_once_and_a_trade_is_opened_and_closed(tmp_path):
    without_policy(f"sqlite:///{tmp_path / 'qwentrade.db'}")
    svc = Service(tmp_path, {"QWENTRADE_SYMBOLS": BTC}).start()
    try:
        printed = read_until(svc.process, "Lost it?")
        key = KEY_LINE.search(printed).group(1)
        headers = {"X-API-Key": key}
        assert httpx.get(svc.url + "/config", timeout=5).status_code == 401
        assert httpx.get(svc.url + "/config", headers=headers, timeout=5).status_code == 200

        wait_for(lambda: candles_stored(svc.url, key), 60, "the sync engine's first candles")
        cl_ord_id = open_long(svc.url, key, last_price(svc.url, key))
        held = httpx.get(svc.url + "/trading/current-position", headers=headers).json()
        assert [p["cl_ord_id"] for p in held] == [cl_ord_id]
        closed = httpx.post(
            svc.url + "/trading/close-position", json={"symbol": BTC}, headers=headers
        )
        assert closed.status_code == 200, closed.text
        assert httpx.get(svc.url + "/trading/current-position", headers=headers).json() == []

        code, took, output = stop(svc)
        assert code == 0 and took < 5, output
        assert "Traceback" not in output and "qwentrade stopped" in output
        assert key not in (tmp_path / "qwentrade.log").read_text()

        again = Service(tmp_path, {"QWENTRADE_SYMBOLS": BTC}).start()
        status = httpx.get(f"{again.url}/trading/order-status/{cl_ord_id}", headers=headers)
        assert status.status_code == 200 and status.json()["relation"]["status"] == "CLOSED"
        code, _, output = stop(again)
        assert code == 0 and key not in output  # shown once only
    finally:
        svc.stop()


def test_listening_beyond_loopback_needs_a_configured_key(tmp_path):
    clean = {k: v for k, v in os.environ.items() if not k.startswith("QWENTRADE_")}
    result = subprocess.run(
        [sys.executable, "-m", "qwentrade.app.cli", "serve", "--host", "0.0.0.0", "--port", "0"],
        cwd=tmp_path,
        env=clean,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2, result.stderr
    assert "QWENTRADE_API_KEY" in result.stderr and "Traceback" not in result.stderr


@pytest.fixture
def live_database(postgres_url):
    name = f"qt_e2e_{uuid.uuid4().hex[:10]}"
    admin = make_engine(postgres_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    url = admin.url.set(database=name).render_as_string(hide_password=False)
    engine = make_engine(url)
    upgrade(engine)
    config = SqlRepositories.from_engine(engine).config
    settings = {
        "API_RATE_LIMIT": 1000,
        "API_MIN_INTERVAL": 0,
        "TRADING_LEASE_SECONDS": 5,
        "POLICY_ENABLED": "false",
    }
    for key, value in settings.items():
        config.set(key, value)
    engine.dispose()
    yield url
    with admin.connect() as connection:
        connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.dispose()


@pytest.mark.postgres
def test_kill_9_then_restart_keeps_the_trade_and_reconciles(tmp_path, live_database):
    fake = FakeOkx(
        api_key="e2e-key",
        secret="e2e-secret",
        passphrase="e2e-pass",
        rate_limits=False,
        history_days=1,
        balance=100_000,
        seed=5,
    ).start()
    key = "e2e-http-key-1234567890"
    env = {
        "QWENTRADE_MODE": "live",
        "QWENTRADE_DATABASE_URL": live_database,
        "QWENTRADE_SYMBOLS": BTC,
        "QWENTRADE_API_KEY": key,
        "QWENTRADE_OKX_API_KEY": "e2e-key",
        "QWENTRADE_OKX_SECRET": "e2e-secret",
        "QWENTRADE_OKX_PASSPHRASE": "e2e-pass",
        "QWENTRADE_OKX_REST_URL": fake.rest_url,
        "QWENTRADE_OKX_WS_URL": fake.ws_url,
    }
    headers = {"X-API-Key": key}
    first = Service(tmp_path, env)
    try:
        first.start()
        wait_for(lambda: candles_stored(first.url, key), 60, "candles from the fake OKX")
        cl_ord_id = open_long(first.url, key, last_price(first.url, key))
        first.process.kill()  # SIGKILL: no clean stop
        first.process.wait(10)

        second = Service(tmp_path, env).start()
        held = httpx.get(f"{second.url}/trading/current-position", headers=headers).json()
        assert [p["cl_ord_id"] for p in held] == [cl_ord_id]
        assert held[0]["plans"], "the stop-loss is still on the exchange"
        wait_for(
            lambda: (
                httpx.get(f"{second.url}/health").json()["checks"]["private_stream"]["state"]
                == "ok"
            ),
            30,
            "the private stream after the restart",
        )
        metrics = httpx.get(f"{second.url}/metrics", headers=headers).text
        assert re.search(r'^qwentrade_gate_admitted_total\{priority="QUERY"\} [1-9]', metrics, re.M)
        assert re.search(r"^qwentrade_stream_connected 1", metrics, re.M), metrics
        assert re.search(rf'^qwentrade_open_positions\{{symbol="{BTC}"\}} 1', metrics, re.M)
        # the same key after the crash finds the first order, never a second one
        assert open_long(second.url, key, last_price(second.url, key)) == cl_ord_id
        # The killed instance's trading lease runs out (5 s) before this one may trade.
        answers: list[httpx.Response] = []

        def close() -> bool:
            answers.append(
                httpx.post(
                    f"{second.url}/trading/close-position",
                    json={"symbol": BTC},
                    headers=headers,
                    timeout=30,
                )
            )
            return answers[-1].json().get("error") != "SymbolLeased"

        wait_for(close, 20, "the killed instance's lease to run out")
        assert answers[-1].status_code == 200, answers[-1].text
        code, took, output = stop(second)
        assert code == 0 and took < 5, output
        engine = make_engine(live_database)
        with engine.connect() as connection:
            statement = sa.text("SELECT status FROM trading_relations WHERE client_order_id = :c")
            relations = connection.execute(statement, {"c": cl_ord_id}).scalars().all()
        engine.dispose()
        assert relations == ["CLOSED"]
    finally:
        first.stop()
        fake.stop()


def test_sim_clock_runs_faster_and_resumes_where_the_stored_candles_end(tmp_path):
    from datetime import UTC, datetime, timedelta

    from qwentrade.app.container import build, prepare_database
    from qwentrade.app.settings import Settings
    from qwentrade.domain.market import Timeframe
    from qwentrade.testing.builders import synthetic_candles

    url = f"sqlite:///{tmp_path / 'q.db'}"
    container = build(Settings(database_url=url, sim_speed=120.0, log_file=None))
    prepare_database(container)
    ahead = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(days=2)
    frame = synthetic_candles(4, start=ahead - timedelta(hours=1))
    container.repositories().klines.upsert(Timeframe.M15, frame, symbol=BTC)
    clock = container.clock()
    assert clock.speed == 120.0
    assert clock.now() >= ahead  # an earlier accelerated run's time, not the wall clock's
    real = build(Settings(database_url=url, log_file=None)).clock()
    assert abs((real.now() - datetime.now(UTC)).total_seconds()) < 60


class Component:
    def __init__(self, name: str, journal: list[str], fail_start: bool = False) -> None:
        self.name, self.journal, self.fail_start = name, journal, fail_start

    def start(self) -> None:
        if self.fail_start:
            raise RuntimeError(f"{self.name} cannot start")
        self.journal.append(f"start {self.name}")

    def stop(self, timeout: float) -> None:
        assert 0 < timeout <= 5
        self.journal.append(f"stop {self.name}")


def test_components_start_in_order_and_stop_in_reverse():
    from qwentrade.app.runtime import start_components, stop_components

    journal: list[str] = []
    started = start_components([(n, Component(n, journal)) for n in ("sync", "stream", "policy")])
    stop_components(started, time.monotonic() + 5)
    assert journal == [
        "start sync", "start stream", "start policy", "stop policy", "stop stream", "stop sync",
    ]  # fmt: skip


def test_a_component_failing_to_start_stops_those_already_started():
    from qwentrade.app.runtime import start_components

    journal: list[str] = []
    parts = [("sync", Component("sync", journal)), ("bad", Component("bad", journal, True))]
    with pytest.raises(RuntimeError, match="bad cannot start"):
        start_components(parts)
    assert journal == ["start sync", "stop sync"]


def test_a_generated_key_is_stored_only_as_its_digest(tmp_path):
    from qwentrade.app.container import build, prepare_database
    from qwentrade.app.runtime import ensure_api_key
    from qwentrade.app.services import api_key_digest
    from qwentrade.app.settings import Secret, Settings

    url = f"sqlite:///{tmp_path / 'q.db'}"
    container = build(Settings(database_url=url, log_file=None))
    prepare_database(container)
    key = ensure_api_key(container)
    assert key and len(key) >= 40
    stored = container.repositories().status.get("http_api_key").note
    assert stored == api_key_digest(key) and key not in stored
    assert ensure_api_key(container) is None  # kept: not shown again
    renewed = ensure_api_key(container, renew=True)
    assert renewed != key and container.api_key_digest() == api_key_digest(renewed)
    chosen = build(Settings(database_url=url, log_file=None, api_key=Secret("mine")))
    assert ensure_api_key(chosen) is None
    assert chosen.api_key_digest() == api_key_digest("mine")
