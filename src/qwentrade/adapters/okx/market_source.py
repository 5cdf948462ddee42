"""``OkxMarketSource``: the MarketDataSource port over OKX's own public statistics.

What a user without a CoinGlass key still gets (okx-spec; ``.market_stats`` facts 1-3):

* open interest: ``rubik/stat/contracts/open-interest-history`` of the contract, in USD
  (OKX's own open interest, not aggregated over exchanges as CoinGlass's is);
* sentiment: ``long-short-account-ratio-contract``, the contract's account ratio;
* liquidations: ``/public/liquidation-orders``, summed per interval in USD.

The port names a point by the OPEN time of its interval (as CoinGlass does); OKX stamps
a statistics row with the time its period ENDED (fact 2 of the fake server, which keeps
OKX's convention), so rows are read one period later and moved back by one period: the
open interest of the interval opening at ``t`` is OKX's value at ``t + period``.

OKX keeps only recent history: the latest :data:`STATS_PERIODS` periods of the
statistics series and the last day of liquidation orders. An older span comes back
short, not as an error; :func:`history_start` says where the kept history begins.
ETF flows and the fear & greed index are not published by OKX at all: those methods
raise ``InvalidInput`` naming the source.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import attrs

from qwentrade.adapters.okx.exchange import OkxExchange
from qwentrade.adapters.okx.market_stats import LIQUIDATION_HORIZON, period_of
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
    with_24h_change,
)

#: periods of a statistics series OKX serves back from now (``.market_stats`` fact 1)
STATS_PERIODS = 1440
DAY = timedelta(hours=24)


def history_start(kind: str, timeframe: Timeframe, now: datetime) -> datetime:
    """The open time of the oldest interval OKX still has for ``kind`` (``open_interest``,
    ``sentiment`` or ``liquidations``) at ``now``: 1,440 periods of the statistics series,
    one day of liquidations."""
    timeframe = Timeframe(timeframe)
    if kind == "liquidations":
        return timeframe.floor(now - LIQUIDATION_HORIZON) + timeframe.duration
    return timeframe.floor(now) - STATS_PERIODS * timeframe.duration


class OkxMarketSource:
    """Implements ``ports.market_data.MarketDataSource`` with an :class:`OkxExchange`'s
    public statistics (no keys needed; every call passes the exchange's permit gate)."""

    def __init__(self, okx: OkxExchange) -> None:
        self.okx = okx

    def __repr__(self) -> str:
        return f"OkxMarketSource({self.okx.rest.rest_url!r})"

    def open_interest(
        self, symbol: str, timeframe: Timeframe, span: TimeRange
    ) -> list[OpenInterest]:
        period_of(timeframe)
        step = Timeframe(timeframe).duration
        # a day more at the start, so that change_24h is known for every point of span
        wider = TimeRange(max(EPOCH, span.start - DAY) + step, span.end + step)
        points = self.okx.open_interest_history(symbol, wider, timeframe)
        moved = [attrs.evolve(p, time=p.time - step) for p in points]
        return [p for p in with_24h_change(moved) if p.time in span]

    def sentiment(self, symbol: str, timeframe: Timeframe, span: TimeRange) -> list[Sentiment]:
        period_of(timeframe)
        step = Timeframe(timeframe).duration
        shifted = TimeRange(span.start + step, span.end + step)
        points = self.okx.long_short_ratio_history(symbol, shifted, timeframe)
        return [
            moved
            for moved in (attrs.evolve(p, time=p.time - step) for p in points)
            if moved.time in span
        ]

    def liquidations(self, symbol: str, timeframe: Timeframe, span: TimeRange) -> list[Liquidation]:
        period_of(timeframe)
        return self.okx.liquidations(symbol, span, Timeframe(timeframe))

    def etf_flows(self, asset: str, span: TimeRange) -> list[EtfFlow]:
        raise InvalidInput(
            "source",
            "OKX publishes no ETF flows: set QWENTRADE_COINGLASS_API_KEY to read them "
            "from CoinGlass",
        )

    def fear_greed(self, span: TimeRange) -> list[FearGreed]:
        raise InvalidInput(
            "source",
            "OKX publishes no fear & greed index: set QWENTRADE_COINGLASS_API_KEY to read "
            "it from CoinGlass",
        )
