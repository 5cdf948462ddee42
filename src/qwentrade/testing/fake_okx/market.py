"""Market data in OKX's wire format: instruments, candles (every bar OKX names that the
simulated market can build), funding, books, tickers. Pure apart from the ``candles``
callable handed in (the engine's).

Bars: ``1m 3m 5m 15m 30m 1H 2H 4H`` and ``6H 12H 1D`` (aligned to UTC+8, as OKX aligns
them) and ``6Hutc 12Hutc 1Dutc`` (aligned to UTC). The engine serves 15m/1H/4H/1D(UTC)
itself; the others are aggregated here from the largest engine timeframe that divides
them. Bars finer than the simulated path's 15 minutes (``1m 3m 5m``) are cut from the
engine's intra-candle walk (:mod:`.minutes`). ``1s`` and weekly/monthly bars answer
``51000`` "Parameter bar error" - a documented difference from OKX.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import attrs

from qwentrade.domain.instruments import Instrument
from qwentrade.domain.market import (
    BookSnapshot,
    Candle,
    FundingRate,
    Timeframe,
    TimeRange,
    from_ms,
    to_ms,
)
from qwentrade.testing.fake_okx.wire import INST_TYPE, ms, num

HOUR = 3_600_000
MINUTE = 60_000
ENGINE_LIMIT = 300
CandleSource = Callable[[str, Timeframe, TimeRange, int], list[Candle]]


@attrs.frozen
class Bar:
    """An OKX ``bar``: its length and the offset of its bucket boundaries from UTC."""

    name: str
    length: int  # ms
    offset: int = 0  # bucket opens satisfy (open - offset) % length == 0


def _utc8(name: str, length: int) -> Bar:
    return Bar(name, length, (-8 * HOUR) % length)


BARS: dict[str, Bar] = {
    bar.name: bar
    for bar in (
        Bar("1m", MINUTE),
        Bar("3m", 3 * MINUTE),
        Bar("5m", 5 * MINUTE),
        Bar("15m", 15 * MINUTE),
        Bar("30m", 30 * MINUTE),
        Bar("1H", HOUR),
        Bar("2H", 2 * HOUR),
        Bar("4H", 4 * HOUR),
        _utc8("6H", 6 * HOUR),
        _utc8("12H", 12 * HOUR),
        _utc8("1D", 24 * HOUR),
        Bar("6Hutc", 6 * HOUR),
        Bar("12Hutc", 12 * HOUR),
        Bar("1Dutc", 24 * HOUR),
    )
}

_ENGINE_FRAMES = sorted(Timeframe, key=lambda tf: tf.duration, reverse=True)


def _frame_ms(timeframe: Timeframe) -> int:
    return int(timeframe.duration / timedelta(milliseconds=1))


def source_frame(bar: Bar, base: Timeframe) -> Timeframe | None:
    """The largest engine timeframe (not finer than the path's ``base``) dividing ``bar``."""
    for frame in _ENGINE_FRAMES:
        step = _frame_ms(frame)
        if step < _frame_ms(base):
            continue
        if bar.length % step == 0 and bar.offset % step == 0:
            return frame
    return None


def floor_open(bar: Bar, at_ms: int) -> int:
    """Open time of the ``bar`` bucket holding ``at_ms``."""
    return at_ms - (at_ms - bar.offset) % bar.length


def candle_window(
    bar: Bar,
    now_ms: int,
    first_ms: int,
    after: int | None,
    before: int | None,
    limit: int,
    recent_only: int | None = None,
) -> tuple[int, int] | None:
    """(oldest, newest) bucket open times to answer, or None when the range is empty.

    OKX semantics: ``after`` = older than, ``before`` = newer than (both exclusive);
    the newest ``limit`` of the range. ``recent_only`` caps how many bars back from now
    may be served (``/market/candles`` serves the latest 1,440 only).
    """
    newest = floor_open(bar, now_ms)
    if after is not None:
        newest = min(newest, floor_open(bar, after - 1))
    oldest = floor_open(bar, first_ms)
    if before is not None:
        oldest = max(oldest, floor_open(bar, before) + bar.length)
    if recent_only is not None:
        oldest = max(oldest, floor_open(bar, now_ms) - (recent_only - 1) * bar.length)
    oldest = max(oldest, newest - (limit - 1) * bar.length)
    return None if newest < oldest else (oldest, newest)


def build_candles(
    candles: CandleSource,
    symbol: str,
    bar: Bar,
    frame: Timeframe,
    window: tuple[int, int],
    now_ms: int,
) -> list[Candle]:
    """Candles of ``bar`` opening in ``window`` (inclusive), oldest first."""
    oldest, newest = window
    step = _frame_ms(frame)
    parts: list[Candle] = []
    cursor = oldest
    end = newest + bar.length
    while cursor < end:
        chunk_end = min(end, cursor + ENGINE_LIMIT * step)
        parts.extend(candles(symbol, frame, TimeRange(from_ms(cursor), from_ms(chunk_end)), 300))
        cursor = chunk_end
    if step == bar.length:
        return parts
    out: list[Candle] = []
    group: list[Candle] = []
    for part in [*parts, None]:  # type: ignore[list-item]
        key = None if part is None else floor_open(bar, to_ms(part.time))
        if group and (part is None or key != floor_open(bar, to_ms(group[0].time))):
            opened = floor_open(bar, to_ms(group[0].time))
            out.append(
                Candle(
                    symbol,
                    from_ms(opened),
                    group[0].open,
                    max(c.high for c in group),
                    min(c.low for c in group),
                    group[-1].close,
                    sum(c.volume for c in group),
                    confirmed=opened + bar.length <= now_ms and all(c.confirmed for c in group),
                )
            )
            group = []
        if part is not None:
            group.append(part)
    return out


def _float_text(value: float, places: int) -> str:
    if not math.isfinite(value):
        return "0"
    text = f"{value:.{places}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text or "0"


def _places(step: Decimal) -> int:
    return max(0, -step.normalize().as_tuple().exponent)  # type: ignore[operator]


def candle_row(candle: Candle, instrument: Instrument) -> list[str]:
    """``[ts, o, h, l, c, vol, volCcy, volCcyQuote, confirm]``; ``vol`` in contracts."""
    places = _places(instrument.tick_sz)
    contracts = candle.volume / float(instrument.ct_val)
    return [
        str(to_ms(candle.time)),
        _float_text(candle.open, places),
        _float_text(candle.high, places),
        _float_text(candle.low, places),
        _float_text(candle.close, places),
        _float_text(contracts, 2),
        _float_text(candle.volume, 6),
        _float_text(candle.volume * candle.close, 4),
        "1" if candle.confirmed else "0",
    ]


def instrument_dict(instrument: Instrument, list_time: datetime, code: int) -> dict[str, Any]:
    """A ``/public/instruments`` SWAP row."""
    family = instrument.inst_id.removesuffix("-SWAP")
    return {
        "instType": INST_TYPE,
        "instId": instrument.inst_id,
        "uly": family,
        "instFamily": family,
        "baseCcy": "",
        "quoteCcy": "",
        "settleCcy": instrument.settle_ccy,
        "ctVal": num(instrument.ct_val),
        "ctMult": "1",
        "ctValCcy": instrument.base_ccy,
        "ctType": "linear",
        "optType": "",
        "stk": "",
        "listTime": ms(list_time),
        "expTime": "",
        "lever": str(instrument.max_lever),
        "tickSz": num(instrument.tick_sz),
        "lotSz": num(instrument.lot_sz),
        "minSz": num(instrument.min_sz),
        "maxLmtSz": "100000000",
        "maxMktSz": "12000",
        "maxLmtAmt": "20000000",
        "maxMktAmt": "",
        "maxTwapSz": "100000000",
        "maxIcebergSz": "100000000",
        "maxTriggerSz": "100000000",
        "maxStopSz": "12000",
        "maxPlatOILmt": "",
        "posLmtAmt": "",
        "posLmtPct": "",
        "alias": "",
        "state": "live",
        "ruleType": "normal",
        "category": "1",
        "groupId": "1",
        "openType": "",
        "contTdSwTime": "",
        "auctionEndTime": "",
        "preMktSwTime": "",
        "futureSettlement": False,
        "tradeQuoteCcyList": [],
        "instIdCode": code,
        "instCategory": "1",
        "upcChg": [],
    }


def funding_rate_dict(rate: FundingRate, now: datetime, interval: timedelta) -> dict[str, Any]:
    """``/public/funding-rate``: ``fundingTime`` is the next settlement, whose predicted
    rate is the last settled one (the simulated market has no premium index)."""
    return {
        "instType": INST_TYPE,
        "instId": rate.symbol,
        "method": "current_period",
        "formulaType": "noRate",
        "fundingRate": num(rate.rate),
        "fundingTime": ms(rate.time),
        "nextFundingRate": "",
        "nextFundingTime": ms(rate.next_funding_time or rate.time + interval),
        "minFundingRate": "-0.00375",
        "maxFundingRate": "0.00375",
        "interestRate": "0.0001",
        "impactValue": "",
        "premium": "0",
        "sprdVal": "",
        "settState": "settled",
        "settFundingRate": num(rate.rate),
        "ts": ms(now),
    }


def funding_history_dict(rate: FundingRate) -> dict[str, Any]:
    """A ``/public/funding-rate-history`` row (ccxt reads ``realizedRate``)."""
    realized = rate.realized_rate if rate.realized_rate is not None else rate.rate
    return {
        "instType": INST_TYPE,
        "instId": rate.symbol,
        "formulaType": "noRate",
        "method": "current_period",
        "fundingRate": num(rate.rate),
        "realizedRate": num(realized),
        "fundingTime": ms(rate.time),
    }


def book_dict(book: BookSnapshot) -> dict[str, Any]:
    """``/market/books``: levels ``[px, sz, "0", orderCount]``; ``seqId`` is a JSON int."""

    def levels(side):
        return [[num(px), num(sz), "0", str(1 + i % 4)] for i, (px, sz) in enumerate(side)]

    return {
        "asks": levels(book.asks),
        "bids": levels(book.bids),
        "ts": ms(book.time),
        "seqId": to_ms(book.time) // 100,
    }


def ticker_dict(symbol: str, last: Decimal, tick: Decimal, day: Candle | None, now: datetime):
    """``/market/ticker``: last price with a one-tick spread, 24 h stats from ``day``."""
    open24 = Decimal(str(day.open)) if day else last
    return {
        "instType": INST_TYPE,
        "instId": symbol,
        "last": num(last),
        "lastSz": "1",
        "askPx": num(last + tick),
        "askSz": "10",
        "bidPx": num(last - tick),
        "bidSz": "10",
        "open24h": num(open24),
        "high24h": num(max(last, Decimal(str(day.high)))) if day else num(last),
        "low24h": num(min(last, Decimal(str(day.low)))) if day else num(last),
        "volCcy24h": _float_text(day.volume, 6) if day else "0",
        "vol24h": "0",
        "sodUtc0": num(open24),
        "sodUtc8": num(open24),
        "ts": ms(now),
    }
