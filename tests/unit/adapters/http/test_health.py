"""/health never blocks the event loop: checks run in threads, bounded, cached."""

from __future__ import annotations

import asyncio
import socket
import threading

import httpx
import pytest

from qwentrade.adapters.http.app import HttpSettings, create_app
from qwentrade.adapters.sql import make_engine
from qwentrade.app.services import ComponentDisabled, Services
from qwentrade.app.system import SystemService


class StallingServer:
    """Accepts TCP connections and never answers (a database that hangs)."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.held: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self.sock.accept()
            except OSError:
                return
            self.held.append(connection)

    def still_holding(self) -> int:
        """Connections the client has not given up on (a closed one reads b"")."""
        alive = 0
        for connection in self.held:
            connection.setblocking(False)
            try:
                alive += connection.recv(1, socket.MSG_PEEK) != b""
            except BlockingIOError:
                alive += 1
            except OSError:
                pass
        return alive

    def close(self) -> None:
        for connection in self.held:
            connection.close()
        self.sock.close()


@pytest.fixture
def stalling():
    server = StallingServer()
    yield server
    server.close()


def app_with(checks, timeout=0.5, ttl=30.0):
    services = Services(system=SystemService(mode="sim"), health_checks=checks)
    settings = HttpSettings(health_timeout=timeout, health_ttl=ttl)
    return create_app(services, settings)


async def concurrently(app, paths):
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        return await asyncio.gather(*(client.get(p) for p in paths))


def test_a_hanging_database_holds_neither_health_nor_other_requests(stalling):
    engine = make_engine(
        f"postgresql+psycopg://postgres@127.0.0.1:{stalling.port}/test",
        connect_args={"connect_timeout": 30},
    )

    def database() -> str:
        with engine.connect() as connection:
            connection.exec_driver_sql("SELECT 1")
        return ""

    app = app_with({"database": database, "scheduler": lambda: "running"})
    responses = asyncio.run(concurrently(app, ["/health"] * 5 + ["/openapi.json"]))
    # Every answer is back while the database check is still stuck on its connection.
    assert stalling.still_holding() >= 1
    assert len(stalling.held) == 1  # five callers shared one check
    for response in responses[:5]:
        assert response.status_code == 503
        body = response.json()
        assert body["status"] == "degraded"
        assert body["checks"]["database"]["state"] == "down"
        assert body["checks"]["scheduler"]["state"] == "ok"
        assert body["reason"].startswith("database: no answer within 0.5 s")
    assert responses[5].status_code == 200
    # a later call does not wait again for the check that is still hanging
    again = asyncio.run(concurrently(app, ["/health"]))[0]
    assert again.status_code == 503 and len(stalling.held) == 1
    engine.dispose()


def test_results_are_cached_and_failures_name_the_component():
    calls = {"exchange": 0}

    def exchange() -> str:
        calls["exchange"] += 1
        raise ConnectionError("refused")

    def stream() -> str:
        raise ComponentDisabled("not started by this process")

    app = app_with({"exchange": exchange, "private_stream": stream}, timeout=2.0)
    first, second = asyncio.run(concurrently(app, ["/health", "/health"]))
    assert calls["exchange"] == 1
    body = first.json()
    assert first.status_code == 503
    assert body["checks"]["exchange"] == {
        "state": "down",
        "detail": "ConnectionError",
        "seconds": body["checks"]["exchange"]["seconds"],
    }
    assert body["checks"]["private_stream"]["state"] == "disabled"
    assert body["reason"] == "exchange: ConnectionError"
    assert second.json()["checks"] == body["checks"]


def test_everything_up_is_200():
    app = app_with({"database": lambda: "", "exchange": lambda: "server time now"})
    response = asyncio.run(concurrently(app, ["/health"]))[0]
    assert response.status_code == 200 and response.json()["status"] == "ok"
    assert response.json()["checks"]["exchange"]["detail"] == "server time now"


def test_the_degraded_answer_is_documented():
    app = app_with({"database": lambda: ""})
    spec = asyncio.run(concurrently(app, ["/openapi.json"]))[0].json()
    degraded = spec["paths"]["/health"]["get"]["responses"]["503"]
    schema = degraded["content"]["application/json"]["schema"]
    assert schema == {"$ref": "#/components/schemas/HealthResponse"}
