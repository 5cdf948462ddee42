"""Signals, candles and the market detector."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec
import polars as pl
from litestar import MediaType, Request, Response
from litestar.openapi.spec import Example
from litestar.params import Body, FromPath, Parameter, PathParameter

from qwentrade.adapters.http.cache import RefreshAheadCache, freshness
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
# 15 minutes; a chart polling every second costs one database read per 2 s), and
# refreshed ahead in the background (cache.RefreshAheadCache) up to its hard age.
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


@read_get(
    "/klines/{symbol:str}/{timeframe:str}",
    "getKlines",
    "market",
    sync_to_thread=None,  # async: answers from the refresh-ahead cache on the loop
    description="Stored candles with their indicators, oldest first: the newest `limit` in "
    "[start, end). "
    + freshness(
        KLINES_CACHE_SECONDS, "the answer to a query (symbol, timeframe, start, end, limit)"
    ),
)
async def klines(
    request: Request,
    services: ServicesDep,
    symbol: FromPath[str],
    timeframe: Annotated[str, PathParameter(description="15m, 4h or 1d", max_length=8)],
    start: Annotated[datetime | None, Parameter(description="From this open time (UTC)")] = None,
    end: Annotated[datetime | None, Parameter(description="Before this open time (UTC)")] = None,
    limit: Annotated[
        int, Parameter(ge=1, le=KLINE_LIMIT, description=f"At most this many (1..{KLINE_LIMIT})")
    ] = 500,
) -> Response[KlinesResponse]:
    """Stored candles with their indicators, oldest first: the newest ``limit`` in
    ``[start, end)``.

    Answers are shared by requests of the same query (symbol, timeframe, start, end and
    limit): one is served as is for 2 seconds; up to 6 seconds old it is still served
    while one background read replaces it; an older one is never served (the request
    reads the database). A candle stored now appears within 6 seconds at most.
    """
    candles = services.klines
    assert candles is not None
    known_symbol(services, symbol)
    tf: Timeframe = require_stored_timeframe(timeframe)
    # The key is the checked query itself: another query never gets this one's answer.
    key = ("klines", symbol, tf.label, _instant(start), _instant(end), limit)

    def read() -> bytes:
        frame = candles.range(symbol, tf, start=start, end=end, limit=limit, newest_first=True)
        return klines_json(symbol, tf.label, frame.reverse().drop("symbol"))

    cache: RefreshAheadCache = request.app.state["read_cache"]
    body = await cache.get(key, read, fresh=KLINES_CACHE_SECONDS)
    return Response(body, media_type=MediaType.JSON)


def _instant(value: datetime | None) -> str | None:
    """``value`` exactly as given (an offset-free time stays apart from a UTC one)."""
    return None if value is None else value.isoformat()


def klines_json(symbol: str, timeframe: str, frame: pl.DataFrame) -> bytes:
    """The JSON of ``KlinesResponse`` for ``frame`` (``time`` and float columns), encoded
    by polars column-wise: no Python object per value. The same JSON values as msgspec's
    encoding of ``frame.to_dicts()``: times as ``YYYY-MM-DDTHH:MM:SS[.ffffff]Z``, null,
    NaN and infinities as null, floats as their shortest round-trip text (an exponent may
    be written ``e+20`` where msgspec writes ``e20``: the same number)."""
    time = pl.col("time")
    text = (
        pl.when(time.dt.microsecond() == 0)
        .then(time.dt.strftime("%Y-%m-%dT%H:%M:%SZ"))
        .otherwise(time.dt.strftime("%Y-%m-%dT%H:%M:%S%.6fZ"))
    )
    candles = frame.with_columns(text.alias("time")).write_json().encode()
    head = msgspec.json.encode({"symbol": symbol, "timeframe": timeframe, "count": frame.height})
    return head[:-1] + b',"candles":' + candles + b"}"


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
