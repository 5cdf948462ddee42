"""Hypothesis strategies shared by the tests: instruments, prices, sizes, intents, price
paths, arrival patterns and detector input frames. Needs the ``dev`` extra (hypothesis)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import numpy as np
import polars as pl
from hypothesis import strategies as st

from qwentrade.domain.detector import DetectorParams
from qwentrade.domain.instruments import Instrument
from qwentrade.domain.orders import IntentAction, OrderIntent
from qwentrade.domain.position import Side
from qwentrade.domain.ratelimit import Priority

T0 = datetime(2024, 1, 1, tzinfo=UTC)

_STEPS = [Decimal("0.001"), Decimal("0.01"), Decimal("0.1"), Decimal("1")]
_TICKS = [Decimal("0.0001"), Decimal("0.01"), Decimal("0.1"), Decimal("1")]
_CT_VALS = [Decimal("0.001"), Decimal("0.01"), Decimal("0.1"), Decimal("1"), Decimal("10")]


@st.composite
def instruments(draw: st.DrawFn) -> Instrument:
    """Instruments with OKX-like contract values, lot, tick and minimum sizes."""
    lot = draw(st.sampled_from(_STEPS))
    return Instrument(
        draw(st.sampled_from(["BTC-USDT-SWAP", "ETH-USDT-SWAP", "TEST-USDT-SWAP"])),
        draw(st.sampled_from(_CT_VALS)),
        lot,
        draw(st.sampled_from(_TICKS)),
        lot * draw(st.integers(1, 3)),
        draw(st.integers(1, 125)),
    )


def prices(instrument: Instrument, low: int = 1, high: int = 200_000) -> st.SearchStrategy:
    """Prices on the instrument's tick grid, in ``[low, high]``."""
    tick = instrument.tick_sz
    return st.integers(int(low / tick), int(high / tick)).map(lambda n: n * tick)


def sizes(instrument: Instrument, max_lots: int = 5_000) -> st.SearchStrategy:
    """Valid order sizes in contracts (multiples of the lot, at least the minimum)."""
    first = int(instrument.min_sz / instrument.lot_sz)
    return st.integers(first, max(first, max_lots)).map(lambda n: n * instrument.lot_sz)


def fees() -> st.SearchStrategy[Decimal]:
    """Fees in USDT: mostly paid (positive), sometimes a rebate (negative)."""
    return st.decimals(Decimal("-1"), Decimal("25"), places=4)


def times(start: datetime = T0, span: timedelta = timedelta(days=30)) -> st.SearchStrategy:
    """Aware UTC datetimes in ``[start, start + span]``, whole milliseconds."""
    ms = int(span / timedelta(milliseconds=1))
    return st.integers(0, ms).map(lambda n: start + timedelta(milliseconds=n))


def price_paths(start: int = 100, length: int = 30) -> st.SearchStrategy[list[Decimal]]:
    """Random walks of prices with 0.1 ticks that stay positive."""
    steps = st.lists(st.integers(-50, 50), min_size=1, max_size=length)
    return steps.map(
        lambda moves: [
            max(Decimal("0.1"), Decimal(start) + Decimal(sum(moves[: i + 1])) / 10)
            for i in range(len(moves))
        ]
    )


@st.composite
def intents(draw: st.DrawFn) -> OrderIntent:
    """Order intents of every action, with keys from a wide alphabet (unicode included)."""
    action = draw(st.sampled_from(list(IntentAction)))
    trigger = Decimal(draw(st.integers(1, 10**7))) / 10 if action.is_algo else None
    price = draw(st.none() | st.integers(1, 10**7).map(lambda n: Decimal(n) / 10))
    return OrderIntent(
        draw(st.text(min_size=1, max_size=60)),
        draw(st.sampled_from(["BTC-USDT-SWAP", "ETH-USDT-SWAP", "SOL-USDT-SWAP"])),
        action,
        draw(st.sampled_from(list(Side))),
        Decimal(draw(st.integers(1, 10**6))) / 100,
        draw(times()),
        price,
        trigger,
    )


def arrivals(max_requests: int = 60) -> st.SearchStrategy[list[tuple[float, Priority]]]:
    """Request arrival patterns for the permit gate: (arrival time in s, priority), sorted.

    Times are on a 1 ms grid with bursts (many at once) and gaps.
    """
    gaps = st.lists(
        st.tuples(
            st.one_of(st.just(0), st.integers(0, 50), st.integers(0, 3_000)),
            st.sampled_from(list(Priority)),
        ),
        min_size=1,
        max_size=max_requests,
    )

    def accumulate(items: list[tuple[int, Priority]]) -> list[tuple[float, Priority]]:
        now, out = 0, []
        for gap, priority in items:
            now += gap
            out.append((now / 1000.0, priority))
        return out

    return gaps.map(accumulate)


# ---- detector inputs --------------------------------------------------------------------


