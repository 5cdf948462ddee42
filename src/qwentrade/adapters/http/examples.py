"""An example of every response schema, put into /openapi.json by ``docs.py``.

Built from real DTO instances (so an example always fits its schema) plus the plain
shapes the trading service returns.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import msgspec

from qwentrade.adapters.http import dto, dto_trading

T = datetime(2025, 1, 2, 3, 45, tzinfo=UTC)
D = Decimal
BTC = "BTC-USDT-SWAP"

_SIGNAL = dto.SignalResponse(
    id=42,
    symbol=BTC,
    time=T,
    signal_type="LONG",
    score=18.0,
    price=D("94250.1"),
    created_at=T + timedelta(minutes=15),
    expire_at=T + timedelta(hours=4, minutes=15),
    status="ACTIVE",
    details={"score": 18.0, "threshold": 15, "parts": {"environment": 8, "trigger": 6}},
)
_JOB = dto.SyncJobResponse(
    job=f"klines_15m:{BTC}",
    kind="klines_15m",
    target=BTC,
    state="OK",
    running=False,
    last_success="2025-01-02T03:45:05+00:00",
    last_error=None,
    last_error_at=None,
    next_run="2025-01-02T04:00:05+00:00",
    rows_stored=35040,
    runs=120,
    consecutive_failures=0,
    lag_seconds=905.2,
    note="",
)
_COMPONENT = dto.ComponentHealth(state="ok", detail="", seconds=0.0012)
_PLAN = {
    "algo_id": "1234567890",
    "kind": "stop_loss",
    "trigger_price": "90000",
    "size": "0.5",
    "state": "live",
}
_PLAN_REQUEST = dto_trading.PlanRequest(kind="stop_loss", trigger_price=D("90000"), fraction=D(1))
SCHEMA_EXAMPLES: dict[str, Any] = {
    "ComponentHealth": _COMPONENT,
    "HealthResponse": dto.HealthResponse(
        status="ok",
        mode="sim",
        version="0.1.0",
        started_at=T,
        uptime_seconds=3600.5,
        checks={"database": _COMPONENT},
    ),
    "DatabaseTestResponse": dto.DatabaseTestResponse("ok", "postgresql 16.4, schema 0003", 1.2),
    "TableResponse": dto.TableResponse("klines_15m", 105120),
    "SignalResponse": _SIGNAL,
    "KlinesResponse": dto.KlinesResponse(
        symbol=BTC,
        timeframe="15m",
        count=1,
        candles=[
            {
                "time": T.isoformat(),
                "open": 94100.0,
                "high": 94300.0,
                "low": 94050.0,
                "close": 94250.1,
                "volume": 812.4,
                "ema_20": 94010.7,
                "rsi_14": 61.2,
            }
        ],
    ),
    "DetectRequest": dto.DetectRequest(symbol=BTC),
    "DetectResponse": dto.DetectResponse(
        symbol=BTC, signal=_SIGNAL, result={"score": 18.0, "signal": True, "reason": ""}
    ),
    "DetectorStatusResponse": dto.DetectorStatusResponse(
        symbols=[BTC], active_signals=1, last_signal_at=T, params={"signal_threshold": 15}
    ),
    "OrderResponse": dto.OrderResponse(
        order_id="612345678901234567",
        cl_ord_id="qt0a1b2c3d4e5f",
        symbol=BTC,
        side="buy",
        pos_side="long",
        order_type="market",
        status="filled",
        amount=D("0.5"),
        filled_amount=D("0.5"),
        price=None,
        avg_price=D("94250.1"),
        leverage=5,
        fee=D("-0.0235"),
        pnl=D("0"),
        reduce_only=False,
        created_at=T,
        updated_at=T + timedelta(seconds=1),
    ),
    "PositionResponse": dto.PositionResponse(
        pos_id="307173036051017730",
        symbol=BTC,
        pos_side="long",
        margin_mode="cross",
        leverage=5,
        avg_price=D("94250.1"),
        close_avg_price=D("95100"),
        open_max_size=D("0.5"),
        close_total_size=D("0.5"),
        pnl=D("4.25"),
        realized_pnl=D("4.18"),
        fee=D("-0.07"),
        funding_fee=D("0"),
        close_type=2,
        created_at=T,
        updated_at=T + timedelta(hours=3),
        pos_size=D("0"),
    ),
    "OrderStatsResponse": dto.OrderStatsResponse(BTC, 12, 10, D("-0.52"), D("31.4")),
    "PositionStatsResponse": dto.PositionStatsResponse(
        BTC, 5, 3, 2, 0.6, D("31.4"), D("30.1"), D("-0.52"), D("-0.78")
    ),
    "JobStatusResponse": dto.JobStatusResponse(
        job="order_history",
        state="OK",
        last_run_at=T,
        last_success_at=T,
        last_error_at=None,
        last_error="",
        runs=30,
        failures=0,
        consecutive_failures=0,
        rows=12,
        note="",
    ),
    "HistoryStatusResponse": dto.HistoryStatusResponse(rows=12, last_update=T, jobs=[]),
    "SyncJobResponse": _JOB,
    "SyncStatusResponse": dto.SyncStatusResponse(jobs=[_JOB]),
    "ConfigEntryResponse": dto.ConfigEntryResponse(
        "DETECTOR_SIGNAL_THRESHOLD",
        15,
        "int",
        15,
        "minimum score for a LONG/SHORT signal",
        "whole number 0..600",
    ),
    "ConfigValueRequest": dto.ConfigValueRequest(value=18),
    "OrderIdResponse": dto_trading.OrderIdResponse(cl_ord_id="qt0a1b2c3d4e5f"),
    "OpenPositionRequest": dto_trading.OpenPositionRequest(
        symbol=BTC,
        side="LONG",
        amount=D("100"),
        stop_loss_trigger=D("90000"),
        take_profit_trigger=D("110000"),
        leverage=5,
    ),
    "AddPositionRequest": dto_trading.AddPositionRequest(symbol=BTC, amount=D("50")),
    "ReducePositionRequest": dto_trading.ReducePositionRequest(symbol=BTC, amount=D("25")),
    "ClosePositionRequest": dto_trading.ClosePositionRequest(symbol=BTC),
    "PlanRequest": _PLAN_REQUEST,
    "SetPlansRequest": dto_trading.SetPlansRequest(
        cl_ord_id="qt0a1b2c3d4e5f", plans=[_PLAN_REQUEST]
    ),
    "CreatePendingRequest": dto_trading.CreatePendingRequest(
        symbol=BTC,
        side="LONG",
        amount=D("100"),
        trigger_price=D("92000"),
        stop_loss_trigger=D("90000"),
        leverage=5,
        expire_hours=4,
    ),
    "PendingOrderResponse": dto_trading.PendingOrderResponse(
        id="9f2c4e",
        symbol=BTC,
        side="LONG",
        trigger_price=D("92000"),
        crossing="DOWN",
        amount=D("100"),
        leverage=5,
        status="PENDING",
        created_at=T,
        expire_at=T + timedelta(hours=4),
        updated_at=T,
        stop_loss_trigger=D("90000"),
        take_profit_trigger=D("98000"),
        signal_id=None,
        closed_at=None,
        fill_price=None,
        reason="",
    ),
}
# Operations answering the trading service's plain values (no component schema).
_STATUS = {
    "cl_ord_id": "qt0a1b2c3d4e5f",
    "symbol": BTC,
    "intent": {
        "action": "OPEN",
        "side": "LONG",
        "size": "0.5",
        "state": "ACKNOWLEDGED",
        "order_id": "612345678901234567",
        "error": "",
    },
    "order": {"order_id": "612345678901234567", "status": "filled", "avg_price": "94250.1"},
    "relation": {"status": "OPEN", "stop_loss_price": "90000", "take_profit_price": "110000"},
    "plans": [_PLAN],
}
OPERATION_EXAMPLES: dict[tuple[str, str], Any] = {
    ("/trading/order-status/{cl_ord_id}", "get"): _STATUS,
    ("/trading/set-stop-loss-take-profit", "post"): _STATUS,
    ("/trading/current-position", "get"): [
        {
            "symbol": BTC,
            "side": "LONG",
            "size": "0.5",
            "avg_price": "94250.1",
            "mark_price": "94600",
            "unrealised_pnl": "1.75",
            "leverage": 5,
            "margin": "94.25",
            "margin_mode": "cross",
            "pos_id": "307173036051017730",
            "cl_ord_id": "qt0a1b2c3d4e5f",
            "signal_id": 42,
            "pending_order_id": None,
            "plans": [_PLAN],
        }
    ],
    ("/metrics", "get"): "# TYPE qwentrade_http_requests_total counter\n"
    'qwentrade_http_requests_total{method="GET",route="/health",status="200"} 3.0\n',
}


ERROR_SCHEMA = {
    "type": "object",
    "title": "ErrorResponse",
    "description": "Every error: the status, the error's kind, the request field at fault "
    "(null when none) and what to do; ``errors`` lists each field a refused request got "
    "wrong.",
    "properties": {
        "status_code": {"type": "integer"},
        "error": {"type": "string"},
        "field": {"oneOf": [{"type": "string"}, {"type": "null"}]},
        "detail": {"type": "string"},
        "errors": {"type": "array", "items": {"type": "object"}},
    },
    "required": ["status_code", "error", "field", "detail"],
    "examples": [
        {
            "status_code": 400,
            "error": "ValidationError",
            "field": "amount",
            "detail": "amount: field `amount` must be a number > 0 and <= 1E+15, got -5",
        }
    ],
}
ERROR_RESPONSE = {
    "description": "An error (400 bad input, 401 no or wrong X-API-Key, 404 not found, "
    "409 conflict, 413 body too large, 422 refused by a rule or the exchange, 429, 503)",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}},
}
SYMBOL_PATTERN = r"^[A-Z0-9]{1,15}-[A-Z]{2,8}-SWAP$"


def finish_schema(schema: dict[str, Any], symbols: Sequence[str] = ()) -> dict[str, Any]:
    """``schema`` completed: examples, the error response of every operation, and (when
    given) the configured ``symbols`` as the only values a symbol may take."""
    schema = add_examples(schema)
    schema.setdefault("components", {}).setdefault("schemas", {})["ErrorResponse"] = ERROR_SCHEMA
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            if isinstance(operation, dict) and "responses" in operation:
                operation["responses"].setdefault("default", ERROR_RESPONSE)
    if symbols:
        _restrict_symbols(schema, list(symbols))
    return schema


def _restrict_symbols(node: Any, symbols: list[str]) -> None:
    if isinstance(node, dict):
        if node.get("pattern") == SYMBOL_PATTERN:
            del node["pattern"]
            node["enum"] = symbols
        if node.get("name") == "symbol" and node.get("in") in ("path", "query"):
            target = node.get("schema", {})
            options = target.get("oneOf") or [target]
            for option in options:
                if option.get("type") == "string":
                    option["enum"] = symbols
        for value in node.values():
            _restrict_symbols(value, symbols)
    elif isinstance(node, list):
        for value in node:
            _restrict_symbols(value, symbols)


def add_examples(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` with an example on every component and on the plain-value operations."""
    components = schema.get("components", {}).get("schemas", {})
    for name, value in SCHEMA_EXAMPLES.items():
        if name in components:
            components[name]["examples"] = [msgspec.to_builtins(value)]
    for (path, method), value in OPERATION_EXAMPLES.items():
        operation = schema.get("paths", {}).get(path, {}).get(method)
        if operation is None:
            continue
        for content in operation["responses"]["200"].get("content", {}).values():
            content["examples"] = {"example": {"value": value}}
    return schema
