"""The data kinds the sync engine runs, as rows of :class:`JobSpec`.

One row per kind, named after its table; the engine makes one job per target: each
configured symbol (``SYMBOL``), the ETF assets BTC and ETH (``ETF``), or one global job
(``GLOBAL``). Schedules are read from the config store every time the scheduler plans a
run, so ``qwentrade config set OPEN_INTEREST_SYNC_INTERVAL 300`` is seen without a restart.

======================  =======  ==============================================  ==========
kind                    scope    schedule (config key, default)                  source
======================  =======  ==============================================  ==========
klines_4h               symbol   each 4h close + KLINE_SYNC_DELAY (5 s)          exchange
klines_1d               symbol   each 1d close + KLINE_SYNC_DELAY                exchange
klines_15m              symbol   each 15m close + KLINE_SYNC_DELAY               exchange
funding_rate            symbol   FUNDING_RATE_SYNC_TIMES (00:01,08:01,16:01)     exchange
open_interest           symbol   OPEN_INTEREST_SYNC_INTERVAL (900 s)             CoinGlass/OKX
market_sentiment        symbol   MARKET_SENTIMENT_SYNC_INTERVAL (3600 s)         CoinGlass/OKX
order_book              symbol   ORDER_BOOK_SYNC_INTERVAL (3600 s)               exchange
etf_flow                ETF      ETF_FLOW_SYNC_TIMES (08:00)                     CoinGlass
fear_greed              global   FEAR_GREED_SYNC_TIMES (00:10)                   CoinGlass
liquidation             symbol   LIQUIDATION_SYNC_INTERVAL (3600 s)              CoinGlass/OKX
order_history           global   ORDER_HISTORY_SYNC_INTERVAL (30 s)              exchange
position_history        global   POSITION_HISTORY_SYNC_INTERVAL (30 s)           exchange
======================  =======  ==============================================  ==========
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Protocol

import attrs

from qwentrade.app.sync.base import SyncRun
from qwentrade.app.sync.klines import KlineSync
from qwentrade.domain.config_keys import CONFIG_KEYS, KLINE_SYNC_DELAY
from qwentrade.domain.market import (
    BookSnapshot,
    EtfFlow,
    FearGreed,
    FundingRate,
    Liquidation,
    OpenInterest,
    Sentiment,
    Timeframe,
)
from qwentrade.domain.records import market_time
from qwentrade.domain.schedule import CandleClose, Every, Schedule, TimesOfDay
from qwentrade.ports.config import ConfigStore
from qwentrade.ports.repositories import KlineRepository, MarketSeriesRepository

ETF_ASSETS = ("BTC", "ETH")


class Scope(enum.Enum):
    """Who a kind's jobs are for."""

    SYMBOL = "symbol"  # one job per configured symbol
    ETF = "etf"  # one job per ETF asset (BTC, ETH)
    GLOBAL = "global"  # one job (fear & greed, the account's history)


@attrs.frozen
class JobSpec:
    """One data kind: its table name, scope, schedule (read live) and run.

    ``newest(target)`` (optional) is the time the stored data reaches, for the lag.
    """

    kind: str
    scope: Scope
    schedule: Callable[[], Schedule]
    run: SyncRun
    newest: Callable[[str | None], datetime | None] | None = None

    def targets(self, symbols: Sequence[str]) -> tuple[str | None, ...]:
        """The targets of this kind's jobs for the configured ``symbols``."""
        if self.scope is Scope.SYMBOL:
            return tuple(symbols)
        if self.scope is Scope.ETF:
            return ETF_ASSETS
        return (None,)

    def job_id(self, target: str | None) -> str:
        """``klines_15m:BTC-USDT-SWAP``, ``etf_flow:BTC`` or ``fear_greed``."""
        return self.kind if target is None else f"{self.kind}:{target}"


class MarketJobs(Protocol):
    """The market-data jobs (``app.sync.market.MarketSync``), each a ``SyncRun``."""

    def funding_rate(self, symbol: str | None, now: datetime) -> int: ...
    def open_interest(self, symbol: str | None, now: datetime) -> int: ...
    def market_sentiment(self, symbol: str | None, now: datetime) -> int: ...
    def order_book(self, symbol: str | None, now: datetime) -> int: ...
    def etf_flow(self, asset: str | None, now: datetime) -> int: ...
    def fear_greed(self, target: str | None, now: datetime) -> int: ...
    def liquidation(self, symbol: str | None, now: datetime) -> int: ...


class HistoryJobs(Protocol):
    """The account-history jobs (``app.sync.history.HistorySync``), each a ``SyncRun``."""

    def order_history(self, target: str | None, now: datetime) -> int: ...
    def position_history(self, target: str | None, now: datetime) -> int: ...


