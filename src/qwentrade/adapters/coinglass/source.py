"""``CoinGlassSource``: the MarketDataSource port over CoinGlass v4 (okx-spec E3).

Which CoinGlass series answers which question:

* open interest: ``/api/futures/open-interest/aggregated-history`` for the coin (all
  exchanges, USD), fetched from 24 h before the span so ``change_24h`` is known;
* sentiment: ``/api/futures/global-long-short-account-ratio/history`` on ``exchange``
  (OKX by default) for the USDT pair (``BTCUSDT``);
* liquidations: ``/api/futures/liquidation/aggregated-history`` for the coin over
  ``liquidation_exchanges``;
* ETF flows: ``/api/etf/bitcoin/flow-history`` / ``ethereum``, daily, no parameters;
* fear & greed: ``/api/index/fear-greed-history``, daily, no parameters.

History series take ``interval``, ``start_time``/``end_time`` (ms, both inclusive) and
``limit`` (at most 1000) and answer oldest first: a span is read in pages forwards from
its start until a page comes back short or reaches the span's end.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import TypeVar

from qwentrade.adapters.coinglass.client import CoinGlassClient
from qwentrade.adapters.coinglass.wire import (
    etf_flow_from_coinglass,
    fear_greed_from_coinglass,
    liquidation_from_coinglass,
    open_interest_from_coinglass,
    sentiment_from_coinglass,
)
from qwentrade.domain.errors import InvalidInput
from qwentrade.domain.market import (
    EPOCH,
    EtfFlow,
    FearGreed,
    Liquidation,
    OpenInterest,
    Sentiment,
    Timeframe,
    TimeRange,
    to_ms,
    with_24h_change,
)

T = TypeVar("T")

PAGE = 1000
INTERVALS = {Timeframe.M15: "15m", Timeframe.H1: "1h", Timeframe.H4: "4h", Timeframe.D1: "1d"}
ETF_PATHS = {"BTC": "/api/etf/bitcoin/flow-history", "ETH": "/api/etf/ethereum/flow-history"}
OPEN_INTEREST = "/api/futures/open-interest/aggregated-history"
ACCOUNT_RATIO = "/api/futures/global-long-short-account-ratio/history"
LIQUIDATIONS = "/api/futures/liquidation/aggregated-history"
FEAR_GREED = "/api/index/fear-greed-history"


def coin_of(symbol: str) -> str:
    """``BTC-USDT-SWAP`` (or ``BTC``) -> ``BTC``: CoinGlass's coin-level ``symbol``."""
    coin = str(symbol).strip().upper().split("-")[0]
    if not coin.isalnum():
        raise InvalidInput("symbol", f"{symbol!r} is not an instrument such as BTC-USDT-SWAP")
    return coin


def pair_of(symbol: str) -> str:
    """``BTC-USDT-SWAP`` -> ``BTCUSDT``: CoinGlass's per-exchange pair ``symbol``."""
    parts = str(symbol).strip().upper().split("-")
    if len(parts) < 2 or not all(p.isalnum() for p in parts[:2]):
        raise InvalidInput("symbol", f"{symbol!r} is not an instrument such as BTC-USDT-SWAP")
    return parts[0] + parts[1]


def interval_of(timeframe: Timeframe) -> str:
    try:
        return INTERVALS[Timeframe(timeframe)]
    except (KeyError, ValueError):
        allowed = ", ".join(t.label for t in INTERVALS)
        raise InvalidInput("timeframe", f"{timeframe!r} is not one of {allowed}") from None


class CoinGlassSource:
    """Implements ``ports.market_data.MarketDataSource`` with a :class:`CoinGlassClient`."""

    def __init__(
        self,
        client: CoinGlassClient,
        *,
        exchange: str = "OKX",
        liquidation_exchanges: tuple[str, ...] = ("OKX", "Binance", "Bybit"),
    ) -> None:
        self.client = client
        self.exchange = exchange
        self.liquidation_exchanges = liquidation_exchanges

    def __repr__(self) -> str:
        return f"CoinGlassSource({self.client!r}, exchange={self.exchange!r})"

    def open_interest(
        self, symbol: str, timeframe: Timeframe, span: TimeRange
    ) -> list[OpenInterest]:
        wider = TimeRange(max(EPOCH, span.start - timedelta(hours=24)), span.end)
        params = {"symbol": coin_of(symbol), "unit": "usd"}
        points = self._history(OPEN_INTEREST, params, timeframe, wider)
        rows = [open_interest_from_coinglass(symbol, row) for row in points]
        return [p for p in with_24h_change(rows) if p.time in span]

    def sentiment(self, symbol: str, timeframe: Timeframe, span: TimeRange) -> list[Sentiment]:
        params = {"exchange": self.exchange, "symbol": pair_of(symbol)}
        rows = self._history(ACCOUNT_RATIO, params, timeframe, span)
        return [sentiment_from_coinglass(symbol, row) for row in rows]

    def liquidations(self, symbol: str, timeframe: Timeframe, span: TimeRange) -> list[Liquidation]:
        params = {"exchange_list": ",".join(self.liquidation_exchanges), "symbol": coin_of(symbol)}
        rows = self._history(LIQUIDATIONS, params, timeframe, span)
        return [liquidation_from_coinglass(symbol, row) for row in rows]

    def etf_flows(self, asset: str, span: TimeRange) -> list[EtfFlow]:
        coin = coin_of(asset)
        if coin not in ETF_PATHS:
            raise InvalidInput("asset", f"{asset!r} has no ETF flows: use one of BTC, ETH")
        flows = _parsed(
            self.client.get(ETF_PATHS[coin]), lambda r: etf_flow_from_coinglass(coin, r)
        )
        inside = [f for f in flows if _day_start(f.date) in span]
        return sorted(inside, key=lambda f: f.date)

    def fear_greed(self, span: TimeRange) -> list[FearGreed]:
        points = fear_greed_from_coinglass(self.client.get(FEAR_GREED))
        return [p for p in points if p.time in span]

    def _history(
        self, path: str, params: dict, timeframe: Timeframe, span: TimeRange
    ) -> list[dict]:
        """The rows of a history series with ``time`` in ``span``, oldest first, paged."""
        interval = interval_of(timeframe)
        step = Timeframe(timeframe).duration // timedelta(milliseconds=1)
        start, end = to_ms(span.start), to_ms(span.end)
        found: dict[int, dict] = {}
        cursor = start
        while cursor < end:
            query = params | {
                "interval": interval,
                "start_time": cursor,
                "end_time": end - 1,  # inclusive on CoinGlass; the span is half-open
                "limit": PAGE,
            }
            page = self.client.get(path, query) or []
            if not isinstance(page, list):
                raise InvalidInput("data", f"CoinGlass {path} answered {page!r}, not rows")
            times = []
            for row in page:
                if isinstance(row, dict) and str(row.get("time", "")).isdigit():
                    moment = int(row["time"])
                    times.append(moment)
                    if start <= moment < end:
                        found[moment] = row
            if len(page) < PAGE or not times or max(times) + step <= cursor:
                break
            cursor = max(times) + step
        return [found[t] for t in sorted(found)]


def _day_start(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def _parsed(data: object, parse: Callable[[dict], T]) -> list[T]:
    if not isinstance(data, list):
        raise InvalidInput("data", f"CoinGlass answered {type(data).__name__}, not a list of rows")
    return [parse(row) for row in data if isinstance(row, dict)]
