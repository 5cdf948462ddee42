"""The providers of the driven adapters: clock, database and repositories, the exchanges
and the private stream of the mode (``modes.py`` builds them), the market sources and the
notifier; and ``_once``, which makes a method a provider.

:class:`AdapterProviders` is the first layer of :class:`~qwentrade.app.container.Container`
(``services.py`` adds the application services, ``__init__.py`` what ``serve`` and the
HTTP adapter use); each provider imports its adapter only when first called.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from qwentrade.app.container.modes import (
    ENGINES,
    EXCHANGES,
    MARKET_DATA,
    STREAMS,
    _check_live,
    _sim_resume_time,
)
from qwentrade.app.settings import Mode, Settings
from qwentrade.domain.errors import InvalidInput

if TYPE_CHECKING:
    import sqlalchemy as sa

    from qwentrade.adapters.coinglass import CoinGlassSource
    from qwentrade.adapters.notify import NotifyingRepositories
    from qwentrade.adapters.okx import OkxExchange, OkxMarketSource, PermitGate
    from qwentrade.adapters.sim import SimEngine
    from qwentrade.adapters.sql import SqlRepositories
    from qwentrade.adapters.sql.repositories.kline_index import SqlKlineIndex
    from qwentrade.ports.clock import Clock
    from qwentrade.ports.exchange import Exchange, PrivateStream
    from qwentrade.ports.notifier import Notifier

T = TypeVar("T")
C = TypeVar("C", bound="AdapterProviders")


def _once(build: Callable[[C], T]) -> Callable[[C], T]:
    """A provider: built on the first call, the same object afterwards (a singleton per
    container; the lock makes two threads asking at once build it once)."""
    name = build.__name__

    @functools.wraps(build)
    def provide(self: C) -> T:
        with self._lock:
            if name not in self._built:
                self._built[name] = build(self)
            return self._built[name]

    return provide


class AdapterProviders:
    """The adapters' providers (the first layer of ``Container``)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._lock = threading.RLock()
        self._built: dict[str, Any] = {}

    def mode(self) -> str:
        return self.settings.mode.value

    @_once
    def clock(self) -> Clock:
        """Real time; in sim mode with ``QWENTRADE_SIM_SPEED`` other than 1, simulated time
        running that many times faster, resumed where the stored candles end (never
        earlier than now), so a restart continues the simulated market."""
        from qwentrade.adapters.sim.clock import AcceleratedClock, RealClock

        speed = self.settings.sim_speed
        if self.settings.mode is not Mode.SIM or speed is None or speed == 1:
            return RealClock()
        return AcceleratedClock(_sim_resume_time(self), speed)

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
        """The simulated exchange: on the generated market (sim) or on OKX's closed
        candles (paper); live has none."""
        return ENGINES[self.settings.mode](self)

    @_once
    def permit_gate(self) -> PermitGate:
        """The one permit gate of this process's OKX calls (limits from the config table)."""
        from qwentrade.adapters.okx import PermitGate

        return PermitGate(self.repositories().config)

    @_once
    def okx(self) -> OkxExchange:
        """OKX at ``okx_rest_url``: signed with the three keys in live mode, public only
        (no keys) in paper mode."""
        from qwentrade.adapters.okx import OkxCredentials, OkxExchange

        settings = self.settings
        credentials = None
        if settings.mode is Mode.LIVE:
            _check_live(settings)
            key, secret, passphrase = (
                settings.okx_api_key,
                settings.okx_secret,
                settings.okx_passphrase,
            )
            assert key and secret and passphrase  # _check_live
            credentials = OkxCredentials(key.reveal(), secret.reveal(), passphrase.reveal())
        return OkxExchange(
            self.permit_gate(),
            rest_url=settings.okx_rest_url,
            credentials=credentials,
            demo=settings.okx_demo,
            config=self.repositories().config,
        )

    @_once
    def exchange(self) -> Exchange:
        """Where orders go: the simulated exchange (sim, paper) or OKX (live)."""
        return EXCHANGES[self.settings.mode](self)

    @_once
    def private_stream(self) -> PrivateStream:
        """Account updates of the order venue: the simulated exchange's (sim, paper) or
        OKX's private WebSocket (live; OKX's demo host with ``QWENTRADE_OKX_DEMO``)."""
        return STREAMS[self.settings.mode](self)

    @_once
    def market_data(self) -> Exchange:
        """Where candles and funding come from: the simulated market (sim) or OKX."""
        return MARKET_DATA[self.settings.mode](self)

    @_once
    def coinglass(self) -> CoinGlassSource:
        """CoinGlass v4 at ``coinglass_url`` with ``QWENTRADE_COINGLASS_API_KEY``; only when
        a key is set (otherwise ``InvalidInput`` naming the setting)."""
        from qwentrade.adapters.coinglass import CoinGlassClient, CoinGlassSource

        key = self.settings.coinglass_api_key
        if key is None:
            raise InvalidInput(
                "coinglass_api_key", "no CoinGlass key: set QWENTRADE_COINGLASS_API_KEY"
            )
        return CoinGlassSource(CoinGlassClient(key, base_url=self.settings.coinglass_url))

    @_once
    def okx_statistics(self) -> OkxMarketSource:
        """OKX's own public statistics (open interest, long/short ratio, liquidations;
        recent history only), through the OKX exchange's permit gate; no keys needed."""
        from qwentrade.adapters.okx import OkxMarketSource

        return OkxMarketSource(self.okx())

    @_once
    def notifier(self) -> Notifier:
        """Where notifications go: the Apprise URLs of ``QWENTRADE_NOTIFY_URLS`` (a
        background queue: ``start()``/``stop()``); without any, a MemoryNotifier that keeps
        the last ones. Kinds are switched and rate-limited by the ``NOTIFY_*`` keys."""
        from qwentrade.adapters.notify import AppriseNotifier, MemoryNotifier
        from qwentrade.app.settings import notify_url_list

        config = self.repositories().config
        urls = notify_url_list(self.settings.notify_urls)
        if not urls:
            return MemoryNotifier(config, self.clock())
        return AppriseNotifier(urls, config, self.clock(), secrets=self.settings.secrets())

    @_once
    def notifying_repositories(self) -> NotifyingRepositories:
        """``repositories()`` whose intents, relations and pending orders tell the notifier
        what a stored change means (a position opened, closed by its stop-loss, ...)."""
        from qwentrade.adapters.notify import NotifyingRepositories

        return NotifyingRepositories(self.repositories(), self.notifier())
