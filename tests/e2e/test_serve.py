import signal
import time

import httpx
import pytest

import qwentrade


def test_serve_answers_health_in_sim_mode_with_no_configuration(service, tmp_path):
    svc = service()
    body = httpx.get(svc.url + "/health", timeout=5).json()
    assert body["status"] == "ok"
    assert body["mode"] == "sim"
    assert body["checks"]["database"]["state"] == "ok"
    assert set(body["checks"]) == {"database", "exchange", "private_stream", "scheduler"}
    assert body["version"] == qwentrade.__version__
    assert (tmp_path / "qwentrade.log").exists()


def test_openapi_documents_are_served(service):
    svc = service()
    spec = httpx.get(svc.url + "/openapi.json", timeout=5).json()
    assert spec["info"]["title"] == "qwentrade"
    assert "/health" in spec["paths"]
    for page in ("/docs", "/redoc"):
        response = httpx.get(svc.url + page, timeout=5)
        assert response.status_code == 200 and "<html" in response.text.lower()


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_stops_cleanly_within_five_seconds(service, signum):
    svc = service()
    started = time.monotonic()
    svc.process.send_signal(signum)
    code = svc.process.wait(timeout=5)
    assert time.monotonic() - started < 5
    assert code == 0
    output = svc.process.stdout.read()
    assert "Traceback" not in output
    assert "qwentrade stopped" in output


def test_secrets_do_not_reach_the_log_or_health(service, tmp_path):
    svc = service(QWENTRADE_API_KEY="http-key-sentinel-9", QWENTRADE_OKX_SECRET="okx-sentinel-7")
    body = httpx.get(svc.url + "/health", timeout=5).text
    svc.process.send_signal(signal.SIGTERM)
    svc.process.wait(timeout=5)
    text = (tmp_path / "qwentrade.log").read_text() + svc.process.stdout.read() + body
    assert "http-key-sentinel-9" not in text and "okx-sentinel-7" not in text


def test_bad_configuration_fails_at_start_naming_the_variable(tmp_path):
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-m", "qwentrade.app.cli", "serve"],
        cwd=tmp_path,
        env={"QWENTRADE_MODE": "production", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "QWENTRADE_MODE" in result.stderr and "sim, paper, live" in result.stderr
