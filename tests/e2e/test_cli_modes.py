"""paper and live mode from the command line, against a fake OKX server started here.

(``serve`` in sim mode with no configuration: tests/e2e/test_serve.py.)
"""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from qwentrade.app.container import build
from qwentrade.app.settings import Settings
from qwentrade.domain.market import Timeframe, TimeRange
from qwentrade.testing.fake_okx import FakeOkx

BTC = "BTC-USDT-SWAP"


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeOkx]:
    with FakeOkx(history_days=2, seed=9) as okx:
        yield okx


@pytest.fixture
def cli(tmp_path):
    def run(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "qwentrade.app.cli", *args],
            cwd=tmp_path,
            env={"PATH": "/usr/bin:/bin", "QWENTRADE_LOG_FILE": "", **env},
            capture_output=True,
            text=True,
            timeout=120,
        )

    return run


def test_paper_backfill_stores_the_candles_okx_serves(cli, tmp_path, fake):
    result = cli(
        "backfill",
        "-q",
        "--days",
        "1",
        "--timeframe",
        "15m",
        QWENTRADE_MODE="paper",
        QWENTRADE_SYMBOLS=BTC,
        QWENTRADE_OKX_REST_URL=fake.rest_url,
    )
    assert result.returncode == 0, result.stderr
    database = f"sqlite:///{tmp_path / 'qwentrade.db'}"
    stored = build(Settings(database_url=database)).repositories().klines.range(BTC, Timeframe.M15)
    assert stored.height >= 95  # a day of closed 15m candles
    first, last = stored["time"][0], stored["time"][-1]
    span = TimeRange(first, last + timedelta(minutes=15))
    served = fake.engine.candles(BTC, Timeframe.M15, span, limit=300)
    assert all(c.confirmed for c in served)
    assert [c.time for c in served] == stored["time"].to_list()
    for column in ("open", "high", "low", "close"):
        assert stored[column].to_list() == [getattr(c, column) for c in served]
    assert last + timedelta(minutes=15) <= datetime.now(UTC)  # closed candles only


def test_live_without_keys_stops_with_one_line_naming_the_key(cli):
    result = cli("backfill", "-q", QWENTRADE_MODE="live")
    assert result.returncode == 1
    [line] = result.stderr.splitlines()
    assert "QWENTRADE_OKX_API_KEY" in line and "Traceback" not in result.stderr
    shown = cli("settings", QWENTRADE_MODE="live")  # still shows what is (not) set
    assert shown.returncode == 0 and "not set" in shown.stdout


def test_live_serve_without_keys_stops_at_start(cli):
    result = cli("serve", "--port", "0", QWENTRADE_MODE="live")
    assert result.returncode == 1
    assert "QWENTRADE_OKX_API_KEY" in result.stderr and "Traceback" not in result.stderr


def test_paper_serve_starts_against_okx(service, fake):
    svc = service(QWENTRADE_MODE="paper", QWENTRADE_OKX_REST_URL=fake.rest_url)
    body = httpx.get(svc.url + "/health", timeout=5).json()
    assert body["status"] == "ok" and body["mode"] == "paper"
    svc.process.send_signal(signal.SIGTERM)
    assert svc.process.wait(timeout=10) == 0
