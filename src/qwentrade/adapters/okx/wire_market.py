"""OKX v5 market-data payloads -> domain values (pure; okx-spec section B).

Instruments, candles, funding rates, order books and the market statistics (open
interest, long/short sentiment, liquidations). Field readers and constants live in
:mod:`.wire`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from qwentrade.adapters.okx.wire import (
    INST_TYPE,
    SETTLE,
    _dec,
    _dec_or_none,
    _int,
    _text,
    _time,
)
from qwentrade.domain.instruments import Instrument
from qwentrade.domain.market import (
    BookSnapshot,
    Candle,
    FundingRate,
    OpenInterest,
    Sentiment,
    Timeframe,
    from_ms,
)

#: Our timeframes -> OKX ``bar``; the day bar is UTC-aligned (plain ``1D`` is UTC+8).
BARS = {Timeframe.M15: "15m", Timeframe.H1: "1H", Timeframe.H4: "4H", Timeframe.D1: "1Dutc"}


# -- market data -----------------------------------------------------------------------


def instrument_from_okx(item: Mapping[str, Any]) -> Instrument:
    """A ``/public/instruments`` SWAP row."""
    return Instrument(
        inst_id=_text(item, "instId"),
        ct_val=_dec(item, "ctVal"),
        lot_sz=_dec(item, "lotSz"),
        tick_sz=_dec(item, "tickSz"),
        min_sz=_dec(item, "minSz"),
        max_lever=_int(item, "lever") or 1,
        settle_ccy=_text(item, "settleCcy") or SETTLE,
    )


def is_tradable_usdt_swap(item: Mapping[str, Any]) -> bool:
    """A live, linear, USDT-settled swap."""
    return (
        _text(item, "instType") == INST_TYPE
        and _text(item, "settleCcy") == SETTLE
        and _text(item, "ctType") in ("", "linear")
        and _text(item, "state") == "live"
        and bool(_text(item, "instId"))
    )


def candle_from_okx(symbol: str, row: list) -> Candle:
    """``[ts, o, h, l, c, vol, volCcy, volCcyQuote, confirm]``; volume in the base
    currency (``volCcy``; ``vol`` counts contracts); ``confirm == "1"`` is closed."""
    volume = row[6] if len(row) > 6 and row[6] != "" else row[5]
    confirmed = row[8] == "1" if len(row) > 8 else True
    return Candle(
        symbol,
        from_ms(row[0]),
        float(row[1]),
        float(row[2]),
        float(row[3]),
        float(row[4]),
        float(volume),
        confirmed=confirmed,
    )


def funding_rate_from_okx(item: Mapping[str, Any]) -> FundingRate:
    """``/public/funding-rate``: ``fundingTime`` is the coming settlement."""
    next_time = _text(item, "nextFundingTime")
    return FundingRate(
        symbol=_text(item, "instId"),
        time=_time(item, "fundingTime"),
        rate=_dec(item, "fundingRate"),
        next_funding_time=from_ms(next_time) if next_time else None,
    )


def funding_history_from_okx(item: Mapping[str, Any]) -> FundingRate:
    """A ``/public/funding-rate-history`` row (a settled rate)."""
    return FundingRate(
        symbol=_text(item, "instId"),
        time=_time(item, "fundingTime"),
        rate=_dec(item, "fundingRate"),
        realized_rate=_dec_or_none(item, "realizedRate"),
    )


def book_from_okx(symbol: str, item: Mapping[str, Any], depth: int) -> BookSnapshot:
    """``/market/books``: levels ``[px, sz, "0", orders]``, best first."""

    def levels(key: str) -> tuple[tuple[Decimal, Decimal], ...]:
        return tuple((Decimal(level[0]), Decimal(level[1])) for level in item.get(key, [])[:depth])

    return BookSnapshot(symbol, _time(item, "ts"), levels("bids"), levels("asks"))


# -- market statistics (OKX docs "Public data", "Trading statistics") -------------------


def open_interest_from_okx(item: Mapping[str, Any]) -> OpenInterest:
    """A ``/public/open-interest`` row: ``oiUsd`` (USD) at ``ts``."""
    return OpenInterest(
        symbol=_text(item, "instId"),
        time=_time(item, "ts"),
        open_interest=float(_dec(item, "oiUsd")),
    )


def open_interest_history_from_okx(symbol: str, row: list) -> OpenInterest:
    """A ``rubik/stat/contracts/open-interest-history`` row ``[ts, oi, oiCcy, oiUsd]``
    (contracts, coins, USD): the USD value at ``ts``."""
    return OpenInterest(symbol, from_ms(row[0]), float(Decimal(row[3])))


def sentiment_from_okx(symbol: str, row: list) -> Sentiment:
    """A ``long-short-account-ratio(-contract)`` row ``[ts, ratio]``: accounts long over
    accounts short; the shares are ``ratio / (1 + ratio)`` and ``1 / (1 + ratio)``."""
    ratio = float(Decimal(row[1]))
    if not ratio >= 0 or ratio == float("inf"):
        raise ValueError(f"longShortAcctRatio {row[1]!r} is not a non-negative number")
    return Sentiment(symbol, from_ms(row[0]), ratio / (1 + ratio), 1 / (1 + ratio), ratio)


def liquidated_side(detail: Mapping[str, Any]) -> str:
    """``long`` or ``short``: the side of the position liquidated (``posSide``; without
    it, a ``sell`` liquidation order closes a long and a ``buy`` one a short)."""
    side = _text(detail, "posSide")
    if side in ("long", "short"):
        return side
    return "long" if _text(detail, "side") == "sell" else "short"


def liquidation_fills_from_okx(
    item: Mapping[str, Any], ct_val: Decimal
) -> list[tuple[datetime, str, float]]:
    """A ``/public/liquidation-orders`` item as ``(time, side liquidated, USD)`` per
    detail: ``sz`` contracts x ``ct_val`` x the bankruptcy price ``bkPx``."""
    out = []
    for detail in item.get("details") or []:
        if not isinstance(detail, Mapping):
            continue
        usd = _dec(detail, "sz") * ct_val * _dec(detail, "bkPx")
        out.append((_time(detail, "ts"), liquidated_side(detail), float(usd)))
    return out
