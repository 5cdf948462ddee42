"""The market model: every rule by which the simulated exchange decides whether and at
what price something fills. One place, so a vectorised backtest can mirror it rule for
rule (a parity test on real data compares the two trade for trade).

1. **The path** (:mod:`.tape`): a base candle of duration ``d`` opening at ``T`` walks
   open, low, high, close when green (close >= open) and open, high, low, close when
   red, a waypoint every ``d/3`` on straight lines (waypoint ``j`` at
   ``T + round(j * d / 3)`` ms, its price rounded to the tick); the price jumps from one
   close to the next open at ``T`` (a *gap*, belonging to the candle it opens). The last
   price at any moment is the path's price then, rounded to the tick. An event at price
   ``p`` on a segment from ``a`` (at ``t0``) to ``b`` (at ``t1``) happens at
   ``t0 + round(|p - a| / |b - a| * (t1 - t0))`` ms; a gap's events at ``T``.
2. **Stop-loss before take-profit** (``Intrabar.STOP_FIRST``, the default): while a
   live stop-loss leg will be reached before the current base candle ends (the rest of
   its path from now, the gap to its open included), no take-profit leg protecting the
   same position (symbol, side, position side, margin mode) fires in that candle; the
   stop fires where the path reaches it. This is backtesting.py's rule: a candle that
   touches both closes at the stop. ``Intrabar.PATH`` lets the path decide (whichever
   level it reaches first, so the candle's colour).
3. **Taker fills pay the spread and slippage**: a market order, a triggered leg with no
   order price (a market order at the trigger) and a limit order marketable on arrival
   fill at ``ref * (1 + c)`` when buying and ``ref * (1 - c)`` when selling, with
   ``c = (spread_bps / 2 + slippage_bps) / 10_000`` (:meth:`Costs.fill_price`). ``ref`` is
   the last price when the order arrives: for a triggered leg its trigger price, or, when
   the price was already beyond it or jumped over it (a gap), the price then (the gap's
   end: the candle's open). A limit never fills beyond its own price: the fill is
   ``min(limit, ref * (1 + c))`` for a buy, ``max(limit, ref * (1 - c))`` for a sell.
   The price is exact (a Decimal product), not rounded to the tick: it stands for the
   average price of a fill that walks the book. With both costs 0, fills are exactly at
   the last/trigger price. Taker fee.
4. **Resting limit orders fill only when the price trades through them** (strictly
   beyond: a buy when the price falls below its price, a sell when it rises above), at
   their own price, maker fee; a gap through a resting limit fills it at the limit, not
   at the better open. A touch does not fill.
5. **Reduce-only orders die with their position**: an open reduce-only order (or, in
   long/short mode, a closing order: sell+long, buy+short) is canceled as soon as the
   position it reduces is gone (closed, liquidated, or flipped to the other side); the
   same holds for reduce-only algo orders. It never closes a later, unrelated position.
6. **Price band** (OKX 51006): a priced order (limit, post_only, ioc, fok) buying above
   ``last * (1 + band)`` or selling below ``last * (1 - band)`` is refused; a triggered
   leg whose order price is outside the band fails (algo ``order_failed``, 51006).
7. **Maximum order sizes** (in contracts): a market order above the symbol's maximum
   market size is refused (OKX 51202), a priced order above its maximum limit size
   (51203). Defaults are OKX's BTC-USDT-SWAP values (what the fake OKX server lists for
   every instrument); the engine takes others per symbol.
8. **Fees**: taker fee on every rule-3 fill, maker fee on a rule-4 fill (``FeeRates``).
9. **Funding** settles at every 00:00, 08:00 and 16:00 UTC on open positions, whatever
   the base candle (the engine stops at each settlement): ``-signed base quantity x
   price then x rate`` (a long pays a positive rate), from the account's cash (an
   isolated position's margin, and so its liquidation price, is not touched).
10. **Liquidation** (:mod:`.ledger`, unchanged here): on the path's last price, with one
    flat maintenance-margin rate per symbol (not yet OKX's tiers or a mark price), the
    closing fee not in the condition; a liquidation fills at its level (or the gap's end).

Defaults, and why: ``spread_bps=1`` and ``slippage_bps=2`` (about 2.5 bp a taker fill,
half of OKX's 5 bp taker fee). OKX's BTC/ETH swaps quote a spread of one tick (well under
1 bp) in calm markets, but stops and market orders fire when the market moves, when the
book is thinner and fills walk it; a few basis points is what retail-sized fills on the
majors lose against the trigger, and it keeps a strategy that lives on the last basis
point from looking profitable. ``price_band=0.05`` (5%): OKX limits how far a swap
order's price may be from the index (``GET /api/v5/public/price-limit``; a few percent on
the majors).

Where they come from: ``SimEngine(costs=...)`` takes a :class:`Costs` or a function
returning one, called at each fill or placement that needs it (the container passes one
reading the config keys ``SIM_SPREAD_BPS``, ``SIM_SLIPPAGE_BPS`` and
``SIM_PRICE_BAND_PERCENT``, so a change is seen without a restart). ``intrabar`` and the
maximum sizes are construction parameters: a run's modelling choice, fixed for the run.
"""

