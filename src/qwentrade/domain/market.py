"""Market-data value objects and timeframes.

All times are timezone-aware UTC ``datetime``s. A candle's ``time`` is its OPEN time, as
OKX reports it (``ts``); it closes at ``time + timeframe.duration``. Only closed candles
(OKX ``confirm = 1``) are final.
"""

from __future__ import annotations

import enum
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import attrs

from qwentrade.domain.errors import InvalidInput

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def require_utc(value: datetime, field: str) -> datetime:
    """Return ``value`` converted to UTC; a naive datetime is rejected naming ``field``."""
    if not isinstance(value, datetime):
        raise InvalidInput(field, f"expected a datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidInput(field, f"{value.isoformat()} is naive: give a timezone-aware UTC time")
    return value.astimezone(UTC)


def from_ms(ms: int | str) -> datetime:
    """UTC datetime from epoch milliseconds (OKX's ``ts``)."""
    return EPOCH + timedelta(milliseconds=int(ms))


def to_ms(value: datetime) -> int:
    """Epoch milliseconds of an aware datetime."""
    return (require_utc(value, "time") - EPOCH) // timedelta(milliseconds=1)


class Timeframe(enum.Enum):
    """The candle timeframes the system stores; the value is OKX's ``bar`` name."""

    M15 = "15m"
    H1 = "1H"
    H4 = "4H"
    D1 = "1D"

    @classmethod
    def parse(cls, text: str) -> Timeframe:
        """Accept ``15m``, ``1h``/``1H``, ``4h``/``4H``, ``1d``/``1D`` (and the enum names)."""
        key = str(text).strip()
        for member in cls:
            if key.upper() in (member.value.upper(), member.name):
                return member
        allowed = ", ".join(m.label for m in cls)
        raise InvalidInput("timeframe", f"{text!r} is not one of {allowed}")

    @property
    def label(self) -> str:
        """The name users read and type: 15m, 1h, 4h, 1d (``value`` is OKX's bar name)."""
        return self.value.lower()

    @property
    def duration(self) -> timedelta:
        return _DURATIONS[self]

    @property
    def table(self) -> str:
        """The klines table of this timeframe (klines_15m, klines_4h, klines_1d)."""
        return f"klines_{self.value.lower()}"

    def floor(self, when: datetime) -> datetime:
        """The open time of the candle containing ``when`` (UTC-aligned, as OKX aligns bars)."""
        ms = to_ms(when)
        step = self.duration // timedelta(milliseconds=1)
        return from_ms(ms - ms % step)

    def last_closed_open(self, now: datetime) -> datetime:
        """Open time of the most recent candle that has closed at ``now``."""
        return self.floor(now) - self.duration


_DURATIONS = {
    Timeframe.M15: timedelta(minutes=15),
    Timeframe.H1: timedelta(hours=1),
    Timeframe.H4: timedelta(hours=4),
    Timeframe.D1: timedelta(days=1),
}


@attrs.frozen
class TimeRange:
    """A half-open interval ``[start, end)`` of UTC times."""

    start: datetime = attrs.field(converter=lambda v: require_utc(v, "start"))
    end: datetime = attrs.field(converter=lambda v: require_utc(v, "end"))

    def __attrs_post_init__(self) -> None:
        if self.end < self.start:
            raise InvalidInput("end", f"{self.end} is before start {self.start}")

    def __contains__(self, when: datetime) -> bool:
        return self.start <= when < self.end


@attrs.frozen
class Candle:
    """One OHLCV candle; ``time`` is its open time; ``confirmed`` is OKX's ``confirm == 1``."""

    symbol: str
    time: datetime = attrs.field(converter=lambda v: require_utc(v, "time"))
    open: float
    high: float
    low: float
    close: float
    volume: float
    confirmed: bool = True

    def __attrs_post_init__(self) -> None:
        for name in ("open", "high", "low", "close", "volume"):
            value = getattr(self, name)
            if not value == value or value < 0 or value == float("inf"):  # NaN, negative, inf
                raise InvalidInput(name, f"must be a finite non-negative number, got {value!r}")
        if self.high < self.low:
            raise InvalidInput("high", f"high {self.high} is below low {self.low}")


FUNDING_INTERVAL = timedelta(hours=8)


def next_funding_time(time: datetime) -> datetime:
    """The first funding settlement strictly after ``time`` on OKX's 00/08/16 UTC grid."""
    elapsed = require_utc(time, "time") - EPOCH
    return EPOCH + (elapsed // FUNDING_INTERVAL + 1) * FUNDING_INTERVAL


def _utc_or_none(field: str):
    return lambda value: None if value is None else require_utc(value, field)


@attrs.frozen
class FundingRate:
    """A funding settlement, or the predicted rate of the settlement at ``time``.

    ``next_funding_time`` is the settlement after ``time`` (OKX ``nextFundingTime``; None
    when unknown); :func:`next_funding_time` gives it on the 8-hour grid.
    """

    symbol: str
    time: datetime = attrs.field(converter=lambda v: require_utc(v, "time"))
    rate: Decimal
    realized_rate: Decimal | None = None
    next_funding_time: datetime | None = attrs.field(
        default=None, converter=_utc_or_none("next_funding_time")
    )


@attrs.frozen
class OpenInterest:
    """Aggregated open interest (USD) at ``time`` (CoinGlass kind).

    ``open_interest`` is the total at ``time``; ``change_24h`` its change since the point
    24 h earlier and ``change_percent_24h`` that change in percent of it (5.0 = +5 %), both
    None when that point is unknown (see :func:`with_24h_change`). ``open``/``high``/
    ``low``/``close`` are the interval's OHLC when the source gives a candle.
    """

    symbol: str
    time: datetime = attrs.field(converter=lambda v: require_utc(v, "time"))
    open_interest: float
    change_24h: float | None = None
    change_percent_24h: float | None = None
    open: float | None = None
    high: float | None = None
    low: float | None = None
    close: float | None = None


def with_24h_change(points: list[OpenInterest]) -> list[OpenInterest]:
    """``points`` with ``change_24h``/``change_percent_24h`` set from the point of the same
    symbol exactly 24 h earlier in ``points`` (None, not guessed, when there is none)."""
    known = {(p.symbol, p.time): p.open_interest for p in points}
    out = []
    for point in points:
        before = known.get((point.symbol, point.time - timedelta(hours=24)))
        if before is None:
            out.append(attrs.evolve(point, change_24h=None, change_percent_24h=None))
            continue
        change = point.open_interest - before
        percent = change / before * 100 if before else None
        out.append(attrs.evolve(point, change_24h=change, change_percent_24h=percent))
    return out


@attrs.frozen
class Sentiment:
    """Long/short account ratio at ``time``: the shares of accounts long and short (0-1)
    and their quotient."""

    symbol: str
    time: datetime = attrs.field(converter=lambda v: require_utc(v, "time"))
    long_account_ratio: float
    short_account_ratio: float
    long_short_ratio: float


@attrs.frozen
class BookSnapshot:
    """An order-book snapshot: ``bids``/``asks`` as (price, size) pairs, best first."""

    symbol: str
    time: datetime = attrs.field(converter=lambda v: require_utc(v, "time"))
    bids: tuple[tuple[Decimal, Decimal], ...]
    asks: tuple[tuple[Decimal, Decimal], ...]


@attrs.frozen
class EtfFlow:
    """Daily ETF flows in USD for an asset (BTC, ETH): ``net_flow`` = ``total_flow_in`` -
    ``total_flow_out`` (the gross flows None when the source gives only the net)."""

    symbol: str
    date: date
    net_flow: float
    price_usd: float | None = None
    total_flow_in: float | None = None
    total_flow_out: float | None = None


@attrs.frozen
class FearGreed:
    """The fear & greed index (0-100) at ``time``."""

    time: datetime = attrs.field(converter=lambda v: require_utc(v, "time"))
    value: float
    classification: str = ""


@attrs.frozen
class Liquidation:
    """Aggregated liquidations (USD) of longs and shorts in the interval starting at ``time``;
    ``total_liquidation`` is their sum."""

    symbol: str
    time: datetime = attrs.field(converter=lambda v: require_utc(v, "time"))
    long_liquidation: float
    short_liquidation: float
    total_liquidation: float = attrs.field()

    @total_liquidation.default
    def _total(self) -> float:
        return self.long_liquidation + self.short_liquidation

    def __attrs_post_init__(self) -> None:
        if self.total_liquidation != self.long_liquidation + self.short_liquidation:
            raise InvalidInput(
                "total_liquidation",
                f"{self.total_liquidation} is not long {self.long_liquidation} + short "
                f"{self.short_liquidation}",
            )