@st.composite
def detector_params(draw: st.DrawFn) -> DetectorParams:
    """Detector parameters across their range, with small windows so that short random
    frames reach every layer."""
    points = {
        name: draw(st.integers(0, 12))
        for name in (
            "points_environment",
            "points_macd",
            "points_rsi",
            "points_volume",
            "points_bollinger",
            "points_multi_timeframe",
        )
    }
    return DetectorParams(
        kline_15m_count=draw(st.integers(1, 200)),
        kline_4h_count=draw(st.integers(1, 80)),
        neutral_band=draw(st.sampled_from([0.0, 0.001, 0.01])),
        bollinger_window=draw(st.integers(1, 30)),
        active_width_ratio=draw(st.sampled_from([0.0, 0.5, 1.0])),
        confirm_width_ratio=draw(st.sampled_from([0.5, 1.0, 1.2])),
        volume_window=draw(st.integers(2, 30)),
        volume_std_multiplier=draw(st.sampled_from([0.0, 0.5, 1.5])),
        macd_rising_bars=draw(st.integers(1, 4)),
        macd_rising_requires_sign=draw(st.booleans()),
        rsi_gate_blocks_signal=draw(st.booleans()),
        environment_requires_alignment=draw(st.booleans()),
        multi_timeframe=draw(st.booleans()),
        signal_threshold=draw(st.integers(0, 40)),
        **points,
    )


COLUMNS_15M = ("close", "volume", "ema_55", "histogram", "rsi_7", "bb_width")
COLUMNS_4H = ("close", "ema_21", "histogram")


@st.composite
def detector_frames(
    draw: st.DrawFn, min_rows: int = 60, max_rows: int = 160
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(15m, 4h) frames with the indicator columns the detector reads, values drawn freely.

    The values need not be consistent indicators: the detector is a pure function of these
    columns, so anything goes, including nulls, NaNs, infinities, exact ties (close == EMA,
    histogram exactly 0, constant volume) and a 4h frame that starts late or ends early.
    """
    seed = draw(st.integers(0, 2**32 - 1))
    rows = draw(st.integers(min_rows, max_rows))
    rng = np.random.default_rng(seed)
    tie_rate = draw(st.sampled_from([0.0, 0.05, 0.3]))
    null_rate = draw(st.sampled_from([0.0, 0.0, 0.01, 0.04]))
    frame_15m = _random_indicator_frame(rng, rows, timedelta(minutes=15), COLUMNS_15M, tie_rate)
    rows_4h = rows // 16 + draw(st.integers(-8, 8))
    offset_4h = draw(st.integers(-80, -62) | st.integers(-80, 2)) * timedelta(hours=4)
    frame_4h = _random_indicator_frame(
        rng, max(rows_4h, 0) + 80, timedelta(hours=4), COLUMNS_4H, tie_rate, T0 + offset_4h
    )
    return _with_nulls(rng, frame_15m, null_rate), _with_nulls(rng, frame_4h, null_rate)


def _random_indicator_frame(
    rng: np.random.Generator,
    rows: int,
    step: timedelta,
    columns: tuple[str, ...],
    tie_rate: float,
    start: datetime = T0,
) -> pl.DataFrame:
    close = 100.0 * np.exp(np.cumsum(rng.normal(0, 0.01, rows)))
    data: dict[str, np.ndarray] = {"close": close}
    for name in columns:
        if name.startswith("ema"):
            values = close * (1 + rng.normal(0, 0.004, rows))
            data[name] = np.where(rng.random(rows) < tie_rate, close, values)
        elif name == "histogram":
            values = rng.normal(0, 1, rows)
            data[name] = np.where(rng.random(rows) < tie_rate, 0.0, values)
        elif name.startswith("rsi"):
            values = rng.uniform(0, 100, rows)
            data[name] = np.where(rng.random(rows) < tie_rate, 50.0, values)
        elif name == "bb_width":
            data[name] = np.where(rng.random(rows) < tie_rate, 0.02, rng.gamma(2.0, 0.01, rows))
        elif name == "volume":
            data[name] = np.where(rng.random(rows) < tie_rate, 100.0, rng.lognormal(4, 1, rows))
    start_us = int((start - datetime(1970, 1, 1, tzinfo=UTC)) / timedelta(microseconds=1))
    step_us = int(step / timedelta(microseconds=1))
    times_us = start_us + np.arange(rows, dtype=np.int64) * step_us
    frame = pl.DataFrame({"time": pl.Series(times_us).cast(pl.Datetime("us", "UTC"))})
    return frame.with_columns(**{name: pl.Series(values) for name, values in data.items()})


def _with_nulls(rng: np.random.Generator, frame: pl.DataFrame, rate: float) -> pl.DataFrame:
    """Nulls and NaNs or infinities in one or two columns, so that many rows stay complete."""
    if rate == 0.0 or frame.height == 0:
        return frame
    names = [name for name in frame.columns if name != "time"]
    chosen = rng.choice(names, size=min(len(names), int(rng.integers(1, 3))), replace=False)
    columns = []
    for name in chosen:
        mask = pl.Series(rng.random(frame.height) < rate)
        odd = pl.Series(rng.random(frame.height) < rate / 2)
        value = float(rng.choice([np.nan, np.inf, -np.inf]))
        column = pl.when(mask).then(None).otherwise(pl.col(name))
        columns.append(pl.when(odd).then(value).otherwise(column).alias(name))
    return frame.with_columns(columns)
