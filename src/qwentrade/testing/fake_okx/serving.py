"""Serve an ASGI app with uvicorn in a background thread on a socket bound up front (so
port 0 gives an ephemeral port that is known before the first request)."""

from __future__ import annotations

import importlib.util
import socket
import threading

import uvicorn

START_TIMEOUT = 10.0


class ThreadedServer:
    """``start()`` binds and serves; ``stop()`` asks uvicorn to exit and joins."""

    def __init__(
        self,
        app,
        host: str = "127.0.0.1",
        port: int = 0,
        name: str = "fake",
        websockets: bool = True,
    ) -> None:
        if websockets and importlib.util.find_spec("websockets") is None:
            raise RuntimeError(
                f"{name} serves WebSockets through uvicorn, which needs the 'websockets' "
                "package: pip install websockets"
            )
        self.websockets = websockets
        self.app = app
        self.host = host
        self.requested_port = port
        self.name = name
        self.port: int | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None

    def start(self) -> int:
        """Start serving; returns the bound port."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.requested_port))
        self._socket = sock
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(
            self.app,
            log_level="warning",
            lifespan="on",
            ws="websockets-sansio" if self.websockets else "none",
            ws_ping_interval=None,
            timeout_graceful_shutdown=2,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, name=self.name, daemon=True
        )
        self._thread.start()
        waiting = threading.Event()
        for _ in range(int(START_TIMEOUT / 0.01)):
            if self._server.started:
                return self.port
            if not self._thread.is_alive():
                break
            waiting.wait(0.01)
        self.stop()
        raise RuntimeError(f"{self.name} did not start on {self.host}:{self.requested_port}")

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None
        if self._socket is not None:
            self._socket.close()
            self._socket = None
