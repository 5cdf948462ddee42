"""Implementations of the PrivateStream port that its contract suite runs against.

Each factory returns a :class:`StreamVenue`: the stream, the simulated engine whose
changes it reports (the test acts on the engine directly), the capabilities that differ
between implementations, and how to release everything. Adding an implementation is one
entry in ``STREAMS``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import attrs

from qwentrade.adapters.memory import MemoryConfigStore
from qwentrade.adapters.okx import OkxCredentials, OkxPrivateStream
from qwentrade.adapters.sim import GeneratedPath, SimEngine, SimPrivateStream, SteppedClock
from qwentrade.ports.exchange import PrivateStream
from qwentrade.testing.fake_okx import FakeOkx

SYMBOL = "BTC-USDT-SWAP"
PATH_START = datetime(2024, 3, 1, tzinfo=UTC)
KEY, SECRET, PASSPHRASE = "contract-key", "contract-secret", "contract-pass"


@attrs.define
class StreamVenue:
    """One PrivateStream implementation under test.

    ``engine`` is the simulated exchange whose changes the stream reports. Capabilities:
    ``wire_faults`` - the transport can be dropped (``drop()``) and pushes duplicated
    (``duplicate(n)``), as on the fake OKX server; ``algo_orders`` - algo (TP/SL) order
    changes are delivered; ``balances`` - balance changes are delivered.
    """

    name: str
    stream: PrivateStream
    engine: SimEngine
    wire_faults: bool = False
    algo_orders: bool = False
    balances: bool = False
    drop: Callable[[], None] = lambda: None
    duplicate: Callable[[int], None] = lambda count: None
    close: Callable[[], None] = lambda: None


def stepped_engine() -> SimEngine:
    clock = SteppedClock(PATH_START + timedelta(days=3, minutes=7))
    return SimEngine(
        balance=Decimal(10000), clock=clock, price_path=GeneratedPath(seed=11, start=PATH_START)
    )


def sim_stream() -> StreamVenue:
    """SimPrivateStream over the engine (its delivery thread on)."""
    engine = stepped_engine()
    stream = SimPrivateStream(engine)
    return StreamVenue("sim", stream, engine, algo_orders=True, balances=True, close=stream.close)


def okx_stream_over_fake_server() -> StreamVenue:
    """OkxPrivateStream talking to the fake OKX server on loopback, short intervals;
    ``orders-algo`` followed on the fake's business socket, as on OKX."""
    engine = stepped_engine()
    server = FakeOkx(
        engine,
        api_key=KEY,
        secret=SECRET,
        passphrase=PASSPHRASE,
        rate_limits=False,
        positions_interval=60.0,
    )
    server.start()
    config = MemoryConfigStore()
    config.set("WS_HEARTBEAT_INTERVAL", 1.0)
    config.set("WS_PING_TIMEOUT", 1.0)
    config.set("WS_RECONNECT_INTERVAL", 0.1)
    credentials = OkxCredentials(KEY, SECRET, PASSPHRASE)
    stream = OkxPrivateStream(
        server.ws_url, credentials, config=config, business_url=server.business_ws_url
    )

    def close() -> None:
        stream.close()
        server.stop()

    return StreamVenue(
        "okx-over-fake-server",
        stream,
        engine,
        wire_faults=True,
        algo_orders=True,
        drop=server.faults.drop_websockets,
        duplicate=server.faults.duplicate_pushes,
        close=close,
    )


#: name -> factory.
STREAMS: dict[str, Callable[[], StreamVenue]] = {
    "sim": sim_stream,
    "okx-over-fake-server": okx_stream_over_fake_server,
}
