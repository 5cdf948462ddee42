"""Process lifetime: start the service, stop it cleanly within the grace period."""

from __future__ import annotations

import errno
import logging
import secrets
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from types import FrameType
from typing import Any

import attrs
import uvicorn

import qwentrade
from qwentrade.app.container import Container, build, prepare_database
from qwentrade.app.services import API_KEY_COMPONENT, api_key_digest
from qwentrade.app.settings import Mode, Settings, SettingsError

log = logging.getLogger(__name__)


class _Server(uvicorn.Server):
    """uvicorn's server, but a SIGINT/SIGTERM stop is a clean exit (status 0).

    uvicorn re-raises the captured signal after shutdown so that the process dies of it;
    for us a requested stop that completed cleanly is success.
    """

    def __init__(self, config: uvicorn.Config, on_exit: Callable[[], None]) -> None:
        super().__init__(config)
        self._on_exit = on_exit

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        log.info("signal %s received: stopping", signal.Signals(sig).name)
        self._on_exit()
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


LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})
# `qwentrade serve` in sim mode (the `make run` default): the simulated market runs this
# many times faster than real time unless QWENTRADE_SIM_SPEED says otherwise, so candles,
# signals and the policy's trades show up within minutes.
SIM_SERVE_SPEED = 120.0


def check_exposure(settings: Settings) -> None:
    """Refuse to listen beyond this machine without a configured API key.

    A generated key is printed on the console of one machine; a service reachable from
    others must have a key its operator chose (QWENTRADE_API_KEY)."""
    if settings.api_key is None and settings.http_host not in LOOPBACK:
        raise SettingsError(
            "QWENTRADE_API_KEY",
            f"listening on {settings.http_host} (beyond this machine) needs an API key: "
            "set QWENTRADE_API_KEY (e.g. to the output of `python -c 'import secrets; "
            "print(secrets.token_urlsafe(32))'`), or listen on 127.0.0.1",
        )


def ensure_api_key(container: Container, renew: bool = False) -> str | None:
    """Make sure the HTTP API has a key; returns a key generated now (to show once).

    With ``QWENTRADE_API_KEY`` set, nothing is generated. Otherwise the digest stored at
    first start is used; without one (or with ``renew``) a new random key is generated
    and only its digest is stored (``system_status`` row ``http_api_key``)."""
    if container.settings.api_key:
        return None
    status = container.repositories().status
    stored = status.get(API_KEY_COMPONENT)
    if stored is not None and stored.note and not renew:
        return None
    key = secrets.token_urlsafe(32)
    status.set_state(API_KEY_COMPONENT, "OK", datetime.now(UTC), note=api_key_digest(key))
    return key


def announce_key(key: str | None) -> None:
    """Print a generated key on the console (never to the log)."""
    if key is None:
        return
    print(
        "No QWENTRADE_API_KEY is set: generated an API key for this database. It is shown "
        "only now (only its hash is stored); send it as the X-API-Key header:\n\n"
        f"    {key}\n\n"
        "Lost it? Restart with `qwentrade serve --new-api-key`, or set QWENTRADE_API_KEY.",
        file=sys.stdout,
        flush=True,
    )


def serve(
    settings: Settings, *, stop: threading.Event | None = None, new_api_key: bool = False
) -> None:
    """Run the whole system until SIGINT/SIGTERM (or ``stop`` is set).

    In order: the port is bound (a port in use is one clear error), the database migrated,
    the API key ensured, then the container's ``background_components()`` are started
    (sync engine, private stream, pending monitor, reconciliation, signal policy: whatever
    it lists), then the HTTP server. On a stop the HTTP server ends first, then the
    components in reverse order, all within ``settings.shutdown_grace`` seconds.
    """
    check_exposure(settings)
    if settings.mode is Mode.SIM and settings.sim_speed is None:
        settings = attrs.evolve(settings, sim_speed=SIM_SERVE_SPEED)
    sock = bind(settings.http_host, settings.http_port)
    try:
        _serve(settings, sock, stop, new_api_key)
    finally:
        sock.close()


def _serve(
    settings: Settings, sock: socket.socket, stop: threading.Event | None, new_api_key: bool
) -> None:
    container = build(settings)
    revision = prepare_database(container)
    log.info("database schema at revision %s", revision)
    announce_key(ensure_api_key(container, renew=new_api_key))
    app = container.http_app()
    deadline_box: list[float] = []
    config = uvicorn.Config(
        app,
        host=settings.http_host,
        port=settings.http_port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=max(1, int(settings.shutdown_grace / 2)),
        lifespan="on",
    )
    server = _Server(config, on_exit=lambda: deadline_box.append(time.monotonic()))
    if stop is not None:
        threading.Thread(
            target=lambda: (stop.wait(), setattr(server, "should_exit", True)),
            name="stop-watcher",
            daemon=True,
        ).start()
    started = start_components(container.background_components())
    try:
        log.info(
            "qwentrade %s starting in %s mode%s on http://%s:%s (database %s)",
            qwentrade.__version__,
            settings.mode.value,
            f" ({settings.sim_speed:g}x real time)" if settings.mode is Mode.SIM else "",
            settings.http_host,
            sock.getsockname()[1],
            settings.describe()["database_url"],
        )
        server.run(sockets=[sock])
    finally:
        began = deadline_box[0] if deadline_box else time.monotonic()
        stop_components(started, began + settings.shutdown_grace)
    log.info("qwentrade stopped")


def start_components(components: Iterable[tuple[str, Any]]) -> list[tuple[str, Any]]:
    """Start each component in order; on a failure stop those started and re-raise."""
    started: list[tuple[str, Any]] = []
    for name, component in components:
        try:
            component.start()
        except BaseException:
            log.error("%s failed to start; stopping the components already started", name)
            stop_components(started, time.monotonic() + 5)
            raise
        log.info("%s started", name)
        started.append((name, component))
    return started


def stop_components(started: list[tuple[str, Any]], deadline: float) -> None:
    """Stop the components in reverse order, sharing what is left until ``deadline``."""
    for name, component in reversed(started):
        left = max(0.1, deadline - time.monotonic())
        try:
            component.stop(left)
        except Exception:  # one component failing to stop must not keep the others running
            log.exception("%s failed to stop cleanly", name)
        else:
            log.info("%s stopped", name)
