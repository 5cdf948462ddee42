"""Short factories for tests, notebooks and demos: instruments, positions, intents, candles.

Everything here is deterministic: the same arguments (and seed) give the same objects.
Candle frames follow the storage convention: ``time`` is the candle's OPEN time (UTC),
columns ``time, open, high, low, close, volume``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import numpy as np
import polars as pl

from qwentrade.domain.instruments import DEFAULT_INSTRUMENTS, Instrument
from qwentrade.domain.orders import IntentAction, OrderIntent
from qwentrade.domain.pending import Crossing, PendingOrder
from qwentrade.domain.position import Plan, Position, Side

T0 = datetime(2024, 1, 1, tzinfo=UTC)
BTC = DEFAULT_INSTRUMENTS["BTC-USDT-SWAP"]
M15 = timedelta(minutes=15)
H4 = timedelta(hours=4)


def minutes(n: float) -> datetime:
    """``T0`` plus ``n`` minutes."""
    return T0 + timedelta(minutes=n)


def instrument(
    inst_id: str = "TEST-USDT-SWAP",
    ct_val: str = "0.01",
    lot_sz: str = "0.01",
    tick_sz: str = "0.1",
    min_sz: str | None = None,
    max_lever: int = 100,
) -> Instrument:
    """An instrument with BTC-like contract facts unless told otherwise."""
    return Instrument(
        inst_id,
        Decimal(ct_val),
        Decimal(lot_sz),
        Decimal(tick_sz),
        Decimal(min_sz if min_sz is not None else lot_sz),
        max_lever,
    )


def position(
    side: Side = Side.LONG,
    size: str = "1",
    price: str = "100",
    leverage: int = 10,
    inst: Instrument | None = None,
    at: datetime = T0,
    fee: str = "0",
    plans: tuple[Plan, ...] = (),
) -> Position:
    """An open position (events dropped)."""
    opened, _ = Position.open(inst or instrument(), side, size, price, leverage, at, fee, plans)
    return opened


def pending(
    id: str = "p1",
    side: Side = Side.LONG,
    trigger_price: str = "110",
    crossing: Crossing = Crossing.UP,
    amount: str = "1",
    inst: Instrument | None = None,
    at: datetime = T0,
    ttl: timedelta = timedelta(hours=1),
    signal_id: int | None = None,
    stop_loss_trigger: str | None = None,
    take_profit_trigger: str | None = None,
) -> PendingOrder:
    """A PENDING order (events dropped)."""
    order, _ = PendingOrder.create(
        id,
        inst or instrument(),
        side,
        trigger_price,
        amount,
        5,
        at,
        crossing=crossing,
        ttl=ttl,
        signal_id=signal_id,
        stop_loss_trigger=stop_loss_trigger,
        take_profit_trigger=take_profit_trigger,
    )
    return order


def intent(
    key: str = "k1",
    action: IntentAction = IntentAction.OPEN,
    side: Side = Side.LONG,
    symbol: str = "BTC-USDT-SWAP",
    size: str = "1",
    price: str | None = None,
    trigger_price: str | None = None,
    at: datetime = T0,
) -> OrderIntent:
    """An order intent in state NEW (stop-loss/take-profit get a trigger price by default)."""
    if action.is_algo and trigger_price is None:
        trigger_price = "90"
    return OrderIntent(key, symbol, action, side, size, at, price, trigger_price)


def candles_frame(
    closes: list[float] | np.ndarray,
    start: datetime = T0,
    step: timedelta = M15,
    volumes: list[float] | np.ndarray | None = None,
    spread: float = 0.002,
) -> pl.DataFrame:
    """OHLCV frame from closes: open = previous close, high/low ``spread`` around the body."""
    close = np.asarray(closes, dtype=np.float64)
    open_ = np.concatenate([close[:1], close[:-1]])
    high = np.maximum(open_, close) * (1 + spread)
    low = np.minimum(open_, close) * (1 - spread)
    volume = np.full(close.shape, 100.0) if volumes is None else np.asarray(volumes, float)
    return _frame(start, step, open_, high, low, close, volume)


def synthetic_candles(
    n: int, seed: int = 7, start: datetime = T0, price: float = 30_000.0
) -> pl.DataFrame:
    """``n`` 15m candles of a regime-switching market: trends up and down, quiet and wild
    spells, volume bursts on big moves. Made for detector tests and benchmarks: signals of
    both directions fire on it."""
    rng = np.random.default_rng(seed)
    regime_len = rng.integers(48, 400, size=n // 48 + 2)
    drift = rng.choice([-1.0, -0.5, 0.0, 0.5, 1.0], size=regime_len.size) * 4e-4
    vol = rng.choice([0.6, 1.0, 1.8, 3.0], size=regime_len.size) * 1.5e-3
    which = np.repeat(np.arange(regime_len.size), regime_len)[:n]
    shocks = rng.standard_t(4, size=n) * vol[which] + drift[which]
    close = price * np.exp(np.cumsum(shocks))
    open_ = np.concatenate([[price], close[:-1]])
    wick = np.abs(rng.normal(0.0, vol[which], size=(2, n)))
    high = np.maximum(open_, close) * (1 + wick[0])
    low = np.minimum(open_, close) * (1 - wick[1])
    surprise = np.abs(shocks - drift[which]) / vol[which]
    volume = rng.lognormal(4.0, 0.35, size=n) * (1 + surprise**2)
    return _frame(start, M15, open_, high, low, close, volume)


def resample(frame: pl.DataFrame, every: timedelta = H4) -> pl.DataFrame:
    """Aggregate a candle frame into ``every`` candles aligned to UTC; incomplete ones dropped."""
    step = frame["time"][1] - frame["time"][0] if frame.height > 1 else every
    per = int(every / step)
    out = (
        frame.sort("time")
        .group_by_dynamic("time", every=_polars_duration(every), closed="left", label="left")
        .agg(
            pl.col("open").first(),
            pl.col("high").max(),
            pl.col("low").min(),
            pl.col("close").last(),
            pl.col("volume").sum(),
            pl.len().alias("_rows"),
        )
    )
    return out.filter(pl.col("_rows") == per).drop("_rows")


def _polars_duration(every: timedelta) -> str:
    return f"{int(every.total_seconds())}s"


def _frame(
    start: datetime,
    step: timedelta,
    open_: np.ndarray,
    high: np.ndarray,
    low: np.ndarray,
    close: np.ndarray,
    volume: np.ndarray,
) -> pl.DataFrame:
    step_us = int(step / timedelta(microseconds=1))
    start_us = int((start - datetime(1970, 1, 1, tzinfo=UTC)) / timedelta(microseconds=1))
    times = start_us + np.arange(close.size, dtype=np.int64) * step_us
    return pl.DataFrame(
        {
            "time": pl.Series(times).cast(pl.Datetime("us", "UTC")),
            "open": open_,
            "high": high,
            "low": low,
            "close": close,
            "volume": volume,
        }
    )


QUIET_15M = {
    "close": 100.0,
    "volume": 100.0,
    "ema_55": 99.0,
    "histogram": 1.0,
    "rsi_7": 60.0,
    "bb_width": 0.02,
}
QUIET_4H = {"close": 100.0, "ema_21": 99.0, "histogram": 1.0}


def detector_inputs(
    rows_15m: int = 100,
    rows_4h: int = 64,
    closed_4h: int = 60,
    last_15m: dict[str, list[float]] | None = None,
    last_4h: dict[str, list[float]] | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(15m, 4h) indicator frames of a quiet BULL market, for hand-computed detector cases.

    Every row holds :data:`QUIET_15M` / :data:`QUIET_4H` (close 100 over EMA 99, RSI 60,
    Bollinger width 0.02, volume 100, histogram 1.0): active, aligned, no MACD move, no
    volume or Bollinger confirmation, score 13 with the default params. ``last_15m`` /
    ``last_4h`` replace the last values of a column (``{"histogram": [-0.5, 0.2]}``) up to
    the last 15m candle / the last CLOSED 4h candle. Exactly ``closed_4h`` 4h candles have
    closed at the last 15m close (the rest lie in the future); they open at ``T0 + 4h * k``.
    """
    last_close = T0 + H4 * closed_4h
    start_15m = last_close - M15 * rows_15m
    frame_15m = _columns(start_15m, M15, rows_15m, QUIET_15M, last_15m or {})
    frame_4h = _columns(T0, H4, rows_4h, QUIET_4H, last_4h or {}, end=closed_4h)
    return frame_15m, frame_4h


