"""`qwentrade backtest` as a user runs it: on a candle file (both engines, the same
stats), with a report and a sweep, on candles stored by `qwentrade backfill` in sim mode,
and bad input as one clear line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ETH_FILE = (
    Path(__file__).parents[1]
    / "data"
    / "candles"
    / ("okx_ETH-USDT-SWAP_15m_2022-11-20_2022-12-20.csv")
)
KEYS = {"trades", "total_return", "max_drawdown", "sharpe", "win_rate"}


@pytest.fixture
def cli(tmp_path):
    def run(*args, **env):
        return subprocess.run(
            [sys.executable, "-m", "qwentrade.app.cli", "backtest", *args],
            cwd=tmp_path,
            env={"PATH": "/usr/bin:/bin", "QWENTRADE_LOG_FILE": "", **env},
            capture_output=True,
            text=True,
            timeout=300,
        )

    return run


def _stats(result) -> dict:
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_both_engines_on_a_file_agree_and_write_a_report(cli, tmp_path):
    report = tmp_path / "out" / "report.html"
    fast = _stats(cli("--data", str(ETH_FILE), "--json", "--report", str(report)))
    assert set(fast) >= KEYS and fast["trades"] > 50 and fast["engine"] == "fast"
    assert report.stat().st_size > 1_000_000  # plotly.js is embedded
    replay = _stats(cli("--data", str(ETH_FILE), "--engine", "replay", "--json"))
    assert {k: replay[k] for k in KEYS} == pytest.approx({k: fast[k] for k in KEYS}, abs=1e-9)
    later = _stats(cli("--data", str(ETH_FILE), "--start", "2022-12-10", "--json"))
    assert later["start"] >= "2022-12-10" and later["trades"] < fast["trades"]
    shown = cli("--data", str(ETH_FILE), "--param", "POLICY_SL_ATR_MULTIPLE=3")
    assert shown.returncode == 0 and "total_return" in shown.stdout


def test_a_sweep_prints_one_frame_sorted_by_its_metric(cli, tmp_path):
    spec = tmp_path / "sweep.toml"
    spec.write_text('metric = "win_rate"\n[params]\nPOLICY_TP_ATR_MULTIPLE = [2.0, 4.0]\n')
    result = cli("--data", str(ETH_FILE), "--sweep", str(spec), "--workers", "1", "--json")
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout.strip().splitlines()[-1])
    assert [r["POLICY_TP_ATR_MULTIPLE"] for r in rows] != [] and len(rows) == 2
    assert rows[0]["win_rate"] >= rows[1]["win_rate"]


def test_stored_candles_from_a_sim_backfill(tmp_path, cli):
    env = {"PATH": "/usr/bin:/bin", "QWENTRADE_LOG_FILE": "", "QWENTRADE_SYMBOLS": "ETH-USDT-SWAP"}
    filled = subprocess.run(
        [sys.executable, "-m", "qwentrade.app.cli", "backfill", "--days", "12", "-q"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert filled.returncode == 0, filled.stderr
    stats = _stats(cli("--symbol", "ETH-USDT-SWAP", "--json", QWENTRADE_SYMBOLS="ETH-USDT-SWAP"))
    assert stats["symbol"] == "ETH-USDT-SWAP" and stats["trades"] > 0


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (["--data", "missing.csv"], "data"),
        (["--data", str(ETH_FILE), "--param", "POLICY_LEVERAGE=0"], "POLICY_LEVERAGE"),
        (["--data", str(ETH_FILE), "--param", "NOPE=1"], "params"),
        (["--data", str(ETH_FILE), "--start", "yesterday"], "start"),
        (["--symbol", "BTC-USDT-SWAP"], "QWENTRADE_DATABASE_URL"),
    ],
)
def test_bad_input_is_one_clear_line(cli, args, field):
    result = cli(*args)
    assert result.returncode == 1
    assert field in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
