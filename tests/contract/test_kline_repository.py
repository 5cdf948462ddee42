"""KlineRepository contract: memory, SQLite and PostgreSQL behave the same."""

from __future__ import annotations

import itertools
import threading
import uuid
from datetime import datetime, timedelta

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal
from storage_samples import BTC, ETH, T0, klines

from qwentrade.domain.errors import InvalidInput
from qwentrade.domain.market import Timeframe
from qwentrade.domain.series import kline_columns, normalize_klines
from qwentrade.domain.stats import SeriesStats

M15 = Timeframe.M15
STEP = M15.duration


def stored(repos, symbol=BTC, timeframe=M15) -> pl.DataFrame:
    return repos.klines.range(symbol, timeframe)


def test_upsert_then_range_reads_back_every_column(repos):
    frame = klines(count=20)
    assert repos.klines.upsert(M15, frame) == 20
    back = stored(repos)
    assert back.columns == list(kline_columns(M15))
    assert_frame_equal(back, normalize_klines(M15, frame), check_exact=True)


def test_upserting_the_same_batch_twice_leaves_the_same_rows(repos):
    frame = klines(count=30)
    repos.klines.upsert(M15, frame)
    first = stored(repos)
    repos.klines.upsert(M15, frame)
    assert_frame_equal(stored(repos), first, check_exact=True)
    assert repos.klines.stats(M15) == [SeriesStats(BTC, 30, T0, T0 + 29 * STEP)]


def test_a_later_write_of_a_key_wins_and_others_are_untouched(repos):
    repos.klines.upsert(M15, klines(count=10))
    changed = klines(start=T0 + 3 * STEP, count=2).with_columns(
        pl.col("close") + 1000, pl.lit(None, pl.Float64).alias("ema_9")
    )
    repos.klines.upsert(M15, changed)
    back = stored(repos)
    assert back.height == 10
    assert back["close"].to_list()[3:5] == [1100.0, 1101.0]
    assert back["ema_9"].to_list()[3:5] == [None, None]
    assert back["close"].to_list()[:3] == [100.0, 101.0, 102.0]
    assert back["close"].to_list()[5] == 105.0


def test_within_one_batch_the_last_row_of_a_key_wins(repos):
    frame = pl.concat([klines(count=3), klines(count=1, base=500.0)])
    assert repos.klines.upsert(M15, frame) == 3
    assert stored(repos)["close"].to_list() == [500.0, 101.0, 102.0]


def test_symbol_can_come_from_the_argument(repos):
    repos.klines.upsert(M15, klines(symbol=None, count=4), symbol=ETH)
    assert stored(repos, ETH).height == 4
    assert stored(repos, BTC).is_empty()


def test_missing_indicator_columns_are_stored_as_null(repos):
    frame = klines(count=3).select("symbol", "time", "open", "high", "low", "close", "volume")
    repos.klines.upsert(M15, frame)
    back = stored(repos)
    assert back["rsi_7"].null_count() == 3
    assert back["close"].to_list() == [100.0, 101.0, 102.0]


def test_nan_indicators_are_stored_as_null(repos):
    frame = klines(count=3).with_columns(pl.lit(float("nan")).alias("adx_14"))
    repos.klines.upsert(M15, frame)
    assert stored(repos)["adx_14"].null_count() == 3


def test_range_is_half_open_and_pages(repos):
    repos.klines.upsert(M15, klines(count=10))
    window = repos.klines.range(BTC, M15, T0 + 2 * STEP, T0 + 6 * STEP)
    assert window["time"].to_list() == [T0 + i * STEP for i in range(2, 6)]
    page = repos.klines.range(BTC, M15, T0, None, limit=3, offset=4)
    assert page["time"].to_list() == [T0 + i * STEP for i in (4, 5, 6)]
    newest = repos.klines.range(BTC, M15, limit=2, newest_first=True)
    assert newest["time"].to_list() == [T0 + 9 * STEP, T0 + 8 * STEP]
    assert repos.klines.range(BTC, M15, T0 + 20 * STEP).is_empty()


def test_empty_results_keep_the_schema(repos):
    empty = repos.klines.range("NONE-USDT-SWAP", Timeframe.H4)
    assert empty.is_empty()
    assert empty.columns == list(kline_columns(Timeframe.H4))
    assert empty.schema["time"] == pl.Datetime("us", "UTC")


