"""CoinGlass v4 rows -> domain values (pure; okx-spec section E3).

Facts the parsers rely on:

1. Times are epoch milliseconds in ``time`` (OHLC, ratio and liquidation rows) or
   ``timestamp`` (ETF rows). Fear & greed ``time_list`` is in seconds in the docs' sample
   and in milliseconds elsewhere (okx-spec F10): a value below 10**11 is taken as seconds.
2. Numbers come as JSON numbers or as decimal strings (okx-spec F12); both parse.
3. Ratio rows give percentages (73.88); the domain's shares are fractions (0.7388).
4. Fear & greed ``data`` is one object or a one-element list of it, with the arrays
   ``data_list``/``price_list``/``time_list`` (CN docs: ``values``/``price``).
5. An ETF row's ``flow_usd`` is the net flow; the gross in/out flows are the sums of the
   positive and negative per-ticker flows, given only when they add up to the net.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation

from qwentrade.domain.errors import InvalidInput
from qwentrade.domain.market import (
    EtfFlow,
    FearGreed,
    Liquidation,
    OpenInterest,
    Sentiment,
    from_ms,
)

SECONDS_BELOW = 10**11  # epoch ms of 1973; as seconds, the year 5138


def number(row: Mapping, field: str) -> float:
    """``row[field]`` as a float, from a JSON number or a decimal string (fact 2)."""
    value = row.get(field)
    if isinstance(value, bool) or value is None:
        raise InvalidInput(field, f"CoinGlass row has no number in {field}: {value!r}")
    try:
        parsed = Decimal(str(value))
    except InvalidOperation:
        raise InvalidInput(field, f"CoinGlass sent {value!r}, not a number") from None
    if not parsed.is_finite():
        raise InvalidInput(field, f"CoinGlass sent {value!r}, not a finite number")
    return float(parsed)


def _time(row: Mapping, field: str = "time") -> datetime:
    value = row.get(field)
    if isinstance(value, bool) or not str(value).lstrip("-").isdigit():
        raise InvalidInput(field, f"CoinGlass row has no epoch-ms time in {field}: {value!r}")
    return from_ms(int(value))


def open_interest_from_coinglass(symbol: str, row: Mapping) -> OpenInterest:
    """An OHLC open-interest row; ``open_interest`` is the interval's close."""
    close = number(row, "close")
    return OpenInterest(
        symbol=symbol,
        time=_time(row),
        open_interest=close,
        open=number(row, "open"),
        high=number(row, "high"),
        low=number(row, "low"),
        close=close,
    )


def sentiment_from_coinglass(symbol: str, row: Mapping, kind: str = "global_account") -> Sentiment:
    """A ``{kind}_long_percent``/``_short_percent``/``_long_short_ratio`` row (fact 3)."""
    return Sentiment(
        symbol=symbol,
        time=_time(row),
        long_account_ratio=float(Decimal(str(number(row, f"{kind}_long_percent"))) / 100),
        short_account_ratio=float(Decimal(str(number(row, f"{kind}_short_percent"))) / 100),
        long_short_ratio=number(row, f"{kind}_long_short_ratio"),
    )


def liquidation_from_coinglass(symbol: str, row: Mapping) -> Liquidation:
    """An aggregated (``aggregated_long_liquidation_usd``) or per-pair
    (``long_liquidation_usd``) liquidation row, in USD."""
    prefix = "aggregated_" if "aggregated_long_liquidation_usd" in row else ""
    return Liquidation(
        symbol=symbol,
        time=_time(row),
        long_liquidation=number(row, f"{prefix}long_liquidation_usd"),
        short_liquidation=number(row, f"{prefix}short_liquidation_usd"),
    )


def etf_flow_from_coinglass(asset: str, row: Mapping) -> EtfFlow:
    """A daily ETF flow row (fact 5); ``date`` is the UTC day of ``timestamp``."""
    net = number(row, "flow_usd")
    flows = [number(f, "flow_usd") for f in row.get("etf_flows") or () if isinstance(f, Mapping)]
    inflow = sum(f for f in flows if f > 0)
    outflow = -sum(f for f in flows if f < 0)
    gross = bool(flows) and abs(inflow - outflow - net) <= 1e-6 * max(1.0, abs(net))
    price = row.get("price_usd")
    return EtfFlow(
        symbol=asset,
        date=_time(row, "timestamp").date(),
        net_flow=net,
        price_usd=None if price is None else number(row, "price_usd"),
        total_flow_in=inflow if gross else None,
        total_flow_out=outflow if gross else None,
    )


def fear_greed_from_coinglass(data: object) -> list[FearGreed]:
    """The fear & greed ``data`` (fact 4) as points, oldest first."""
    if isinstance(data, list):
        data = data[0] if data else {}
    if not isinstance(data, Mapping):
        raise InvalidInput("data", f"CoinGlass fear & greed data is not an object: {data!r}")
    values = data.get("data_list", data.get("values")) or []
    times = data.get("time_list") or []
    if len(values) != len(times):
        raise InvalidInput("time_list", f"{len(times)} times for {len(values)} fear & greed values")
    points = []
    for value, stamp in zip(values, times, strict=True):
        moment = int(number({"t": stamp}, "t"))
        when = (
            datetime.fromtimestamp(moment, UTC) if abs(moment) < SECONDS_BELOW else from_ms(moment)
        )
        points.append(FearGreed(time=when, value=number({"value": value}, "value")))
    return sorted(points, key=lambda p: p.time)
