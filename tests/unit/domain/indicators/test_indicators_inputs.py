"""What the indicators accept and refuse: frames, columns, periods, short histories."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import polars as pl
import pytest
from indicator_cases import (
    as_array,
    both_paths,  # noqa: F401 (autouse: each test on both paths)
    frame,
    shapes,
)

from qwentrade.domain.errors import InvalidInput
from qwentrade.domain.indicators import (
    INDICATOR_COLUMNS,
    IncrementalIndicators,
    IndicatorParams,
    compute,
    indicator_columns,
)
from qwentrade.domain.market import Timeframe

CANDLES = shapes(size=400)["random walk"]()


def with_value(column: str, row: int, value: float) -> pl.DataFrame:
    values = CANDLES[column].to_numpy().copy()
    values[row] = value
    return CANDLES.with_columns(pl.Series(column, values))


@pytest.mark.parametrize(
    ("candles", "field", "words"),
    [
        (CANDLES.drop("volume"), "volume", "missing column"),
        (CANDLES.drop("time"), "time", "missing column"),
        (with_value("close", 7, float("nan")), "close", "row 7"),
        (with_value("open", 9, float("inf")), "open", "row 9"),
        (with_value("volume", 3, -1.0), "volume", "row 3"),
        (with_value("low", 5, -0.5), "low", "row 5"),
        (with_value("high", 11, 0.0), "high", "below low"),
        (CANDLES.with_columns(pl.col("close").cast(pl.String)), "close", "numeric"),
        (pl.concat([CANDLES.head(5), CANDLES.slice(4)]), "time", "repeats at row 5"),
        (pl.concat([CANDLES.head(5), CANDLES.slice(3, 1)]), "time", "goes backwards at row 5"),
        (CANDLES.with_columns(pl.lit(None, pl.Float64).alias("close")), "close", "null"),
        (CANDLES.with_columns(pl.lit("x").alias("time")), "time", "Datetime"),
    ],
)
def test_bad_candles_are_refused_naming_the_column(
    candles: pl.DataFrame, field: str, words: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        compute(candles)
    assert caught.value.field == field
    assert words in str(caught.value)
    assert isinstance(caught.value, ValueError)


def test_not_a_frame_is_refused() -> None:
    with pytest.raises(InvalidInput, match="polars DataFrame"):
        compute(CANDLES.to_dicts())  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("rsi_period", 0),
        ("adx_period", -3),
        ("atr_period", 1.5),
        ("bb_period", True),
        ("ema_periods", (9, 0)),
        ("ema_periods", (9, 9)),
        ("ema_periods", 9),
        ("bb_stddev", 0.0),
        ("bb_stddev", float("nan")),
        ("macd_fast", 17),
    ],
)
def test_bad_periods_are_refused(field: str, value: object) -> None:
    with pytest.raises(InvalidInput) as caught:
        IndicatorParams(**{field: value})
    assert caught.value.field == field


def test_columns_follow_the_periods_and_the_stored_schema() -> None:
    assert INDICATOR_COLUMNS == indicator_columns() == IndicatorParams().columns
    assert INDICATOR_COLUMNS[:4] == ("ema_9", "ema_21", "ema_55", "rsi_7")
    params = IndicatorParams(
        ema_periods=(5,), rsi_period=3, atr_period=4, obv_ema_period=6, adx_period=8
    )
    assert params.columns == (
        "ema_5", "rsi_3", "macd_line", "signal_line", "histogram", "bb_upper", "bb_middle",
        "bb_lower", "bb_width", "atr_4", "obv", "obv_ema_6", "adx_8",
    )  # fmt: skip
    schema_15m = (
        "ema_9", "ema_21", "ema_55", "rsi_7", "macd_line", "signal_line", "histogram",
        "bb_upper", "bb_middle", "bb_lower", "bb_width", "atr_14", "obv", "obv_ema_9", "adx_14",
    )  # fmt: skip
    assert IndicatorParams.for_timeframe(Timeframe.M15).columns == schema_15m
    for timeframe in (Timeframe.H4, Timeframe.D1):
        expected = tuple("rsi_14" if name == "rsi_7" else name for name in schema_15m)
        assert IndicatorParams.for_timeframe(timeframe).columns == expected
    assert IndicatorParams.for_timeframe("15m").rsi_period == 7
    assert IndicatorParams.for_timeframe("4h").rsi_period == 14
    assert IndicatorParams.for_timeframe("1d").rsi_period == 14
    with pytest.raises(InvalidInput):
        IndicatorParams.for_timeframe("7m")


def test_columns_match_the_klines_tables() -> None:
    series = pytest.importorskip("qwentrade.domain.series")
    stored = getattr(series, "indicator_columns", None)
    if stored is None:
        pytest.skip("the klines column list is not in domain.series")
    for timeframe in (Timeframe.M15, Timeframe.H4, Timeframe.D1):
        assert IndicatorParams.for_timeframe(timeframe).columns == stored(timeframe)


def test_other_columns_are_kept_and_indicator_columns_replaced() -> None:
    tagged = CANDLES.with_columns(pl.lit("BTC-USDT-SWAP").alias("symbol"))
    once = compute(tagged)
    assert once.columns == [*tagged.columns, *INDICATOR_COLUMNS]
    again = compute(once.with_columns(pl.lit(-1.0).alias("rsi_7")))
    assert again.columns == once.columns
    assert again.equals(once)
    assert all(once[name].dtype == pl.Float64 for name in INDICATOR_COLUMNS)


def test_integer_times_and_volumes_are_accepted() -> None:
    times = (CANDLES["time"].dt.epoch("ms")).alias("time")
    integers = CANDLES.with_columns(times, pl.col("volume").round(0).cast(pl.Int64))
    rounded = CANDLES.with_columns(pl.col("volume").round(0))
    assert compute(integers).drop("time").equals(compute(rounded).drop("time"))


@pytest.mark.parametrize("rows", [0, 1, 2, 8, 9, 27, 28])
def test_short_histories_are_null_until_each_lookback(rows: int) -> None:
    result = compute(CANDLES.head(rows))
    assert result.height == rows
    for name, lookback in IndicatorParams().lookbacks.items():
        values = as_array(result[name])
        assert np.isnan(values[:lookback]).all(), name
        assert not np.isnan(values[lookback:]).any(), name


def test_lookbacks_are_talibs() -> None:
    assert IndicatorParams().lookbacks == {
        "ema_9": 8, "ema_21": 20, "ema_55": 54, "rsi_7": 7, "macd_line": 24,
        "signal_line": 24, "histogram": 24, "bb_upper": 19, "bb_middle": 19,
        "bb_lower": 19, "bb_width": 19, "atr_14": 14, "obv": 0, "obv_ema_9": 8,
        "adx_14": 27,
    }  # fmt: skip


def test_periods_of_one_are_the_plain_values() -> None:
    params = IndicatorParams(
        ema_periods=(1,), rsi_period=1, macd_fast=1, macd_slow=2, macd_signal=1,
        bb_period=1, atr_period=1, obv_ema_period=1, adx_period=1,
    )  # fmt: skip
    close = np.array([10.0, 11.0, 11.0, 9.0, 12.0])
    result = compute(frame(close), params)
    assert as_array(result["ema_1"]).tolist() == close.tolist()
    assert as_array(result["rsi_1"])[1:].tolist() == [100.0, 0.0, 0.0, 100.0]
    assert as_array(result["bb_width"]).tolist() == [0.0] * 5
    assert as_array(result["obv_ema_1"]).tolist() == as_array(result["obv"]).tolist()


def test_a_zero_price_gives_zero_width_not_a_division_by_zero() -> None:
    candles = frame(np.zeros(30), volume=np.zeros(30))
    result = compute(candles)
    assert as_array(result["bb_width"])[19:].tolist() == [0.0] * 11
    assert as_array(result["rsi_7"])[7:].tolist() == [0.0] * 23


def test_nothing_happens_to_the_input_frame() -> None:
    before = CANDLES.clone()
    compute(CANDLES)
    assert CANDLES.equals(before)


def test_incremental_refuses_bad_candles_and_keeps_its_state() -> None:
    rows = list(CANDLES.iter_rows(named=True))
    state = IncrementalIndicators()
    for row in rows[:50]:
        state.update(row)
    bad = [
        ({**rows[50], "close": float("nan")}, "close"),
        ({**rows[50], "volume": -2.0}, "volume"),
        ({**rows[50], "high": rows[50]["low"] - 1.0}, "high"),
        ({**rows[50], "time": rows[49]["time"]}, "time"),
        ({**rows[50], "time": rows[40]["time"]}, "time"),
        ({**rows[50], "time": 5}, "time"),
        ({**rows[50], "open": "cheap"}, "open"),
        ({key: value for key, value in rows[50].items() if key != "low"}, "low"),
    ]
    for candle, field in bad:
        with pytest.raises(InvalidInput) as caught:
            state.update(candle)
        assert caught.value.field == field
    untouched = IncrementalIndicators()
    for row in rows[:50]:
        untouched.update(row)
    assert state.update(rows[50]) == untouched.update(rows[50])
    assert state.count == 51 and state.last_time == rows[50]["time"]


def test_incremental_takes_candle_objects_and_mappings() -> None:
    from qwentrade.domain.market import Candle

    rows = list(CANDLES.iter_rows(named=True))
    by_mapping, by_object = IncrementalIndicators(), IncrementalIndicators()
    for row in rows[:80]:
        candle = Candle(
            "BTC-USDT-SWAP",
            **{key: row[key] for key in ("time", "open", "high", "low", "close", "volume")},
        )
        assert by_mapping.update(row) == by_object.update(candle)


def test_from_batch_needs_the_indicator_columns() -> None:
    with pytest.raises(InvalidInput) as caught:
        IncrementalIndicators.from_batch(CANDLES)
    assert caught.value.field == "ema_9"
    long = compute(shapes(size=1000)["random walk"]())
    gap = long.with_columns(
        pl.when(pl.int_range(pl.len()) == 999)
        .then(None)
        .otherwise(pl.col("adx_14"))
        .alias("adx_14")
    )
    with pytest.raises(InvalidInput) as caught:
        IncrementalIndicators.from_batch(gap)
    assert caught.value.field == "adx_14"
    # A young series' frame is its whole history: nulls are its lookbacks.
    young = IncrementalIndicators.from_batch(compute(CANDLES.head(20)))
    assert young.count == 20 and young.update(CANDLES.row(20, named=True))["adx_14"] is None
    with pytest.raises(InvalidInput, match="polars DataFrame"):
        IncrementalIndicators.from_batch(CANDLES.to_dicts())  # type: ignore[arg-type]


def test_from_batch_of_a_long_history_reads_only_its_tail() -> None:
    params = IndicatorParams()
    candles = shapes(size=3000)["flat stretches"]()
    rows = list(candles.iter_rows(named=True))
    computed = compute(candles.head(2500))
    state = IncrementalIndicators.from_batch(computed, params)
    assert state.count == params.warmup < 2500
    assert state.last_time == rows[2499]["time"]
    # The history before the tail is not even looked at.
    scrambled = pl.concat(
        [computed.head(2500 - params.warmup).reverse(), computed.tail(params.warmup)]
    )
    assert IncrementalIndicators.from_batch(scrambled, params).count == params.warmup
    full = compute(candles)
    resumed = [state.update(row) for row in rows[2500:]]
    for name in params.columns:
        expected = full[name].to_numpy()[2500:]
        got = np.array([row[name] for row in resumed])
        assert np.allclose(got, expected, rtol=1e-9, atol=1e-9 * abs(expected).max()), name


def test_state_size_does_not_grow_with_history() -> None:
    import sys

    rows = list(shapes(size=2000)["random walk"]().iter_rows(named=True))
    state = IncrementalIndicators()

    def footprint() -> int:
        total = sys.getsizeof(state)
        for slot in type(state).__slots__:
            value = getattr(state, slot)
            total += sys.getsizeof(value) + (
                sum(map(sys.getsizeof, value)) if isinstance(value, list) else 0
            )
        return total

    for row in rows[:100]:
        state.update(row)
    early = footprint()
    for row in rows[100:]:
        state.update(row)
    assert footprint() == early
    assert not hasattr(state, "__dict__")


def test_time_steps_need_not_be_regular() -> None:
    times = CANDLES["time"].to_list()
    gappy = CANDLES.with_columns(
        pl.Series("time", [t + timedelta(hours=i // 50) for i, t in enumerate(times)])
    )
    assert compute(gappy).drop("time").equals(compute(CANDLES).drop("time"))
