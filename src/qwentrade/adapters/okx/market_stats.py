"""OKX's public market statistics beside the Exchange port: open interest, the long/short
account ratio and liquidations, as the domain's ``OpenInterest``, ``Sentiment`` and
``Liquidation`` values (what CoinGlass would give, from OKX alone).

Facts the readers rely on (OKX docs "Public data" / "Trading statistics"; ccxt's
``handle_trading_statistics_window`` agrees on 1):

1. The per-contract series (``rubik/stat/contracts/open-interest-history``,
   ``long-short-account-ratio-contract``) are newest first, at most 100 rows a request;
   ``begin``/``end`` are exclusive (newer than / older than). OKX keeps the latest 1,440
   periods of each, so an older span comes back short, not as an error.
2. ``/public/liquidation-orders`` (SWAP: ``instFamily`` required) holds the last day's
   liquidation orders only; ``after`` pages back on the details' ``ts``; ``sz`` counts
   contracts, so a detail is worth ``sz x ctVal x bkPx`` USD.
3. A liquidation interval is reported only when all of it lies in the last day and has
   ended: within it, no order means 0, not unknown.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from decimal import Decimal

from qwentrade.adapters.okx import wire, wire_market
from qwentrade.domain.errors import InvalidInput
from qwentrade.domain.market import (
    Liquidation,
    OpenInterest,
    Sentiment,
    Timeframe,
    TimeRange,
    to_ms,
    with_24h_change,
)

#: Our timeframes -> OKX's statistics ``period`` (the day UTC-aligned, as for candles).
PERIODS = {Timeframe.M15: "15m", Timeframe.H1: "1H", Timeframe.H4: "4H", Timeframe.D1: "1Dutc"}
STATS_PAGE = 100
LIQUIDATION_PAGE = 100
LIQUIDATION_HORIZON = timedelta(days=1)

#: ``get(path, params, instrument)`` -> the answer's ``data``
Get = Callable[[str, dict, str | None], list]


def period_of(timeframe: Timeframe) -> str:
    try:
        return PERIODS[Timeframe(timeframe)]
    except (KeyError, ValueError):
        allowed = ", ".join(t.label for t in PERIODS)
        raise InvalidInput("period", f"{timeframe!r} is not one of {allowed}") from None


def series_rows(get: Get, path: str, symbol: str, span: TimeRange, period: str) -> list[list]:
    """Rows ``[ts, ...]`` of a per-contract statistics series with ``ts`` in ``span``,
    oldest first, paged back from ``span.end`` (fact 1)."""
    start, end = to_ms(span.start), to_ms(span.end)
    cursor = end
    found: dict[int, list] = {}
    while cursor > start:
        params = {
            "instId": symbol,
            "period": period,
            "begin": str(start - 1),
            "end": str(cursor),
            "limit": str(STATS_PAGE),
        }
        rows = [r for r in get(path, params, symbol) if isinstance(r, list) and r]
        for row in rows:
            stamp = int(row[0])
            if start <= stamp < end:
                found.setdefault(stamp, row)
        if len(rows) < STATS_PAGE:
            break
        oldest = min(int(r[0]) for r in rows)
        if oldest >= cursor:
            break  # the venue ignored the cursor: stop rather than loop
        cursor = oldest
    return [found[t] for t in sorted(found)]


def liquidation_items(get: Get, symbol: str, since: datetime, until: datetime) -> list[dict]:
    """Items of ``symbol``'s filled liquidation orders, paged back from ``until`` to
    ``since`` (fact 2); details outside the range may be included."""
    family = symbol.removesuffix("-SWAP")
    low, cursor = to_ms(since), to_ms(until)
    items: list[dict] = []
    while cursor > low:
        params = {
            "instType": "SWAP",
            "instFamily": family,
            "state": "filled",
            "after": str(cursor),
            "limit": str(LIQUIDATION_PAGE),
        }
        page = [i for i in get("public/liquidation-orders", params, symbol) if isinstance(i, dict)]
        mine = [i for i in page if i.get("instId") in (symbol, None, "")]
        items.extend(mine)
        stamps = [
            int(d["ts"])
            for i in mine
            for d in i.get("details") or []
            if isinstance(d, dict) and str(d.get("ts", "")).isdigit()
        ]
        if len(stamps) < LIQUIDATION_PAGE:
            break
        oldest = min(stamps)
        if oldest >= cursor:
            break
        cursor = oldest
    return items


def liquidation_intervals(
    symbol: str,
    fills: Iterable[tuple[datetime, str, float]],
    timeframe: Timeframe,
    span: TimeRange,
    now: datetime,
) -> list[Liquidation]:
    """One ``Liquidation`` per ``timeframe`` interval inside ``span`` that lies wholly in
    the last day before ``now`` and has ended (fact 3), oldest first; ``fills`` are
    ``(time, side liquidated, USD)``, each counted once in the interval holding it."""
    length = timeframe.duration
    known_from = now - LIQUIDATION_HORIZON
    first = timeframe.floor(max(span.start, known_from))
    if first < span.start or first < known_from:
        first += length
    totals: dict[datetime, list[float]] = {}
    opened = first
    while opened + length <= min(span.end, now):
        totals[opened] = [0.0, 0.0]
        opened += length
    for time, side, usd in fills:
        bucket = totals.get(timeframe.floor(time))
        if bucket is not None:
            bucket[0 if side == "long" else 1] += usd
    return [Liquidation(symbol, t, longs, shorts) for t, (longs, shorts) in totals.items()]


# -- the readers behind OkxExchange's statistics methods ---------------------------------


def open_interest(get: Get, symbol: str) -> OpenInterest:
    """Open interest now, in USD (``/public/open-interest`` ``oiUsd``)."""
    params = {"instType": wire.INST_TYPE, "instId": symbol}
    [item] = get("public/open-interest", params, symbol)
    return wire_market.open_interest_from_okx(item)


def open_interest_history(
    get: Get, symbol: str, span: TimeRange, period: Timeframe
) -> list[OpenInterest]:
    """Open interest (USD) every ``period`` with time in ``span``, oldest first, the 24 h
    change set where the point a day earlier is in the list. OKX keeps the latest
    1,440 periods (``rubik/stat/contracts/open-interest-history``; fact 1)."""
    rows = series_rows(
        get, "rubik/stat/contracts/open-interest-history", symbol, span, period_of(period)
    )
    return with_24h_change([wire_market.open_interest_history_from_okx(symbol, r) for r in rows])


def long_short_ratio_history(
    get: Get, symbol: str, span: TimeRange, period: Timeframe
) -> list[Sentiment]:
    """The account long/short ratio of the contract every ``period`` with time in
    ``span``, oldest first (``long-short-account-ratio-contract``; latest 1,440; fact 1)."""
    rows = series_rows(
        get,
        "rubik/stat/contracts/long-short-account-ratio-contract",
        symbol,
        span,
        period_of(period),
    )
    return [wire_market.sentiment_from_okx(symbol, r) for r in rows]


def liquidations(
    get: Get,
    symbol: str,
    span: TimeRange,
    interval: Timeframe,
    now: datetime,
    ct_val: Callable[[], Decimal],
) -> list[Liquidation]:
    """Liquidated longs and shorts (USD) per ``interval`` in ``span``, oldest first.

    From ``/public/liquidation-orders``, which holds the last day only (facts 2, 3):
    intervals before that, and the one still running, are left out; an interval without
    a liquidation is 0. ``ct_val`` is asked only when some of ``span`` is in the last day.
    """
    since = max(span.start, now - LIQUIDATION_HORIZON)
    until = min(span.end, now)
    fills = []
    if since < until:
        value = ct_val()
        for item in liquidation_items(get, symbol, since, until):
            fills.extend(wire_market.liquidation_fills_from_okx(item, value))
    return liquidation_intervals(symbol, fills, interval, span, now)


def contract_value(get: Get, known: dict[str, Decimal], symbol: str) -> Decimal:
    """``symbol``'s contract value (``ctVal``), cached in ``known``."""
    value = known.get(symbol)
    if value is None:
        params = {"instType": wire.INST_TYPE, "instId": symbol}
        [item] = get("public/instruments", params, None)
        value = known[symbol] = wire_market.instrument_from_okx(item).ct_val
    return value
