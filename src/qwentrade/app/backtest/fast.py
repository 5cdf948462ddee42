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
   (the walk's gap to it comes first), else the last close; taker fee. Contracts =
   margin x multiplier x leverage / (price x ct_val), rounded down to the lot; refused
   (signal dropped) below the minimum size or without the margin and fee available.
3. Stops: ``POLICY_STOP_MODE`` atr (ATR(14) of the candle closing at ``T``) or percent,
   rounded to the tick, at least one tick beyond the entry (the policy's ``_beyond``).
4. The walk: each candle goes open -> low -> high -> close when green (close >= open),
   open -> high -> low -> close when red; between candles the price jumps to the next
   open (a gap). On each piece the first level reached fires: stop-loss before
   liquidation at the same distance; a level fired inside a piece fills at the level, a
   level crossed by a gap fills at the gap's end price; taker fee. The fill time is the
   piece's start plus the share of the piece travelled (milliseconds, rounded).
5. Funding at every 00/08/16 UTC settlement strictly between the entry and the exit time
   (an exit at the settlement instant comes first), at the mark price then: the open of
   the candle starting at that instant, else the last close. Longs pay ``rate`` x notional.
6. Liquidation at the level the sim computes at the entry (isolated: the position's margin;
   cross: the account's cash), held fixed while the position is open (funding moves a
   cross level by cents; a liquidation within that distance of a funding payment may
   differ from the replay).
7. A position open after the last candle closes at market at the last close (``end``).

Money is exact: prices, sizes, fees, PnL and funding are ``Decimal`` quantised as the
sim's ledger does (1e-12); only the search for the exit runs on floats (tick prices).
"""

from __future__ import annotations

from decimal import Decimal

import numba
import numpy as np
import polars as pl

from qwentrade.app.backtest.data import MS_15M, Market
from qwentrade.app.backtest.params import BacktestParams
from qwentrade.app.backtest.report import TRADE_SCHEMA, BacktestResult, equity_frame
from qwentrade.domain.instruments import Instrument

QUANTUM = Decimal("1e-12")
ZERO = Decimal(0)
HUNDRED = Decimal(100)
BPS = Decimal(10_000)
MAINTENANCE_RATE = Decimal("0.004")  # the sim's default flat maintenance margin rate
THIRD_MS = (0, 300_000, 600_000, 900_000)  # round(j * 15 min / 3)
SL, TP, LIQ, END = 1, 2, 3, 4
TIMES = ("signal_time", "entry_time", "exit_time")
REASONS = {SL: "stop_loss", TP: "take_profit", LIQ: "liquidation", END: "end"}


def _money(value: Decimal) -> Decimal:
    return value.quantize(QUANTUM)


@numba.njit(cache=True)
def _next_entry(start, stop, newest, consumed, created, close_ms, expiry_ms, atr, percent):
    """The first close r in [start, stop) with an active signal (and an ATR when needed)."""
    for r in range(start, stop):
        j = newest[r]
        fresh = j > consumed and created[j] + expiry_ms > close_ms[r]
        if fresh and (percent or (np.isfinite(atr[r]) and atr[r] > 0.0)):
            return r, j
    return -1, -1


@numba.njit(cache=True)
def _piece(a, b, low, high, direction, sl, tp, liq, stop_first):
    """The first level met going from a to b: (kind, level, distance) or (0, 0.0, inf).

    ``low``/``high`` bound what is left of the candle after b: with ``stop_first`` the
    target waits while the stop-loss lies within the rest of the candle."""
    best_kind, best_level, best_far = 0, 0.0, np.inf
    if stop_first:
        lo, hi = min(a, b, low), max(a, b, high)
        if (lo <= sl) if direction > 0 else (hi >= sl):
            tp = np.nan
    # stop-loss and liquidation are below a long (above a short), the target above
    for kind, level, below in (
        (SL, sl, direction > 0),
        (TP, tp, direction < 0),
        (LIQ, liq, direction > 0),
    ):
        if not np.isfinite(level):
            continue
        if below:
            if a <= level:
                far = 0.0
            elif b <= level:
                far = a - level
            else:
                continue
        else:
            if a >= level:
                far = 0.0
            elif b >= level:
                far = level - a
            else:
                continue
        if far < best_far:  # ties: stop-loss, target, liquidation (the sim's priorities)
            best_kind, best_level, best_far = kind, level, far
    return best_kind, best_level, best_far


@numba.njit(cache=True)
def _find_exit(r, last, direction, sl, tp, liq, o, h, lo, c, contiguous, stop_first):
    """Walk from the close of row r: (row, piece 0 gap / 1-3 inside, kind, a, b, level, far)."""
    price = o[r + 1] if contiguous[r] else c[r]
    for k in range(r + 1, last + 1):
        if c[k] >= o[k]:
            w1, w2 = lo[k], h[k]
        else:
            w1, w2 = h[k], lo[k]
        if k > r + 1 or not contiguous[r]:  # the gap belongs to the candle it opens
            low, high = min(w1, w2, c[k]), max(w1, w2, c[k])
            kind, level, far = _piece(price, o[k], low, high, direction, sl, tp, liq, stop_first)
            if kind:
                return k, 0, kind, price, o[k], level, far
        points = (o[k], w1, w2, c[k])
        for j in range(1, 4):
            low = min(points[min(j + 1, 3)], points[3])
            high = max(points[min(j + 1, 3)], points[3])
            kind, level, far = _piece(
                points[j - 1], points[j], low, high, direction, sl, tp, liq, stop_first
            )
            if kind:
                return k, j, kind, points[j - 1], points[j], level, far
        price = c[k]
    return last, 4, END, c[last], c[last], c[last], 0.0


def run_fast(
    market: Market, params: BacktestParams, *, verdicts: pl.DataFrame | None = None
) -> BacktestResult:
    """Backtest ``market`` with the research path (same trades as ``run_replay``)."""
    from qwentrade.app.backtest.replay import signals

    verdicts = signals(market, params) if verdicts is None else verdicts
    first, last = market.first, market.last
    instrument = market.instrument
    digits = max(0, -instrument.tick_sz.as_tuple().exponent)
    candles = market.candles
    ts = candles["ts_ms"].to_numpy()
    o, h, lo, c = (
        np.round(candles[n].to_numpy(), digits) for n in ("open", "high", "low", "close")
    )
    n = ts.size
    close_ms = ts + MS_15M
    contiguous = np.zeros(n, dtype=np.bool_)
    contiguous[:-1] = ts[1:] == close_ms[:-1]
    contiguous[last] = False  # the replay ends at the last traded close
    at_close = np.where(contiguous, np.append(o[1:], 0.0), c)
    kinds = verdicts["signal_type"].to_physical().fill_null(-1).to_numpy()
    fired = (kinds >= 0) & (np.arange(n) >= first) & (np.arange(n) < last)
    newest = np.where(fired, np.arange(n), -1)
    newest = np.maximum.accumulate(newest)
    atr_values = candles["atr_14"].fill_null(np.nan).to_numpy()
    multipliers = verdicts["position_multiplier"].to_numpy()
    scores = verdicts["score"].to_numpy()
    expiry_ms = int(params.detector.signal_expiry.total_seconds() * 1000)

    percent = params.get("POLICY_STOP_MODE") != "atr"
    distances = _distances(params)
    margin_each = Decimal(repr(float(params.get("POLICY_MARGIN_PER_TRADE"))))
    leverage = min(int(params.get("POLICY_LEVERAGE")), instrument.max_lever)
    isolated = params.get("TRADING_MARGIN_MODE") == "isolated"
    taker = params.taker_fee
    cost = (params.spread_bps / 2 + params.slippage_bps) / BPS
    stop_first = params.intrabar == "stop_first"
    ct_val = instrument.ct_val
    funding_times = np.array(sorted(market.funding), dtype=np.int64)
    funding_rates = [market.funding[t] for t in funding_times.tolist()]

    cash = params.balance
    trades: list[tuple] = []
    cash_events: list[tuple[int, float]] = []  # (row whose close it counts at, cash after)
    holds: list[tuple[int, int, int, float, float]] = []
    consumed, start = -1, first
    while start < last:
        r, j = _next_entry(
            start, last, newest, consumed, close_ms, close_ms, expiry_ms, atr_values, percent
        )
        if r < 0:
            break
        side = 1 if kinds[j] == 0 else -1  # the enum's codes: LONG 0, SHORT 1
        entry = Decimal(f"{at_close[r]:.{digits}f}")
        margin = margin_each * int(multipliers[j])
        contracts = instrument.round_size(margin * leverage / (entry * ct_val))
        notional = contracts * ct_val * entry
        if contracts < instrument.min_sz or notional / leverage + notional * taker > cash:
            consumed, start = j, r + 1  # refused for good: the policy cancels the signal
            continue
        stop_loss, take_profit = _protection(instrument, side, entry, atr_values[r], distances)
        filled = entry * (1 + side * cost)  # a market buy pays up, a sell gets less
        fee_in = _money(-(contracts * ct_val * filled * taker))
        average = _money(filled)
        cash += fee_in
        held_margin = _money(contracts * ct_val * average / leverage) if isolated else ZERO
        liquidation = _liquidation(
            instrument, side, contracts, average, held_margin if isolated else cash
        )
        k, piece, kind, a, b, level, _ = _find_exit(
            r, last, side, float(stop_loss), float(take_profit) if take_profit else np.nan,
            float(liquidation) if liquidation else np.nan, o, h, lo, c, contiguous, stop_first,
        )  # fmt: skip
        exit_ms, exit_price, step = _exit_point(k, piece, kind, a, b, level, ts, contiguous, digits)
        if kind != LIQ:  # the triggered leg (or the closing order) is a market order
            exit_price = exit_price * (1 - side * cost)
        qty = side * contracts * ct_val
        funding = ZERO
        settled_from = np.searchsorted(funding_times, close_ms[r], "right")
        settled_to = np.searchsorted(funding_times, exit_ms, "right" if kind == END else "left")
        for m in range(settled_from, settled_to):
            mark = _mark(int(funding_times[m]), ts, o, c, digits)
            payment = _money(-qty * mark * funding_rates[m])
            funding += payment
            # counted at the first close at or after the settlement, as the replay sees it
            paid_at = int(np.searchsorted(close_ms, funding_times[m], "left"))
            cash_events.append((paid_at, float(payment)))
        pnl = _money(side * contracts * ct_val * (exit_price - average))
        fee_out = _money(-(contracts * ct_val * exit_price * taker))
        penalty = ZERO
        if kind == LIQ:
            notional = contracts * ct_val * exit_price
            free = cash + funding + pnl + fee_out
            penalty = _penalty(isolated, held_margin, pnl + fee_out, free, notional)
        cash += funding + pnl + fee_out + penalty
        realized = pnl + fee_in + fee_out + funding + penalty
        trades.append(
            (
                "LONG" if side > 0 else "SHORT",
                int(ts[j]),
                int(scores[j]),
                int(close_ms[r]),
                float(average),
                float(contracts),
                float(stop_loss),
                None if take_profit is None else float(take_profit),
                exit_ms,
                float(exit_price),
                REASONS[kind],
                float(pnl),
                float(fee_in + fee_out),
                float(funding),
                float(penalty),
                float(realized),
            )
        )
        holds.append((r, step, side, float(average), float(contracts * ct_val)))
        cash_events.append((r, float(fee_in)))
        cash_events.append((step, float(pnl + fee_out + penalty)))
        consumed, start = j, step
    schema = {k: (pl.Int64 if k in TIMES else v) for k, v in TRADE_SCHEMA.items()}
    frame = pl.DataFrame(trades, schema=schema, orient="row").with_columns(
        pl.from_epoch(name, "ms").dt.replace_time_zone("UTC").cast(TRADE_SCHEMA[name])
        for name in TIMES
    )
    return BacktestResult(
        trades=frame,
        equity=equity_frame(market, _equity(market, params, at_close, holds, cash_events)),
        market=market,
        params=params,
        engine="fast",
    )


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


def _liquidation(
    instrument: Instrument, side: int, contracts: Decimal, entry: Decimal, backing: Decimal
) -> Decimal | None:
    """The sim's liquidation level of a lone position backed by ``backing``."""
    q = contracts * instrument.ct_val
    rate = MAINTENANCE_RATE
    if side > 0:
        level = instrument.round_price((entry * q - backing) / (q * (1 - rate)), "down")
    else:
        level = instrument.round_price((entry * q + backing) / (q * (1 + rate)), "up")
    return level if level > 0 else None


def _penalty(
    isolated: bool, margin: Decimal, result: Decimal, free: Decimal, notional: Decimal
) -> Decimal:
    """The sim's liquidation penalty (isolated: the rest of the margin; cross: the
    maintenance margin, at most what is left, a deficit covered)."""
    if isolated:
        return -(margin + result)
    maintenance = notional * MAINTENANCE_RATE
    return -free if free < 0 else -min(maintenance, free)


def _exit_point(k, piece, kind, a, b, level, ts, contiguous, digits):
    """(time ms, exact price, row at whose close it is known) of an exit found by the walk."""
    if kind == END:
        return int(ts[k]) + MS_15M, Decimal(f"{b:.{digits}f}"), k
    start = Decimal(f"{a:.{digits}f}")
    end = Decimal(f"{b:.{digits}f}")
    exact_level = Decimal(f"{level:.{digits}f}")
    if piece == 0:  # a gap: filled at its end price, at the candle's open time
        reached = start if (exact_level - start) * (end - start) <= 0 else end
        at = int(ts[k])
        step = k - 1 if contiguous[k - 1] else k
        return at, reached, step
    price = start if (exact_level - start) * (end - start) <= 0 else exact_level
    begin, finish = int(ts[k]) + THIRD_MS[piece - 1], int(ts[k]) + THIRD_MS[piece]
    span = abs(end - start)
    at = finish
    if span:
        moved = abs(price - start) / span
        at = begin + round(float(moved) * (finish - begin))
    return at, price, k


def _mark(at: int, ts: np.ndarray, o: np.ndarray, c: np.ndarray, digits: int) -> Decimal:
    i = int(np.searchsorted(ts, at, "right")) - 1
    value = o[i] if ts[i] == at else c[i]
    return Decimal(f"{value:.{digits}f}")


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
