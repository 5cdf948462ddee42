"""Account settings of the simulated exchange: leverage and position mode."""

from __future__ import annotations

from qwentrade.adapters.sim.codes import (
    LEVERAGE_TOO_HIGH,
    PARAMETER_ERROR,
    SETTINGS_BLOCKED,
    SimInsufficientFunds,
    rejected,
)
from qwentrade.adapters.sim.ledger import money
from qwentrade.adapters.sim.state import SimState
from qwentrade.domain.errors import InvalidInput
from qwentrade.domain.venue import PositionMode, PosSide, TdMode


def set_leverage(
    state: SimState, symbol: str, leverage: int, margin_mode: TdMode, pos_side: PosSide | None
) -> None:
    """Set leverage for ``symbol`` in ``margin_mode``; open positions adopt it at once.

    An isolated position's margin is re-sized to ``notional at its average price /
    leverage``; raising it needs that much available margin (51008).
    """
    instrument = state.instrument(symbol)
    margin_mode = TdMode(margin_mode)
    if isinstance(leverage, bool) or not isinstance(leverage, int) or leverage < 1:
        raise InvalidInput("leverage", f"must be a whole number of at least 1, got {leverage!r}")
    if leverage > instrument.max_lever:
        raise rejected(
            LEVERAGE_TOO_HIGH,
            f"leverage {leverage} exceeds the maximum {instrument.max_lever} for {symbol}",
        )
    per_side = margin_mode is TdMode.ISOLATED and state.mode is PositionMode.LONG_SHORT_MODE
    if per_side and pos_side not in (PosSide.LONG, PosSide.SHORT):
        raise rejected(
            PARAMETER_ERROR,
            "Parameter posSide error: isolated leverage in long_short_mode needs pos_side "
            "long or short",
        )
    sides = [pos_side] if per_side else list(PosSide)
    affected = [
        p
        for (s, side, mode), p in state.positions.items()
        if s == symbol and mode is margin_mode and side in sides
    ]
    extra = sum(
        (
            money(p.contracts * instrument.ct_val * p.avg_price / leverage) - p.margin
            for p in affected
            if margin_mode is TdMode.ISOLATED
        ),
        start=type(state.cash)(0),
    )
    if extra > 0 and extra > state.available():
        raise SimInsufficientFunds(
            f"raising the isolated margin of {symbol} to {leverage}x needs {extra:.4f} USDT "
            "more than is available; add funds or choose a higher leverage"
        )
    for side in sides if per_side else [PosSide.NET]:
        state.leverage[state.leverage_key(symbol, margin_mode, side)] = leverage
    for position in affected:
        position.leverage = leverage
        if margin_mode is TdMode.ISOLATED:
            position.margin = money(
                position.contracts * instrument.ct_val * position.avg_price / leverage
            )
        position.updated_at = state.now
        state.emit_position(position)
    if affected:
        state.emit_balance()


def set_position_mode(state: SimState, mode: PositionMode) -> None:
    """Switch net/long-short mode; refused (59000) while anything is open."""
    mode = PositionMode(mode)
    if mode is state.mode:
        return
    busy = state.positions or any(state.open_orders.values()) or any(state.live_algos.values())
    if busy:
        raise rejected(
            SETTINGS_BLOCKED,
            "Settings failed: close every position and cancel every order and algo order "
            "before changing the position mode",
        )
    state.mode = mode