def test_latest_and_latest_time(repos):
    assert repos.klines.latest_time(BTC, M15) is None
    assert repos.klines.latest(BTC, M15).is_empty()
    repos.klines.upsert(M15, klines(count=5))
    assert repos.klines.latest_time(BTC, M15) == T0 + 4 * STEP
    last_two = repos.klines.latest(BTC, M15, count=2)
    assert last_two["time"].to_list() == [T0 + 3 * STEP, T0 + 4 * STEP]


def test_first_time_is_the_oldest_stored_open_of_the_series(repos):
    assert repos.klines.first_time(BTC, M15) is None
    repos.klines.upsert(M15, klines(count=5).slice(2))
    repos.klines.upsert(M15, klines("ETH-USDT-SWAP", count=5))  # another series
    assert repos.klines.first_time(BTC, M15) == T0 + 2 * STEP


def test_a_run_repairs_holes_before_its_window_too(repos):
    """The old end of a window stored (a run killed after its first pages), then a run
    over a shorter window: the hole between the two is fetched as well."""
    from qwentrade.app.gaps import missing_to_repair

    stored = klines(count=12).filter(~pl.int_range(pl.len()).is_in([4, 5, 6, 7, 8, 9, 10, 11]))
    repos.klines.upsert(M15, stored)
    now = T0 + 12 * STEP
    window_days = 3 * STEP / timedelta(days=1)  # the last 3 closes
    missing = missing_to_repair(repos.klines, BTC, M15, now, window_days)
    assert missing == [T0 + i * STEP for i in range(4, 12)]


def test_missing_closes_lists_the_gaps_between_two_times(repos):
    frame = klines(count=12).filter(~pl.int_range(pl.len()).is_in([0, 4, 5, 11]))
    repos.klines.upsert(M15, frame)
    missing = repos.klines.missing_closes(BTC, M15, T0 - STEP, T0 + 13 * STEP)
    expected = [T0 - STEP, T0, T0 + 4 * STEP, T0 + 5 * STEP, T0 + 11 * STEP, T0 + 12 * STEP]
    assert missing == expected
    assert repos.klines.missing_closes(BTC, M15, T0 + STEP, T0 + 4 * STEP) == []
    unaligned_start = T0 + timedelta(minutes=7)  # first candle inside is T0 + 15m
    assert repos.klines.missing_closes(ETH, M15, unaligned_start, T0 + 2 * STEP) == [T0 + STEP]


def test_timeframes_are_separate_tables_with_their_own_rsi(repos):
    h4 = Timeframe.H4
    repos.klines.upsert(h4, klines(count=3, timeframe=h4))
    repos.klines.upsert(Timeframe.D1, klines(count=2, timeframe=Timeframe.D1))
    assert stored(repos, BTC, h4)["rsi_14"].to_list()[2] is not None
    assert stored(repos, BTC, Timeframe.D1).height == 2
    assert stored(repos, BTC, M15).is_empty()
    with pytest.raises(InvalidInput) as info:
        repos.klines.upsert(h4, klines(count=3, timeframe=h4).rename({"rsi_14": "rsi_7"}))
    assert info.value.field == "rsi_7"
    with pytest.raises(InvalidInput) as info:
        repos.klines.range(BTC, Timeframe.H1)
    assert info.value.field == "timeframe"


def test_stats_per_symbol(repos):
    repos.klines.upsert(M15, klines(BTC, count=3))
    repos.klines.upsert(M15, klines(ETH, start=T0 + STEP, count=2))
    assert repos.klines.stats(M15) == [
        SeriesStats(BTC, 3, T0, T0 + 2 * STEP),
        SeriesStats(ETH, 2, T0 + STEP, T0 + 2 * STEP),
    ]


