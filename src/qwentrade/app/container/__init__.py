"""The composition root: the only module that knows every adapter.

``build(settings)`` returns a :class:`Container`; the CLI, the HTTP service, a notebook
and the tests all start here with different settings. Each provider is a method that
builds its object once, on first call (one database engine, one exchange, one service of
each kind per container), and imports its adapter only then: ``qwentrade config get``
imports the SQL adapter and nothing of the exchange, the indicators or the HTTP app, and
a backfill with nothing missing imports neither the exchange nor polars.

Modes pick two things apart: ``market_data()`` (where candles and funding come from:
backfill, sync) and ``exchange()`` (where orders go):

======  =================================  ==========================================
mode    market_data()                      exchange()
======  =================================  ==========================================
sim     the simulated exchange             the same simulated exchange
paper   OKX public endpoints (no keys)     a simulated exchange on OKX's closed candles
live    OKX (keys required)                the same OKX exchange (one permit gate)
======  =================================  ==========================================

In paper mode the simulated exchange walks OKX's closed 1m candles on a clock one bar and
a grace behind real time (``adapters/sim/live.py`` says why and what it costs); the
candles reach it through a fetch function made here, as the sim adapter never imports
the OKX one.

The container is built in layers, one module each: ``modes.py`` (what sim, paper and
live build), ``adapters.py`` (``AdapterProviders``: clock, database, exchanges, notifier),
``services.py`` (``ServiceProviders``: sync, trading, pending orders, reconciliation) and
this module (``Container``: what ``serve`` starts and the HTTP adapter serves; ``build``).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from qwentrade.app.container.adapters import _once
from qwentrade.app.container.modes import EXCHANGE_CHECKS
from qwentrade.app.container.services import ServiceProviders

if TYPE_CHECKING:
    import sqlalchemy as sa
    from litestar import Litestar

    from qwentrade.adapters.notify import StreamWatcher
    from qwentrade.app.services import GateCounters, Services, StreamCounters, TableInfo
    from qwentrade.app.settings import Settings
    from qwentrade.app.system import SystemService
    from qwentrade.ports.notifier import Notifier

__all__ = ["Container", "_once", "build", "prepare_database"]


class Container(ServiceProviders):
    """Providers from settings to services: call one to get its (single) object."""

    def background_components(self) -> list[tuple[str, Any]]:
        """The long-running components ``qwentrade serve`` starts, in this order (and
        stops in reverse): ``(name, component)`` pairs with ``start()``/``stop(timeout)``."""
        return [
            ("notifier", self.notifications()),  # first: stopped last, it flushes its queue
            ("trading-leases", self.trading_leases()),
            ("reconciliation", self.reconciler()),
            ("stream-watch", self.stream_watcher()),
            ("sync", self.sync_engine()),
            ("pending-monitor", self.pending_monitor()),
            ("signal-policy", self.signal_policy()),
        ]

    @_once
    def notifications(self) -> Notifier:
        """``notifier()`` with the sync engine's sources wired: each new signal, and a job
        failing ``NOTIFY_SYNC_FAILING_RUNS`` runs in a row (the trading sources go through
        ``notifying_repositories()``, the HTTP key refusals through ``http_app()``)."""
        from qwentrade.adapters.notify import SyncFailureListener
        from qwentrade.domain.notify import signal_notice

        notifier = self.notifier()
        engine = self.sync_engine()
        engine.subscribe(lambda signal: notifier.send(signal_notice(signal)))
        engine.on_run(SyncFailureListener(notifier, self.repositories().config))
        return notifier

    @_once
    def stream_watcher(self) -> StreamWatcher:
        """Tells the private stream down for more than ``NOTIFY_STREAM_DOWN_SECONDS``."""
        from qwentrade.adapters.notify import StreamWatcher

        stream = self.private_stream()
        return StreamWatcher(
            lambda: stream.connected, self.notifier(), self.repositories().config, self.clock()
        )

    @_once
    def system(self) -> SystemService:
        from qwentrade.app.system import SystemService

        # Component checks run in the HTTP adapter's health monitor (off the event loop,
        # with a timeout): see services().health_checks.
        return SystemService(mode=self.mode())

    @_once
    def services(self) -> Services:
        """The bundle the HTTP adapter serves (services this build lacks stay None)."""
        from qwentrade.app.services import Services

        repositories = self.repositories()
        optional = {
            name: getattr(self, provider)()
            for name, provider in (("trading", "trading"), ("pending", "pending_orders"))
            if hasattr(self, provider)
        }
        return Services(
            system=self.system(),
            mode=self.mode(),
            symbols=self.settings.symbols,
            clock=self.clock(),
            config=repositories.config,
            klines=repositories.klines,
            signals=repositories.signals,
            history=repositories.history,
            intents=repositories.intents,
            relations=repositories.relations,
            status=repositories.status,
            detection=self.detection(),
            sync=self.sync_engine(),
            health_checks=_health_checks(self),
            database_test=functools.partial(_database_test, self.database()),
            database_tables=functools.partial(_database_tables, self.database()),
            gate_state=functools.partial(_gate_counters, self),
            stream_state=functools.partial(_stream_counters, self),
            **optional,
        )

    def api_key_digest(self) -> str | None:
        """The digest of the HTTP API key: of ``QWENTRADE_API_KEY`` when set, else the one
        stored at first start (``qwentrade serve`` generates it), else None."""
        from qwentrade.app.services import API_KEY_COMPONENT, api_key_digest

        if self.settings.api_key:
            return api_key_digest(self.settings.api_key.reveal())
        stored = self.repositories().status.get(API_KEY_COMPONENT)
        return stored.note if stored and stored.note else None

    @_once
    def http_app(self) -> Litestar:
        from qwentrade.adapters.http.app import HttpSettings, create_app

        settings = self.settings
        http = HttpSettings(
            api_key_digest=self.api_key_digest(),
            open_reads=settings.http_open_reads,
            cors_origins=settings.http_cors_origins,
            max_body_bytes=settings.http_max_body_bytes,
        )
        app = create_app(self.services(), http)
        notifier, clock = self.notifier(), self.clock()

        def on_auth_failure(method: str, route: str, client: str, reason: str) -> None:
            from qwentrade.domain.notify import auth_failure_notice

            notifier.send(auth_failure_notice(method, route, client, reason, clock.now()))

        app.state["on_auth_failure"] = on_auth_failure  # adapters/http/auth.py calls it
        return app


def _health_checks(container: Container) -> dict[str, Callable[[], str]]:
    """The components ``/health`` reports: database, exchange, private stream, scheduler."""
    from qwentrade.app.services import ComponentDisabled

    database = container.database()

    def check_database() -> str:
        with database.connect() as connection:
            connection.exec_driver_sql("SELECT 1")
        return ""

    def check_exchange() -> str:
        return f"server time {container.exchange().server_time().isoformat()}"

    def check_stream() -> str:
        if "private_stream" not in container._built:
            raise ComponentDisabled("not started by this process")
        if not container.private_stream().connected:
            raise ConnectionError("the private stream is not delivering events")
        return "connected"

    def check_scheduler() -> str:
        engine = container._built.get("sync_engine")
        if engine is None or getattr(engine, "_scheduler", None) is None:
            raise ComponentDisabled("the sync engine is not started in this process")
        if engine.stop_event.is_set():
            raise RuntimeError("the sync engine has stopped")
        failing = [job["job"] for job in engine.status() if job["state"] == "FAILING"]
        return f"running; failing: {', '.join(failing)}" if failing else "running"

    return {
        "database": check_database,
        "exchange": check_exchange,
        "private_stream": check_stream,
        "scheduler": check_scheduler,
    }


def _database_test(engine: sa.Engine) -> str:
    """``<dialect> <server version>, schema <revision>`` after one round trip."""
    with engine.connect() as connection:
        revision = connection.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
        version = ".".join(str(part) for part in (engine.dialect.server_version_info or ()))
    return f"{engine.dialect.name} {version}, schema {revision}"


def _database_tables(engine: sa.Engine) -> list[TableInfo]:
    """Every table of the database (of its schema) with its exact row count."""
    import sqlalchemy as sa

    from qwentrade.app.services import TableInfo

    with engine.connect() as connection:
        names = sorted(sa.inspect(connection).get_table_names())
        count = sa.select(sa.func.count())
        return [
            TableInfo(name, connection.execute(count.select_from(sa.table(name))).scalar_one())
            for name in names
        ]


def _gate_counters(container: Container) -> GateCounters | None:
    """The permit gate's counters, when this process has built one (OKX calls)."""
    from qwentrade.app.services import GateCounters

    gate = container._built.get("permit_gate")
    if gate is None:
        return None
    state = gate.state()

    def named(values: Any) -> dict[str, Any]:
        return {priority.name: value for priority, value in values.items()}

    return GateCounters(
        waiting=named(state.waiting),
        admitted=named(state.admitted),
        total_wait_seconds=named(state.total_wait),
        max_wait_seconds=named(state.max_wait),
        timed_out=named(state.timed_out),
    )


def _stream_counters(container: Container) -> StreamCounters | None:
    """The private stream's state, when this process has started it."""
    from qwentrade.app.services import StreamCounters

    stream = container._built.get("private_stream")
    if stream is None:
        return None
    state = getattr(stream, "state", None)
    reconnects = state().reconnects if callable(state) else 0
    return StreamCounters(connected=bool(stream.connected), reconnects=reconnects)


def prepare_database(container: Container) -> str:
    """Migrate the database to head (refusing one newer than the code); the revision.

    A database already at head costs one query: Alembic is imported only to migrate."""
    from qwentrade.adapters.sql import ensure_schema

    return ensure_schema(container.database())


def build(settings: Settings) -> Container:
    """A container for ``settings``. What a mode needs is checked here without building
    anything (sim: symbols it simulates; live: the three OKX keys, ``InvalidInput`` naming
    the first missing variable), so a start that cannot work stops at once with one clear
    error; the exchange itself is built on first use."""
    EXCHANGE_CHECKS[settings.mode](settings)
    return Container(settings)
