"""Validation shared by orders and algo orders: sizes, prices, position sides, margin."""

from __future__ import annotations

from decimal import Decimal

from qwentrade.adapters.sim.codes import (
    BELOW_MIN_SIZE,
    LOT_SIZE,
    PARAMETER_ERROR,
    SimInsufficientFunds,
    rejected,
)
from qwentrade.adapters.sim.ledger import ZERO
from qwentrade.adapters.sim.state import SimState
from qwentrade.domain.instruments import Instrument
from qwentrade.domain.numbers import is_multiple
from qwentrade.domain.venue import PositionMode, PosSide


def check_size(instrument: Instrument, size: Decimal, field: str = "size") -> None:
    """ExchangeRejected 51121 (lot) / 51020 (minimum) for a bad size in contracts."""
    if size <= 0 or not is_multiple(size, instrument.lot_sz):
        raise rejected(
            LOT_SIZE,
            f"{field} {size} must be a positive multiple of the lot size {instrument.lot_sz} "
            f"for {instrument.inst_id}",
        )
    if size < instrument.min_sz:
        raise rejected(
            BELOW_MIN_SIZE,
            f"{field} {size} is below the minimum {instrument.min_sz} for {instrument.inst_id}",
        )


def check_pos_side(state: SimState, pos_side: PosSide) -> None:
    """ExchangeRejected 51000 when ``pos_side`` does not fit the position mode."""
    if state.mode is PositionMode.NET_MODE and pos_side is not PosSide.NET:
        raise rejected(
            PARAMETER_ERROR,
            f"Parameter posSide error: pos_side {pos_side.value} needs long_short_mode; "
            "use net in net_mode",
        )
    if state.mode is PositionMode.LONG_SHORT_MODE and pos_side is PosSide.NET:
        raise rejected(
            PARAMETER_ERROR,
            "Parameter posSide error: in long_short_mode give pos_side long or short",
        )


def check_price(instrument: Instrument, price: Decimal | None, field: str) -> None:
    """ExchangeRejected 51000 for a price off the tick grid."""
    if price is not None and not is_multiple(price, instrument.tick_sz):
        raise rejected(
            PARAMETER_ERROR,
            f"Parameter {field} error: {price} is not a multiple of the tick size "
            f"{instrument.tick_sz}",
        )


def require_margin(
    state: SimState, instrument: Instrument, opening: Decimal, price: Decimal, leverage: int
) -> None:
    """SimInsufficientFunds (51008) unless margin and taker fee for ``opening`` are free."""
    if opening <= 0:
        return
    notional = opening * instrument.ct_val * price
    required = notional / leverage + notional * state.fees.taker
    available = state.available()
    if required > available:
        raise SimInsufficientFunds(
            f"Insufficient USDT margin: the order needs {required:.4f} USDT of margin and fee "
            f"at {leverage}x but {max(ZERO, available):.4f} is available; reduce the size or "
            "raise the leverage"
        )
