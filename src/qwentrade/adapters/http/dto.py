"""Request and response schemas of the HTTP API, with their to/from-domain functions
(trading and pending orders: ``dto_trading.py``).

Requests are msgspec Structs validated by Litestar before a handler runs: a wrong type, a
missing field or a value outside its range (a negative amount) is a 400 naming the field.
Prices and amounts are exact decimals: sent as JSON strings (``"0.01"``) or numbers, and
returned as strings. Times are ISO 8601 UTC.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal, TypeVar

import msgspec

from qwentrade.app.system import Health
from qwentrade.domain.config_keys import ConfigEntry
from qwentrade.domain.records import OrderRecord, PositionRecord, SignalRecord, StatusRecord
from qwentrade.domain.stats import OrderStats, PositionStats

# -- field types with their rules (they become the OpenAPI schema) ---------------------------

Symbol = Annotated[
    str,
    msgspec.Meta(
        min_length=1,
        max_length=32,
        pattern=r"^[A-Z0-9]{1,15}-[A-Z]{2,8}-SWAP$",
        description="An OKX perpetual swap the service is configured for",
        examples=["BTC-USDT-SWAP"],
    ),
]
SideName = Literal["LONG", "SHORT"]
# msgspec bounds numbers but not Decimals: the requests check these in __post_init__
# (a ValueError there is a 400 naming the field, like a type error).
Amount = Annotated[Decimal, msgspec.Meta(description="A positive decimal (> 0)", examples=["100"])]
Price = Annotated[Decimal, msgspec.Meta(description="A positive price (> 0)", examples=["95000.5"])]
Leverage = Annotated[int, msgspec.Meta(ge=1, le=125, description="1..125", examples=[5])]
SignalId = Annotated[int, msgspec.Meta(ge=1, le=2**53, examples=[42])]
IdempotencyKey = Annotated[
    str,
    msgspec.Meta(
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9:_\-]+$",
        description="Optional idempotency key: the same key never opens twice",
        examples=["my-order-2025-01-01-1"],
    ),
]
Text = Annotated[str, msgspec.Meta(min_length=1, max_length=128)]
MAX_DECIMAL = Decimal("1e15")
S = TypeVar("S", bound=msgspec.Struct)


def from_fields(response: type[S], source: object, **given: Any) -> S:
    """``response`` with each field not ``given`` read from ``source``'s attribute of the
    same name."""
    return response(
        **{
            f.name: given[f.name] if f.name in given else getattr(source, f.name)
            for f in msgspec.structs.fields(response)
        }
    )


def check_positive(request: object, *names: str, most: Decimal = MAX_DECIMAL) -> None:
    """Each named Decimal field of ``request`` that is set: finite, > 0 and <= ``most``.

    Raises ValueError naming the field (msgspec turns it into a 400)."""
    for name in names:
        value = getattr(request, name)
        if value is None:
            continue
        if not value.is_finite() or not 0 < value <= most:
            raise ValueError(f"field `{name}` must be a number > 0 and <= {most}, got {value}")


# -- system ------------------------------------------------------------------------------


class ComponentHealth(msgspec.Struct):
    """One component: ``state`` ok, down or disabled; ``detail`` what was seen."""

    state: str
    detail: str
    seconds: float


class HealthResponse(msgspec.Struct):
    """Service health: ``status`` ok or degraded (503); ``checks`` per component."""

    status: str
    mode: str
    version: str
    started_at: datetime
    uptime_seconds: float
    checks: dict[str, ComponentHealth]
    reason: str = ""


def health_to_dto(health: Health, checks: dict[str, ComponentHealth]) -> HealthResponse:
    down = {name: c for name, c in checks.items() if c.state not in ("ok", "disabled")}
    reason = "; ".join(f"{name}: {c.detail or c.state}" for name, c in down.items())
    return HealthResponse(
        status="degraded" if down else "ok",
        mode=health.mode,
        version=health.version,
        started_at=health.started_at,
        uptime_seconds=health.uptime_seconds,
        checks=checks,
        reason=reason,
    )


class DatabaseTestResponse(msgspec.Struct):
    """The database answered: its kind and schema revision, and the round trip."""

    status: str
    database: str
    milliseconds: float


class TableResponse(msgspec.Struct):
    name: str
    rows: int


# -- signals, klines, detection ------------------------------------------------------------


class SignalResponse(msgspec.Struct):
    """A detected signal (``market_signal``) with its explanation in ``details``."""

    id: int | None
    symbol: str
    time: datetime
    signal_type: str
    score: float
    price: Decimal
    created_at: datetime
    expire_at: datetime
    status: str
    details: dict[str, Any]


def signal_to_dto(record: SignalRecord) -> SignalResponse:
    return from_fields(SignalResponse, record)


class KlinesResponse(msgspec.Struct):
    """Candles (open time ``time``) with their indicator columns, oldest first."""

    symbol: str
    timeframe: str
    count: int
    candles: list[dict[str, Any]]


class DetectRequest(msgspec.Struct, forbid_unknown_fields=True):
    symbol: Symbol


class DetectResponse(msgspec.Struct):
    """The explained judgement of the newest closed 15m candle; ``signal`` when one fired."""

    symbol: str
    signal: SignalResponse | None
    result: dict[str, Any]


class DetectorStatusResponse(msgspec.Struct):
    symbols: list[str]
    active_signals: int
    last_signal_at: datetime | None
    params: dict[str, Any]


# -- history ---------------------------------------------------------------------------------


class OrderResponse(msgspec.Struct):
    """An order as the exchange last reported it (``order_history``)."""

    order_id: str
    cl_ord_id: str
    symbol: str
    side: str
    pos_side: str
    order_type: str
    status: str
    amount: Decimal
    filled_amount: Decimal
    price: Decimal | None
    avg_price: Decimal | None
    leverage: int
    fee: Decimal
    pnl: Decimal
    reduce_only: bool
    created_at: datetime
    updated_at: datetime


def order_to_dto(record: OrderRecord) -> OrderResponse:
    return from_fields(OrderResponse, record)


class PositionResponse(msgspec.Struct):
    """A closed (or partly closed) position (``position_history``)."""

    pos_id: str
    symbol: str
    pos_side: str
    margin_mode: str
    leverage: int
    avg_price: Decimal
    close_avg_price: Decimal
    open_max_size: Decimal
    close_total_size: Decimal
    pnl: Decimal
    realized_pnl: Decimal
    fee: Decimal
    funding_fee: Decimal
    close_type: int
    created_at: datetime
    updated_at: datetime
    pos_size: Decimal


def position_to_dto(record: PositionRecord) -> PositionResponse:
    return from_fields(PositionResponse, record)


class OrderStatsResponse(msgspec.Struct):
    symbol: str
    orders: int
    filled: int
    fee: Decimal
    pnl: Decimal


def order_stats_to_dto(symbol: str, stats: OrderStats | None) -> OrderStatsResponse:
    if stats is None:
        return OrderStatsResponse(symbol, 0, 0, Decimal(0), Decimal(0))
    return OrderStatsResponse(stats.symbol, stats.orders, stats.filled, stats.fee, stats.pnl)


class PositionStatsResponse(msgspec.Struct):
    symbol: str
    positions: int
    wins: int
    losses: int
    win_rate: float
    pnl: Decimal
    realized_pnl: Decimal
    fee: Decimal
    funding_fee: Decimal


def position_stats_to_dto(symbol: str, stats: PositionStats | None) -> PositionStatsResponse:
    if stats is None:
        zero = Decimal(0)
        return PositionStatsResponse(symbol, 0, 0, 0, 0.0, zero, zero, zero, zero)
    return from_fields(PositionStatsResponse, stats)


class JobStatusResponse(msgspec.Struct):
    """A sync job's health (``system_status``): state, runs and the last error."""

    job: str
    state: str
    last_run_at: datetime | None
    last_success_at: datetime | None
    last_error_at: datetime | None
    last_error: str
    runs: int
    failures: int
    consecutive_failures: int
    rows: int
    note: str


