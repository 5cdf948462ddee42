"""The REST plumbing of the OKX adapter: retry policy, signing, clock offset, secret
scrubbing, the demo-trading header, gate priorities and authentication failures."""

from __future__ import annotations

import contextlib
import http.server
import json
import logging
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from qwentrade.adapters.okx.exchange import OkxExchange
from qwentrade.adapters.okx.rest import scrub
from qwentrade.adapters.okx.retry import Classified, Failure, FailureKind, RetryPolicy, run
from qwentrade.adapters.okx.signing import (
    ClockOffset,
    OkxCredentials,
    sign_request,
    timestamp_text,
)
from qwentrade.app.settings import Settings, SettingsError
from qwentrade.domain.errors import AuthFailed, ExchangeRejected, ExchangeUnavailable
from qwentrade.domain.market import Timeframe, TimeRange
from qwentrade.domain.ratelimit import Priority
from qwentrade.domain.venue import AlgoRequest, OrderRequest
from qwentrade.testing.fake_okx import FakeOkx
from qwentrade.testing.fake_okx.auth import Credentials, verify_rest

# -- retry policy ----------------------------------------------------------------------


def test_backoff_doubles_up_to_the_cap_with_jitter_between_half_and_all():
    policy = RetryPolicy(max_retries=5, base=0.5, cap=4.0)
    assert [policy.delay(n, 0.999999) for n in range(5)] == pytest.approx([0.5, 1, 2, 4, 4])
    assert [policy.delay(n, 0.0) for n in range(5)] == [0.25, 0.5, 1, 2, 2]


def failing(kinds: list[FailureKind]):
    calls = []

    def call():
        calls.append(1)
        if len(calls) <= len(kinds):
            kind = kinds[len(calls) - 1]
            raise Classified(Failure(kind, ExchangeUnavailable(f"try {len(calls)}")))
        return "ok"

    return call, calls


def test_run_retries_transient_failures_then_succeeds():
    call, calls = failing([FailureKind.NETWORK, FailureKind.RATE_LIMITED, FailureKind.SERVER])
    slept, seen = [], []
    result = run(
        call, RetryPolicy(3, 1.0, 8.0), slept.append, lambda: 0.0, lambda f, d: seen.append(f.kind)
    )
    assert result == "ok" and len(calls) == 4
    assert slept == [0.5, 1.0, 2.0]
    assert seen == [FailureKind.NETWORK, FailureKind.RATE_LIMITED, FailureKind.SERVER]


def test_run_gives_up_after_max_retries_with_the_domain_error():
    call, calls = failing([FailureKind.SERVER] * 5)
    with pytest.raises(ExchangeUnavailable, match="try 3"):
        run(call, RetryPolicy(2), lambda s: None, lambda: 0.5)
    assert len(calls) == 3


def test_run_never_retries_a_final_failure():
    calls = []

    def call():
        calls.append(1)
        raise Classified(Failure(FailureKind.FINAL, ExchangeRejected("OKX 51000: bad", "51000")))

    with pytest.raises(ExchangeRejected):
        run(call, RetryPolicy(3), lambda s: None, lambda: 0.5)
    assert len(calls) == 1


# -- signing -----------------------------------------------------------------------------


def test_signed_requests_pass_okx_verification():
    credentials = OkxCredentials("key1", "secret1", "pass1")
    when = 1_700_000_000_123
    signed = sign_request(
        "POST", "trade/order", {"instId": "BTC-USDT-SWAP", "sz": "1"}, credentials, when
    )
    assert signed.body == '{"instId":"BTC-USDT-SWAP","sz":"1"}'
    assert signed.headers["OK-ACCESS-TIMESTAMP"] == "2023-11-14T22:13:20.123Z"
    now = datetime.fromtimestamp(when / 1000, UTC)
    fake = Credentials("key1", "secret1", "pass1")
    assert verify_rest(signed.headers, "POST", signed.path, signed.body.encode(), fake, now) is None
    query = sign_request("GET", "account/balance", {"ccy": "USDT"}, credentials, when)
    assert query.path == "/api/v5/account/balance?ccy=USDT" and query.body is None
    assert verify_rest(query.headers, "GET", query.path, b"", fake, now) is None
    public = sign_request("GET", "public/time", {}, None, when)
    assert not any(h.startswith("OK-ACCESS") for h in public.headers)


def test_timestamp_text_has_milliseconds_and_z():
    assert timestamp_text(0) == "1970-01-01T00:00:00.000Z"
    assert timestamp_text(1_607_421_337_005) == "2020-12-08T09:55:37.005Z"


def test_clock_offset_uses_the_midpoint_of_the_round_trip():
    clock = ClockOffset()
    assert clock.update(server_ms=10_000, sent_ms=1_000, received_ms=1_200) == 8_900
    assert clock.server_ms(2_000) == 10_900


def test_credentials_never_show_in_repr_or_scrubbed_text():
    credentials = OkxCredentials("myKey123", "mySecret456", "myPass789")
    assert "myKey123" not in repr(credentials) and "mySecret456" not in repr(credentials)
    text = (
        "okx POST url {'OK-ACCESS-KEY': 'myKey123', 'OK-ACCESS-SIGN': 'c2lnbmF0dXJl=', "
        "'OK-ACCESS-PASSPHRASE': 'myPass789'} mySecret456"
    )
    cleaned = scrub(text, credentials.values())
    for secret in ("myKey123", "mySecret456", "myPass789", "c2lnbmF0dXJl="):
        assert secret not in cleaned


