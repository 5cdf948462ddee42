"""FakeOkx: the simulated exchange behind OKX's v5 REST and private WebSocket, on loopback.

A Litestar app served by uvicorn in a background thread on ``127.0.0.1`` (an ephemeral
port unless one is given). REST requests are handled by :class:`~.dispatch.Dispatcher`
from the raw path, raw query and raw body exactly as received (signatures are checked on
those bytes); ``/ws/v5/private`` is the private WebSocket (:mod:`.ws`)::

    with FakeOkx(balance=10000, history_days=3, seed=1) as okx:
        exchange = ccxt.okx(okx.ccxt_config())      # REST pointed at the fake
        okx.faults.timeout("/api/v5/trade/batch-orders", seconds=5)
        okx.engine.advance(...)                     # when built on a stepped clock

``rest_url`` is ``http://127.0.0.1:PORT``; ``ws_url`` the private WebSocket URL,
``business_ws_url`` the business one (``orders-algo``);
``ws_base_url`` what ccxt.pro wants in ``urls['api']['ws']`` (it appends ``/private``).

Time: the market follows the engine's clock (real time, ``speed`` times faster, or the
clock you pass with your engine); ``/public/time`` reports market time, while request
timestamps are checked against the wall clock (both shifted by ``faults.skew_clock``).
With a real-time market the two agree, as on OKX.
"""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from litestar import Litestar, Request, Response, route, websocket
from litestar.connection import WebSocket

try:  # Litestar >= 2.24 names the raw body type; older versions take plain bytes
    from litestar.params import RawBody
except ImportError:  # pragma: no cover
    RawBody = bytes  # type: ignore[misc,assignment]

from qwentrade.adapters.sim import AcceleratedClock, GeneratedPath, RealClock, SimEngine
from qwentrade.domain.errors import InvalidInput
from qwentrade.domain.market import Timeframe
from qwentrade.testing.fake_okx.auth import Credentials
from qwentrade.testing.fake_okx.dispatch import Dispatcher
from qwentrade.testing.fake_okx.faults import FaultPlan
from qwentrade.testing.fake_okx.limits import LIMITS, Limit, RateLimiter
from qwentrade.testing.fake_okx.serving import ThreadedServer
from qwentrade.testing.fake_okx.state import ServerState
from qwentrade.testing.fake_okx.ws import BUSINESS_CHANNELS, PRIVATE_CHANNELS, WsHub

DEFAULT_API_KEY = "fake-okx-key"
DEFAULT_SECRET = "fake-okx-secret"
DEFAULT_PASSPHRASE = "fake-okx-passphrase"


def build_engine(
    balance: Decimal | int | str = 10000,
    history_days: float = 30,
    seed: int = 1,
    speed: float = 1.0,
) -> SimEngine:
    """A simulated exchange whose market has ``history_days`` of candles behind it and
    moves on in real time (``speed`` times faster when > 1)."""
    if history_days <= 0:
        raise InvalidInput("history_days", f"must be positive, got {history_days}")
    now = datetime.now(UTC)
    clock = RealClock() if speed == 1 else AcceleratedClock(now, speed)
    start = Timeframe.M15.floor(now - timedelta(days=history_days))
    path = GeneratedPath(seed=seed, start=start)
    return SimEngine(balance=Decimal(str(balance)), clock=clock, price_path=path)