def test_other_time_zones_are_stored_as_the_same_instant(repos):
    frame = klines(count=2).with_columns(pl.col("time").dt.convert_time_zone("Asia/Shanghai"))
    repos.klines.upsert(M15, frame)
    assert stored(repos)["time"].to_list() == [T0, T0 + STEP]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda f: f.with_columns(pl.col("time").dt.replace_time_zone(None)), "time"),
        (lambda f: f.with_columns(pl.col("time") + pl.duration(minutes=1)), "time"),
        (lambda f: f.with_columns(pl.lit(1.0).alias("rsi_99")), "rsi_99"),
        (lambda f: f.drop("close"), "close"),
        (
            lambda f: f.with_columns(
                pl.when(pl.int_range(pl.len()) == 3)
                .then(None)
                .otherwise(pl.col("low"))
                .alias("low")
            ),
            "low",
        ),
        (lambda f: f.with_columns(pl.col("high") - 5), "high"),
        (lambda f: f.with_columns(pl.lit("x").alias("ema_9")), "ema_9"),
    ],
    ids=["naive", "unaligned", "unknown-column", "no-close", "null-low", "high-below-low", "text"],
)
def test_a_bad_row_is_refused_and_nothing_is_written(repos, change, field):
    with pytest.raises(InvalidInput) as info:
        repos.klines.upsert(M15, change(klines(count=5)))
    assert info.value.field == field
    assert stored(repos).is_empty()


def test_naive_query_times_are_refused(repos):
    naive = datetime(2024, 1, 1)
    with pytest.raises(InvalidInput) as info:
        repos.klines.range(BTC, M15, start=naive)
    assert info.value.field == "start"
    with pytest.raises(InvalidInput) as info:
        repos.klines.missing_closes(BTC, M15, T0, naive)
    assert info.value.field == "end"


def test_a_frame_symbol_must_match_the_argument(repos):
    with pytest.raises(InvalidInput) as info:
        repos.klines.upsert(M15, klines(BTC, count=2), symbol=ETH)
    assert info.value.field == "symbol"
    with pytest.raises(InvalidInput):
        repos.klines.upsert(M15, klines(symbol=None, count=2))


def test_two_threads_writing_at_once_lose_nothing(repos):
    errors: list[BaseException] = []

    def write(symbol: str) -> None:
        try:
            for batch in range(20):  # overlapping batches: every second one rewrites rows
                start = T0 + batch * 5 * STEP
                repos.klines.upsert(M15, klines(symbol, start=start, count=10, base=100.0 + batch))
        except BaseException as e:  # surfaced below
            errors.append(e)

    threads = [threading.Thread(target=write, args=(s,)) for s in (BTC, ETH, BTC)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors
    stats = repos.klines.stats(M15)
    assert [(s.symbol, s.rows) for s in stats] == [(BTC, 105), (ETH, 105)]
    assert repos.klines.missing_closes(BTC, M15, T0, T0 + 105 * STEP) == []


# -- property: any batch of valid rows, written in any split and order, reads back identical


@st.composite
def batches(draw):
    slots = draw(st.lists(st.integers(0, 400), min_size=1, max_size=40, unique=True))
    finite = st.floats(0, 1e9, allow_nan=False, allow_infinity=False)
    indicator = st.one_of(st.none(), st.floats(-1e12, 1e12, allow_nan=False, allow_infinity=False))
    rows = []
    for slot in slots:
        low, spread, o, c, v = (draw(finite) for _ in range(5))
        row = {"time": T0 + slot * STEP, "low": low, "high": low + spread}
        row.update(open=o, close=c, volume=v)
        row.update({name: draw(indicator) for name in kline_columns(M15)[7:]})
        rows.append(row)
    order = draw(st.permutations(range(len(rows))))
    cuts = sorted(draw(st.lists(st.integers(0, len(rows)), max_size=4)))
    return rows, order, cuts


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(batch=batches())
def test_any_split_and_order_reads_back_identical(repos, batch):
    rows, order, cuts = batch
    symbol = f"P{uuid.uuid4().hex[:10].upper()}-USDT-SWAP"  # a fresh series per example
    shuffled = [rows[i] for i in order]
    schema = {"time": pl.Datetime("us", "UTC"), **dict.fromkeys(kline_columns(M15)[2:], pl.Float64)}
    bounds = [0, *cuts, len(shuffled)]
    for lo, hi in itertools.pairwise(bounds):
        if hi > lo:
            part = pl.DataFrame(shuffled[lo:hi], schema=schema)
            repos.klines.upsert(M15, part, symbol=symbol)
    expected = normalize_klines(M15, pl.DataFrame(rows, schema=schema), symbol)
    assert_frame_equal(repos.klines.range(symbol, M15), expected, check_exact=True)
