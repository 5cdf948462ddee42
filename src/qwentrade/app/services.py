"""The bundle of application services handed to driving adapters (HTTP, notebooks).

Everything here is resolved by the container (``app/container/``) before any thread starts. Services
that a mode or a build does not have yet are ``None`` (the HTTP adapter then leaves their
routes out of the app instead of serving an endpoint that cannot work).

Probes are plain callables returning plain values, so the HTTP adapter needs no adapter
type: ``health_checks`` raise when their component is down and return a short note
otherwise; ``database_tables`` lists tables with their row counts; ``gate_state`` and
``stream_state`` give the permit gate's and the private stream's counters.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from typing import Any

import attrs

from qwentrade.app.detection import DetectionService
from qwentrade.app.system import SystemService
from qwentrade.ports.clock import Clock
from qwentrade.ports.config import ConfigStore
from qwentrade.ports.repositories import (
    HistoryRepository,
    IntentRepository,
    KlineRepository,
    RelationRepository,
    SignalRepository,
    StatusRepository,
)

# A health check: returns a short note ("" for nothing to say) or raises when down.
HealthCheck = Callable[[], str]


class ComponentDisabled(Exception):
    """Raised by a health check whose component is off by design (e.g. no CoinGlass key)."""


@attrs.frozen
class TableInfo:
    """One database table and its row count."""

    name: str
    rows: int


@attrs.frozen
class GateCounters:
    """The permit gate now, per priority name (STOP_LOSS, TRADE, QUERY)."""

    waiting: Mapping[str, int]
    admitted: Mapping[str, int]
    total_wait_seconds: Mapping[str, float]
    max_wait_seconds: Mapping[str, float]
    timed_out: Mapping[str, int]


@attrs.frozen
class StreamCounters:
    """The private stream now: connected or not, reconnects since start."""

    connected: bool
    reconnects: int


@attrs.frozen
class Services:
    """Every use-case service, resolved before any thread starts.

    ``symbols`` are the configured instruments (requests naming another are refused);
    ``trading``, ``pending`` and ``sync`` are the trading service, the pending-order
    service and the sync engine, ``None`` where the build has none.
    """

    system: SystemService
    mode: str = "sim"
    symbols: tuple[str, ...] = ()
    clock: Clock | None = None
    config: ConfigStore | None = None
    klines: KlineRepository | None = None
    signals: SignalRepository | None = None
    history: HistoryRepository | None = None
    intents: IntentRepository | None = None
    relations: RelationRepository | None = None
    status: StatusRepository | None = None
    detection: DetectionService | None = None
    # app.trading.TradingService, app.pending.PendingOrderService, app.sync.engine.SyncEngine:
    # typed Any because Litestar resolves this class's annotations at run time and the
    # bundle must not import those modules (and everything they import) to be built.
    trading: Any = None
    pending: Any = None
    sync: Any = None
    health_checks: Mapping[str, HealthCheck] = attrs.field(factory=dict)
    database_test: Callable[[], str] | None = None
    database_tables: Callable[[], list[TableInfo]] | None = None
    gate_state: Callable[[], GateCounters | None] | None = None
    stream_state: Callable[[], StreamCounters | None] | None = None


# The system_status row holding the digest of the HTTP API key generated at first start
# (only the digest is stored; the key itself is printed once and never kept).
API_KEY_COMPONENT = "http_api_key"
API_KEY_DIGEST_PREFIX = "sha256:"


def api_key_digest(key: str) -> str:
    """The stored form of an HTTP API key: ``sha256:`` and its hex SHA-256 digest.

    Keys are random 256-bit values (or chosen by the operator), so a plain hash is enough:
    there is nothing to guess from it."""
    return API_KEY_DIGEST_PREFIX + hashlib.sha256(key.encode("utf-8")).hexdigest()
