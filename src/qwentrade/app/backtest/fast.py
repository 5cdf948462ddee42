"""The research path: the replay's rules, vectorised signals and a compiled position loop.

Its trades equal the replay's (``tests/unit/app/backtest/test_parity.py`` proves it on real
candles): every rule below mirrors one of the simulated exchange (``adapters/sim``:
``tape``, ``matching``, ``trading``, ``ledger``), of ``SignalPolicy`` or of
``TradingService``; change one side and that test fails.

1. Signals: ``detect_history`` at every 15m close. At a close ``T`` while flat, the newest
   signal created at or before ``T`` (created at its candle's close), newer than the last
   one traded and not expired (``created + DETECTOR_SIGNAL_EXPIRE_HOURS > T``) opens a
   position (the policy's pass over the active signals; older ones are superseded).
2. Entry at market at the price at ``T``: the next candle's open when it starts at ``T``
   (the walk's gap to it comes first), else the last close, plus the taker costs (the
   sim's ``model.py`` rule 3: x (1 +/- (spread_bps/2 + slippage_bps)/10000)); taker fee.
   Contracts (from the price before costs, as TradingService sizes them) =
   margin x multiplier x leverage / (price x ct_val), rounded down to the lot; refused
   below the minimum size or without the margin and fee available: that signal is
   cancelled, older active ones may be traded at the next close.
3. Stops: ``POLICY_STOP_MODE`` atr (ATR(14) of the candle closing at ``T``) or percent,
   rounded to the tick, at least one tick beyond the entry (the policy's ``_beyond``).
4. The walk: each candle goes open -> low -> high -> close when green (close >= open),
   open -> high -> low -> close when red; between candles the price jumps to the next
   open (a gap, belonging to the candle it opens). On each piece the first level reached
   fires: stop-loss before liquidation at the same distance; with ``intrabar``
   ``stop_first`` (the default, ``model.py`` rule 2) the target waits while the stop lies
   within the rest of the candle. A level fired inside a piece triggers at the level, one
   crossed by a gap at the gap's end price; stop and target legs then fill at that price
   with the taker costs (a liquidation without them); taker fee. The fill time is the
   piece's start plus the share of the piece travelled (milliseconds, rounded).
5. Funding at every 00/08/16 UTC settlement strictly between the entry and the exit time
   (an exit at the settlement instant comes first), at the mark price then: the open of
   the candle starting at that instant, else the last close. Longs pay ``rate`` x notional.
6. Liquidation at the level the sim computes at the entry (isolated: the position's margin;
   cross: the account's cash), held fixed while the position is open (funding moves a
   cross level by cents; a liquidation within that distance of a funding payment may
   differ from the replay).
7. A position open after the last candle closes at market at the last close (``end``).

Exactness: levels and sizes are rounded as the policy and TradingService round them
(integer ticks and lots; a value within 1e-6 of a rounding boundary is recomputed with
``Decimal``); the walk compares tick prices exactly; money is float64 in the compiled loop
(:mod:`.loop`), within 1e-9 USDT of the simulator's exact books per trade.
"""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import polars as pl

from qwentrade.app.backtest.data import MS_15M, Market
from qwentrade.app.backtest.params import BacktestParams
from qwentrade.app.backtest.report import TRADE_SCHEMA, BacktestResult, equity_frame
from qwentrade.domain.instruments import Instrument

HUNDRED = Decimal(100)
BPS = Decimal(10_000)
MAINTENANCE_RATE = Decimal("0.004")  # the sim's default flat maintenance margin rate
THIRD_MS = (0, 300_000, 600_000, 900_000)  # round(j * 15 min / 3)
TIMES = ("signal_time", "entry_time", "exit_time")
REASONS = {1: "stop_loss", 2: "take_profit", 3: "liquidation", 4: "end"}


