"""Request signing verified exactly as OKX verifies it (okx-spec A, C2)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from fake_okx_helpers import KEY, PASSPHRASE, SECRET, OkxClient, okx_sign, okx_timestamp

from qwentrade.testing.fake_okx.auth import (
    Credentials,
    parse_rest_timestamp,
    verify_rest,
    verify_ws_login,
)

CREDENTIALS = Credentials(KEY, SECRET, PASSPHRASE)
NOW = datetime(2024, 5, 1, 12, 0, 0, 500_000, tzinfo=UTC)
STAMP = "2024-05-01T12:00:00.500Z"


def headers(path: str, body: str = "", method: str = "GET", **changes) -> dict[str, str]:
    values = {
        "OK-ACCESS-KEY": KEY,
        "OK-ACCESS-SIGN": okx_sign(SECRET, STAMP + method + path + body),
        "OK-ACCESS-TIMESTAMP": STAMP,
        "OK-ACCESS-PASSPHRASE": PASSPHRASE,
    }
    values.update(changes)
    return {k: v for k, v in values.items() if v is not None}


def test_the_docs_example_prehash_is_accepted():
    path = "/api/v5/account/balance?ccy=BTC"
    assert verify_rest(headers(path), "GET", path, b"", CREDENTIALS, NOW) is None


def test_a_post_body_is_signed_as_sent_and_no_body_signs_the_path_alone():
    body = '{"instId":"BTC-USDT-SWAP","lever":5}'
    path = "/api/v5/account/set-leverage"
    hdrs = headers(path, body, "POST")
    assert verify_rest(hdrs, "POST", path, body.encode(), CREDENTIALS, NOW) is None
    reserialised = json.dumps(json.loads(body)).encode()  # spaces after ':' and ','
    assert verify_rest(hdrs, "POST", path, reserialised, CREDENTIALS, NOW).code == "50113"
    assert verify_rest(headers(path, "", "POST"), "POST", path, b"", CREDENTIALS, NOW) is None


def test_the_raw_query_is_what_counts():
    signed = "/api/v5/trade/order?instId=BTC-USDT-SWAP&ordId=1"
    reordered = "/api/v5/trade/order?ordId=1&instId=BTC-USDT-SWAP"
    assert verify_rest(headers(signed), "GET", reordered, b"", CREDENTIALS, NOW).code == "50113"
    encoded = "/api/v5/account/positions?instId=BTC-USDT-SWAP%2CETH-USDT-SWAP"
    assert verify_rest(headers(encoded), "GET", encoded, b"", CREDENTIALS, NOW) is None


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"OK-ACCESS-KEY": None}, "50103"),
        ({"OK-ACCESS-PASSPHRASE": None}, "50104"),
        ({"OK-ACCESS-SIGN": None}, "50106"),
        ({"OK-ACCESS-TIMESTAMP": None}, "50107"),
        ({"OK-ACCESS-TIMESTAMP": "1714564800"}, "50112"),
        ({"OK-ACCESS-KEY": "other"}, "50111"),
        ({"OK-ACCESS-PASSPHRASE": "other"}, "50105"),
        ({"OK-ACCESS-SIGN": okx_sign("wrong", STAMP + "GET/api/v5/account/balance")}, "50113"),
    ],
)
def test_each_auth_failure_has_its_okx_code(change, code):
    path = "/api/v5/account/balance"
    failure = verify_rest(headers(path, **change), "GET", path, b"", CREDENTIALS, NOW)
    assert failure is not None and failure.code == code and failure.status == 401


def test_a_stale_or_future_timestamp_expires_after_30_seconds():
    path = "/api/v5/account/balance"
    hdrs = headers(path)
    assert verify_rest(hdrs, "GET", path, b"", CREDENTIALS, NOW + timedelta(seconds=29)) is None
    late = verify_rest(hdrs, "GET", path, b"", CREDENTIALS, NOW + timedelta(seconds=31))
    early = verify_rest(hdrs, "GET", path, b"", CREDENTIALS, NOW - timedelta(seconds=31))
    assert late.code == early.code == "50102"


def test_rest_timestamps_parse_only_in_okx_format():
    assert parse_rest_timestamp(STAMP) == NOW
    assert parse_rest_timestamp("2024-05-01 12:00:00.500Z") is None
    assert parse_rest_timestamp("2024-05-01T12:00:00.500+00:00") is None


def login_arg(stamp, secret=SECRET, **changes):
    arg = {"apiKey": KEY, "passphrase": PASSPHRASE, "timestamp": stamp}
    arg["sign"] = okx_sign(secret, f"{stamp}GET/users/self/verify")
    arg.update(changes)
    return arg


def test_ws_login_takes_seconds_as_text_or_number():
    now = datetime.fromtimestamp(1_714_564_800, UTC)
    assert verify_ws_login(login_arg("1714564800"), CREDENTIALS, now) is None
    assert verify_ws_login(login_arg(1714564800), CREDENTIALS, now) is None


@pytest.mark.parametrize(
    ("arg", "code"),
    [
        (login_arg("1714564700"), "60006"),
        (login_arg("yesterday"), "60004"),
        (login_arg("1714564800", apiKey="other"), "60005"),
        (login_arg("1714564800", passphrase="other"), "60024"),
        (login_arg("1714564800", secret="other"), "60007"),
        ({"apiKey": KEY}, "60012"),
    ],
)
def test_ws_login_failures(arg, code):
    now = datetime.fromtimestamp(1_714_564_800, UTC)
    assert verify_ws_login(arg, CREDENTIALS, now).code == code


def test_signed_requests_over_http(okx, client):
    assert client.data(client.get("/api/v5/account/balance"))[0]["details"][0]["ccy"] == "USDT"
    unsigned = client.get("/api/v5/account/balance", signed=False)
    assert unsigned.status_code == 401 and unsigned.json()["code"] == "50103"
    stranger = OkxClient(okx.rest_url, secret="not-the-secret")
    try:
        refused = stranger.get("/api/v5/account/balance")
        assert refused.status_code == 401 and refused.json()["code"] == "50113"
    finally:
        stranger.close()


def test_a_body_that_differs_from_the_signed_one_is_refused_over_http(client):
    path = "/api/v5/account/set-leverage"
    signed = '{"instId":"BTC-USDT-SWAP","lever":"5","mgnMode":"cross"}'
    sent = '{"instId": "BTC-USDT-SWAP", "lever": "5", "mgnMode": "cross"}'
    response = client.http.post(path, content=sent, headers=client.headers("POST", path, signed))
    assert response.status_code == 401 and response.json()["code"] == "50113"
    stamp = okx_timestamp(-40)
    late = client.headers("POST", path, signed) | {
        "OK-ACCESS-TIMESTAMP": stamp,
        "OK-ACCESS-SIGN": okx_sign(SECRET, stamp + "POST" + path + signed),
    }
    response = client.http.post(path, content=signed, headers=late)
    assert response.status_code == 401 and response.json()["code"] == "50102"
