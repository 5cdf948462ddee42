"""The composition root: the only module that knows every adapter.

``build(settings)`` returns a :class:`Container`; the CLI, the HTTP service, a notebook
and the tests all start here with different settings. Each provider is a method that
builds its object once, on first call (one database engine, one exchange, one service of
each kind per container), and imports its adapter only then: ``qwentrade config get``
imports the SQL adapter and nothing of the exchange, the indicators or the HTTP app, and
a backfill with nothing missing imports neither the exchange nor polars.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

from qwentrade.app.settings import Mode, Settings, SettingsError
from qwentrade.domain.instruments import DEFAULT_INSTRUMENTS

if TYPE_CHECKING:
    import sqlalchemy as sa
    from litestar import Litestar

    from qwentrade.adapters.sim import RealClock, SimEngine
    from qwentrade.adapters.sql import SqlRepositories
    from qwentrade.adapters.sql.repositories.kline_index import SqlKlineIndex
    from qwentrade.app.backfill import KlineBackfill
    from qwentrade.app.detection import DetectionService
    from qwentrade.app.gaps import KlineGaps
    from qwentrade.app.services import Services
    from qwentrade.app.system import SystemService
    from qwentrade.ports.exchange import Exchange

# The simulated market is one deterministic path: the same seed from the same start, so
# candles stored by one run are the candles the next run sees (upserts never flip-flop).
SIM_SEED = 1
SIM_START = datetime(2025, 1, 1, tzinfo=UTC)

T = TypeVar("T")


def _once(build: Callable[[Container], T]) -> Callable[[Container], T]:
    """A provider: built on the first call, the same object afterwards (a singleton per
    container; the lock makes two threads asking at once build it once)."""
    name = build.__name__

    @functools.wraps(build)
    def provide(self: Container) -> T:
        with self._lock:
            if name not in self._built:
                self._built[name] = build(self)
            return self._built[name]

    return provide


def _check_sim(settings: Settings) -> None:
    unknown = [s for s in settings.symbols if s not in DEFAULT_INSTRUMENTS]
    if unknown:
        raise SettingsError(
            "QWENTRADE_SYMBOLS",
            f"sim mode simulates {', '.join(DEFAULT_INSTRUMENTS)}; it has no instrument "
            f"facts for {', '.join(unknown)}",
        )


def _venue_unavailable(settings: Settings) -> NoReturn:
    raise SettingsError(
        "QWENTRADE_MODE",
        f"{settings.mode.value} mode needs the OKX adapter, which this release does not "
        "have yet; use QWENTRADE_MODE=sim",
    )


def _sim_exchange(container: Container) -> Exchange:
    from qwentrade.adapters.sim import SimExchange

    return SimExchange(container.sim_engine())


def _no_exchange(container: Container) -> Exchange:
    _venue_unavailable(container.settings)


# The exchange each mode trades on, and the check made at build time without building it.
EXCHANGES: dict[Mode, Callable[[Container], Exchange]] = {
    Mode.SIM: _sim_exchange,
    Mode.PAPER: _no_exchange,
    Mode.LIVE: _no_exchange,
}
EXCHANGE_CHECKS: dict[Mode, Callable[[Settings], None]] = {
    Mode.SIM: _check_sim,
    Mode.PAPER: _venue_unavailable,
    Mode.LIVE: _venue_unavailable,
}


class Container:
    """Providers from settings to services: call one to get its (single) object."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._lock = threading.RLock()
        self._built: dict[str, Any] = {}

    def mode(self) -> str:
        return self.settings.mode.value

    @_once
    def clock(self) -> RealClock:
        from qwentrade.adapters.sim.clock import RealClock

        return RealClock()

    @_once
    def database(self) -> sa.Engine:
        from qwentrade.adapters.sql.engine import make_engine

        return make_engine(self.settings.database_url)

    @_once
    def repositories(self) -> SqlRepositories:
        from qwentrade.adapters.sql.repositories import SqlRepositories

        return SqlRepositories.from_engine(self.database())

    @_once
    def kline_index(self) -> SqlKlineIndex:
        """``missing_closes`` and ``stats`` of the klines tables, without the candle code."""
        from qwentrade.adapters.sql.repositories.kline_index import SqlKlineIndex

        return SqlKlineIndex(self.database())

    @_once
    def sim_engine(self) -> SimEngine:
        from qwentrade.adapters.sim import GeneratedPath, SimEngine

        settings = self.settings
        _check_sim(settings)
        path = GeneratedPath(settings.symbols, seed=SIM_SEED, start=SIM_START)
        instruments = [DEFAULT_INSTRUMENTS[s] for s in settings.symbols]
        return SimEngine(instruments, clock=self.clock(), price_path=path)

    @_once
    def exchange(self) -> Exchange:
        return EXCHANGES[self.settings.mode](self)

    @_once
    def gaps(self) -> KlineGaps:
        from qwentrade.app.gaps import KlineGaps

        return KlineGaps(self.kline_index(), self.clock(), self.repositories().config)

    @_once
    def backfill(self) -> KlineBackfill:
        from qwentrade.app.backfill import KlineBackfill

        repositories = self.repositories()
        return KlineBackfill(
            self.exchange(), repositories.klines, self.clock(), config=repositories.config
        )

    @_once
    def detection(self) -> DetectionService:
        from qwentrade.app.detection import DetectionService

        repositories = self.repositories()
        return DetectionService(
            repositories.klines, repositories.signals, self.clock(), repositories.config
        )

    @_once
    def system(self) -> SystemService:
        from qwentrade.app.system import SystemService

        database = self.database()

        def check() -> None:
            with database.connect() as connection:
                connection.exec_driver_sql("SELECT 1")

        return SystemService(mode=self.mode(), checks={"database": check})

    @_once
    def services(self) -> Services:
        from qwentrade.app.services import Services

        return Services(system=self.system())

    @_once
    def http_app(self) -> Litestar:
        from qwentrade.adapters.http.app import HttpSettings, create_app

        api_key = self.settings.api_key
        settings = HttpSettings(api_key=api_key.reveal() if api_key else None)
        return create_app(self.services(), settings)


def prepare_database(container: Container) -> str:
    """Migrate the database to head (refusing one newer than the code); the revision.

    A database already at head costs one query: Alembic is imported only to migrate."""
    from qwentrade.adapters.sql import ensure_schema

    return ensure_schema(container.database())


def build(settings: Settings) -> Container:
    """A container for ``settings``. The mode and symbols are checked here, so that one the
    exchange cannot serve is refused at start with a clear error (the OKX adapter that paper
    and live need is not in this release); the exchange itself is built on first use."""
    EXCHANGE_CHECKS[settings.mode](settings)
    return Container(settings)
