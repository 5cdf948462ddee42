"""Process lifetime: start the service, stop it cleanly within the grace period."""

from __future__ import annotations

import logging
import signal
import threading
from types import FrameType

import uvicorn

import qwentrade
from qwentrade.app.container import build, prepare_database
from qwentrade.app.settings import Settings

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


def serve(settings: Settings, *, stop: threading.Event | None = None) -> None:
    """Run the HTTP service until SIGINT/SIGTERM (or ``stop`` is set).

    uvicorn installs the signal handlers; shutdown waits at most ``settings.shutdown_grace``
    seconds for requests in flight.
    """
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
        settings.http_port,
        settings.describe()["database_url"],
    )
    server.run()
    log.info("qwentrade stopped")
