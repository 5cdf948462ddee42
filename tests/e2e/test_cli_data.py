"""The data commands of the `qwentrade` CLI, run as a user runs them, on a SQLite file."""

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time

import pytest


@pytest.fixture
def cli(tmp_path):
    def run(*args, **env):
        result = subprocess.run(
            [sys.executable, "-m", "qwentrade.app.cli", *args],
            cwd=tmp_path,
            env={"PATH": "/usr/bin:/bin", "QWENTRADE_LOG_FILE": "", **env},
            capture_output=True,
            text=True,
            timeout=120,
        )
        return result

    return run


def test_db_upgrade_creates_the_schema_and_is_idempotent(cli, tmp_path):
    first = cli("db", "upgrade")
    assert first.returncode == 0, first.stderr
    assert "empty ->" in first.stdout
    tables = {
        row[0]
        for row in sqlite3.connect(tmp_path / "qwentrade.db").execute(
            "select name from sqlite_master where type='table'"
        )
    }
    for table in ("klines_15m", "klines_4h", "klines_1d", "market_signal", "order_intent"):
        assert table in tables
    again = cli("db", "upgrade")
    assert again.returncode == 0 and "empty" not in again.stdout


def test_a_database_newer_than_the_code_is_refused_clearly(cli, tmp_path):
    assert cli("db", "upgrade").returncode == 0
    with sqlite3.connect(tmp_path / "qwentrade.db") as db:
        db.execute("update alembic_version set version_num = 'fffffff'")
    result = cli("db", "upgrade")
    assert result.returncode == 1
    assert "newer than this qwentrade" in result.stderr and "Traceback" not in result.stderr


def test_config_set_checks_values_and_keeps_the_old_one(cli):
    assert cli("config", "set", "KLINE_15M_START_DAYS", "5").returncode == 0
    bad = cli("config", "set", "KLINE_15M_START_DAYS", "lots")
    assert bad.returncode == 1 and "KLINE_15M_START_DAYS" in bad.stderr
    assert "Traceback" not in bad.stderr and len(bad.stderr.splitlines()) == 1
    assert cli("config", "get", "kline.15m_start_days").stdout.strip() == "5"
    listing = cli("config", "list").stdout
    assert "KLINE_15M_START_DAYS" in listing and "description" in listing
    row = next(line for line in listing.splitlines() if line.startswith("KLINE_15M_START_DAYS"))
    assert "whole number 1..3650" in row  # the allowed range of each key
    assert cli("config", "reset", "KLINE_15M_START_DAYS").returncode == 0
    assert cli("config", "get", "KLINE_15M_START_DAYS").stdout.strip() == "30"
    secret = cli("config", "set", "okx.secret", "x")
    assert secret.returncode == 1
    huge = cli("config", "set", "DETECTOR_SIGNAL_THRESHOLD", "7" * 100_000 + "q")
    assert huge.returncode == 1 and len(huge.stderr) < 300
    contradictory = cli("config", "set", "DETECTOR_RSI_SHORT_MIN", "90")
    assert contradictory.returncode == 1 and "DETECTOR_RSI_LONG_MAX" in contradictory.stderr
    assert cli("config", "get", "DETECTOR_RSI_SHORT_MIN").stdout.strip() == "20.0"


def test_backfill_then_detect_on_the_simulated_market(cli):
    result = cli("backfill", "--days", "12", "--symbol", "BTC-USDT-SWAP", "--quiet")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["symbol", "tf", "fetched", "written", "missing", "first", "last"]
    rows = {(r.split()[0], r.split()[1]): r.split() for r in lines[2:]}
    assert int(rows[("BTC-USDT-SWAP", "15m")][2]) == 12 * 96 - 1
    assert int(rows[("BTC-USDT-SWAP", "4h")][2]) >= 71
    again = cli("sync", "--once", "--symbol", "BTC-USDT-SWAP", "--quiet")
    assert again.returncode == 0
    assert all(r.split()[3] == "0" for r in again.stdout.splitlines()[2:])

    detected = cli("detect", "--symbol", "BTC-USDT-SWAP", "--json", "--dry-run")
    assert detected.returncode == 0, detected.stderr
    [details] = json.loads(detected.stdout)
    assert details["symbol"] == "BTC-USDT-SWAP" and details["threshold"] == 15
    # a config change is seen by the next detection (a running service reads it the same way)
    assert cli("config", "set", "detector.signal_threshold", "27").returncode == 0
    again = cli("detect", "--symbol", "BTC-USDT-SWAP", "--json", "--dry-run")
    assert json.loads(again.stdout)[0]["threshold"] == 27
    assert details["score"] == sum(details["parts"].values())
    assert 0 <= details["score"] <= 30


