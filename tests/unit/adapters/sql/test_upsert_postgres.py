"""The PostgreSQL candle upsert: delete-and-COPY, its staging fallback, sparse batches."""

from __future__ import annotations

import sys
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "contract"))
from storage_samples import BTC, ETH, T0, klines

from qwentrade.adapters.sql import pgcopy
from qwentrade.domain.market import Timeframe
from qwentrade.domain.series import normalize_klines

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.parametrize("repos", ["postgres"], indirect=True),  # tests/conftest.py
]
M15 = Timeframe.M15
STEP = M15.duration


def test_a_racing_writer_makes_the_batch_go_through_staging(repos, monkeypatch):
    repos.klines.upsert(M15, klines(count=6))
    # Simulate a writer that inserted the keys after our delete: nothing gets deleted, so the
    # COPY meets existing keys and must fall back to staging + ON CONFLICT DO UPDATE.
    monkeypatch.setattr(pgcopy, "_delete_keys", lambda *args: None)
    update = klines(start=T0 + 3 * STEP, count=6, base=500.0)
    assert repos.klines.upsert(M15, update) == 6
    back = repos.klines.range(BTC, M15)
    assert back["close"].to_list() == [100.0, 101.0, 102.0, *[500.0 + i for i in range(6)]]
    assert repos.klines.upsert(M15, update) == 6  # again, still through the fallback
    assert repos.klines.range(BTC, M15).height == 9


def test_sparse_batches_replace_exactly_their_own_keys(repos):
    repos.klines.upsert(M15, pl.concat([klines(BTC, count=20), klines(ETH, count=20)]))
    every_third = klines(BTC, count=20, base=900.0).filter(pl.int_range(pl.len()) % 3 == 0)
    repos.klines.upsert(M15, every_third)
    closes = repos.klines.range(BTC, M15)["close"].to_list()
    assert closes == [900.0 + i if i % 3 == 0 else 100.0 + i for i in range(20)]
    assert_frame_equal(repos.klines.range(ETH, M15), normalize_klines(M15, klines(ETH, count=20)))


def test_rows_with_many_null_patterns_are_encoded_row_by_row(repos, monkeypatch):
    monkeypatch.setattr(pgcopy, "MAX_LAYOUTS", 0)
    frame = klines(count=30).with_columns(
        *(
            pl.when(pl.int_range(pl.len()) % (bit + 2) == 0)
            .then(None)
            .otherwise(pl.col(name))
            .alias(name)
            for bit, name in enumerate(["ema_9", "rsi_7", "obv", "adx_14"])
        )
    )
    repos.klines.upsert(M15, frame)
    assert_frame_equal(repos.klines.range(BTC, M15), normalize_klines(M15, frame))
    repos.klines.upsert(M15, frame.with_columns(pl.col("close") + 1))
    assert repos.klines.range(BTC, M15)["close"].to_list() == [101.0 + i for i in range(30)]


def test_updates_take_the_fast_path_without_the_fallback(repos, monkeypatch):
    def no_fallback(*args):
        raise AssertionError("the delete-and-COPY path should not need the staging fallback")

    monkeypatch.setattr(pgcopy, "_staged_upsert", no_fallback)
    repos.klines.upsert(M15, klines(count=10))
    sparse = klines(count=10, base=700.0).filter(pl.int_range(pl.len()).is_in([0, 1, 5, 9]))
    repos.klines.upsert(M15, pl.concat([sparse, klines(start=T0 + 10 * STEP, count=3)]))
    closes = repos.klines.range(BTC, M15)["close"].to_list()
    assert closes[:2] == [700.0, 701.0] and closes[5] == 705.0 and closes[9] == 709.0
    assert len(closes) == 13