from __future__ import annotations

import enum
from decimal import Decimal

import attrs

from qwentrade.domain.errors import InvalidInput
from qwentrade.domain.venue import Side

BPS = Decimal(10_000)
#: OKX's BTC-USDT-SWAP maxMktSz / maxLmtSz (the fake OKX server lists them for all)
DEFAULT_MAX_MARKET_SIZE = Decimal(12_000)
DEFAULT_MAX_LIMIT_SIZE = Decimal(100_000_000)


class Intrabar(enum.StrEnum):
    """Which of two legs touched in one candle fires (rule 2)."""

    STOP_FIRST = "stop_first"
    PATH = "path"


def _non_negative(instance: object, attribute: attrs.Attribute, value: Decimal) -> None:
    if not isinstance(value, Decimal) or not value.is_finite() or value < 0:
        raise InvalidInput(attribute.name, f"must be a non-negative Decimal, got {value!r}")


def _decimal(value: object) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(str(value))


@attrs.frozen
class Costs:
    """What a taker fill pays (rule 3) and the price band (rule 6).

    ``spread_bps`` is the full quoted spread (a taker pays half of it), ``slippage_bps``
    what a fill loses beyond that, both in basis points of the price; ``price_band`` a
    fraction of the last price (0.05 = 5%).
    """

    spread_bps: Decimal = attrs.field(
        default=Decimal(1), converter=_decimal, validator=_non_negative
    )
    slippage_bps: Decimal = attrs.field(
        default=Decimal(2), converter=_decimal, validator=_non_negative
    )
    price_band: Decimal = attrs.field(
        default=Decimal("0.05"), converter=_decimal, validator=_non_negative
    )

    @classmethod
    def exact(cls, price_band: Decimal | str = "0.05") -> Costs:
        """No spread, no slippage: fills exactly at the last or trigger price."""
        return cls(Decimal(0), Decimal(0), price_band)

    @property
    def rate(self) -> Decimal:
        """The fraction of the price a taker fill pays: half the spread plus slippage."""
        return (self.spread_bps / 2 + self.slippage_bps) / BPS

    def fill_price(self, side: Side, ref: Decimal, limit: Decimal | None = None) -> Decimal:
        """A taker fill of ``side`` against the last price ``ref``, never beyond ``limit``."""
        if side is Side.BUY:
            price = ref * (1 + self.rate)
            return price if limit is None else min(limit, price)
        price = ref * (1 - self.rate)
        return price if limit is None else max(limit, price)

    def band(self, last: Decimal) -> tuple[Decimal, Decimal]:
        """(highest buy price, lowest sell price) allowed with the last price ``last``."""
        return last * (1 + self.price_band), last * (1 - self.price_band)


@attrs.frozen
class SizeCaps:
    """The largest market and priced orders of a symbol, in contracts (rule 7)."""

    market: Decimal = DEFAULT_MAX_MARKET_SIZE
    limit: Decimal = DEFAULT_MAX_LIMIT_SIZE
