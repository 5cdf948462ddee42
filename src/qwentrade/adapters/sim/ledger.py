"""Positions, PnL and margin arithmetic of the simulated exchange.

The margin model (simplified, documented so nobody mistakes it for OKX's tiers):

- Initial margin: ``notional / leverage`` with ``notional = |size| * ct_val * price``.
  A cross position's margin floats with the mark price; an isolated position holds the
  margin put up when it was opened (added to on increases, released pro rata on
  reductions; funding is paid from the account's cash, not from this margin).
- Maintenance margin: one flat rate per instrument (``maintenance_margin_rate``, 0.4% by
  default) of the notional at the mark price; no tiers.
- Isolated liquidation: when ``margin + unrealised PnL <= maintenance margin``. The
  position's whole margin is lost: whatever is left after closing at the liquidation
  price and paying the taker fee goes as the liquidation penalty (a gap through the
  bankruptcy price is covered, so the loss never exceeds the margin).
- Cross liquidation: when ``cash - isolated margins + cross unrealised PnL <= cross
  maintenance margin``; then EVERY cross position is closed at the current prices, the
  penalty is the maintenance margin (at most what is left), and a negative balance is
  reset to zero (the insurance fund's part). The liquidation price reported for a cross
  position holds the other symbols' prices fixed.
- The mark price is the last price of the path.

Amounts are ``Decimal``s; fees are negative when paid, as on OKX. Every amount that moves
money (PnL, fee, funding, margin, penalty) and every average price is quantized to
``QUANTUM`` (1e-12) when it is computed, so the books add up EXACTLY: cash always equals
the starting balance plus the sum of the positions' realised PnL. Liquidation levels are
rounded to the tick on the side that keeps their meaning (down for a long, up for a
short), so liquidations fill at tick prices like every other fill.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import attrs

from qwentrade.domain.instruments import Instrument
from qwentrade.domain.numbers import round_to_tick
from qwentrade.domain.records import FULL_CLOSE_TYPES, PositionRecord
from qwentrade.domain.venue import ExchangePosition, PosSide, TdMode

ZERO = Decimal(0)
QUANTUM = Decimal("1e-12")


def money(value: Decimal) -> Decimal:
    """``value`` quantized to ``QUANTUM`` (the sim's book-keeping precision)."""
    return value.quantize(QUANTUM)


CLOSE_PARTIAL = 1
CLOSE_FULL = 2
CLOSE_LIQUIDATION = 3


@attrs.define
class SimPosition:
    """One open position (mutable state inside the engine)."""

    pos_id: str
    instrument: Instrument
    pos_side: PosSide
    margin_mode: TdMode
    leverage: int
    created_at: datetime
    updated_at: datetime
    size: Decimal = ZERO  # signed in net mode, positive in long/short mode
    avg_price: Decimal = ZERO
    margin: Decimal = ZERO  # isolated only
    fee: Decimal = ZERO
    funding_fee: Decimal = ZERO
    pnl: Decimal = ZERO
    liq_penalty: Decimal = ZERO
    open_max_size: Decimal = ZERO
    close_total_size: Decimal = ZERO
    close_notional: Decimal = ZERO

    @property
    def symbol(self) -> str:
        return self.instrument.inst_id

    @property
    def direction(self) -> int:
        """+1 long, -1 short, 0 empty."""
        if self.pos_side is PosSide.LONG:
            return 1 if self.size else 0
        if self.pos_side is PosSide.SHORT:
            return -1 if self.size else 0
        return (self.size > 0) - (self.size < 0)

    @property
    def contracts(self) -> Decimal:
        return abs(self.size)

    @property
    def signed_qty(self) -> Decimal:
        """Signed position in base units (contracts times contract value)."""
        return self.direction * self.contracts * self.instrument.ct_val

    @property
    def realised(self) -> Decimal:
        """OKX ``realizedPnl``: closing PnL + fees + funding + liquidation penalty."""
        return self.pnl + self.fee + self.funding_fee + self.liq_penalty

    def notional(self, mark: Decimal) -> Decimal:
        return self.contracts * self.instrument.ct_val * mark

    def upnl(self, mark: Decimal) -> Decimal:
        """Unrealised PnL at ``mark``."""
        return self.signed_qty * (mark - self.avg_price)

    def initial_margin(self, mark: Decimal) -> Decimal:
        """Cross: notional at mark over leverage; isolated: the margin held."""
        if self.margin_mode is TdMode.ISOLATED:
            return self.margin
        return self.notional(mark) / self.leverage

    def maintenance_margin(self, mark: Decimal, rate: Decimal) -> Decimal:
        return self.notional(mark) * rate

    def open(
        self, direction: int, contracts: Decimal, price: Decimal, fee: Decimal, now: datetime
    ) -> None:
        """Add ``contracts`` in ``direction`` (+1 long, -1 short) at ``price`` (fee <= 0)."""
        total = self.contracts + contracts
        self.avg_price = money((self.contracts * self.avg_price + contracts * price) / total)
        if self.margin_mode is TdMode.ISOLATED:
            self.margin += money(contracts * self.instrument.ct_val * price / self.leverage)
        self.size = total if self.pos_side is not PosSide.NET else direction * total
        self.fee += fee
        self.open_max_size = max(self.open_max_size, total)
        self.updated_at = now

    def reduce(self, contracts: Decimal, price: Decimal, fee: Decimal, now: datetime) -> Decimal:
        """Close ``contracts`` (<= size) at ``price``; returns the closing PnL (before fee)."""
        before = self.contracts
        pnl = money(self.direction * contracts * self.instrument.ct_val * (price - self.avg_price))
        if self.margin_mode is TdMode.ISOLATED:
            self.margin -= money(self.margin * contracts / before)
        remaining = before - contracts
        self.size = remaining if self.pos_side is not PosSide.NET else self.direction * remaining
        self.pnl += pnl
        self.fee += fee
        self.close_total_size += contracts
        self.close_notional += contracts * price
        self.updated_at = now
        return pnl

    def liquidation_level(self, equity_other: Decimal, rate: Decimal) -> Decimal | None:
        """The price at which this position alone would be liquidated.

        ``equity_other`` is what backs it besides its own PnL: its margin when isolated,
        the rest of the cross account (net of the other positions' maintenance margin)
        when cross. None when no positive price liquidates it.
        """
        if not self.size:
            return None
        q = self.contracts * self.instrument.ct_val
        tick = self.instrument.tick_sz
        if self.direction > 0:
            level = round_to_tick(
                (self.avg_price * q - equity_other) / (q * (1 - rate)), tick, "down"
            )
        else:
            level = round_to_tick(
                (self.avg_price * q + equity_other) / (q * (1 + rate)), tick, "up"
            )
        return level if level > 0 else None

    def snapshot(
        self, mark: Decimal, rate: Decimal, liquidation: Decimal | None, now: datetime
    ) -> ExchangePosition:
        """The position as the port reports it."""
        return ExchangePosition(
            pos_id=self.pos_id,
            symbol=self.symbol,
            pos_side=self.pos_side,
            size=self.size,
            avg_price=self.avg_price if self.size else None,
            mark_price=mark,
            unrealised_pnl=self.upnl(mark),
            realised_pnl=self.realised,
            margin=self.initial_margin(mark),
            leverage=self.leverage,
            margin_mode=self.margin_mode,
            liquidation_price=liquidation,
            created_at=self.created_at,
            updated_at=self.updated_at,
            fee=self.fee,
            funding_fee=self.funding_fee,
            maintenance_margin=self.maintenance_margin(mark, rate),
        )

    def record(self, close_type: int, now: datetime) -> PositionRecord:
        """The position_history row after a (partial) close, cumulative so far."""
        close_avg = self.close_notional / self.close_total_size if self.close_total_size else ZERO
        return PositionRecord(
            pos_id=self.pos_id,
            symbol=self.symbol,
            pos_side=self.pos_side.value,
            margin_mode=self.margin_mode.value,
            leverage=self.leverage,
            avg_price=self.avg_price,
            close_avg_price=close_avg,
            open_max_size=self.open_max_size,
            close_total_size=self.close_total_size,
            pnl=self.pnl,
            realized_pnl=self.realised,
            fee=self.fee,
            funding_fee=self.funding_fee,
            close_type=close_type,
            created_at=self.created_at,
            updated_at=now,
            pos_size=ZERO if close_type in FULL_CLOSE_TYPES else self.contracts,
        )


def cross_level(
    positions: list[SimPosition], equity_other: Decimal, rate: Decimal, tick: Decimal
) -> tuple[Decimal, int] | None:
    """Where the cross positions of one symbol get liquidated, the rest held fixed.

    Solves ``equity_other + sum(upnl(P)) = rate * sum(notional(P))`` for the price ``P``;
    returns ``(P, direction)`` with direction -1 when liquidation comes as the price falls
    to ``P`` and +1 when it rises to it, or None when no positive price liquidates.
    """
    net = sum((p.signed_qty for p in positions), ZERO)
    cost = sum((p.signed_qty * p.avg_price for p in positions), ZERO)
    gross = sum((abs(p.signed_qty) for p in positions), ZERO)
    slope = net - rate * gross
    if not slope:
        return None
    direction = -1 if slope > 0 else 1
    level = round_to_tick((cost - equity_other) / slope, tick, "down" if direction < 0 else "up")
    if level <= 0:
        return None
    return level, direction
