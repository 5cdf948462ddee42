"""Signals, candles and the market detector."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from litestar.openapi.spec import Example
from litestar.params import Body, FromPath, Parameter, PathParameter

from qwentrade.adapters.http.dto import (
    DetectorStatusResponse,
    DetectRequest,
    DetectResponse,
    KlinesResponse,
    SignalResponse,
    plain,
    signal_to_dto,
)
from qwentrade.adapters.http.routes.common import (
    Limit,
    Offset,
    ServicesDep,
    SymbolQuery,
    known_symbol,
    optional_symbol,
    read_get,
    write_post,
)
from qwentrade.domain.market import Timeframe
from qwentrade.domain.series import require_stored_timeframe

KLINE_LIMIT = 5000
# The same query answered from memory for this long (candles change at a close: every
# 15 minutes; a chart polling every second costs one database read per 2 s).
KLINES_CACHE_SECONDS = 2


@read_get(
    "/signals",
    "listSignals",
    "signals",
    cache=1,  # signals change at 15m closes; pollers within a second share one read
)
def signals(
    services: ServicesDep,
    symbol: SymbolQuery = None,
    active: Annotated[
        bool, Parameter(description="Only ACTIVE signals not yet expired (default true)")
    ] = True,
    limit: Limit = 100,
    offset: Offset = 0,
) -> list[SignalResponse]:
    """Detected signals, newest first, each with the detector's explanation (the same
    query's answer is reused for 1 second)."""
    assert services.signals is not None and services.clock is not None
    symbol = optional_symbol(services, symbol)
    if active:
        found = services.signals.active(services.clock.now(), symbol)[offset : offset + limit]
    else:
        found = services.signals.find(symbol=symbol, limit=limit, offset=offset)
    return [signal_to_dto(s) for s in found]


@read_get("/klines/{symbol:str}/{timeframe:str}", "getKlines", "market", cache=KLINES_CACHE_SECONDS)
def klines(
    services: ServicesDep,
    symbol: FromPath[str],
    timeframe: Annotated[str, PathParameter(description="15m, 4h or 1d", max_length=8)],
    start: Annotated[datetime | None, Parameter(description="From this open time (UTC)")] = None,
    end: Annotated[datetime | None, Parameter(description="Before this open time (UTC)")] = None,
    limit: Annotated[
        int, Parameter(ge=1, le=KLINE_LIMIT, description=f"At most this many (1..{KLINE_LIMIT})")
    ] = 500,
) -> KlinesResponse:
    """Stored candles with their indicators, oldest first: the newest ``limit`` in
    ``[start, end)``. The answer to the same query is reused for 2 seconds."""
    assert services.klines is not None
    known_symbol(services, symbol)
    tf: Timeframe = require_stored_timeframe(timeframe)
    frame = services.klines.range(
        symbol, tf, start=start, end=end, limit=limit, newest_first=True
    ).reverse()
    rows: list[dict[str, Any]] = frame.drop("symbol").to_dicts()
    return KlinesResponse(symbol=symbol, timeframe=tf.label, count=len(rows), candles=rows)


@write_post("/market-detector/detect", "detect", "market-detector")
def detect(
    services: ServicesDep,
    data: Annotated[
        DetectRequest,
        Body(examples=[Example(summary="judge BTC", value={"symbol": "BTC-USDT-SWAP"})]),
    ],
) -> DetectResponse:
    """Judge the newest closed 15m candle of ``symbol`` now: the full explained result
    (every layer's inputs and points); a signal that fires is stored. 404 when no candles
    are stored for the symbol yet."""
    assert services.detection is not None
    known_symbol(services, data.symbol)
    detection = services.detection.detect(data.symbol)
    signal = None if detection.signal is None else signal_to_dto(detection.signal)
    return DetectResponse(
        symbol=detection.symbol, signal=signal, result=detection.result.to_details()
    )


@read_get("/market-detector/status", "getDetectorStatus", "market-detector")
def detector_status(services: ServicesDep) -> DetectorStatusResponse:
    """The detector's symbols, active signals, newest signal time and parameters now."""
    assert services.detection is not None and services.signals is not None
    assert services.clock is not None
    active = services.signals.active(services.clock.now())
    newest = services.signals.find(limit=1)
    return DetectorStatusResponse(
        symbols=list(services.symbols),
        active_signals=len(active),
        last_signal_at=newest[0].created_at if newest else None,
        params=plain(services.detection.params),
    )