class _Settings:
    """Reads a schedule's config key at the moment the scheduler asks."""

    def __init__(self, config: ConfigStore | None) -> None:
        self._config = config

    def value(self, key: str) -> object:
        return CONFIG_KEYS[key].default if self._config is None else self._config.get(key)

    def candle_close(self, timeframe: Timeframe) -> Callable[[], Schedule]:
        return lambda: CandleClose(
            timeframe,
            timedelta(seconds=float(self.value(KLINE_SYNC_DELAY))),  # type: ignore[arg-type]
        )

    def times(self, key: str) -> Callable[[], Schedule]:
        return lambda: TimesOfDay.parse(str(self.value(key)))

    def every(self, key: str) -> Callable[[], Schedule]:
        return lambda: Every(float(self.value(key)))  # type: ignore[arg-type]


def kline_specs(
    klines: KlineSync, repository: KlineRepository, config: ConfigStore | None
) -> list[JobSpec]:
    """The three candle kinds."""
    settings = _Settings(config)

    def newest(timeframe: Timeframe) -> Callable[[str | None], datetime | None]:
        def close(target: str | None) -> datetime | None:
            opened = repository.latest_time(target or "", timeframe)
            return None if opened is None else opened + timeframe.duration

        return close

    # 4h and 1d first: the 15m job brings the 4h series up to date before it detects,
    # and would otherwise write (and be credited with) the 4h job's rows at start-up
    return [
        JobSpec(
            "klines_4h",
            Scope.SYMBOL,
            settings.candle_close(Timeframe.H4),
            klines.klines_4h,
            newest(Timeframe.H4),
        ),
        JobSpec(
            "klines_1d",
            Scope.SYMBOL,
            settings.candle_close(Timeframe.D1),
            klines.klines_1d,
            newest(Timeframe.D1),
        ),
        JobSpec(
            "klines_15m",
            Scope.SYMBOL,
            settings.candle_close(Timeframe.M15),
            klines.klines_15m,
            newest(Timeframe.M15),
        ),
    ]


def market_specs(
    market: MarketJobs, repository: MarketSeriesRepository | None, config: ConfigStore | None
) -> list[JobSpec]:
    """The seven market kinds."""
    settings = _Settings(config)

    def newest(kind: type) -> Callable[[str | None], datetime | None] | None:
        if repository is None:
            return None

        def latest(target: str | None) -> datetime | None:
            item = repository.latest(kind, target)  # type: ignore[type-var]
            return None if item is None else market_time(item)

        return latest

    rows: list[tuple[str, Scope, Callable[[], Schedule], SyncRun, type]] = [
        (
            "funding_rate",
            Scope.SYMBOL,
            settings.times("FUNDING_RATE_SYNC_TIMES"),
            market.funding_rate,
            FundingRate,
        ),
        (
            "open_interest",
            Scope.SYMBOL,
            settings.every("OPEN_INTEREST_SYNC_INTERVAL"),
            market.open_interest,
            OpenInterest,
        ),
        (
            "market_sentiment",
            Scope.SYMBOL,
            settings.every("MARKET_SENTIMENT_SYNC_INTERVAL"),
            market.market_sentiment,
            Sentiment,
        ),
        (
            "order_book",
            Scope.SYMBOL,
            settings.every("ORDER_BOOK_SYNC_INTERVAL"),
            market.order_book,
            BookSnapshot,
        ),
        ("etf_flow", Scope.ETF, settings.times("ETF_FLOW_SYNC_TIMES"), market.etf_flow, EtfFlow),
        (
            "fear_greed",
            Scope.GLOBAL,
            settings.times("FEAR_GREED_SYNC_TIMES"),
            market.fear_greed,
            FearGreed,
        ),
        (
            "liquidation",
            Scope.SYMBOL,
            settings.every("LIQUIDATION_SYNC_INTERVAL"),
            market.liquidation,
            Liquidation,
        ),
    ]
    return [
        JobSpec(kind, scope, schedule, run, newest(value))
        for kind, scope, schedule, run, value in rows
    ]


def history_specs(history: HistoryJobs, config: ConfigStore | None) -> list[JobSpec]:
    """The account's order and position history."""
    settings = _Settings(config)
    return [
        JobSpec(
            "order_history",
            Scope.GLOBAL,
            settings.every("ORDER_HISTORY_SYNC_INTERVAL"),
            history.order_history,
        ),
        JobSpec(
            "position_history",
            Scope.GLOBAL,
            settings.every("POSITION_HISTORY_SYNC_INTERVAL"),
            history.position_history,
        ),
    ]


KINDS = (
    "klines_4h",
    "klines_1d",
    "klines_15m",
    "funding_rate",
    "open_interest",
    "market_sentiment",
    "order_book",
    "etf_flow",
    "fear_greed",
    "liquidation",
    "order_history",
    "position_history",
)
"""Every kind's name (= its table), in the order the engine starts them."""
