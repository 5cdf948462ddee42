"""LivePricePath: paper trading's price path of a venue's closed candles.

The venue here is a function of time: a candle for every minute, the one still forming
included (``confirmed=False``), and - as a venue whose clock runs ahead of ours might -
sometimes the forming one claimed closed. Whatever the poll times, the path returns only
candles closed by its clock, asks at most once per newly closed minute, and an engine
on the lagged clock walks only closed candles.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qwentrade.adapters.sim import SimEngine, SteppedClock
from qwentrade.adapters.sim.live import (
    CLOSE_GRACE,
    MINUTE,
    QUARTER,
    LaggedClock,
    LivePricePath,
    engine_lag,
)
from qwentrade.adapters.sim.model import Costs
from qwentrade.adapters.sim.prices import DEFAULT_FUNDING_RATE
from qwentrade.domain.errors import ExchangeUnavailable
from qwentrade.domain.market import Candle, FundingRate, from_ms, to_ms
from qwentrade.domain.venue import OrderRequest
from qwentrade.testing.builders import instrument

SYMBOL = "TEST-USDT-SWAP"
T0 = datetime(2025, 3, 1, 12, 0, 7, tzinfo=UTC)
STEP = 60_000


def venue_candle(open_ms: int, confirmed: bool = True) -> Candle:
    """The venue's minute candle opening at ``open_ms``: a saw-tooth, all on 0.1 ticks."""
    k = open_ms // STEP
    base = 100.0 + (k % 17) * 0.5
    close = base + (0.3 if k % 2 else -0.3)
    return Candle(
        SYMBOL,
        from_ms(open_ms),
        round(base, 1),
        round(max(base, close) + 0.2, 1),
        round(min(base, close) - 0.2, 1),
        round(close, 1),
        10.0,
        confirmed,
    )


class Venue:
    """Minute candles up to its clock; records every request."""

    def __init__(self, clock: SteppedClock, lies: bool = False, down: bool = False) -> None:
        self.clock = clock
        self.lies = lies  # the forming candle is claimed closed
        self.down = down
        self.requests: list[tuple[int, int]] = []  # (our now, since)

    def fetch(self, symbol: str, since: datetime) -> list[Candle]:
        now_ms = to_ms(self.clock.now())
        self.requests.append((now_ms, to_ms(since)))
        if self.down:
            raise ExchangeUnavailable("OKX HTTP 503: down")
        forming = now_ms - now_ms % STEP
        first = max(to_ms(since), forming - 299 * STEP)
        rows = [venue_candle(t) for t in range(first, forming, STEP)]
        rows.append(venue_candle(forming, confirmed=self.lies))
        return rows[::-1]  # newest first, as OKX answers


def path_for(venue: Venue, start: datetime = T0, **kw) -> LivePricePath:
    return LivePricePath([SYMBOL], venue.fetch, clock=venue.clock, start=start, **kw)


@settings(max_examples=60, deadline=None)
@given(
    polls=st.lists(st.integers(0, 400_000), min_size=1, max_size=40),
    lies=st.booleans(),
    outages=st.sets(st.integers(0, 39), max_size=10),
)
def test_no_candle_closing_after_the_clock_is_ever_returned(polls, lies, outages):
    clock = SteppedClock(T0)
    venue = Venue(clock, lies=lies)
    path = path_for(venue)
    closed_minutes_seen = set()
    for i, step_ms in enumerate(polls):
        clock.advance(timedelta(milliseconds=step_ms))
        venue.down = i in outages
        now_ms = to_ms(clock.now())
        closed_minutes_seen.add(now_ms - now_ms % STEP - STEP)
        try:
            series = path.series(SYMBOL, clock.now() + timedelta(days=1))
        except ExchangeUnavailable:
            continue  # nothing has arrived yet
        ts = [int(t) for t in series.ts]
        assert all(t + STEP <= now_ms for t in ts)  # closed by the clock, whatever the venue says
        assert ts == sorted(set(ts)) and ts[0] >= to_ms(MINUTE.floor(T0))
        for k, t in enumerate(ts):
            expected = venue_candle(t)
            got = (series.open[k], series.high[k], series.low[k], series.close[k])
            assert got == (expected.open, expected.high, expected.low, expected.close)
    # at most one request per newly closed minute, however often the path was read
    assert len(venue.requests) <= len(closed_minutes_seen)
    asked = [now - now % STEP for now, _ in venue.requests]
    assert len(asked) == len(set(asked))


