"""Faults a test can switch on: slow, lost, failed and refused requests, a skewed clock."""

from __future__ import annotations

import time

import httpx
import pytest
from fake_okx_helpers import BTC, OkxClient

ORDER = "/api/v5/trade/order"
BALANCE = "/api/v5/account/balance"


def buy(cl_ord_id: str) -> dict:
    return {
        "instId": BTC,
        "tdMode": "cross",
        "side": "buy",
        "ordType": "market",
        "sz": "1",
        "clOrdId": cl_ord_id,
    }


def lookup(client, cl_ord_id: str) -> dict:
    return client.get(ORDER, f"instId={BTC}&clOrdId={cl_ord_id}").json()


def test_delay_answers_late(okx, client):
    okx.faults.delay(BALANCE, seconds=0.4)
    started = time.monotonic()
    assert client.data(client.get(BALANCE))
    assert time.monotonic() - started >= 0.4
    started = time.monotonic()
    client.data(client.get(BALANCE))
    assert time.monotonic() - started < 0.3  # it fired once


def test_a_timed_out_order_may_still_have_been_placed(okx):
    okx.faults.timeout(ORDER, seconds=5)
    impatient = OkxClient(okx.rest_url)
    impatient.http.timeout = httpx.Timeout(0.3)
    try:
        with pytest.raises(httpx.ReadTimeout):
            impatient.post(ORDER, buy("lost1"))
    finally:
        impatient.close()
    patient = OkxClient(okx.rest_url)
    try:
        found = lookup(patient, "lost1")
        assert found["code"] == "0" and found["data"][0]["state"] == "filled"
    finally:
        patient.close()


def test_a_timeout_that_did_not_apply_leaves_nothing_and_answers_50004(okx, client):
    okx.faults.timeout(ORDER, seconds=0, apply=False)
    reply = client.post(ORDER, buy("never1"))
    assert reply.json()["code"] == "50004"
    assert lookup(client, "never1")["code"] == "51603"


def test_server_errors_json_and_text(okx, client):
    okx.faults.server_error(ORDER, status=503, apply=True)
    reply = client.post(ORDER, buy("half1"))
    assert reply.status_code == 503 and reply.json()["code"] == "50001"
    assert lookup(client, "half1")["data"][0]["state"] == "filled"
    okx.faults.server_error(BALANCE, status=500, json_body=False)
    reply = client.get(BALANCE)
    assert reply.status_code == 500 and reply.text == "Internal Server Error"
    assert client.get(BALANCE).status_code == 200


def test_forced_rate_limit_for_n_requests(okx, client):
    okx.faults.rate_limit(ORDER, times=2)
    codes = [client.post(ORDER, buy(f"rl{i}")).json()["code"] for i in range(3)]
    assert codes == ["50011", "50011", "0"]
    assert lookup(client, "rl0")["code"] == "51603" and lookup(client, "rl2")["code"] == "0"
    okx.faults.rate_limit(BALANCE, status=200)
    reply = client.get(BALANCE)
    assert reply.status_code == 200 and reply.json()["code"] == "50011"


def test_faults_match_their_path_only(okx, client):
    okx.faults.server_error(ORDER)
    assert client.get(BALANCE).status_code == 200
    assert client.post(ORDER, buy("p1")).status_code == 503


def test_a_skewed_server_clock_expires_requests_until_the_client_adjusts(okx, client):
    before = int(client.data(client.get("/api/v5/public/time"))[0]["ts"])
    okx.faults.skew_clock(60)
    reply = client.get(BALANCE)
    assert reply.status_code == 401 and reply.json()["code"] == "50102"
    after = int(client.data(client.get("/api/v5/public/time"))[0]["ts"])
    assert after - before == 60_000  # the market clock stands still in these tests
    client.clock_offset = 60
    assert client.get(BALANCE).json()["code"] == "0"
    okx.faults.clear()
    assert client.get(BALANCE).json()["code"] == "50102"
