"""What each command imports: a command loads only the libraries its work needs.

Each case runs the real CLI in a fresh interpreter and reads ``sys.modules`` at the end,
so a module-level import that drags in the HTTP app, Alembic or polars shows up as a
failure here (behaviour, not timing: the figures are in benchmarks/bench_startup.py).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from qwentrade.adapters.sql.revision import HEAD_REVISION

HEAVY = ("litestar", "uvicorn", "alembic", "polars", "numpy", "dependency_injector", "talib")
# Runs main(argv), then prints the top-level packages imported, as JSON, on the last line.
PROBE = """
import json, sys
from qwentrade.app.cli import main
try:
    code = main(sys.argv[1:])
except SystemExit as e:  # --help
    code = e.code
sys.stdout.flush()
print()
print(json.dumps({"code": code, "modules": sorted({m.split(".")[0] for m in sys.modules})}))
"""


def cli(workdir: Path, *args: str, **env: str) -> tuple[int, str, set[str]]:
    """Run ``qwentrade *args`` in ``workdir``: exit status, output, packages imported."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("QWENTRADE_")}
    result = subprocess.run(
        [sys.executable, "-c", PROBE, *args],
        cwd=workdir,
        env={**clean, "QWENTRADE_LOG_FILE": "", **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    *output, last = result.stdout.rstrip("\n").split("\n")
    report = json.loads(last)
    return report["code"], "\n".join(output), set(report["modules"])


@pytest.mark.parametrize("args", [["--help"], ["version"], ["settings"], ["settings", "-v"]])
def test_commands_without_a_database_import_no_database_or_http_code(tmp_path, args):
    code, output, modules = cli(tmp_path, *args)
    assert code == 0 and output
    assert modules.isdisjoint({*HEAVY, "sqlalchemy", "psycopg", "tqdm"})
    assert not (tmp_path / "qwentrade.db").exists()


def test_config_get_on_a_database_at_head_imports_only_the_driver(tmp_path):
    cli(tmp_path, "db", "upgrade")
    code, output, modules = cli(tmp_path, "config", "get", "KLINE_15M_START_DAYS")
    assert (code, output.strip()) == (0, "30")
    assert "sqlite3" in modules  # read through the bare driver (config_direct.py)
    assert modules.isdisjoint({*HEAVY, "sqlalchemy", "psycopg"})


def test_config_set_imports_the_sql_adapter_only(tmp_path):
    cli(tmp_path, "db", "upgrade")
    code, output, modules = cli(tmp_path, "config", "set", "KLINE_15M_START_DAYS", "7")
    assert (code, output.strip()) == (0, "KLINE_15M_START_DAYS = 7")
    assert "sqlalchemy" in modules
    assert modules.isdisjoint(HEAVY)


def test_the_first_command_on_an_empty_database_migrates_it(tmp_path):
    code, output, modules = cli(tmp_path, "config", "get", "KLINE_15M_START_DAYS")
    assert (code, output.strip()) == (0, "30")
    assert "alembic" in modules  # the migration ran
    code, output, _ = cli(tmp_path, "db", "current")
    assert output.startswith(f"database schema revision: {HEAD_REVISION} ")


@pytest.mark.parametrize("command", ["backfill", "sync"])
def test_a_rerun_with_nothing_missing_imports_neither_exchange_nor_polars(tmp_path, command):
    args = [command, "--days", "2", "--symbol", "BTC-USDT-SWAP", "-q"]
    code, output, modules = cli(tmp_path, *args)
    assert code == 0
    assert "polars" in modules  # the first run fetched and stored candles
    for _ in range(3):
        # The sim clock is the real one: a 15m candle may close between two runs, and then
        # that rerun fetches it. The next rerun, seconds later, has nothing to fetch.
        code, output, modules = cli(tmp_path, *args)
        rows = [line.split() for line in output.splitlines()[2:]]
        if all(row[2:] == ["0", "0", "0"] for row in rows):
            break
    assert code == 0
    assert [row[:2] for row in rows] == [
        ["BTC-USDT-SWAP", "15m"],
        ["BTC-USDT-SWAP", "4h"],
        ["BTC-USDT-SWAP", "1d"],
    ]
    assert all(row[2:] == ["0", "0", "0"] for row in rows), output
    assert modules.isdisjoint(HEAVY)
