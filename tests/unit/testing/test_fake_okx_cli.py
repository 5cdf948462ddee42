"""``python -m qwentrade.testing.fake_okx``: prints its URLs, serves, stops on SIGTERM."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import httpx
import pytest
from fake_okx_helpers import OkxClient, ws_connect, ws_login


def read_urls(process: subprocess.Popen, timeout: float = 20.0) -> dict[str, str]:
    urls: dict[str, str] = {}
    deadline = time.monotonic() + timeout
    while "api_key" not in urls:
        assert time.monotonic() < deadline, "the fake OKX server printed no URLs"
        line = process.stdout.readline()
        assert line, f"the server exited early: {process.stderr.read()}"
        name, _, value = line.strip().partition("=")
        urls[name] = value
    return urls


@pytest.fixture
def cli():
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "qwentrade.testing.fake_okx",
            "--port",
            "0",
            "--api-key",
            "test-key",
            "--secret",
            "test-secret",
            "--passphrase",
            "test-pass",
            "--balance",
            "2500",
            "--history-days",
            "1",
            "--seed",
            "5",
            "--speed",
            "60",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    yield process
    if process.poll() is None:
        process.kill()
        process.wait(5)


def test_the_command_line_server_serves_and_stops_cleanly(cli):
    urls = read_urls(cli)
    assert urls["rest_url"].startswith("http://127.0.0.1:")
    assert urls["ws_url"].endswith("/ws/v5/private")
    client = OkxClient(urls["rest_url"])
    try:
        balance = client.data(client.get("/api/v5/account/balance"))[0]
        assert balance["details"][0]["eq"] == "2500"
        first = int(client.data(client.get("/api/v5/public/time"))[0]["ts"])
        time.sleep(0.2)
        second = int(client.data(client.get("/api/v5/public/time"))[0]["ts"])
        assert second - first >= 0.2 * 60 * 1000 * 0.8  # the market runs 60x
        candles = client.data(
            client.get("/api/v5/market/candles", "instId=ETH-USDT-SWAP&bar=15m&limit=300")
        )
        assert 90 <= len(candles) <= 100  # one day of 15-minute candles
    finally:
        client.close()
    ws = ws_connect(urls["ws_url"])
    try:
        assert ws_login(ws)["code"] == "0"
    finally:
        ws.close()
    cli.send_signal(signal.SIGTERM)
    assert cli.wait(10) == 0
    assert "stopped" in cli.stdout.read()
    with pytest.raises(httpx.ConnectError):
        httpx.get(urls["rest_url"] + "/api/v5/public/time")


def test_bad_arguments_are_refused():
    result = subprocess.run(
        [sys.executable, "-m", "qwentrade.testing.fake_okx", "--history-days", "0"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2 and "--history-days must be positive" in result.stderr
