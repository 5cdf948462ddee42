"""OKX's per-endpoint rate limits: the table, the sliding window, and 50011 over HTTP."""

from __future__ import annotations

from fake_okx_helpers import BTC, KEY, PASSPHRASE, SECRET, OkxClient, stepped_engine

from qwentrade.testing.fake_okx import LIMITS, FakeOkx, Limit
from qwentrade.testing.fake_okx.limits import RateLimiter, SlidingWindow

TIME = ("GET", "/api/v5/public/time")


def test_the_table_holds_the_documented_limits():
    assert LIMITS[TIME] == Limit(10, 2.0, "ip")
    assert LIMITS[("GET", "/api/v5/market/history-candles")].requests == 20
    assert LIMITS[("POST", "/api/v5/trade/order")] == Limit(60, 2.0, "uid+inst_id")
    assert LIMITS[("POST", "/api/v5/trade/batch-orders")].per_item


def test_the_window_slides():
    window, limit = SlidingWindow(), Limit(2, 1.0, "ip")
    key = {("p", "ip"): 1}
    assert window.admit(key, limit, 10.0) and window.admit(key, limit, 10.5)
    assert not window.admit(key, limit, 10.9)
    assert window.admit(key, limit, 11.01)  # the first request has left the window


def test_batches_count_orders_per_instrument_and_a_single_one_as_a_single_order():
    limiter = RateLimiter()
    batch = ("POST", "/api/v5/trade/batch-orders")
    assert limiter.admit(*batch, 0.0, ip="a", uid="u", inst_ids=[BTC] * 20)
    for _ in range(14):
        limiter.admit(*batch, 0.1, ip="a", uid="u", inst_ids=[BTC] * 20)
    assert not limiter.admit(*batch, 0.2, ip="a", uid="u", inst_ids=[BTC] * 20)  # 300 used
    assert limiter.admit(*batch, 0.2, ip="a", uid="u", inst_ids=["ETH-USDT-SWAP"] * 20)
    for _ in range(60):
        assert limiter.admit(*batch, 0.3, ip="a", uid="u2", inst_ids=[BTC])
    assert not limiter.admit("POST", "/api/v5/trade/order", 0.3, ip="a", uid="u2", inst_ids=[BTC])


def test_uid_and_ip_scopes_are_separate():
    limiter = RateLimiter({("GET", "/x"): Limit(1, 1.0, "uid"), ("GET", "/y"): Limit(1, 1.0, "ip")})
    assert limiter.admit("GET", "/x", 0, ip="a", uid="k1")
    assert limiter.admit("GET", "/x", 0, ip="a", uid="k2")
    assert not limiter.admit("GET", "/x", 0, ip="b", uid="k1")
    assert limiter.admit("GET", "/y", 0, ip="a") and limiter.admit("GET", "/y", 0, ip="b")


def test_exceeding_a_limit_over_http_is_50011_with_429():
    with FakeOkx(stepped_engine(), run_market=False) as okx:
        client = OkxClient(okx.rest_url)
        try:
            replies = [client.get("/api/v5/public/time", signed=False) for _ in range(11)]
            assert [r.status_code for r in replies[:10]] == [200] * 10
            assert replies[10].status_code == 429
            assert replies[10].json() == {"code": "50011", "msg": "Too Many Requests", "data": []}
        finally:
            client.close()


def test_private_limits_count_per_key():
    table = {("GET", "/api/v5/account/balance"): Limit(2, 5.0, "uid")}
    server = FakeOkx(
        stepped_engine(),
        api_key=KEY,
        secret=SECRET,
        passphrase=PASSPHRASE,
        rate_limits=table,
        run_market=False,
    )
    with server as okx:
        client = OkxClient(okx.rest_url)
        try:
            codes = [client.get("/api/v5/account/balance").json()["code"] for _ in range(3)]
            assert codes == ["0", "0", "50011"]
            assert client.get("/api/v5/account/positions").json()["code"] == "0"
        finally:
            client.close()
