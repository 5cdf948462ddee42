"""Sweeps: grid and random points from a TOML file, every point equal to a single run with
its parameters, one frame sorted by the metric, on a process pool; walk-forward windows;
--cluster without Ray or Dask says what to install; bad files are refused up front."""

from __future__ import annotations

import pytest
from backtest_helpers import ETH, ETH_FILE

from qwentrade.app.backtest import data, run, sweep
from qwentrade.app.backtest.params import BacktestParams
from qwentrade.domain.errors import InvalidInput

GRID = """
metric = "total_return"
[params]
POLICY_SL_ATR_MULTIPLE = [1.0, 2.0]
DETECTOR_SIGNAL_THRESHOLD = [15, 20]
"""


@pytest.fixture(scope="module")
def small_market():
    return data.market(data.read_file(ETH_FILE).head(1500), ETH)


def test_a_grid_on_two_processes_equals_single_runs_sorted_by_the_metric(small_market, tmp_path):
    path = tmp_path / "grid.toml"
    path.write_text(GRID)
    spec = sweep.read_spec(path)
    assert len(spec.points) == 4
    frame = sweep.sweep(small_market, spec, workers=2)
    assert frame.height == 4
    returns = frame["total_return"].to_list()
    assert returns == sorted(returns, reverse=True)
    for row in frame.iter_rows(named=True):
        point = {k: row[k] for k in ("POLICY_SL_ATR_MULTIPLE", "DETECTOR_SIGNAL_THRESHOLD")}
        alone = run(small_market, BacktestParams.of(point)).stats
        assert (row["trades"], row["total_return"]) == (alone["trades"], alone["total_return"])


def test_random_search_and_walk_forward(small_market, tmp_path):
    path = tmp_path / "random.toml"
    path.write_text(
        'search = "random"\nsamples = 3\nseed = 7\nmetric = "sharpe"\n'
        "[params]\nPOLICY_TP_ATR_MULTIPLE = { min = 1.5, max = 4.0 }\n"
        "DETECTOR_SIGNAL_THRESHOLD = [15, 18]\n"
        "[walk_forward]\ntrain_days = 6\ntest_days = 3\n"
    )
    spec = sweep.read_spec(path)
    values = [p["POLICY_TP_ATR_MULTIPLE"] for p in spec.points]
    assert len(values) == 3 and all(1.5 <= v <= 4.0 for v in values)
    assert spec.points == sweep.read_spec(path).points  # the seed repeats the draw
    frame = sweep.walk_forward(small_market, spec, workers=1)
    assert frame.height >= 2  # 15.6 days: windows at day 0 and day 3 (and 6)
    assert {"train_sharpe", "test_sharpe", "test_trades"} <= set(frame.columns)


def test_bad_sweeps_and_a_missing_cluster_engine_are_clear(small_market, tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text("[params]\nPOLICY_NOPE = [1]\n")
    with pytest.raises(InvalidInput, match="POLICY_NOPE"):
        sweep.read_spec(path)
    path.write_text("[params]\nPOLICY_SL_ATR_MULTIPLE = [-1]\n")
    with pytest.raises(InvalidInput, match="POLICY_SL_ATR_MULTIPLE"):
        sweep.read_spec(path)
    path.write_text(GRID)
    spec = sweep.read_spec(path)
    try:
        import dask.distributed  # noqa: F401
    except ImportError:
        try:
            import ray  # noqa: F401
        except ImportError:
            with pytest.raises(InvalidInput, match="pip install"):
                sweep.sweep(small_market, spec, cluster="tcp://127.0.0.1:1")
