"""Per-symbol statistics over stored history and series (what the repositories report)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import attrs


@attrs.frozen
class OrderStats:
    """Orders of one symbol: how many, how many filled, summed fees and realised PnL."""

    symbol: str
    orders: int
    filled: int
    fee: Decimal
    pnl: Decimal


@attrs.frozen
class PositionStats:
    """Closed positions of one symbol: count, wins/losses by ``realized_pnl``, sums."""

    symbol: str
    positions: int
    wins: int
    losses: int
    pnl: Decimal
    realized_pnl: Decimal
    fee: Decimal
    funding_fee: Decimal

    @property
    def win_rate(self) -> float:
        """Wins over positions (0.0 when there are none)."""
        return self.wins / self.positions if self.positions else 0.0


@attrs.frozen
class SeriesStats:
    """Stored rows of one symbol in one table: count, first and last time."""

    symbol: str
    rows: int
    first: datetime | None
    last: datetime | None
