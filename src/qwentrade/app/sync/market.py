"""MarketSync: the seven market-data kinds as sync runs (``SyncRun``: ``(target, now) -> rows``).

Every kind but the order book is a series of points on a fixed UTC grid of ``step``:

===============  ===========  =======  ==========================  ==========================
kind             value        step     window (config key)         source
===============  ===========  =======  ==========================  ==========================
funding_rate     FundingRate  8 h      FUNDING_RATE_START_DAYS 30  the exchange (settlements)
open_interest    OpenInterest 15 min   OPEN_INTEREST_START_DAYS    CoinGlass, else OKX stats
market_sentiment Sentiment    1 h      MARKET_SENTIMENT_START_DAYS CoinGlass, else OKX stats
liquidation      Liquidation  1 h      LIQUIDATION_START_DAYS      CoinGlass, else OKX stats
etf_flow         EtfFlow      1 day    ETF_FLOW_START_DAYS         CoinGlass only (BTC, ETH)
fear_greed       FearGreed    1 day    FEAR_GREED_START_DAYS       CoinGlass only (global)
===============  ===========  =======  ==========================  ==========================

A run, for one series at ``now`` (the rules the tests check):

1. The slots due are those of the window (``now`` minus the configured days, read at the
   run) that are final at ``now``: an interval once it has ended (its point is the
   interval's close, named by its open time), a funding settlement at its time, a day
   once it has ended. A point still forming is never stored, so a stored slot is final.
2. A slot is present when a stored point of the series falls in it (an ETF flow by its
   date). The missing slots are grouped into runs of consecutive slots; each run is read
   with ONE call of the source over exactly its span (the source pages with its own
   limits: CoinGlass 1,000 rows, OKX statistics 100, OKX funding 400), so a stored range
   is never fetched again and a backfill from empty costs ceil(missing / page) requests.
   A source that answers its whole history in one request (ETF flows, fear & greed) is
   called once for all the runs.
3. What comes back is upserted (idempotent: a replay writes the same keys), run by run,
   so an interrupted run keeps what it stored and the next one fetches only the rest.
4. A slot the source answered without, while it had data for a later slot, is a hole the
   source does not have (before its first point, a maintenance window, a weekend without
   ETF trading): it is not asked for again by this process. Slots after the source's
   newest answer are asked again next run (the source may publish late).
5. OKX's statistics keep only recent history (1,440 periods; liquidations one day):
   with the OKX fallback the window starts no earlier than that (``okx_history_start``),
   so the job stores what OKX has and never asks for what it cannot have.

``order_book`` takes one snapshot per run (``ORDER_BOOK_DEPTH`` levels a side, no
history); a run within a minute of the newest stored snapshot takes none, so a replay or
a quick restart adds nothing.

Sources: with a CoinGlass key, CoinGlass serves open interest, sentiment, liquidations,
ETF flows and fear & greed; without one the first three come from OKX's public
statistics and the last two raise :class:`JobDisabled`. In ``sim`` mode (``offline``)
there is no network: funding and the order book come from the simulated exchange and the
other kinds are disabled with the reason.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import attrs

from qwentrade.app.sync.base import JobDisabled
from qwentrade.domain.errors import InvalidInput
from qwentrade.domain.market import (
    EPOCH,
    BookSnapshot,
    EtfFlow,
    FearGreed,
    FundingRate,
    Liquidation,
    OpenInterest,
    Sentiment,
    Timeframe,
    TimeRange,
    next_funding_time,
    require_utc,
)
from qwentrade.ports.clock import Clock
from qwentrade.ports.config import ConfigStore
from qwentrade.ports.exchange import Exchange
from qwentrade.ports.market_data import MarketDataSource
from qwentrade.ports.repositories import MarketItem, MarketSeriesRepository

ETF_ASSETS = ("BTC", "ETH")
FUNDING_STEP = timedelta(hours=8)
DAY = timedelta(days=1)
SNAPSHOT_SPACING = timedelta(minutes=1)
NO_COINGLASS = "no CoinGlass key: set QWENTRADE_COINGLASS_API_KEY"
OFFLINE = "sim mode runs offline"

#: ``(kind, timeframe, now) -> the oldest interval open the OKX statistics still keep``
HistoryStart = Callable[[str, Timeframe, datetime], datetime]


@attrs.frozen
class Series:
    """How one kind is laid out: its value class, grid step, how long after a slot's
    start its point is final, and the config key of its history window. ``whole`` marks
    a source that answers its whole history in one request (ETF flows, fear & greed):
    all missing runs are read with one call. ``aligned``: every point sits exactly on a
    slot start (one row per slot), so the stored count tells whether a stored stretch has
    a hole without reading it (fear & greed times are the source's, so not assumed)."""

    name: str
    kind: type
    step: timedelta
    final_after: timedelta
    window_key: str
    whole: bool = False
    aligned: bool = True


FUNDING = Series("funding_rate", FundingRate, FUNDING_STEP, timedelta(0), "FUNDING_RATE_START_DAYS")
OPEN_INTEREST = Series(
    "open_interest", OpenInterest, Timeframe.M15.duration, Timeframe.M15.duration,
    "OPEN_INTEREST_START_DAYS",
)  # fmt: skip
SENTIMENT = Series(
    "market_sentiment", Sentiment, Timeframe.H1.duration, Timeframe.H1.duration,
    "MARKET_SENTIMENT_START_DAYS",
)  # fmt: skip
LIQUIDATION = Series(
    "liquidation", Liquidation, Timeframe.H1.duration, Timeframe.H1.duration,
    "LIQUIDATION_START_DAYS",
)  # fmt: skip
ETF_FLOW = Series("etf_flow", EtfFlow, DAY, DAY, "ETF_FLOW_START_DAYS", whole=True)
FEAR_GREED = Series(
    "fear_greed", FearGreed, DAY, DAY, "FEAR_GREED_START_DAYS", whole=True, aligned=False
)
ORDER_BOOK_DEPTH = "ORDER_BOOK_DEPTH"

#: the timeframe each statistics kind is read at (the original's schedules)
TIMEFRAMES = {
    "open_interest": Timeframe.M15,
    "market_sentiment": Timeframe.H1,
    "liquidation": Timeframe.H1,
}
#: the port method of each statistics kind, and the name ``okx_history_start`` knows it by
SOURCE_KINDS = {
    "open_interest": "open_interest",
    "market_sentiment": "sentiment",
    "liquidation": "liquidations",
}


def floor_to(step: timedelta, when: datetime) -> datetime:
    """The start of the ``step`` slot holding ``when`` (aligned to the epoch, UTC)."""
    return EPOCH + (require_utc(when, "time") - EPOCH) // step * step


def ceil_to(step: timedelta, when: datetime) -> datetime:
    """The first slot start at or after ``when``."""
    floor = floor_to(step, when)
    return floor if floor == when else floor + step


def due_span(series: Series, since: datetime, now: datetime) -> TimeRange:
    """Slot starts in ``[since, now]`` whose point is final at ``now`` (rule 1), half-open."""
    start = ceil_to(series.step, since)
    end = floor_to(series.step, now - series.final_after) + series.step
    return TimeRange(start, max(start, end))


def missing_runs(step: timedelta, span: TimeRange, present: set[datetime]) -> list[TimeRange]:
    """Runs of consecutive slots of ``span`` not in ``present``, oldest first."""
    runs: list[TimeRange] = []
    first: datetime | None = None
    slot = span.start
    while slot < span.end:
        if slot in present:
            if first is not None:
                runs.append(TimeRange(first, slot))
                first = None
        elif first is None:
            first = slot
        slot += step
    if first is not None:
        runs.append(TimeRange(first, span.end))
    return runs


def item_time(item: MarketItem) -> datetime:
    """Where a stored point sits on its grid (an ETF flow: midnight UTC of its date)."""
    if isinstance(item, EtfFlow):
        return datetime(item.date.year, item.date.month, item.date.day, tzinfo=UTC)
    return item.time


class MarketSync:
    """The market-data sync runs; see the module docstring for the rules."""

    def __init__(
        self,
        exchange: Exchange,
        market: MarketSeriesRepository,
        config: ConfigStore,
        clock: Clock,
        coinglass: MarketDataSource | None,
        okx_stats: MarketDataSource | None,
        *,
        okx_history_start: HistoryStart | None = None,
        offline: bool = False,
    ) -> None:
        self._exchange = exchange
        self._market = market
        self._config = config
        self._clock = clock
        self._coinglass = coinglass
        self._okx_stats = okx_stats
        self._okx_history_start = okx_history_start
        self._offline = offline
        self._lock = threading.Lock()
        # (series, target) -> slots the source answered without (rule 4)
        self._holes: dict[tuple[str, str | None], set[datetime]] = {}

    # -- the runs ------------------------------------------------------------------------

    def funding_rate(self, symbol: str | None, now: datetime) -> int:
        """Settled funding rates of ``symbol`` (00/08/16 UTC) over the window, each with
        its ``next_funding_time``; from the exchange."""
        symbol = _symbol(symbol)

        def fetch(span: TimeRange) -> list[FundingRate]:
            return [
                rate
                if rate.next_funding_time is not None
                else attrs.evolve(rate, next_funding_time=next_funding_time(rate.time))
                for rate in self._exchange.funding_history(symbol, span)
            ]

        return self._sync(FUNDING, symbol, now, fetch)

    def open_interest(self, symbol: str | None, now: datetime) -> int:
        """Open interest (USD) of ``symbol`` every 15 minutes over the window."""
        return self._statistics(OPEN_INTEREST, _symbol(symbol), now)

    def market_sentiment(self, symbol: str | None, now: datetime) -> int:
        """The hourly long/short account ratio of ``symbol`` over the window."""
        return self._statistics(SENTIMENT, _symbol(symbol), now)

    def liquidation(self, symbol: str | None, now: datetime) -> int:
        """Hourly liquidated longs and shorts (USD) of ``symbol`` over the window."""
        return self._statistics(LIQUIDATION, _symbol(symbol), now)

    def etf_flow(self, asset: str | None, now: datetime) -> int:
        """Daily spot-ETF net flows (USD) of ``asset`` (BTC or ETH) over the window."""
        coin = str(asset or "").strip().upper()
        if coin not in ETF_ASSETS:
            raise InvalidInput("asset", f"{asset!r} has no ETF flows: use one of BTC, ETH")
        source = self._coinglass_only("etf_flow")
        return self._sync(ETF_FLOW, coin, now, lambda span: source.etf_flows(coin, span))

    def fear_greed(self, target: str | None, now: datetime) -> int:
        """The daily crypto fear & greed index over the window (one global series;
        ``target`` is ignored)."""
        source = self._coinglass_only("fear_greed")
        return self._sync(FEAR_GREED, None, now, source.fear_greed)

    def order_book(self, symbol: str | None, now: datetime) -> int:
        """One order-book snapshot of ``symbol`` (``ORDER_BOOK_DEPTH`` levels a side);
        none when the newest stored one is less than a minute old at ``now``."""
        symbol = _symbol(symbol)
        now = require_utc(now, "now")
        latest = self._market.latest(BookSnapshot, symbol)
        if latest is not None and latest.time > now - SNAPSHOT_SPACING:
            return 0
        depth = int(self._config.get(ORDER_BOOK_DEPTH))
        return self._market.upsert([self._exchange.order_book(symbol, depth)])

    # -- the shared series run -----------------------------------------------------------

    def _statistics(self, series: Series, symbol: str, now: datetime) -> int:
        timeframe = TIMEFRAMES[series.name]
        method = SOURCE_KINDS[series.name]
        since: datetime | None = None
        if self._coinglass is not None:
            source = self._coinglass
        elif self._okx_stats is not None:
            source = self._okx_stats
            if self._okx_history_start is not None:
                since = self._okx_history_start(method, timeframe, now)
        elif self._offline:
            raise JobDisabled(
                f"{series.name}: {OFFLINE} and has no source of it (CoinGlass and OKX's "
                "statistics are real-market data: use paper or live mode)"
            )
        else:
            raise JobDisabled(f"{series.name}: no source ({NO_COINGLASS})")
        read = getattr(source, method)
        return self._sync(series, symbol, now, lambda span: read(symbol, timeframe, span), since)

    def _coinglass_only(self, name: str) -> MarketDataSource:
        if self._coinglass is not None:
            return self._coinglass
        if self._offline:
            raise JobDisabled(f"{name}: {OFFLINE}; CoinGlass is its only source")
        raise JobDisabled(f"{name}: {NO_COINGLASS} (OKX does not publish it)")

    def _window(self, series: Series, now: datetime, since: datetime | None) -> TimeRange:
        days = float(self._config.get(series.window_key))
        start = now - timedelta(days=days)
        if since is not None:
            start = max(start, since)
        return due_span(series, start, now)

    def _sync(
        self,
        series: Series,
        target: str | None,
        now: datetime,
        fetch: Callable[[TimeRange], Sequence[Any]],
        since: datetime | None = None,
    ) -> int:
        now = require_utc(now, "now")
        span = self._window(series, now, since)
        if span.start == span.end:
            return 0
        present = self._present(series, target, span)
        key = (series.name, target)
        with self._lock:
            present |= self._holes.get(key, set())
        written = 0
        runs = missing_runs(series.step, span, present)
        if series.whole and len(runs) > 1:
            # one request answers every run; only the missing slots of it are kept
            found = fetch(TimeRange(runs[0].start, runs[-1].end))
            answers = [[i for i in found if item_time(i) in run] for run in runs]
        else:
            answers = [None] * len(runs)
        for run, answer in zip(runs, answers, strict=True):
            if answer is None:
                answer = [i for i in fetch(run) if item_time(i) in run]
            items = [i for i in answer if not series.aligned or _on_grid(series.step, i)]
            if items:
                written += self._market.upsert(items)
            self._remember_holes(key, series.step, run, {item_time(i) for i in items}, present)
        return written

    def _present(self, series: Series, target: str | None, span: TimeRange) -> set[datetime]:
        """The slots of ``span`` holding a stored point. An aligned series whose stored
        count fills its stored stretch has no hole in it (one row per slot, the table's
        key): the stretch is read from its count, first and last time, not row by row."""
        if series.aligned:
            name = target if target is not None else "global"
            stats = next((s for s in self._market.stats(series.kind) if s.symbol == name), None)
            if stats is None or not stats.rows or stats.first is None or stats.last is None:
                return set()
            first = floor_to(series.step, stats.first)
            last = floor_to(series.step, stats.last)
            if stats.rows == (last - first) // series.step + 1:
                slot, present = max(first, span.start), set()
                while slot < span.end and slot <= last:
                    present.add(slot)
                    slot += series.step
                return present
        stored = self._market.range(series.kind, target, span.start, span.end)
        return {floor_to(series.step, item_time(item)) for item in stored}

    def _remember_holes(
        self,
        key: tuple[str, str | None],
        step: timedelta,
        run: TimeRange,
        answered: set[datetime],
        present: set[datetime],
    ) -> None:
        """Rule 4: a slot with a later answered or stored slot is a hole of the source."""
        slots = {floor_to(step, t) for t in answered}
        after_run = any(slot >= run.end for slot in present)
        newest = max(slots, default=None)
        holes = set()
        slot = run.start
        while slot < run.end:
            if slot not in slots and (after_run or (newest is not None and slot < newest)):
                holes.add(slot)
            slot += step
        if holes:
            with self._lock:
                self._holes.setdefault(key, set()).update(holes)


def _on_grid(step: timedelta, item: MarketItem) -> bool:
    when = item_time(item)
    return floor_to(step, when) == when


def _symbol(symbol: str | None) -> str:
    if not isinstance(symbol, str) or not symbol.strip():
        raise InvalidInput(
            "symbol", f"an instrument such as BTC-USDT-SWAP is needed, got {symbol!r}"
        )
    return symbol.strip()
