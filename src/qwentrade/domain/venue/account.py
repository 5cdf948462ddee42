"""The account as the venue reports it: positions and balance.

In net position mode a position's ``size`` is signed (positive long, negative short), as
OKX's ``pos``; in long/short mode it is positive and ``pos_side`` gives the direction.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import attrs

from qwentrade.domain.venue.enums import PosSide, TdMode
from qwentrade.domain.venue.fields import _dec, _dec_or_none, _utc


@attrs.frozen
class ExchangePosition:
    """An open (or just closed, ``size == 0``) position as the venue reports it.

    ``size`` is in contracts, signed in net mode (OKX ``pos``). ``unrealised_pnl`` is at
    ``mark_price``; ``realised_pnl`` is OKX's ``realizedPnl`` (closing PnL + fees + funding,
    so it is negative right after opening by the entry fee); ``fee`` and ``funding_fee`` are
    its parts. ``margin`` is the initial margin held (``imr`` in cross, ``margin`` in
    isolated). ``liquidation_price`` is ``None`` when there is none.
    """

    pos_id: str
    symbol: str
    pos_side: PosSide = attrs.field(converter=PosSide)
    size: Decimal = attrs.field(converter=_dec("size"))
    avg_price: Decimal | None = attrs.field(converter=_dec_or_none("avg_price"))
    mark_price: Decimal = attrs.field(converter=_dec("mark_price"))
    unrealised_pnl: Decimal = attrs.field(converter=_dec("unrealised_pnl"))
    realised_pnl: Decimal = attrs.field(converter=_dec("realised_pnl"))
    margin: Decimal = attrs.field(converter=_dec("margin"))
    leverage: int
    margin_mode: TdMode = attrs.field(converter=TdMode)
    liquidation_price: Decimal | None = attrs.field(converter=_dec_or_none("liquidation_price"))
    created_at: datetime = attrs.field(converter=_utc("created_at"))
    updated_at: datetime = attrs.field(converter=_utc("updated_at"))
    fee: Decimal = attrs.field(default=Decimal(0), converter=_dec("fee"))
    funding_fee: Decimal = attrs.field(default=Decimal(0), converter=_dec("funding_fee"))
    maintenance_margin: Decimal = attrs.field(
        default=Decimal(0), converter=_dec("maintenance_margin")
    )

    @property
    def contracts(self) -> Decimal:
        """Absolute size in contracts."""
        return abs(self.size)

    @property
    def direction(self) -> PosSide:
        """``long`` or ``short`` whatever the mode (``net`` only for an empty net position)."""
        if self.pos_side is not PosSide.NET:
            return self.pos_side
        if self.size > 0:
            return PosSide.LONG
        if self.size < 0:
            return PosSide.SHORT
        return PosSide.NET

    @property
    def is_open(self) -> bool:
        return self.size != 0


@attrs.frozen
class Balance:
    """The account's balance in one currency (USDT).

    ``equity = cash_balance + unrealised_pnl``; ``available`` is what new orders can use;
    ``frozen`` is the margin held by positions and open orders (OKX ``frozenBal``).
    """

    currency: str
    equity: Decimal = attrs.field(converter=_dec("equity"))
    cash_balance: Decimal = attrs.field(converter=_dec("cash_balance"))
    available: Decimal = attrs.field(converter=_dec("available"))
    frozen: Decimal = attrs.field(converter=_dec("frozen"))
    unrealised_pnl: Decimal = attrs.field(converter=_dec("unrealised_pnl"))
    updated_at: datetime = attrs.field(converter=_utc("updated_at"))
