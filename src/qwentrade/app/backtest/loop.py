"""The fast path's compiled position loop and the per-candle entry plans it reads.

Every number a trade needs at its entry depends only on the close it enters at and the
signal's side and multiplier (the price then, the ATR then, the config), so
:func:`entry_plans` works them out for every close at once, in float64 on whole arrays,
and exactly where it matters: a stop/target level is rounded to the tick and a size down
to the lot in integer units, and the rare value within 1e-6 of a rounding boundary is
recomputed with ``Decimal`` by the policy's own arithmetic (``fixup``). :func:`simulate`
then walks the candles once for all trades (numba). Money is float64 there: every amount
of a trade (PnL, fees, funding) agrees with the simulator's exact ``Decimal`` books within
1e-9 USDT.
"""

from __future__ import annotations

from collections.abc import Callable

import numba
import numpy as np

SL, TP, LIQ, END = 1, 2, 3, 4
NEAR = 1e-6  # a float within this of a rounding boundary is recomputed exactly


def round_units(values: np.ndarray, mode: str) -> tuple[np.ndarray, np.ndarray]:
    """(integer units, ambiguous mask) of ``values`` (already divided by the step):
    ``nearest`` is half-even like Decimal's quantize, ``down``/``up`` floor/ceil."""
    if mode == "nearest":
        units = np.rint(values)
        fraction = values - np.floor(values)
        ambiguous = np.abs(fraction - 0.5) < NEAR
    else:
        units = np.floor(values) if mode == "down" else np.ceil(values)
        ambiguous = np.abs(values - np.rint(values)) < NEAR
    return units, ambiguous


def entry_plans(
    entry_units: np.ndarray,
    atr: np.ndarray,
    scale: int,
    atr_mode: bool,
    stop_by: float,
    target_by: float,
    fixup: Callable[[int, int], tuple[int, int]],
) -> tuple[np.ndarray, np.ndarray]:
    """(stop units, target units) for side +1 (column 0) and -1 (column 1) at every close;
    units are ticks (price x ``scale``); a stop of 0 means no stop (the policy waits), a
    target of -1 none. ``fixup(row, side)`` gives the exact pair for ambiguous rows."""
    entry = entry_units / scale
    with np.errstate(invalid="ignore"):
        if atr_mode:
            stop_distance, target_distance = stop_by * atr, target_by * atr
        else:
            stop_distance = entry * stop_by / 100.0
            target_distance = entry * target_by / 100.0
    stops = np.zeros((entry.size, 2), dtype=np.int64)
    targets = np.full((entry.size, 2), -1, dtype=np.int64)
    for column, side in ((0, 1), (1, -1)):
        stop_level = (entry - side * stop_distance) * scale
        target_level = (entry + side * target_distance) * scale
        stop, unclear = round_units(stop_level, "nearest")
        target, unclear_target = round_units(target_level, "nearest")
        with np.errstate(invalid="ignore"):
            # at least one tick beyond the entry, on its side
            stop = np.where(side * (stop - entry_units) >= 0, entry_units - side, stop)
            target = np.where(side * (target - entry_units) <= 0, entry_units + side, target)
            has_target = (target_distance > 0) & (target_level > 0)
            has_stop = stop > 0
        valid = np.isfinite(stop_level)
        if atr_mode:
            valid &= atr > 0  # the policy waits for an ATR
        stops[:, column] = np.where(valid & has_stop, stop, 0)
        targets[:, column] = np.where(valid & has_target, target, -1)
        for row in np.flatnonzero(valid & (unclear | unclear_target)):
            stops[row, column], targets[row, column] = fixup(int(row), side)
    return stops, targets


@numba.njit(cache=True)
def _piece(a, b, low, high, direction, sl, tp, liq, stop_first):
    """The first level met going from a to b: (kind, level) or (0, 0.0).

    ``low``/``high`` bound what is left of the candle after b: with ``stop_first`` the
    target waits while the stop-loss lies within the rest of the candle."""
    if stop_first:
        lo, hi = min(a, b, low), max(a, b, high)
        if (lo <= sl) if direction > 0 else (hi >= sl):
            tp = np.nan
    best_kind, best_level, best_far = 0, 0.0, np.inf
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
        elif a >= level:
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
    """Walk from the close of row r: (row, piece 0 gap / 1-3 inside, kind, a, b, level)."""
    price = o[r + 1] if contiguous[r] else c[r]
    for k in range(r + 1, last + 1):
        if c[k] >= o[k]:
            w1, w2 = lo[k], h[k]
        else:
            w1, w2 = h[k], lo[k]
        if k > r + 1 or not contiguous[r]:  # the gap belongs to the candle it opens
            low, high = min(w1, w2, c[k]), max(w1, w2, c[k])
            kind, level, _ = _piece(price, o[k], low, high, direction, sl, tp, liq, stop_first)
            if kind:
                return k, 0, kind, price, o[k], level
        points = (o[k], w1, w2, c[k])
        for j in range(1, 4):
            low = min(points[min(j + 1, 3)], points[3])
            high = max(points[min(j + 1, 3)], points[3])
            kind, level, _ = _piece(
                points[j - 1], points[j], low, high, direction, sl, tp, liq, stop_first
            )
            if kind:
                return k, j, kind, points[j - 1], points[j], level
        price = c[k]
    return last, 4, END, c[last], c[last], c[last]