def test_the_demo_setting():
    assert Settings.from_env({"QWENTRADE_OKX_DEMO": "true"}).okx_demo is True
    assert Settings.from_env({"QWENTRADE_OKX_DEMO": "0"}).okx_demo is False
    assert Settings.from_env({}).okx_demo is False
    with pytest.raises(SettingsError, match="QWENTRADE_OKX_DEMO"):
        Settings.from_env({"QWENTRADE_OKX_DEMO": "maybe"})


# -- against servers -----------------------------------------------------------------------


class OpenGate:
    """A gate that admits everything and remembers who asked, at what priority."""

    def __init__(self) -> None:
        self.permits: list[tuple[Priority, str]] = []
        self.penalties: list[float] = []

    def permit(self, priority, endpoint, instrument=None, timeout=None):
        self.permits.append((priority, endpoint))
        return contextlib.nullcontext()

    def penalise(self, seconds: float) -> None:
        self.penalties.append(seconds)


@contextlib.contextmanager
def header_recorder() -> Iterator[tuple[str, list[dict]]]:
    """A loopback HTTP server answering OKX's empty success, recording request headers."""
    seen: list[dict] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            seen.append({k.lower(): v for k, v in self.headers.items()})
            data = [{"ts": "1700000000000"}] if "public/time" in self.path else [{"details": []}]
            body = json.dumps({"code": "0", "msg": "", "data": data}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("demo", [True, False])
def test_demo_trading_sends_the_simulated_trading_header_on_every_request(demo):
    with header_recorder() as (url, seen):
        exchange = OkxExchange(
            OpenGate(), rest_url=url, credentials=OkxCredentials("k", "s", "p"), demo=demo
        )
        exchange.server_time()
        exchange.balance()
    assert len(seen) >= 2
    assert all((h.get("x-simulated-trading") == "1") == demo for h in seen)


@pytest.fixture(scope="module")
def okx():
    with FakeOkx(history_days=2, seed=5, balance=10000) as server:
        yield server


def make(okx, gate=None, secret=None) -> OkxExchange:
    c = okx.credentials
    return OkxExchange(
        gate or OpenGate(),
        rest_url=okx.rest_url,
        credentials=OkxCredentials(c.api_key, secret or c.secret, c.passphrase),
        order_expiry=0.2,
        backoff=RetryPolicy(base=0.01, cap=0.05),
    )


def test_each_call_asks_the_gate_once_at_its_priority(okx):
    gate = OpenGate()
    exchange = make(okx, gate)
    exchange.balance()
    close = exchange.candles("ETH-USDT-SWAP", Timeframe.M15, limit=1)[-1].close
    gate.permits.clear()
    exchange.place_order(OrderRequest("ETH-USDT-SWAP", "buy", "1", "prio1"))
    exchange.place_algo(
        AlgoRequest(
            "ETH-USDT-SWAP",
            "sell",
            "conditional",
            close_fraction="1",
            sl_trigger_price=Decimal(int(close * 0.8)),
        )
    )
    exchange.with_priority(Priority.STOP_LOSS).place_order(
        OrderRequest("ETH-USDT-SWAP", "sell", "1", "prio2", reduce_only=True)
    )
    posts = [(p, e) for p, e in gate.permits if e.startswith("POST")]
    assert posts == [
        (Priority.TRADE, "POST /api/v5/trade/order"),
        (Priority.STOP_LOSS, "POST /api/v5/trade/order-algo"),
        (Priority.STOP_LOSS, "POST /api/v5/trade/order"),
    ]
    assert (Priority.QUERY, "GET /api/v5/account/balance") not in posts
    gate.permits.clear()
    exchange.positions()
    assert gate.permits == [(Priority.QUERY, "GET /api/v5/account/positions")]


def test_a_rate_limit_penalises_the_gate(okx):
    gate = OpenGate()
    exchange = make(okx, gate)
    exchange.balance()
    okx.faults.rate_limit("/api/v5/account/balance", times=2)
    exchange.balance()
    assert len(gate.penalties) == 2 and all(p > 0 for p in gate.penalties)


def test_an_auth_failure_is_one_warning_without_secrets(okx, caplog):
    exchange = make(okx, secret="not-the-secret")
    exchange.server_time()
    with caplog.at_level(logging.DEBUG), pytest.raises(AuthFailed) as caught:
        exchange.balance()
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1 and "50113" in warnings[0].getMessage()
    everything = caplog.text + str(caught.value)
    c = okx.credentials
    for secret in (c.api_key, c.secret, c.passphrase, "not-the-secret"):
        assert secret not in everything
    assert "OK-ACCESS-SIGN" not in everything


def test_old_candles_come_from_history_candles():
    with FakeOkx(history_days=17, seed=2) as server:
        gate = OpenGate()
        exchange = make(server, gate)
        now = exchange.server_time()
        start = Timeframe.M15.floor(now - timedelta(days=16))
        span = TimeRange(start, start + timedelta(hours=5))
        candles = exchange.candles("BTC-USDT-SWAP", Timeframe.M15, span, limit=300)
        recent = exchange.candles("BTC-USDT-SWAP", Timeframe.M15, limit=3)
    assert [c.time for c in candles] == [start + timedelta(minutes=15 * i) for i in range(20)]
    assert all(c.confirmed for c in candles)
    paths = [e for _, e in gate.permits if "candles" in e]
    assert paths == ["GET /api/v5/market/history-candles", "GET /api/v5/market/candles"]
    assert len(recent) == 3 and not recent[-1].confirmed
