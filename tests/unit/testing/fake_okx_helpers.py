"""Clients and engines for the fake OKX server's tests.

Requests are signed here from okx-spec section A with hmac/base64 directly (not with the
server's own ``auth`` module), so a mistake in the server's verification cannot cancel
out a matching mistake in the client.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import websocket

from qwentrade.adapters.sim import GeneratedPath, SimEngine, SteppedClock
from qwentrade.testing.fake_okx import FakeOkx

START = datetime(2024, 3, 1, tzinfo=UTC)
BTC = "BTC-USDT-SWAP"
ETH = "ETH-USDT-SWAP"
KEY, SECRET, PASSPHRASE = "test-key", "test-secret", "test-pass"


def stepped_engine(days: int = 3, seed: int = 7, balance: int = 10000) -> SimEngine:
    """An engine ``days`` into a generated market, on a clock that moves only when told."""
    clock = SteppedClock(START + timedelta(days=days, minutes=7))
    return SimEngine(
        balance=Decimal(balance), clock=clock, price_path=GeneratedPath(seed=seed, start=START)
    )


def fake_okx_server(engine: SimEngine | None = None, **options: Any) -> FakeOkx:
    """A fake OKX server (not started yet: use ``with``) over ``engine`` (default
    :func:`stepped_engine`) that knows the test credentials; ``options`` go to FakeOkx."""
    engine = engine if engine is not None else stepped_engine()
    return FakeOkx(engine, api_key=KEY, secret=SECRET, passphrase=PASSPHRASE, **options)


def advance(engine: SimEngine, delta: timedelta) -> None:
    engine.clock.advance(delta)  # type: ignore[attr-defined]
    engine.sync()


def okx_sign(secret: str, prehash: str) -> str:
    digest = hmac.new(secret.encode(), prehash.encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def okx_timestamp(offset_seconds: float = 0.0) -> str:
    now = datetime.now(UTC) + timedelta(seconds=offset_seconds)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"


class OkxClient:
    """A signed httpx client for the fake (raw query and body signed as sent)."""

    def __init__(
        self, base_url: str, key: str = KEY, secret: str = SECRET, passphrase: str = PASSPHRASE
    ):
        self.http = httpx.Client(base_url=base_url, timeout=10)
        self.key, self.secret, self.passphrase = key, secret, passphrase
        self.clock_offset = 0.0

    def close(self) -> None:
        self.http.close()

    def headers(self, method: str, request_path: str, body: str = "") -> dict[str, str]:
        stamp = okx_timestamp(self.clock_offset)
        return {
            "OK-ACCESS-KEY": self.key,
            "OK-ACCESS-SIGN": okx_sign(self.secret, stamp + method + request_path + body),
            "OK-ACCESS-TIMESTAMP": stamp,
            "OK-ACCESS-PASSPHRASE": self.passphrase,
            "Content-Type": "application/json",
        }

    def get(self, path: str, query: str = "", signed: bool = True) -> httpx.Response:
        target = path + ("?" + query if query else "")
        headers = self.headers("GET", target) if signed else {}
        return self.http.get(target, headers=headers)

    def post(self, path: str, body: Any, signed: bool = True) -> httpx.Response:
        text = body if isinstance(body, str) else json.dumps(body)
        headers = self.headers("POST", path, text) if signed else {}
        return self.http.post(path, content=text.encode(), headers=headers)

    def data(self, response: httpx.Response) -> list:
        payload = response.json()
        assert response.status_code == 200, payload
        assert payload["code"] == "0", payload
        return payload["data"]


def wait_for(condition: Callable[[], Any], timeout: float = 5.0, what: str = "condition"):
    """Poll ``condition`` until it returns something truthy; returns that value."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def ws_connect(url: str, timeout: float = 5.0) -> websocket.WebSocket:
    return websocket.create_connection(url, timeout=timeout)


def ws_login(ws: websocket.WebSocket, secret: str = SECRET, stamp: str | None = None) -> dict:
    stamp = stamp or str(int(time.time()))
    sign = okx_sign(secret, stamp + "GET/users/self/verify")
    ws.send(
        json.dumps(
            {
                "op": "login",
                "args": [
                    {"apiKey": KEY, "passphrase": PASSPHRASE, "timestamp": stamp, "sign": sign}
                ],
            }
        )
    )
    return ws_next(ws)


def ws_next(ws: websocket.WebSocket, predicate: Callable[[Any], bool] = lambda m: True) -> Any:
    """The next frame (parsed when JSON) that satisfies ``predicate`` (socket timeout)."""
    while True:
        text = ws.recv()
        try:
            message = json.loads(text)
        except ValueError:
            message = text
        if predicate(message):
            return message


def is_push(channel: str) -> Callable[[Any], bool]:
    return lambda m: (
        isinstance(m, dict) and m.get("arg", {}).get("channel") == channel and ("data" in m)
    )


def ws_close_code(ws: websocket.WebSocket) -> int:
    """Read frames until the server's close frame; returns its status code."""
    while True:
        opcode, data = ws.recv_data(control_frame=True)
        if opcode == websocket.ABNF.OPCODE_CLOSE:
            return int.from_bytes(data[:2], "big") if len(data) >= 2 else 1005


def ws_subscribe(ws: websocket.WebSocket, *args: dict) -> None:
    ws.send(json.dumps({"op": "subscribe", "args": list(args)}))
    for _ in args:
        ack = ws_next(
            ws, lambda m: isinstance(m, dict) and m.get("event") in ("subscribe", "error")
        )
        if ack["event"] == "subscribe":
            ws_next(ws, lambda m: isinstance(m, dict) and m.get("event") == "channel-conn-count")
