"""The composition root: the only module that knows every adapter.

``build(settings)`` returns a :class:`Container`; the CLI, the HTTP service, a notebook
and the tests all start here with different settings. Providers are singletons: one
database engine, one exchange, one service of each kind per container.
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from dependency_injector import containers, providers

from qwentrade.adapters.http.app import HttpSettings, create_app
from qwentrade.adapters.sim import GeneratedPath, RealClock, SimEngine, SimExchange
from qwentrade.adapters.sql import SqlRepositories, ensure_schema, make_engine
from qwentrade.app.backfill import KlineBackfill
from qwentrade.app.detection import DetectionService
from qwentrade.app.services import Services
from qwentrade.app.settings import Settings, SettingsError
from qwentrade.app.system import SystemService
from qwentrade.domain.instruments import DEFAULT_INSTRUMENTS

# The simulated market is one deterministic path: the same seed from the same start, so
# candles stored by one run are the candles the next run sees (upserts never flip-flop).
SIM_SEED = 1
SIM_START = datetime(2025, 1, 1, tzinfo=UTC)


def _http_settings(settings: Settings) -> HttpSettings:
    return HttpSettings(api_key=settings.api_key.reveal() if settings.api_key else None)


def _sim_engine(settings: Settings, clock: RealClock) -> SimEngine:
    unknown = [s for s in settings.symbols if s not in DEFAULT_INSTRUMENTS]
    if unknown:
        raise SettingsError(
            "QWENTRADE_SYMBOLS",
            f"sim mode simulates {', '.join(DEFAULT_INSTRUMENTS)}; it has no instrument "
            f"facts for {', '.join(unknown)}",
        )
    path = GeneratedPath(settings.symbols, seed=SIM_SEED, start=SIM_START)
    instruments = [DEFAULT_INSTRUMENTS[s] for s in settings.symbols]
    return SimEngine(instruments, clock=clock, price_path=path)


def _venue_unavailable(settings: Settings) -> None:
    raise SettingsError(
        "QWENTRADE_MODE",
        f"{settings.mode.value} mode needs the OKX adapter, which this release does not "
        "have yet; use QWENTRADE_MODE=sim",
    )


def _database_check(engine: sa.Engine):
    def check() -> None:
        with engine.connect() as connection:
            connection.exec_driver_sql("SELECT 1")

    return check


class Container(containers.DeclarativeContainer):
    """Providers from settings to services."""

    settings = providers.Dependency(instance_of=Settings)
    mode = providers.Callable(lambda s: s.mode.value, settings)
    clock = providers.Singleton(RealClock)

    database = providers.Singleton(make_engine, settings.provided.database_url)
    repositories = providers.Singleton(SqlRepositories.from_engine, database)

    sim_engine = providers.Singleton(_sim_engine, settings, clock)
    exchange = providers.Selector(
        mode,
        sim=providers.Singleton(SimExchange, sim_engine),
        paper=providers.Callable(_venue_unavailable, settings),
        live=providers.Callable(_venue_unavailable, settings),
    )

    backfill = providers.Singleton(
        KlineBackfill,
        exchange,
        repositories.provided.klines,
        clock,
        config=repositories.provided.config,
    )
    detection = providers.Singleton(
        DetectionService,
        repositories.provided.klines,
        repositories.provided.signals,
        clock,
        repositories.provided.config,
    )
    system = providers.Singleton(
        SystemService,
        mode=mode,
        checks=providers.Dict(database=providers.Callable(_database_check, database)),
    )
    services = providers.Singleton(Services, system=system)
    http_settings = providers.Singleton(_http_settings, settings)
    http_app = providers.Singleton(create_app, services, http_settings)


def prepare_database(container: Container) -> str:
    """Migrate the database to head (refusing one newer than the code); the revision."""
    return ensure_schema(container.database())


def build(settings: Settings) -> Container:
    """A container for ``settings``. The exchange is resolved here so that a mode or symbol
    it cannot serve is refused at start with a clear error (the OKX adapter that paper and
    live need is not in this release)."""
    container = Container(settings=settings)
    container.exchange()  # refuses paper/live, and symbols the sim cannot simulate
    return container