def run_fast(
    market: Market, params: BacktestParams, *, verdicts: pl.DataFrame | None = None
) -> BacktestResult:
    """Backtest ``market`` with the research path (same trades as ``run_replay``)."""
    from qwentrade.app.backtest import loop
    from qwentrade.app.backtest.replay import signals

    verdicts = signals(market, params) if verdicts is None else verdicts
    first, last = market.first, market.last
    instrument = market.instrument
    scale = 10 ** max(0, -instrument.tick_sz.as_tuple().exponent)
    lot_scale = 10 ** max(0, -instrument.lot_sz.as_tuple().exponent)
    candles = market.candles
    ts = candles["ts_ms"].to_numpy()
    # prices as the sim's tape has them: the nearest tick, then the float of that decimal
    o, h, lo, c = (
        np.rint(candles[n].to_numpy() * scale) / scale for n in ("open", "high", "low", "close")
    )
    n = ts.size
    close_ms = ts + MS_15M
    contiguous = np.zeros(n, dtype=np.bool_)
    contiguous[:-1] = ts[1:] == close_ms[:-1]
    contiguous[last] = False  # the replay ends at the last traded close
    at_close = np.where(contiguous, np.append(o[1:], 0.0), c)
    kinds = verdicts["signal_type"].to_physical().fill_null(-1).to_numpy().astype(np.int64)
    fired = (kinds >= 0) & (np.arange(n) >= first) & (np.arange(n) < last)
    newest = np.maximum.accumulate(np.where(fired, np.arange(n), -1))
    atr_values = candles["atr_14"].fill_null(np.nan).to_numpy()
    multipliers = verdicts["position_multiplier"].to_numpy().astype(np.int64)
    scores = verdicts["score"].to_numpy()
    expiry_ms = int(params.detector.signal_expiry.total_seconds() * 1000)

    distances = _distances(params)
    margin_each = Decimal(repr(float(params.get("POLICY_MARGIN_PER_TRADE"))))
    leverage = min(int(params.get("POLICY_LEVERAGE")), instrument.max_lever)
    entry_units = np.rint(at_close * scale)

    def fixup(row: int, side: int) -> tuple[int, int]:
        entry = Decimal(int(entry_units[row])) / scale
        stop, target = _protection(instrument, side, entry, atr_values[row], distances)
        units = int(stop * scale) if stop > 0 else 0
        return units, -1 if target is None else int(target * scale)

    stops, targets = loop.entry_plans(
        entry_units, atr_values, scale, distances[0], float(distances[1]),
        float(distances[2]), fixup,
    )  # fmt: skip
    sizes = np.zeros((n, 2))
    for column, multiple in ((0, 1), (1, 2)):
        margin = float(margin_each * multiple)
        with np.errstate(divide="ignore", invalid="ignore"):
            wanted = margin * leverage / (at_close * float(instrument.ct_val)) * lot_scale
        units, unclear = loop.round_units(wanted, "down")
        sizes[:, column] = np.where(np.isfinite(units), units, 0.0) / lot_scale
        for row in np.flatnonzero(unclear & (at_close > 0)):
            entry = Decimal(int(entry_units[row])) / scale
            exact = margin_each * multiple * leverage / (entry * instrument.ct_val)
            sizes[row, column] = float(instrument.round_size(exact))

    funding_times = np.array(sorted(market.funding), dtype=np.int64)
    funding_rates = np.array([float(market.funding[t]) for t in funding_times.tolist()])
    rows = np.searchsorted(ts, funding_times, "right") - 1
    rows = np.clip(rows, 0, n - 1)
    funding_marks = np.where(ts[rows] == funding_times, o[rows], c[rows])
    out_int = np.zeros((n // 2 + 1, 8), dtype=np.int64)
    out_piece = np.zeros((n // 2 + 1, 3))
    out_float = np.zeros((n // 2 + 1, 10))
    paid_rows = np.zeros(funding_times.size + 1, dtype=np.int64)
    paid_amounts = np.zeros(funding_times.size + 1)
    count, paid = loop.simulate(
        first, last, ts, close_ms, o, h, lo, c, contiguous, at_close, newest, kinds,
        multipliers, expiry_ms, stops, targets, sizes, scale, float(params.balance),
        float((params.spread_bps / 2 + params.slippage_bps) / BPS), float(params.taker_fee),
        float(instrument.ct_val), float(leverage),
        params.get("TRADING_MARGIN_MODE") == "isolated", float(MAINTENANCE_RATE),
        float(instrument.min_sz), params.intrabar == "stop_first", funding_times,
        funding_rates, funding_marks, out_int, out_float, out_piece, paid_rows, paid_amounts,
    )  # fmt: skip
    ints, floats = out_int[:count], out_float[:count]
    for row in np.flatnonzero(ints[:, 7]):
        ints[row, 6] = _exit_ms(ints[row], out_piece[row], ts, scale)
    signal_rows, entry_rows, steps = ints[:, 0], ints[:, 1], ints[:, 5]
    contracts, stop, target, average, price = (floats[:, i] for i in range(5))
    pnl, fee_in, fee_out, funding, penalty = (floats[:, i] for i in range(5, 10))
    side = np.where(kinds[signal_rows] == 0, 1, -1)
    frame = pl.DataFrame(
        {
            "side": np.where(side > 0, "LONG", "SHORT"),
            "signal_time": ts[signal_rows],
            "score": scores[signal_rows].astype(np.int64),
            "entry_time": close_ms[entry_rows],
            "entry_price": average,
            "size": contracts,
            "stop_loss": stop,
            "take_profit": target,
            "exit_time": ints[:, 6],
            "exit_price": price,
            "exit_reason": [REASONS[k] for k in ints[:, 4].tolist()],
            "pnl": pnl,
            "fees": fee_in + fee_out,
            "funding": funding,
            "penalty": penalty,
            "realized": pnl + fee_in + fee_out + funding + penalty,
        }
    ).with_columns(
        *(
            pl.from_epoch(name, "ms").dt.replace_time_zone("UTC").cast(TRADE_SCHEMA[name])
            for name in TIMES
        ),
        pl.col("take_profit").fill_nan(None),
    )
    cash_events = [
        *zip(entry_rows.tolist(), fee_in.tolist(), strict=True),
        *zip(steps.tolist(), (pnl + fee_out + penalty).tolist(), strict=True),
        *zip(paid_rows[:paid].tolist(), paid_amounts[:paid].tolist(), strict=True),
    ]
    holds = list(
        zip(entry_rows, steps, side, average, contracts * float(instrument.ct_val), strict=True)
    )
    return BacktestResult(
        trades=frame,
        equity=equity_frame(market, _equity(market, params, at_close, holds, cash_events)),
        market=market,
        params=params,
        engine="fast",
    )


def _exit_ms(ints: np.ndarray, piece: np.ndarray, ts: np.ndarray, scale: int) -> int:
    """The fill time of a level met inside a piece, computed as the sim does (``matching``:
    the share travelled in Decimal, then float, then rounded)."""
    start, end, level = (Decimal(int(np.rint(x * scale))) / scale for x in piece)
    k, j = int(ints[2]), int(ints[3])
    begin = int(ts[k]) + THIRD_MS[j - 1]
    finish = int(ts[k]) + THIRD_MS[j]
    moved = abs(level - start) / abs(end - start)
    return begin + round(float(moved) * (finish - begin))


def _distances(params: BacktestParams) -> tuple[bool, Decimal, Decimal]:
    """(ATR mode?, stop multiple or percent, target multiple or percent) as the policy
    reads them (``Decimal(repr(float(value)))``)."""
    if params.get("POLICY_STOP_MODE") == "atr":
        keys = ("POLICY_SL_ATR_MULTIPLE", "POLICY_TP_ATR_MULTIPLE")
    else:
        keys = ("POLICY_SL_PERCENT", "POLICY_TP_PERCENT")
    stop, target = (Decimal(repr(float(params.get(k)))) for k in keys)
    return params.get("POLICY_STOP_MODE") == "atr", stop, target


def _protection(
    instrument: Instrument,
    side: int,
    entry: Decimal,
    atr: float,
    distances: tuple[bool, Decimal, Decimal],
) -> tuple[Decimal, Decimal | None]:
    """SignalPolicy's rule 4 (stop and target distances, on the right sides)."""
    atr_mode, stop_by, target_by = distances
    if atr_mode:
        value = Decimal(repr(float(atr)))
        stop, target = stop_by * value, target_by * value
    else:
        stop, target = entry * stop_by / HUNDRED, entry * target_by / HUNDRED
    long = side > 0
    stop_loss = _beyond(instrument, entry - stop if long else entry + stop, entry, long)
    take_profit = None
    if target > 0:
        level = entry + target if long else entry - target
        if level > 0:
            take_profit = _beyond(instrument, level, entry, not long)
    return stop_loss, take_profit


def _beyond(instrument: Instrument, level: Decimal, reference: Decimal, below: bool) -> Decimal:
    rounded = instrument.round_price(level)
    tick = instrument.tick_sz
    if below and rounded >= reference:
        rounded = instrument.round_price(reference - tick, "down")
    if not below and rounded <= reference:
        rounded = instrument.round_price(reference + tick, "up")
    return rounded


def _equity(market, params, at_close, holds, cash_events) -> np.ndarray:
    """Equity at each traded close: cash plus the open position's PnL at that close."""
    first, last = market.first, market.last
    size = last - first + 1
    delta = np.zeros(size)
    for row, amount in cash_events:
        delta[row - first] += amount
    equity = float(params.balance) + np.cumsum(delta)
    marks = at_close[first : last + 1]
    for r, step, side, entry, qty in holds:
        a, b = r - first, step - first
        equity[a:b] += side * qty * (marks[a:b] - entry)
    return equity
