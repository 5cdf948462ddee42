"""The MarketDataSource port: derivatives market statistics beyond candles.

Open interest, the long/short account ratio, liquidations, ETF flows and the fear & greed
index, each over a half-open ``span`` and returned oldest first as domain values. CoinGlass
is the implementation (``CoinGlassSource``); OKX's own statistics cover part of it.

Every method may raise:

* ``InvalidInput`` - a symbol, timeframe or parameter the source does not serve (the
  message names it); fix the request.
* ``AuthFailed`` - the source rejected the API key; fix the key, do not retry.
* ``ExchangeRejected`` - the source refused the request for another reason (e.g. the
  plan does not allow this timeframe; ``code`` is the source's code).
* ``RateLimited`` - the request limit was still reached after backing off; try later.
* ``ExchangeUnavailable`` - no answer or a server error after retries; try later.

All of these are safe to repeat: the port only reads.
"""

from __future__ import annotations

from typing import Protocol

from qwentrade.domain.market import (
    EtfFlow,
    FearGreed,
    Liquidation,
    OpenInterest,
    Sentiment,
    Timeframe,
    TimeRange,
)


class MarketDataSource(Protocol):
    """Market statistics by symbol (OKX instrument id such as ``BTC-USDT-SWAP``)."""

    def open_interest(
        self, symbol: str, timeframe: Timeframe, span: TimeRange
    ) -> list[OpenInterest]:
        """Open interest in USD aggregated over exchanges for the coin of ``symbol``, one
        point per ``timeframe`` interval opening in ``span``; ``open_interest`` is the
        interval's close, ``change_24h`` set when the point 24 h earlier is known."""
        ...

    def sentiment(self, symbol: str, timeframe: Timeframe, span: TimeRange) -> list[Sentiment]:
        """The long/short account ratio of ``symbol`` per interval opening in ``span``;
        the long and short shares are fractions (0.7388 = 73.88 % of accounts)."""
        ...

    def liquidations(self, symbol: str, timeframe: Timeframe, span: TimeRange) -> list[Liquidation]:
        """Liquidated longs and shorts in USD for the coin of ``symbol`` per interval
        opening in ``span``."""
        ...

    def etf_flows(self, asset: str, span: TimeRange) -> list[EtfFlow]:
        """Daily spot-ETF flows in USD of ``asset`` (``BTC`` or ``ETH``) for the UTC days
        starting in ``span``; ``net_flow`` > 0 is money flowing in."""
        ...

    def fear_greed(self, span: TimeRange) -> list[FearGreed]:
        """The daily crypto fear & greed index (0-100) at times in ``span``."""
        ...
