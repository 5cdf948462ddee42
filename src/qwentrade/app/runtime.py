"""Process lifetime: start the service, stop it cleanly within the grace period."""

from __future__ import annotations

import errno
import logging
import signal
import socket
import threading
from types import FrameType

import uvicorn

import qwentrade
from qwentrade.app.container import build, prepare_database
from qwentrade.app.settings import Settings, SettingsError

log = logging.getLogger(__name__)


class _Server(uvicorn.Server):
    """uvicorn's server, but a SIGINT/SIGTERM stop is a clean exit (status 0).

    uvicorn re-raises the captured signal after shutdown so that the process dies of it;
    for us a requested stop that completed cleanly is success.
    """

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        log.info("signal %s received: stopping", signal.Signals(sig).name)
        super().handle_exit(sig, frame)
        self._captured_signals.clear()


def bind(host: str, port: int) -> socket.socket:
    """A listening-ready TCP socket bound to ``host``:``port`` (0 = any free port).

    Bound before anything else starts, so a port in use is one clear SettingsError naming
    the setting, never a "starting on ..." line followed by uvicorn's traceback.
    """
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except (socket.gaierror, UnicodeError) as e:
        raise SettingsError(
            "QWENTRADE_HTTP_HOST",
            f"cannot listen on {host!r} ({getattr(e, 'strerror', e)}): use an address of "
            "this machine, e.g. --host 127.0.0.1",
        ) from None
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
    try:
        sock.bind(address)
    except OSError as e:
        sock.close()
        if e.errno in (errno.EADDRINUSE, errno.EACCES):
            raise SettingsError(
                "QWENTRADE_HTTP_PORT",
                f"cannot listen on {host}:{port} ({e.strerror}): stop the program using it "
                "or choose another port with --port or QWENTRADE_HTTP_PORT",
            ) from None
        raise SettingsError(
            "QWENTRADE_HTTP_HOST",
            f"cannot listen on {host}:{port} ({e.strerror}): use an address of this "
            "machine with --host or QWENTRADE_HTTP_HOST, e.g. 127.0.0.1",
        ) from None
    sock.set_inheritable(True)
    return sock


def serve(settings: Settings, *, stop: threading.Event | None = None) -> None:
    """Run the HTTP service until SIGINT/SIGTERM (or ``stop`` is set).

    The port is bound first, then the database is migrated. uvicorn installs the signal
    handlers; shutdown waits at most ``settings.shutdown_grace`` seconds for requests in
    flight.
    """
    sock = bind(settings.http_host, settings.http_port)
    try:
        _serve(settings, sock, stop)
    finally:
        sock.close()


def _serve(settings: Settings, sock: socket.socket, stop: threading.Event | None) -> None:
    container = build(settings)
    revision = prepare_database(container)
    log.info("database schema at revision %s", revision)
    app = container.http_app()
    config = uvicorn.Config(
        app,
        host=settings.http_host,
        port=settings.http_port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=max(1, int(settings.shutdown_grace)),
        lifespan="on",
    )
    server = _Server(config)
    if stop is not None:
        threading.Thread(
            target=lambda: (stop.wait(), setattr(server, "should_exit", True)),
            name="stop-watcher",
            daemon=True,
        ).start()
    log.info(
        "qwentrade %s starting in %s mode on http://%s:%s (database %s)",
        qwentrade.__version__,
        settings.mode.value,
        settings.http_host,
        sock.getsockname()[1],
        settings.describe()["database_url"],
    )
    server.run(sockets=[sock])
    log.info("qwentrade stopped")
