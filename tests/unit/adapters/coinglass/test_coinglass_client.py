"""The CoinGlass client's envelope, error mapping, retries and request window, over a
scripted transport (no socket, no real sleeping)."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable

import httpx
import pytest

from qwentrade.adapters.coinglass.client import CoinGlassClient, RequestWindow
from qwentrade.domain.errors import (
    AuthFailed,
    ExchangeRejected,
    ExchangeUnavailable,
    InvalidInput,
    RateLimited,
)

KEY = "cg-very-secret-key-123"
OK = (200, {"code": "0", "msg": "success", "data": [{"time": 1}]})


class Script:
    """Answers requests from a list of (status, body) or exceptions; records requests."""

    def __init__(self, *answers) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        status, body = answer
        content = body if isinstance(body, bytes) else json.dumps(body).encode()
        return httpx.Response(status, content=content, headers={"API-KEY-MAX-LIMIT": "300"})


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def monotonic(self) -> float:
        return self.now


def client_for(script: Script, clock: FakeTime, **kwargs) -> CoinGlassClient:
    return CoinGlassClient(
        KEY,
        base_url="https://cg.example",
        transport=httpx.MockTransport(script),
        sleep=clock.sleep,
        monotonic=clock.monotonic,
        **kwargs,
    )


def raised(call: Callable[[], object], error: type[Exception]) -> Exception:
    with pytest.raises(error) as caught:
        call()
    return caught.value


def test_sends_the_key_header_and_returns_data():
    script, clock = Script(OK), FakeTime()
    client = client_for(script, clock)
    assert client.get("/api/x", {"symbol": "BTC", "limit": 5}) == [{"time": 1}]
    request = script.requests[0]
    assert request.headers["CG-API-KEY"] == KEY
    assert request.url.path == "/api/x" and request.url.params["limit"] == "5"


def test_the_key_is_not_in_repr():
    client = client_for(Script(OK), FakeTime())
    assert KEY not in repr(client) and "********" in repr(client)


@pytest.mark.parametrize(
    "status, body",
    [
        (401, {"code": "401", "msg": "Invalid API key."}),
        (200, {"code": "400", "msg": "API key missing."}),
        (200, {"code": "401", "msg": f"bad key {KEY}"}),
    ],
)
def test_a_rejected_key_is_auth_failed_without_the_key(status, body, caplog):
    script, clock = Script((status, body)), FakeTime()
    with caplog.at_level(logging.DEBUG):
        error = raised(lambda: client_for(script, clock).get("/api/x"), AuthFailed)
    assert KEY not in str(error) and KEY not in repr(error.args)
    assert KEY not in caplog.text
    assert len(script.requests) == 1 and clock.sleeps == []  # not retried


def test_upgrade_plan_on_http_200_is_rejected_not_auth():
    script = Script((200, {"code": "401", "msg": "Upgrade plan"}))
    error = raised(lambda: client_for(script, FakeTime()).get("/api/x"), ExchangeRejected)
    assert error.code == "401" and "longer interval" in str(error)


def test_bad_parameters_name_the_parameter():
    script = Script((200, {"code": "400", "msg": "interval is required"}))
    error = raised(
        lambda: client_for(script, FakeTime()).get("/api/x", {"interval": ""}), InvalidInput
    )
    assert error.field == "interval"


def test_other_codes_keep_coinglass_code():
    script = Script((200, {"code": "40001", "msg": "something else"}))
    error = raised(lambda: client_for(script, FakeTime()).get("/api/x"), ExchangeRejected)
    assert error.code == "40001" and "something else" in str(error)


def test_rate_limit_backs_off_then_succeeds():
    limited = (429, {"code": "429", "msg": "Rate limit exceeded"})
    script, clock = Script(limited, limited, OK), FakeTime()
    assert client_for(script, clock).get("/api/x") == [{"time": 1}]
    assert len(script.requests) == 3 and clock.sleeps == [2.0, 4.0]


def test_rate_limit_that_lasts_is_rate_limited():
    script, clock = Script((200, {"code": "429", "msg": "Rate limit exceeded"})), FakeTime()
    raised(lambda: client_for(script, clock, max_retries=3).get("/api/x"), RateLimited)
    assert len(script.requests) == 4 and clock.sleeps == [2.0, 4.0, 8.0]


@pytest.mark.parametrize(
    "failure",
    [
        (503, b"<html>bad gateway</html>"),
        (500, {"code": "500", "msg": "Internal error"}),
        httpx.ConnectError("refused"),
        httpx.ReadTimeout("slow"),
    ],
    ids=["503-html", "500-json", "connect", "timeout"],
)
def test_server_trouble_is_retried_then_unavailable(failure):
    script, clock = Script(failure), FakeTime()
    error = raised(
        lambda: client_for(script, clock, max_retries=2).get("/api/x"), ExchangeUnavailable
    )
    assert len(script.requests) == 3 and len(clock.sleeps) == 2
    assert KEY not in str(error)


def test_server_trouble_then_success():
    script, clock = Script((502, b""), OK), FakeTime()
    assert client_for(script, clock).get("/api/x") == [{"time": 1}]


def test_backoff_is_capped():
    script, clock = Script((500, b"")), FakeTime()
    raised(
        lambda: client_for(script, clock, max_retries=5, backoff_cap=10).get("/api/x"),
        ExchangeUnavailable,
    )
    assert clock.sleeps == [2.0, 4.0, 8.0, 10, 10]


def test_window_holds_requests_to_the_limit_per_minute():
    script, clock = Script(OK), FakeTime()
    client = client_for(script, clock, requests_per_minute=3)
    for _ in range(4):
        client.get("/api/x")
    assert clock.sleeps == [60.0]  # the fourth waits until the first leaves the window
    assert len(script.requests) == 4


def test_window_follows_the_plan_limit_header_unless_given():
    script = Script(OK)  # answers API-KEY-MAX-LIMIT: 300
    learning = client_for(script, FakeTime())
    assert learning.window.limit == 30
    learning.get("/api/x")
    assert learning.window.limit == 300
    fixed = client_for(script, FakeTime(), requests_per_minute=10)
    fixed.get("/api/x")
    assert fixed.window.limit == 10


def test_request_window_sliding():
    window = RequestWindow(2)
    window.record(0.0)
    window.record(10.0)
    assert window.wait_time(20.0) == 40.0
    assert window.wait_time(60.0) == 0.0  # the first left the window
    window.record(60.0)
    assert window.wait_time(61.0) == 9.0
    with pytest.raises(InvalidInput):
        RequestWindow(0)


def test_an_empty_key_is_refused():
    with pytest.raises(InvalidInput, match="api_key"):
        CoinGlassClient("")


def test_a_masked_secret_is_revealed_only_into_the_header():
    class Secret:
        def reveal(self) -> str:
            return KEY

        def __repr__(self) -> str:
            return "Secret('********')"

    script = Script(OK)
    client = CoinGlassClient(Secret(), transport=httpx.MockTransport(script))
    client.get("/api/x")
    assert script.requests[0].headers["CG-API-KEY"] == KEY
    assert KEY not in repr(client)
