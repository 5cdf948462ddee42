"""Market data of the simulated exchange besides candles: funding and the order book."""

from __future__ import annotations

import zlib
from datetime import datetime
from decimal import Decimal
from random import Random

from qwentrade.adapters.sim.prices import FUNDING_INTERVAL, PricePath
from qwentrade.domain.errors import InvalidInput
from qwentrade.domain.instruments import Instrument
from qwentrade.domain.market import (
    BookSnapshot,
    FundingRate,
    TimeRange,
    from_ms,
    next_funding_time,
    to_ms,
)

FUNDING_MS = int(FUNDING_INTERVAL.total_seconds() * 1000)
MAX_BOOK_DEPTH = 400


def current_funding(path: PricePath, symbol: str, now: datetime) -> FundingRate:
    """The predicted rate (the last settled one: nothing ahead is known) and next time."""
    now_ms = to_ms(now)
    last = now_ms - now_ms % FUNDING_MS
    rate = path.funding_rate(symbol, from_ms(last))
    upcoming = from_ms(last + FUNDING_MS)
    return FundingRate(symbol, upcoming, rate, next_funding_time=next_funding_time(upcoming))


def funding_settlements(
    path: PricePath, symbol: str, span: TimeRange, now: datetime
) -> list[FundingRate]:
    """Settlements (00/08/16 UTC) in ``span``, not after ``now``, oldest first."""
    first = max(to_ms(span.start), to_ms(path.first_time(symbol)))
    last = min(to_ms(span.end) - 1, to_ms(now))
    out = []
    t = first + (-first) % FUNDING_MS
    while t <= last:
        rate = path.funding_rate(symbol, from_ms(t))
        settled = from_ms(t)
        out.append(FundingRate(symbol, settled, rate, rate, next_funding_time(settled)))
        t += FUNDING_MS
    return out


def synthetic_book(
    instrument: Instrument, last: Decimal, now: datetime, depth: int
) -> BookSnapshot:
    """Levels one tick apart either side of ``last``; sizes (contracts) seeded by time."""
    if isinstance(depth, bool) or not isinstance(depth, int) or not 1 <= depth <= MAX_BOOK_DEPTH:
        raise InvalidInput("depth", f"must be a whole number in 1..{MAX_BOOK_DEPTH}, got {depth!r}")
    rng = Random(zlib.crc32(f"{instrument.inst_id}:{to_ms(now)}".encode()))

    def size(level: int) -> Decimal:
        raw = Decimal(f"{rng.uniform(1.0, 20.0) * (1 + 0.3 * level):.4f}")
        return max(instrument.min_sz, instrument.round_size(raw))

    tick = instrument.tick_sz
    bids = tuple((last - tick * (i + 1), size(i)) for i in range(depth))
    asks = tuple((last + tick * (i + 1), size(i)) for i in range(depth))
    return BookSnapshot(instrument.inst_id, now, bids, asks)