def test_candles_are_fetched_incrementally_and_cached():
    clock = SteppedClock(T0)
    venue = Venue(clock)
    path = path_for(venue)
    clock.advance(timedelta(minutes=3))  # 12:03:07: 12:00, 12:01, 12:02 have closed
    first = path.series(SYMBOL, clock.now())
    assert [from_ms(int(t)).minute for t in first.ts] == [0, 1, 2]
    for _ in range(5):  # reads within the same minute ask nothing more
        assert path.series(SYMBOL, clock.now()) is first
    clock.advance(timedelta(minutes=1))
    second = path.series(SYMBOL, clock.now())
    assert [from_ms(int(t)).minute for t in second.ts] == [0, 1, 2, 3]
    assert [since for _, since in venue.requests] == [
        to_ms(MINUTE.floor(T0)),
        to_ms(MINUTE.floor(T0)) + 3 * STEP,
    ]


def test_a_failed_fetch_waits_for_the_next_close_and_the_price_holds():
    clock = SteppedClock(T0)
    venue = Venue(clock)
    path = path_for(venue)
    clock.advance(timedelta(minutes=2))
    assert len(path.series(SYMBOL, clock.now())) == 2
    venue.down = True
    clock.advance(timedelta(minutes=1))
    for _ in range(3):
        assert len(path.series(SYMBOL, clock.now())) == 2  # held: no retry in this minute
    assert len(venue.requests) == 2
    venue.down = False
    clock.advance(timedelta(minutes=1))
    assert len(path.series(SYMBOL, clock.now())) == 4  # the missed minute arrives too


def test_before_any_candle_a_price_read_is_exchange_unavailable():
    clock = SteppedClock(T0)
    venue = Venue(clock, down=True)
    path = path_for(venue)
    clock.advance(timedelta(minutes=1))
    with pytest.raises(ExchangeUnavailable, match="no closed 1m candle of TEST-USDT-SWAP"):
        path.series(SYMBOL, clock.now())


def test_funding_is_the_venues_last_rate_for_that_settlement_else_the_default():
    clock = SteppedClock(datetime(2025, 3, 1, 7, 50, tzinfo=UTC))
    venue = Venue(clock)
    settle = datetime(2025, 3, 1, 8, tzinfo=UTC)
    reads = []

    def funding(symbol: str) -> FundingRate:
        reads.append(clock.now())
        return FundingRate(symbol, settle, Decimal("0.00025"))

    path = path_for(venue, start=clock.now(), funding=funding)
    assert path.funding_rate(SYMBOL, settle) == DEFAULT_FUNDING_RATE  # nothing read yet
    clock.advance(timedelta(minutes=2))
    path.series(SYMBOL, clock.now())
    clock.advance(timedelta(minutes=1))
    path.series(SYMBOL, clock.now())  # within FUNDING_REFRESH: not read again
    assert len(reads) == 1
    assert path.funding_rate(SYMBOL, settle) == Decimal("0.00025")
    assert path.funding_rate(SYMBOL, settle + timedelta(hours=8)) == DEFAULT_FUNDING_RATE


@settings(max_examples=30, deadline=None)
@given(polls=st.lists(st.integers(0, 200_000), min_size=1, max_size=30))
def test_the_lagged_engine_fills_only_at_closed_candle_prices(polls):
    real = SteppedClock(T0)
    venue = Venue(real, lies=True)
    clock = LaggedClock(real, engine_lag(MINUTE))
    path = path_for(venue, start=MINUTE.floor(clock.now()))
    # exact fills: the fill price is then the closed candle's price itself
    engine = SimEngine([instrument(SYMBOL)], clock=clock, price_path=path, costs=Costs.exact())
    assert real.now() - engine.now == timedelta(minutes=1) + CLOSE_GRACE
    for n, step_ms in enumerate(polls):
        real.advance(timedelta(milliseconds=step_ms))
        side = "buy" if n % 2 else "sell"
        order = engine.place_order(OrderRequest(SYMBOL, side, "1", f"o{n}"))
        t = to_ms(engine.now)
        candle = venue_candle(t - t % STEP)
        assert to_ms(candle.time) + STEP <= to_ms(real.now())  # closed in real time
        assert Decimal(str(candle.low)) <= order.avg_price <= Decimal(str(candle.high))


def test_a_quarter_bar_lags_fifteen_minutes_and_the_grace():
    assert engine_lag(QUARTER) == timedelta(minutes=15) + CLOSE_GRACE
    stop = threading.Event()
    stop.set()
    assert LaggedClock(SteppedClock(T0), engine_lag(QUARTER)).wait(stop, 1.0) is True