def _columns(
    start: datetime,
    step: timedelta,
    rows: int,
    defaults: dict[str, float],
    last: dict[str, list[float]],
    end: int | None = None,
) -> pl.DataFrame:
    data = {name: np.full(rows, value) for name, value in defaults.items()}
    end = rows if end is None else end
    for name, values in last.items():
        data.setdefault(name, np.full(rows, np.nan))
        data[name][end - len(values) : end] = values
    step_us = int(step / timedelta(microseconds=1))
    start_us = int((start - datetime(1970, 1, 1, tzinfo=UTC)) / timedelta(microseconds=1))
    times = start_us + np.arange(rows, dtype=np.int64) * step_us
    frame = pl.DataFrame({"time": pl.Series(times).cast(pl.Datetime("us", "UTC"))})
    return frame.with_columns(**{name: pl.Series(values) for name, values in data.items()})


def synthetic_market(
    n: int, seed: int = 7, start: datetime = T0
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(15m, 4h) candle frames of :func:`synthetic_candles` with their indicators computed
    (15m and 4h parameters), as the detector reads them."""
    from qwentrade.domain.indicators import IndicatorParams, compute

    frame_15m = synthetic_candles(n, seed, start)
    frame_4h = resample(frame_15m)
    return (
        compute(frame_15m, IndicatorParams.for_timeframe("15m")),
        compute(frame_4h, IndicatorParams.for_timeframe("4H")),
    )