@numba.njit(cache=True)
def _round_tick(value, scale, down):
    units = np.floor(value * scale) if down else np.ceil(value * scale)
    return units / scale


@numba.njit(cache=True)
def simulate(
    first, last, ts, close_ms, o, h, lo, c, contiguous, at_close, newest, kinds, multipliers,
    expiry_ms, stops, targets, sizes, scale, balance, cost, taker, ct_val, leverage,
    isolated, maintenance, min_size, stop_first, funding_times, funding_rates, funding_marks,
    out_int, out_float, out_piece, paid_rows, paid_amounts,
):  # fmt: skip
    """All trades, one after the other; returns (trades, funding payments). ``out_int``
    rows: signal row, entry row, exit row, piece, kind, step, exit ms, exit time unsure
    (within 1e-6 ms of a rounding tie: recomputed by the caller); ``out_float``:
    contracts, stop, target, average entry, exit price, pnl, entry fee, exit fee, funding,
    penalty."""
    cash = balance
    cancelled = np.zeros(newest.size, dtype=np.bool_)
    consumed, start, count, paid = -1, first, 0, 0
    third = (0, 300_000, 600_000, 900_000)
    while start < last:
        r, j = -1, -1
        for row in range(start, last):
            candidate = newest[row]
            while candidate > consumed and cancelled[candidate]:  # the newest ACTIVE one
                candidate = newest[candidate - 1] if candidate > 0 else -1
            if candidate > consumed and close_ms[candidate] + expiry_ms > close_ms[row]:
                column = 0 if kinds[candidate] == 0 else 1
                if stops[row, column] > 0:
                    r, j = row, candidate
                    break
        if r < 0:
            break
        side = 1 if kinds[j] == 0 else -1
        column = 0 if side > 0 else 1
        entry = at_close[r]
        contracts = sizes[r, 0 if multipliers[j] == 1 else 1]
        notional = contracts * ct_val * entry
        if contracts < min_size or notional / leverage + notional * taker > cash:
            # refused for good: the policy cancels this signal (older ones stay active)
            cancelled[j] = True
            start = r + 1
            continue
        sl = stops[r, column] / scale
        tp = targets[r, column] / scale if targets[r, column] >= 0 else np.nan
        average = entry * (1.0 + side * cost)  # a market buy pays up, a sell gets less
        fee_in = -(contracts * ct_val * average * taker)
        cash += fee_in
        q = contracts * ct_val
        held_margin = q * average / leverage if isolated else 0.0
        backing = held_margin if isolated else cash
        if side > 0:
            liq = _round_tick((average * q - backing) / (q * (1 - maintenance)), scale, True)
        else:
            liq = _round_tick((average * q + backing) / (q * (1 + maintenance)), scale, False)
        if not liq > 0:
            liq = np.nan
        k, piece, kind, a, b, level = _find_exit(
            r, last, side, sl, tp, liq, o, h, lo, c, contiguous, stop_first
        )
        unsure = 0
        if kind == END:
            exit_ms, price, step = ts[k] + 900_000, b, k
        elif piece == 0:  # a gap fills at its end price, at the candle's open time
            price = a if (level - a) * (b - a) <= 0 else b
            exit_ms = ts[k]
            step = k - 1 if contiguous[k - 1] else k
        else:
            price = a if (level - a) * (b - a) <= 0 else level
            begin, finish = ts[k] + third[piece - 1], ts[k] + third[piece]
            exit_ms = finish
            if b != a:
                moved = abs(price - a) / abs(b - a)
                share = moved * (finish - begin)
                exit_ms = begin + int(np.rint(share))  # half-even, as round()
                if abs(share - np.floor(share) - 0.5) < NEAR:
                    unsure = 1  # the caller recomputes it as the sim does, in Decimal
            step = k
        price_level = price
        if kind != LIQ:  # the triggered leg (or the closing order) is a market order
            price = price * (1.0 - side * cost)
        funding = 0.0
        m = np.searchsorted(funding_times, close_ms[r], side="right")
        while m < funding_times.size and (
            funding_times[m] <= exit_ms if kind == END else funding_times[m] < exit_ms
        ):
            payment = -(side * q) * funding_marks[m] * funding_rates[m]
            funding += payment
            paid_rows[paid] = np.searchsorted(close_ms, funding_times[m])
            paid_amounts[paid] = payment
            paid += 1
            m += 1
        pnl = side * q * (price - average)
        fee_out = -(q * price * taker)
        penalty = 0.0
        if kind == LIQ:
            if isolated:
                penalty = -(held_margin + pnl + fee_out)
            else:
                free = cash + funding + pnl + fee_out
                penalty = -free if free < 0 else -min(q * price * maintenance, free)
        cash += funding + pnl + fee_out + penalty
        out_int[count, 0], out_int[count, 1], out_int[count, 2] = j, r, k
        out_int[count, 3], out_int[count, 4], out_int[count, 5] = piece, kind, step
        out_int[count, 6], out_int[count, 7] = exit_ms, unsure
        values = (contracts, sl, tp, average, price, pnl, fee_in, fee_out, funding, penalty)
        for n in range(10):
            out_float[count, n] = values[n]
        out_piece[count, 0], out_piece[count, 1], out_piece[count, 2] = a, b, price_level
        count += 1
        consumed, start = j, step
    return count, paid