class HistoryStatusResponse(msgspec.Struct):
    """What is stored (rows, newest update) and how its sync job is doing."""

    rows: int
    last_update: datetime | None
    jobs: list[JobStatusResponse]


class SyncJobResponse(msgspec.Struct):
    """One sync job (kind x symbol): state, lag behind now, runs, rows, last error."""

    job: str
    kind: str
    target: str | None
    state: str
    running: bool
    last_success: str | None
    last_error: str | None
    last_error_at: str | None
    next_run: str | None
    rows_stored: int
    runs: int
    consecutive_failures: int
    lag_seconds: float | None
    note: str


class SyncStatusResponse(msgspec.Struct):
    jobs: list[SyncJobResponse]


def sync_job_to_dto(job: dict[str, Any]) -> SyncJobResponse:
    names = msgspec.structs.fields(SyncJobResponse)
    return SyncJobResponse(**{f.name: job.get(f.name) for f in names})


def stored_job_to_dto(record: StatusRecord) -> SyncJobResponse:
    """A job known only from ``system_status`` (no engine in this process)."""
    kind, _, target = record.key.partition(":")
    return SyncJobResponse(
        job=record.key,
        kind=kind,
        target=target or None,
        state=record.value,
        running=False,
        last_success=_iso(record.last_success_at),
        last_error=record.last_error or None,
        last_error_at=_iso(record.last_error_at),
        next_run=None,
        rows_stored=record.rows,
        runs=record.runs,
        consecutive_failures=record.consecutive_failures,
        lag_seconds=None,
        note=record.note,
    )


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


# -- config ----------------------------------------------------------------------------------


class ConfigEntryResponse(msgspec.Struct):
    """A config key; ``value`` and ``default`` are numbers (whole for ``int`` keys),
    booleans or text as its ``type`` says."""

    key: str
    value: str | float | bool
    type: str
    default: str | float | bool
    description: str
    allowed: str


def config_to_dto(entry: ConfigEntry) -> ConfigEntryResponse:
    return ConfigEntryResponse(
        entry.key, entry.value, entry.type, entry.default, entry.description, entry.allowed
    )


class ConfigValueRequest(msgspec.Struct, forbid_unknown_fields=True):
    """The new value: typed (``20``, ``true``) or as text (``"20"``); checked by the key."""

    value: Annotated[str | int | float | bool, msgspec.Meta(examples=[20])]


def plain(value: Any) -> Any:
    """An attrs value (or a list/dict of them) as JSON-ready builtins; Decimals as text."""
    import enum

    import attrs

    if attrs.has(type(value)):
        return {a.name: plain(getattr(value, a.name)) for a in attrs.fields(type(value))}
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, enum.Enum):
        return value.name
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    return value
