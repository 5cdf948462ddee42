"""Auth, security headers, documentation served offline, metrics, body limits."""

from __future__ import annotations

import logging
import re

import pytest
from http_helpers import KEY

from qwentrade.app.services import api_key_digest


def test_docs_and_schema_are_public_and_load_only_local_assets(api):
    spec = api.client.get("/openapi.json")
    assert spec.status_code == 200 and spec.json()["info"]["title"] == "qwentrade"
    for page in ("/docs", "/redoc"):
        html = api.client.get(page)
        assert html.status_code == 200 and "<html" in html.text.lower()
        urls = re.findall(r"""(?:src|href)=["']([^"']+)["']""", html.text)
        assert urls, page
        for url in urls:
            assert url.startswith("/static/"), f"{page} loads {url} from elsewhere"
            asset = api.client.get(url)
            assert asset.status_code == 200 and len(asset.content) > 500, url
        assert "https://" not in html.text.split("<body>")[0]


def test_every_route_is_documented_with_the_key_scheme(api):
    spec = api.client.get("/openapi.json").json()
    assert spec["components"]["securitySchemes"]["ApiKey"]["name"] == "X-API-Key"
    paths = spec["paths"]
    for path in ("/signals", "/klines/{symbol}/{timeframe}", "/config/{key}", "/metrics"):
        assert path in paths
    assert paths["/config/{key}"]["put"]["security"] == [{"ApiKey": []}]
    assert "security" not in paths["/health"]["get"]


@pytest.mark.parametrize("path", ["/health", "/nope", "/signals", "/docs", "/openapi.json"])
def test_security_headers_on_every_response(api, path):
    response = api.client.get(path)  # no key: some of these are 401s, one a 404
    headers = response.headers
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["x-frame-options"] == "DENY"
    assert headers["referrer-policy"] == "no-referrer"
    csp = headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp
    assert ("script-src 'self'" in csp) == (path == "/docs")
    assert "access-control-allow-origin" not in headers


def test_cors_is_closed_unless_configured(api_factory):
    closed = api_factory()
    preflight = {"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"}
    response = closed.client.options("/config", headers=preflight)
    assert "access-control-allow-origin" not in response.headers
    opened = api_factory(http_cors_origins=("https://desk.example",))
    allowed = opened.client.get("/health", headers={"Origin": "https://desk.example"})
    assert allowed.headers["access-control-allow-origin"] == "https://desk.example"
    other = opened.client.get("/health", headers={"Origin": "https://evil.example"})
    assert other.headers.get("access-control-allow-origin") != "https://evil.example"


def test_mutations_and_config_need_the_key_and_failures_are_counted(api, caplog):
    caplog.set_level(logging.WARNING)
    wrong = "wrong-key-sentinel-77"
    for method, path in (("put", "/config/DETECTOR_SIGNAL_THRESHOLD"), ("get", "/config")):
        call = getattr(api.client, method)
        kwargs = {"json": {"value": 18}} if method == "put" else {}
        assert call(path, **kwargs).status_code == 401
        refused = call(path, headers={"X-API-Key": wrong}, **kwargs)
        assert refused.status_code == 401 and refused.json()["error"] == "NotAuthorizedException"
    assert api.repos.config.get("DETECTOR_SIGNAL_THRESHOLD") == 15
    assert api.client.get("/signals").status_code == 401  # reads closed by default
    metrics = api.get("/metrics").text
    assert re.search(r"^qwentrade_http_auth_failures_total 5(\.0)?$", metrics, re.M)
    assert wrong not in caplog.text and KEY not in caplog.text
    assert "wrong API key" in caplog.text


def test_open_reads_let_queries_through_but_not_config_or_writes(api_factory):
    api = api_factory(http_open_reads=True)
    assert api.client.get("/signals").status_code == 200
    assert api.client.get("/order-history/orders").status_code == 200
    assert api.client.get("/config").status_code == 401
    assert (
        api.client.post("/market-detector/detect", json={"symbol": "BTC-USDT-SWAP"}).status_code
        == 401
    )


def test_key_is_compared_to_the_stored_digest(api_factory):
    api = api_factory(api_key=None)
    assert api.get("/config").status_code == 401  # nothing configured: refused
    now = api.container.clock().now()
    api.repos.status.set_state("http_api_key", "OK", now, note=api_key_digest("generated-1"))
    fresh = api_factory(api_key=None)
    assert fresh.client.get("/config", headers={"X-API-Key": "generated-1"}).status_code == 200
    assert fresh.client.get("/config", headers={"X-API-Key": "generated-2"}).status_code == 401


def test_body_size_is_limited(api):
    big = {"symbol": "BTC-USDT-SWAP", "pad": "x" * 70_000}
    response = api.post("/market-detector/detect", big)
    assert response.status_code == 413
    assert response.headers["x-content-type-options"] == "nosniff"


def test_metrics_count_requests_by_route_template(api):
    for _ in range(3):
        api.get("/klines/BTC-USDT-SWAP/15m")
    api.get("/klines/BTC-USDT-SWAP/1h")
    text = api.get("/metrics").text
    series = 'qwentrade_http_requests_total{method="GET",route="/klines/{symbol}/{timeframe}"'
    assert re.search(re.escape(f'{series},status="200"}} 3') + r"(\.0)?$", text, re.M)
    assert re.search(re.escape(f'{series},status="400"}} 1') + r"(\.0)?$", text, re.M)
    assert "qwentrade_http_request_duration_seconds_bucket" in text
    assert re.search(r'^qwentrade_open_positions{symbol="BTC-USDT-SWAP"} 0(\.0)?$', text, re.M)
    assert re.search(r'^qwentrade_orders_total{outcome="placed"} 0(\.0)?$', text, re.M)


def test_metrics_report_sync_lag_per_job(api):
    clock = api.container.clock()
    api.repos.status.record_run("klines_15m:BTC-USDT-SWAP", clock.now(), ok=True, rows=3)
    text = api.get("/metrics").text
    lag = re.search(r'qwentrade_sync_lag_seconds{job="klines_15m:BTC-USDT-SWAP"} (\S+)', text)
    assert lag and 0 <= float(lag.group(1)) < 3600


def test_every_schema_and_request_body_has_an_example(api):
    spec = api.client.get("/openapi.json").json()
    for name, schema in spec["components"]["schemas"].items():
        assert schema.get("examples"), f"schema {name} has no example"
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            body = operation.get("requestBody")
            if body:
                content = body["content"]["application/json"]
                assert content["schema"].get("examples") or content.get("examples"), (
                    f"{method} {path} request"
                )
            answer = operation["responses"]["200"].get("content", {})
            for media in answer.values():
                schema = media["schema"]
                has = media.get("examples") or schema.get("examples") or "$ref" in schema
                items = schema.get("items", {})
                assert has or "$ref" in items, f"{method} {path} response"
