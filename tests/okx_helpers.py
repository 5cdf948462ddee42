"""The OKX adapter wired to the fake OKX server, as most tests over the wire want it."""

from __future__ import annotations

from qwentrade.adapters.memory import MemoryConfigStore
from qwentrade.adapters.okx.exchange import OkxExchange
from qwentrade.adapters.okx.gate import PermitGate
from qwentrade.adapters.okx.retry import RetryPolicy
from qwentrade.adapters.okx.signing import OkxCredentials
from qwentrade.testing.fake_okx import FakeOkx


def okx_client(
    server: FakeOkx, config: MemoryConfigStore | None = None, *, quick: bool = True
) -> tuple[OkxExchange, MemoryConfigStore]:
    """OkxExchange (through a real PermitGate) talking to ``server`` on loopback with its
    credentials, and the ConfigStore it reads (``config``, or a new one).

    The gate's limits are opened up (API_RATE_LIMIT 1000, API_MIN_INTERVAL 0; the fake's
    own OKX limits still apply); ``quick`` also shortens the adapter's waits (order expiry
    0.5 s, retry backoff 0.05-0.2 s) so a suite runs in seconds.
    """
    config = MemoryConfigStore() if config is None else config
    config.set("API_RATE_LIMIT", 1000)
    config.set("API_MIN_INTERVAL", 0)
    keys = server.credentials
    waits = {"order_expiry": 0.5, "backoff": RetryPolicy(base=0.05, cap=0.2)} if quick else {}
    exchange = OkxExchange(
        PermitGate(config),
        rest_url=server.rest_url,
        credentials=OkxCredentials(keys.api_key, keys.secret, keys.passphrase),
        config=config,
        **waits,
    )
    return exchange, config