class FakeOkx:
    """The fake OKX server. Use as a context manager, or ``start()``/``stop()`` (once).

    ``engine`` is the simulated exchange to serve; without one, ``balance``,
    ``history_days``, ``seed`` and ``speed`` build a real-time one (:func:`build_engine`).
    The one API key accepted is ``api_key``/``secret``/``passphrase``. ``rate_limits``:
    True enforces OKX's table (:data:`~.limits.LIMITS`), False none, a dict a table of your
    own. ``ws_idle_timeout`` is OKX's 30 s; ``positions_interval`` the period of the
    positions channel's snapshots. ``run_market`` keeps the engine in step with its clock
    in a background thread, so stops fire (and are pushed) with no request arriving.
    """

    def __init__(
        self,
        engine: SimEngine | None = None,
        *,
        api_key: str = DEFAULT_API_KEY,
        secret: str = DEFAULT_SECRET,
        passphrase: str = DEFAULT_PASSPHRASE,
        host: str = "127.0.0.1",
        port: int = 0,
        balance: Decimal | int | str = 10000,
        history_days: float = 30,
        seed: int = 1,
        speed: float = 1.0,
        faults: FaultPlan | None = None,
        rate_limits: bool | dict[tuple[str, str], Limit] = True,
        ws_idle_timeout: float = 30.0,
        positions_interval: float = 5.0,
        run_market: bool = True,
    ) -> None:
        self.engine = engine or build_engine(balance, history_days, seed, speed)
        self.credentials = Credentials(api_key, secret, passphrase)
        self.faults = faults or FaultPlan()
        self.host = host
        self._requested_port = port
        self._stop = threading.Event()
        self.state = ServerState(self.engine, self.faults)
        table = rate_limits if isinstance(rate_limits, dict) else LIMITS
        self.limiter = RateLimiter(table) if rate_limits else None
        self.dispatcher = Dispatcher(self.state, self.credentials, self.limiter, self._stop)
        self.hub = WsHub(self.state, self.credentials, ws_idle_timeout, positions_interval)
        self._run_market = run_market
        self._server: ThreadedServer | None = None
        self._threads: list[threading.Thread] = []
        self.port: int | None = None

    # -- URLs and client config --------------------------------------------------------

    @property
    def rest_url(self) -> str:
        return f"http://{self.host}:{self._bound_port()}"

    @property
    def ws_base_url(self) -> str:
        return f"ws://{self.host}:{self._bound_port()}/ws/v5"

    @property
    def ws_url(self) -> str:
        """The private WebSocket URL (``wss://ws.okx.com:8443/ws/v5/private`` on OKX)."""
        return self.ws_base_url + "/private"

    @property
    def business_ws_url(self) -> str:
        """The business WebSocket URL (``orders-algo``; ``wss://ws.okx.com:8443/ws/v5/business``)."""
        return self.ws_base_url + "/business"

    def _bound_port(self) -> int:
        if self.port is None:
            raise RuntimeError("the fake OKX server is not started; use it in a with block")
        return self.port

    def ccxt_config(self, **extra) -> dict:
        """Constructor config for ``ccxt.okx`` / ``ccxt.pro.okx`` pointed at this server."""
        config = {
            "apiKey": self.credentials.api_key,
            "secret": self.credentials.secret,
            "password": self.credentials.passphrase,
            "urls": {
                "api": {"rest": self.rest_url, "ws": self.ws_base_url},
                "test": {"rest": self.rest_url, "ws": self.ws_base_url},
            },
        }
        config.update(extra)
        return config

    # -- controls ------------------------------------------------------------------------

    def announce_upgrade(self, close_after: float = 60.0) -> None:
        """Send OKX's service-upgrade ``notice`` on every WebSocket, close them later."""
        self.hub.announce_upgrade(close_after)

    def drop_websockets(self) -> None:
        """Close every WebSocket connection now (same as ``faults.drop_websockets()``)."""
        self.hub.drop_all()

    def drop_business_websockets(self) -> None:
        """Close the business sockets only (``orders-algo``), the private ones stay."""
        self.hub.drop_all(channels=BUSINESS_CHANNELS)

    def websocket_count(self) -> int:
        return len(self.hub.connections)

    # -- lifecycle -----------------------------------------------------------------------

    def _app(self) -> Litestar:
        dispatcher, hub = self.dispatcher, self.hub

        @route(
            "/{path:path}",
            http_method=["GET", "POST", "PUT", "DELETE", "PATCH"],
            sync_to_thread=True,
        )
        def rest(request: Request, body: RawBody) -> Response:
            scope = request.scope
            raw_path = scope.get("raw_path") or scope["path"].encode()
            raw_query = scope.get("query_string", b"").decode("latin-1")
            client = scope.get("client") or ("127.0.0.1", 0)
            reply = dispatcher.handle(
                request.method,
                raw_path.decode("latin-1"),
                raw_query,
                request.headers,
                body,
                client[0],
            )
            return Response(reply.body, status_code=reply.status, media_type=reply.content_type)

        @websocket("/ws/v5/private")
        async def private(socket: WebSocket) -> None:
            await hub.serve(socket, PRIVATE_CHANNELS)

        @websocket("/ws/v5/public")
        async def public(socket: WebSocket) -> None:
            await hub.serve(socket, ())

        @websocket("/ws/v5/business")
        async def business(socket: WebSocket) -> None:
            await hub.serve(socket, BUSINESS_CHANNELS)

        async def remember_loop() -> None:
            hub.loop = asyncio.get_running_loop()

        return Litestar([rest, private, public, business], on_startup=[remember_loop], debug=False)

    def start(self) -> FakeOkx:
        """Bind, start serving and (unless ``run_market=False``) keep the market moving."""
        if self._server is not None:
            return self
        if self._stop.is_set():
            raise RuntimeError("a stopped FakeOkx cannot be restarted; make a new one")
        self._server = ThreadedServer(self._app(), self.host, self._requested_port, "fake-okx")
        self.port = self._server.start()
        if self._run_market:
            market = threading.Thread(
                target=self.engine.run, args=(self._stop,), name="fake-okx-market", daemon=True
            )
            market.start()
            self._threads.append(market)
        return self

    def stop(self) -> None:
        """Close connections, stop serving and stop the market thread."""
        self._stop.set()
        if self._server is not None:
            self.hub.drop_all(1001, "Server stopping")
            self._server.stop()
            self._server = None
        for thread in self._threads:
            thread.join(timeout=5)
        self._threads = []
        self.hub.detach()
        self.state.close()

    def __enter__(self) -> FakeOkx:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
