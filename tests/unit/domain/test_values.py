"""numbers, instruments and market values: the shared vocabulary of the domain."""

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from qwentrade.domain.errors import InvalidInput
from qwentrade.domain.instruments import DEFAULT_INSTRUMENTS, Instrument
from qwentrade.domain.market import Candle, Timeframe, TimeRange, from_ms, to_ms
from qwentrade.domain.numbers import is_multiple, round_to_lot, round_to_tick, to_decimal

BTC = DEFAULT_INSTRUMENTS["BTC-USDT-SWAP"]
T0 = datetime(2024, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("price", "tick", "mode", "expected"),
    [
        ("94123.456", "0.1", "nearest", "94123.5"),
        ("94123.449", "0.1", "nearest", "94123.4"),
        ("94123.45", "0.1", "down", "94123.4"),
        ("94123.41", "0.1", "up", "94123.5"),
        ("3.14159", "0.01", "nearest", "3.14"),
        ("12", "5", "nearest", "10"),
    ],
)
def test_round_to_tick_by_hand(price, tick, mode, expected):
    assert round_to_tick(Decimal(price), Decimal(tick), mode) == Decimal(expected)
    assert str(round_to_tick(Decimal(price), Decimal(tick), mode)) == expected


def test_sizes_round_down_never_buying_more_than_asked():
    assert round_to_lot(Decimal("1.239"), Decimal("0.01")) == Decimal("1.23")
    assert round_to_lot(Decimal("0.009"), Decimal("0.01")) == Decimal("0.00")


@given(
    value=st.decimals(min_value=0, max_value=10**7, places=6, allow_nan=False),
    step=st.sampled_from([Decimal("0.1"), Decimal("0.01"), Decimal("0.001"), Decimal("1")]),
)
def test_rounded_values_are_multiples_within_one_step(value, step):
    for mode in ("nearest", "down", "up"):
        rounded = round_to_tick(value, step, mode)
        assert is_multiple(rounded, step)
        assert abs(rounded - value) <= step
    assert round_to_lot(value, step) <= value


def test_to_decimal_keeps_float_text_and_rejects_junk():
    assert to_decimal(0.1, "price") == Decimal("0.1")
    assert to_decimal("5", "size") == Decimal(5)
    for bad in ("abc", float("nan"), float("inf"), True, None):
        with pytest.raises(InvalidInput) as caught:
            to_decimal(bad, "price")
        assert caught.value.field == "price"


def test_instrument_checks_sizes_and_leverage():
    assert BTC.check_size(Decimal("0.05")) == Decimal("0.05")
    with pytest.raises(InvalidInput, match="lot size"):
        BTC.check_size(Decimal("0.055"))
    with pytest.raises(InvalidInput, match="positive"):
        BTC.check_size(Decimal("0"))
    assert BTC.check_leverage(100) == 100
    with pytest.raises(InvalidInput, match=r"outside 1\.\.100"):
        BTC.check_leverage(101)
    with pytest.raises(InvalidInput, match="whole number"):
        BTC.check_leverage(2.5)  # type: ignore[arg-type]
    assert BTC.contracts_for(Decimal("0.0567")) == Decimal("5.67")
    assert BTC.base_ccy == "BTC"


def test_instrument_rejects_impossible_facts():
    with pytest.raises(InvalidInput, match="ct_val"):
        Instrument("X-USDT-SWAP", Decimal(0), Decimal("1"), Decimal("1"), Decimal("1"))
    with pytest.raises(InvalidInput, match="min_sz"):
        Instrument("X-USDT-SWAP", Decimal(1), Decimal("1"), Decimal("1"), Decimal("1.5"))


def test_timeframes_parse_and_align():
    assert Timeframe.parse("4h") is Timeframe.H4 and Timeframe.parse("15m") is Timeframe.M15
    assert Timeframe.parse("1d").table == "klines_1d"
    with pytest.raises(InvalidInput, match="timeframe"):
        Timeframe.parse("5m")
    when = datetime(2024, 3, 5, 7, 59, 59, tzinfo=UTC)
    assert Timeframe.H4.floor(when) == datetime(2024, 3, 5, 4, tzinfo=UTC)
    assert Timeframe.M15.last_closed_open(when) == datetime(2024, 3, 5, 7, 30, tzinfo=UTC)
    other_zone = datetime(2024, 3, 5, 7, 0, tzinfo=timezone(timedelta(hours=8)))
    assert Timeframe.D1.floor(other_zone) == datetime(2024, 3, 4, tzinfo=UTC)


def test_times_must_be_aware():
    with pytest.raises(InvalidInput, match="naive"):
        Candle("BTC-USDT-SWAP", datetime(2024, 1, 1), 1, 1, 1, 1, 0)
    with pytest.raises(InvalidInput, match="start"):
        TimeRange(datetime(2024, 1, 1), T0)
    assert from_ms(to_ms(T0)) == T0 and to_ms(T0) == 1704067200000


@pytest.mark.parametrize(
    ("field", "values"),
    [
        ("high", dict(open=10, high=9, low=9.5, close=10, volume=1)),
        ("volume", dict(open=10, high=11, low=9, close=10, volume=-1)),
        ("close", dict(open=10, high=11, low=9, close=float("nan"), volume=1)),
    ],
)
def test_bad_candles_name_the_field(field, values):
    with pytest.raises(InvalidInput) as caught:
        Candle("BTC-USDT-SWAP", T0, **values)
    assert caught.value.field == field
