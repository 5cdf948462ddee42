"""The fake OKX server under hostile input: every odd request gets OKX's envelope with an
OKX code (never HTTP 500), every WebSocket frame an answer (never a silent drop), and no
message quotes more than a short prefix of what was sent (qwentrade issue 11).

REST goes over httpx and the WebSocket over websocket-client against a FakeOkx on
loopback; the hypothesis tests at the end throw arbitrary requests and frames at it
(strategies in ``hostile_strategies``).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest
import websocket
from fake_okx_helpers import (
    BTC,
    KEY,
    PASSPHRASE,
    SECRET,
    fake_okx_server,
    is_push,
    okx_sign,
    okx_timestamp,
    ws_close_code,
    ws_connect,
    ws_login,
    ws_next,
)
from hostile_strategies import HostileRequest, deep_json_text, hostile_requests, ws_frames
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qwentrade.testing.fake_okx import Credentials, FakeOkx
from qwentrade.testing.fake_okx.auth import verify_ws_login
from qwentrade.testing.fake_okx.params import (
    MAX_TIME_MS,
    MESSAGE_LIMIT,
    QUOTE_LIMIT,
    OkxError,
    clip,
    decimal,
    integer,
    quote,
    time_ms,
)

ORDER = "/api/v5/trade/order"
LEVERAGE = "/api/v5/account/set-leverage"
POSITIONS = {"channel": "positions", "instType": "SWAP"}
HUGE = "1e999999999"
DIGITS_5000 = "9" * 5000
INT64_MAX = str(2**63 - 1)
#: An error frame or envelope answering a 2 MB request stays about this small.
SMALL_REPLY = 400


def limit_order(**changes) -> dict:
    return {
        "instId": BTC,
        "tdMode": "cross",
        "side": "buy",
        "ordType": "limit",
        "sz": "1",
        "px": "100",
    } | changes


def assert_envelope(response: httpx.Response, status: int, code: str) -> dict:
    payload = response.json()
    assert (response.status_code, payload["code"]) == (status, code), payload
    assert isinstance(payload["msg"], str) and len(payload["msg"]) <= MESSAGE_LIMIT
    assert isinstance(payload["data"], list)
    return payload


def item_error(response: httpx.Response) -> dict:
    """The one item of a place-order answer that failed as a whole (code 1)."""
    payload = assert_envelope(response, 200, "1")
    (item,) = payload["data"]
    return item


# -- REST: authentication headers ----------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "code"),
    [
        ("OK-ACCESS-KEY", "50111"),
        ("OK-ACCESS-PASSPHRASE", "50105"),
        ("OK-ACCESS-SIGN", "50113"),
        ("OK-ACCESS-TIMESTAMP", "50112"),
    ],
)
def test_a_non_ascii_auth_header_is_a_wrong_credential_not_a_crash(client, header, code):
    headers: dict[str, str | bytes] = dict(client.headers("GET", "/api/v5/account/balance"))
    headers[header] = "clé-€-ü".encode()
    response = client.http.get("/api/v5/account/balance", headers=headers)
    assert_envelope(response, 401, code)


# -- REST: bodies ----------------------------------------------------------------------------


def test_json_nested_100000_deep_is_ignored_on_get_and_a_syntax_error_on_post(client):
    deep = deep_json_text(100_000)
    public = client.http.request("GET", "/api/v5/public/time", content=deep.encode())
    assert assert_envelope(public, 200, "0")["data"][0]["ts"]
    for body in (deep, deep_json_text(100_000, "{"), '{"instId":' + deep + "}"):
        assert_envelope(client.post(ORDER, body), 400, "50002")


def test_a_body_that_is_not_json_is_a_syntax_error(client):
    for text in ('{"sz": 1,}', "NaN garbage", "\x00", '{"a": "\\ud800"'):
        assert_envelope(client.post(ORDER, text), 400, "50002")
    signed = client.headers("POST", ORDER, "")
    garbage = client.http.post(ORDER, content=b"\xff\xfe\x00{", headers=signed)
    assert_envelope(garbage, 401, "50113")  # not UTF-8, so it cannot match a signature


# -- REST: numbers -----------------------------------------------------------------------------


@pytest.mark.parametrize("field", ["sz", "px"])
@pytest.mark.parametrize("value", [HUGE, "-" + HUGE, "1e-999999999", DIGITS_5000, "sNaN"])
def test_sz_and_px_out_of_range_are_parameter_errors(client, field, value):
    item = item_error(client.post(ORDER, limit_order(**{field: value})))
    assert item["sCode"] == "51000" and item["sMsg"].startswith(f"Parameter {field} error")
    assert len(item["sMsg"]) <= MESSAGE_LIMIT


def test_sz_as_a_json_number_beyond_float_range_is_a_parameter_error(client):
    body = json.dumps(limit_order(sz="SZ")).replace('"SZ"', HUGE)
    item = item_error(client.post(ORDER, body))
    assert item["sCode"] == "51000" and "sz" in item["sMsg"]


def test_a_huge_leverage_answers_at_once(client):
    started = time.monotonic()
    response = client.post(LEVERAGE, {"instId": BTC, "lever": HUGE, "mgnMode": "cross"})
    assert_envelope(response, 400, "51000")
    assert time.monotonic() - started < 5  # int(Decimal("1e999999999")) never finishes


@pytest.mark.parametrize(
    ("path", "query", "signed"),
    [
        ("/api/v5/market/candles", f"instId={BTC}&bar=1H&after=", False),
        ("/api/v5/market/history-candles", f"instId={BTC}&bar=1H&after=", False),
        ("/api/v5/public/funding-rate-history", f"instId={BTC}&after=", False),
        ("/api/v5/market/books", f"instId={BTC}&sz=", False),
        ("/api/v5/trade/orders-history", "instType=SWAP&after=", True),
        ("/api/v5/account/positions-history", "after=", True),
    ],
)
def test_a_5000_digit_number_is_a_parameter_error(client, path, query, signed):
    response = client.get(path, query + DIGITS_5000, signed=signed)
    payload = assert_envelope(response, 400, "51000")
    assert "9" * (QUOTE_LIMIT + 1) not in payload["msg"]


@pytest.mark.parametrize(
    ("path", "query", "signed"),
    [
        ("/api/v5/trade/orders-history", "instType=SWAP&begin=", True),
        ("/api/v5/trade/orders-history", "instType=SWAP&end=", True),
        ("/api/v5/trade/orders-history-archive", "instType=SWAP&begin=", True),
        ("/api/v5/account/positions-history", "before=", True),
        ("/api/v5/account/positions-history", "after=-", True),
        ("/api/v5/public/funding-rate-history", f"instId={BTC}&before=", False),
        ("/api/v5/market/history-candles", f"instId={BTC}&bar=1H&before=", False),
    ],
)
def test_huge_time_bounds_select_records_or_are_parameter_errors(client, path, query, signed):
    # within OKX's 64-bit integers: a time far outside any market, so the range is clamped
    assert_envelope(client.get(path, query + INT64_MAX, signed=signed), 200, "0")
    # beyond them: not a number OKX can read
    assert_envelope(client.get(path, query + "9" * 30, signed=signed), 400, "51000")


def test_an_end_far_in_the_future_still_finds_the_orders(client):
    client.data(client.post(ORDER, limit_order(clOrdId="farEnd1")))
    client.data(client.post("/api/v5/trade/cancel-order", {"instId": BTC, "clOrdId": "farEnd1"}))
    query = f"instType=SWAP&end={INT64_MAX}"
    found = client.data(client.get("/api/v5/trade/orders-history", query))
    assert [o["clOrdId"] for o in found] == ["farEnd1"]


def test_a_2mb_value_is_quoted_by_a_short_prefix(client):
    response = client.post(LEVERAGE, {"instId": "X" * 2_000_000, "lever": "5", "mgnMode": "cross"})
    payload = assert_envelope(response, 200, "51001")
    assert len(response.content) < SMALL_REPLY and "X" * (QUOTE_LIMIT + 1) not in payload["msg"]
    batch = client.post("/api/v5/trade/batch-orders", [limit_order(clOrdId="Y" * 2_000_000)])
    (item,) = assert_envelope(batch, 200, "1")["data"]
    assert item["sCode"] == "51000" and len(batch.content) < 2 * SMALL_REPLY


# -- WebSocket ---------------------------------------------------------------------------------


@pytest.fixture
def ws(okx) -> Iterator[websocket.WebSocket]:
    connection = ws_connect(okx.ws_url)
    yield connection
    connection.close()


def login_frame(**changes) -> str:
    stamp = str(int(time.time()))
    arg = {
        "apiKey": KEY,
        "passphrase": PASSPHRASE,
        "timestamp": stamp,
        "sign": okx_sign(SECRET, stamp + "GET/users/self/verify"),
    }
    arg.update(changes)
    if "timestamp" in changes and "sign" not in changes:
        arg["sign"] = okx_sign(SECRET, f"{arg['timestamp']}GET/users/self/verify")
    return json.dumps({"op": "login", "args": [arg]})


@pytest.mark.parametrize(
    "stamp", ["nan", "NaN", "inf", "-inf", "1e9", " 1714564800", "1_714_564_800", "\u0661"]
)
def test_a_login_timestamp_that_is_not_plain_seconds_is_invalid(stamp):
    (arg,) = json.loads(login_frame(timestamp=stamp))["args"]  # correctly signed
    now = datetime.fromtimestamp(1_714_564_800, UTC)
    assert verify_ws_login(arg, Credentials(KEY, SECRET, PASSPHRASE), now).code == "60004"


def test_a_correctly_signed_nan_login_does_not_log_in(ws):
    ws.send(login_frame(timestamp="nan"))
    assert ws_next(ws)["code"] == "60004"
    assert ws_close_code(ws) == 4001


@pytest.mark.parametrize(
    ("field", "code"), [("apiKey", "60005"), ("passphrase", "60024"), ("sign", "60007")]
)
def test_a_non_ascii_login_field_is_refused_with_an_error_frame(ws, field, code):
    ws.send(login_frame(**{field: "cl\u00e9-\u20ac-\ud800"}))
    assert ws_next(ws)["code"] == code
    assert ws_close_code(ws) == 4001


@pytest.mark.parametrize(
    "interval",
    ["abc", "\u0661\u0662", "\u00b2", DIGITS_5000[:100], "-2000", "2000.0", 1e999, [1], {}, None],
)
def test_an_odd_update_interval_means_the_default_period(ws, interval):
    ws_login(ws)
    extra = json.dumps({"updateInterval": interval})
    ws.send(json.dumps({"op": "subscribe", "args": [POSITIONS | {"extraParams": extra}]}))
    ack = ws_next(ws)
    assert ack["event"] == "subscribe" and ack["arg"]["extraParams"] == extra
    assert ws_next(ws, is_push("positions"))["eventType"] == "snapshot"
    ws.send("ping")
    assert ws_next(ws, lambda m: m == "pong")


@pytest.mark.parametrize(
    "extra",
    [
        "[1]",
        "not json",
        deep_json_text(100_000),
        json.dumps({"updateInterval": DIGITS_5000}),
        5,
        {"a": 1},
    ],
)
def test_extra_params_that_are_not_a_json_object_in_a_string_are_invalid_args(ws, extra):
    ws_login(ws)
    ws.send(json.dumps({"op": "subscribe", "args": [POSITIONS | {"extraParams": extra}]}))
    assert ws_next(ws)["code"] == "60013"


def test_ws_error_frames_quote_a_short_prefix(ws):
    ws.send("x" * 2_000_000)
    reply = ws.recv()
    assert json.loads(reply)["code"] == "60012" and len(reply) < SMALL_REPLY
    ws.send(json.dumps({"op": "subscribe", "args": [{"channel": "y" * 1_000_000}]}))
    reply = ws.recv()
    assert json.loads(reply)["code"] == "60018" and len(reply) < SMALL_REPLY
    ws.send(json.dumps({"op": "nope" * 100_000, "args": []}))
    reply = ws.recv()
    assert json.loads(reply)["code"] == "60019" and len(reply) < SMALL_REPLY


def test_an_id_that_is_not_okx_s_is_refused_without_an_echo(ws):
    for request_id in ("z" * 100_000, 7, ["a"], "a b"):
        ws.send(json.dumps({"id": request_id, "op": "subscribe", "args": [POSITIONS]}))
        reply = ws.recv()
        frame = json.loads(reply)
        assert frame["code"] == "60012" and "id" not in frame and len(reply) < SMALL_REPLY


def test_subscribe_args_must_be_okx_s_text_values(ws):
    ws_login(ws)
    for arg, code in [
        (POSITIONS | {"instId": ["x"]}, "60013"),
        (POSITIONS | {"instId": "NOPE-USDT-SWAP"}, "60018"),
        (POSITIONS | {"instFamily": "z" * 1000}, "60013"),
        (POSITIONS | {"instFamily": "NOPE-USDT"}, "60018"),
        ({"channel": "orders", "instType": {"a": deep_json_text(10)}}, "60013"),
    ]:
        ws.send(json.dumps({"op": "subscribe", "args": [arg]}))
        reply = ws.recv()
        assert json.loads(reply)["code"] == code and len(reply) < SMALL_REPLY, arg
    ws.send(json.dumps({"op": "subscribe", "args": []}))
    assert ws_next(ws)["code"] == "60012"


@pytest.mark.parametrize("frame", [deep_json_text(100_000), deep_json_text(100_000, "{")])
def test_a_frame_nested_100000_deep_is_an_invalid_request(ws, frame):
    ws.send(frame)
    reply = ws.recv()
    assert json.loads(reply)["code"] == "60012" and len(reply) < SMALL_REPLY


def test_binary_garbage_is_an_invalid_request(ws):
    ws.send_binary(b"\xff\xfe\x00\x80garbage")
    assert ws_next(ws)["code"] == "60012"
    ws.send("ping")
    assert ws.recv() == "pong"


# -- pure helpers ------------------------------------------------------------------------------

any_value = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text() | st.binary(),
    lambda inner: st.lists(inner) | st.dictionaries(st.text(), inner),
    max_leaves=50,
)


@given(value=any_value, size=st.integers(0, 5000))
def test_quote_and_clip_stay_short_whatever_the_value(value, size):
    if isinstance(value, str):
        value = value * size
    assert len(quote(value)) <= QUOTE_LIMIT and len(clip(value)) <= QUOTE_LIMIT


@given(value=any_value | st.sampled_from([HUGE, DIGITS_5000, "sNaN", INT64_MAX, "-0"]))
def test_number_parameters_answer_a_number_or_an_okx_error(value):
    for parse in (decimal, integer, time_ms):
        try:
            parsed = parse(value, "sz") if parse is decimal else parse({"sz": value}, "sz")
        except OkxError as e:
            assert e.code == "51000" and len(e.message) <= MESSAGE_LIMIT
            continue
        if parsed is None:  # absent: null or ""
            assert value in (None, "") and parse is not decimal
        elif parse is integer:
            assert abs(parsed) < 2**63
        elif parse is time_ms:
            assert 0 <= parsed <= MAX_TIME_MS


# -- hypothesis: arbitrary requests and frames -------------------------------------------------


@pytest.fixture(scope="module")
def hostile_okx() -> Iterator[FakeOkx]:
    server = fake_okx_server(rate_limits=False, ws_idle_timeout=30.0, positions_interval=60.0)
    with server as started:
        yield started


@pytest.fixture(scope="module")
def hostile_http(hostile_okx) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=hostile_okx.rest_url, timeout=10) as http:
        yield http


def _send(http: httpx.Client, request: HostileRequest) -> httpx.Response:
    target = request.path + ("?" + request.query if request.query else "")
    built = http.build_request(
        request.method,
        target,
        content=request.body,
        headers=request.headers,  # type: ignore[arg-type]  # bytes: non-ASCII as sent
    )
    if request.sign:
        # sign exactly what goes on the wire, so the hostile parts reach the handlers
        stamp = okx_timestamp()
        path = built.url.raw_path.decode("ascii")
        body = request.body.decode("utf-8", "replace")  # not UTF-8: refused with 50113
        built.headers["OK-ACCESS-KEY"] = KEY
        built.headers["OK-ACCESS-PASSPHRASE"] = PASSPHRASE
        built.headers["OK-ACCESS-TIMESTAMP"] = stamp
        built.headers["OK-ACCESS-SIGN"] = okx_sign(SECRET, stamp + request.method + path + body)
    return http.send(built)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(request=hostile_requests())
def test_no_request_is_answered_with_http_500(hostile_http, request):
    response = _send(hostile_http, request)
    assert response.status_code < 500, response.text[:500]
    payload = response.json()
    assert isinstance(payload["code"], str) and payload["code"].isdigit()
    assert isinstance(payload["msg"], str) and len(payload["msg"]) <= MESSAGE_LIMIT
    assert isinstance(payload["data"], list)


def _exchange(ws: websocket.WebSocket, frame: tuple[str, str | bytes]) -> tuple[list, bool]:
    """Send ``frame`` then a ``ping``; the frames before the ``pong`` and whether the
    server closed the connection instead."""
    kind, payload = frame
    try:
        if kind == "text":
            ws.send(payload)
        else:
            ws.send_binary(payload)  # type: ignore[arg-type]
        ws.send("ping")
    except (websocket.WebSocketConnectionClosedException, OSError):
        pass  # closed after an earlier frame: the replies read below say why
    replies: list = []
    while True:
        try:
            opcode, data = ws.recv_data(control_frame=True)
        except (websocket.WebSocketConnectionClosedException, ConnectionError):
            return replies, True
        if opcode == websocket.ABNF.OPCODE_CLOSE:
            return replies, True
        if opcode not in (websocket.ABNF.OPCODE_TEXT, websocket.ABNF.OPCODE_BINARY):
            continue
        text = data.decode()
        if text == "pong":
            return replies, False
        replies.append(json.loads(text))


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(frames=st.lists(ws_frames, min_size=1, max_size=4), logged_in=st.booleans())
def test_every_frame_is_answered_and_no_connection_drops_without_an_error(
    hostile_okx, frames, logged_in
):
    ws = ws_connect(hostile_okx.ws_url)
    try:
        if logged_in:
            assert ws_login(ws)["event"] == "login"
        for frame in frames:
            replies, closed = _exchange(ws, frame)
            assert replies, f"no answer to {str(frame)[:200]}"
            assert all(r.get("code") != "63999" for r in replies), replies
            for reply in replies:
                if reply.get("event") == "error":
                    assert len(reply["msg"]) <= MESSAGE_LIMIT
            if closed:
                assert any(r.get("event") == "error" for r in replies), replies
                break
    finally:
        ws.close()