def test_unconfigured_symbol_is_a_clear_error(cli):
    unknown = cli("detect", "--symbol", "DOGE-USDT-SWAP")
    assert unknown.returncode == 1 and "QWENTRADE_SYMBOLS" in unknown.stderr
    # paper and live mode: tests/e2e/test_cli_modes.py


def test_verify_finds_a_wrong_cell_and_a_hole_and_repair_fixes_both(cli, tmp_path):
    assert cli("backfill", "-q", "--days", "5", "--symbol", "BTC-USDT-SWAP").returncode == 0
    assert cli("verify", "-q").returncode == 0
    with sqlite3.connect(tmp_path / "qwentrade.db") as db:
        times = [row[0] for row in db.execute("select time from klines_15m order by time")]
        db.execute("update klines_15m set rsi_7 = 99 where time = ?", (times[200],))
        db.execute("delete from klines_15m where time between ? and ?", (times[300], times[309]))
    found = cli("verify", "-q", "--timeframe", "15m")
    assert found.returncode == 1 and "WRONG" in found.stdout
    row = found.stdout.splitlines()[2].split()
    assert row[:4] == ["BTC-USDT-SWAP", "15m", str(len(times) - 10), "10"]  # rows, gaps
    repaired = cli("verify", "-q", "--repair")
    assert repaired.returncode == 0, repaired.stdout
    assert "WRONG" not in repaired.stdout
    fetched = re.search(r"fetched (\d+)", repaired.stdout.splitlines()[2])
    assert int(fetched.group(1)) >= 10  # the hole (and any close since the backfill)
    assert cli("verify", "-q").returncode == 0


def test_sync_once_runs_each_kinds_jobs_and_explains_misuse(cli, tmp_path):
    once = cli("sync", "--once", "--kind", "all", "--symbol", "BTC-USDT-SWAP")
    assert once.returncode == 0, once.stderr
    lines = once.stdout.splitlines()
    assert lines[0].split()[:3] == ["job", "state", "rows"]
    jobs = {line.split()[0]: line.split() for line in lines[2:]}
    assert jobs["klines_15m:BTC-USDT-SWAP"][1] == "OK"
    assert int(jobs["klines_15m:BTC-USDT-SWAP"][2]) >= 30 * 96 - 1  # KLINE_15M_START_DAYS
    assert "klines_15m:ETH-USDT-SWAP" not in jobs  # narrowed to the symbol asked for
    assert jobs["funding_rate:BTC-USDT-SWAP"][1] == "OK"  # the simulated exchange has it
    assert jobs["order_history"][1] == "OK" and jobs["etf_flow:BTC"][1] == "DISABLED"
    assert "offline" in " ".join(jobs["fear_greed"])  # sim has no CoinGlass: disabled, why
    assert cli("verify", "-q").returncode == 0
    misuse = cli("sync", "--kind", "klines_4h")
    assert misuse.returncode == 1 and "--once" in misuse.stderr
    unknown = cli("sync", "--once", "--kind", "klines_5m")
    assert unknown.returncode == 1 and "klines_5m" in unknown.stderr
    assert "Traceback" not in misuse.stderr + unknown.stderr
    assert "until Ctrl-C" in cli("sync", "--help").stdout


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_sync_runs_in_the_foreground_until_a_signal_then_exits_cleanly(tmp_path, signum):
    process = subprocess.Popen(
        [sys.executable, "-m", "qwentrade.app.cli", "sync"],
        cwd=tmp_path,
        env={
            "PATH": "/usr/bin:/bin",
            "QWENTRADE_LOG_FILE": "",
            "QWENTRADE_SYMBOLS": "BTC-USDT-SWAP",
            "PYTHONUNBUFFERED": "1",
        },
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert "jobs for BTC-USDT-SWAP" in process.stdout.readline()
        database = tmp_path / "qwentrade.db"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # the start-up run fills the candle series
            with sqlite3.connect(database) as db:
                if db.execute("select count(*) from klines_1d").fetchone()[0] >= 599:
                    break
            time.sleep(0.05)
        process.send_signal(signum)
        code = process.wait(timeout=10)
        output = process.stdout.read()
    finally:
        if process.poll() is None:
            os.kill(process.pid, signal.SIGKILL)
    assert code == 0, process.stderr.read()
    assert "klines_1d:BTC-USDT-SWAP" in output and "stopped" in output.splitlines()[-1]
