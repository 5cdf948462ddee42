"""Start-up: whole ``qwentrade`` processes against the floors measured in the same run.

Each command runs ``--repeat`` times as a subprocess of the installed ``qwentrade`` entry
point; the script prints the median wall time and its ratio to a reference:

- ``--help``, ``version``, ``settings``: against ``python -c pass``, the interpreter's own
  start-up (the floor no command can beat);
- a no-op ``backfill`` / ``sync`` rerun and ``config get KEY`` on a database already
  filled (sim mode, first run untimed): against a process that asks in raw SQL through the
  bare driver (sqlite3 / psycopg: count, min and max of every series a rerun looks at),
  the floor for "import the driver, connect, ask". ``config get`` on a database at head
  reads through that same bare driver (``adapters/sql/config_direct.py``).

SQLite is a file in a temporary folder; PostgreSQL is a database created for the run on
the server of ``--url`` and dropped afterwards.

    .venv/bin/python benchmarks/bench_startup.py [--repeat 9] [--skip-postgres]

Targets: --help, version, settings, config get <= 0.3 s; a no-op backfill or sync
<= 0.5 s (whole process).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from sqlalchemy.engine import make_url

QWENTRADE = str(Path(sys.executable).with_name("qwentrade"))
DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
SYMBOL = "BTC-USDT-SWAP"
SYMBOLS = ("BTC-USDT-SWAP", "ETH-USDT-SWAP", "SOL-USDT-SWAP")
TABLES = ("klines_15m", "klines_4h", "klines_1d")
QUICK_TARGET = 0.3
NOOP_TARGET = 0.5

# The raw question of a no-op rerun: count, first and last open time of each series.
RAW_SQLITE = """
import sqlite3, sys
connection = sqlite3.connect(sys.argv[1])
for table in {tables!r}:
    for symbol in {symbols!r}:
        connection.execute(
            f"SELECT count(*), min(time), max(time) FROM {{table}} WHERE symbol = ?", (symbol,)
        ).fetchone()
"""
RAW_POSTGRES = """
import psycopg, sys
with psycopg.connect(sys.argv[1]) as connection:
    for table in {tables!r}:
        for symbol in {symbols!r}:
            connection.execute(
                f"SELECT count(*), min(time), max(time) FROM {{table}} WHERE symbol = %s",
                (symbol,),
            ).fetchone()
"""


def timed(command: list[str], env: dict[str, str], cwd: Path, repeat: int) -> float:
    """Median wall time of ``command`` in seconds (one untimed warm-up run first)."""
    times = []
    for index in range(repeat + 1):
        start = time.perf_counter()
        result = subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True)
        elapsed = time.perf_counter() - start
        if result.returncode != 0:
            raise SystemExit(f"{' '.join(command)} failed:\n{result.stderr}")
        if index:
            times.append(elapsed)
    return statistics.median(times)


def run(command: list[str], env: dict[str, str], cwd: Path) -> str:
    result = subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{result.stderr}")
    return result.stdout


def line(name: str, seconds: float, reference: float, target: float | None = None) -> None:
    verdict = ""
    if target is not None:
        verdict = f"  {'meets' if seconds <= target else 'MISSES'} the {target:.1f} s target"
    print(f"  {name:<50} {seconds * 1000:7.0f} ms  {seconds / reference:5.1f}x{verdict}")


def bench_database(
    label: str, env: dict[str, str], cwd: Path, raw: list[str], repeat: int, days: str
) -> None:
    # Fill untimed: the history of one symbol, then two days of every symbol (sync's window).
    run([QWENTRADE, "backfill", "--days", days, "--symbol", SYMBOL, "-q"], env, cwd)
    run([QWENTRADE, "sync", "--once", "-q"], env, cwd)
    reference = timed(raw, env, cwd, repeat)
    print(f"{label}: a filled database ({days} days of {SYMBOL}, 2 days of the others)")
    print(f"  {'raw SQL count/min/max, bare driver':<50} {reference * 1000:7.0f} ms   1.0x")
    commands = {
        f"backfill --days {days} --symbol {SYMBOL} (no-op)": [
            QWENTRADE,
            "backfill",
            "--days",
            days,
            "--symbol",
            SYMBOL,
            "-q",
        ],
        "sync (no-op)": [QWENTRADE, "sync", "--once", "-q"],
        "config get KLINE_15M_START_DAYS": [QWENTRADE, "config", "get", "KLINE_15M_START_DAYS"],
    }
    for name, command in commands.items():
        target = QUICK_TARGET if "config" in name else NOOP_TARGET
        line(name, timed(command, env, cwd, repeat), reference, target)
    # The sim clock is the real one: a 15m close between two runs makes one run fetch it.
    print("  (a run that crossed a 15m close fetched one candle; medians absorb it)")


def create_database(url: str) -> tuple[str, str]:
    """A new database on the server of ``url``: (its SQLAlchemy URL, its psycopg URL)."""
    import psycopg

    base = make_url(url)
    name = f"qwentrade_bench_{uuid.uuid4().hex[:8]}"
    admin = base.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    target = base.set(database=name)
    return (
        target.render_as_string(hide_password=False),
        target.set(drivername="postgresql").render_as_string(hide_password=False),
    )


def drop_database(url: str) -> None:
    import psycopg

    base = make_url(url)
    name = base.database
    admin = base.set(drivername="postgresql", database="postgres")
    with psycopg.connect(admin.render_as_string(hide_password=False), autocommit=True) as c:
        c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=9, help="timed runs per command")
    parser.add_argument("--days", default="30", help="history of the filled symbol (days)")
    parser.add_argument(
        "--url",
        default=os.environ.get("QWENTRADE_BENCH_DATABASE_URL", DEFAULT_URL),
        help="a PostgreSQL server (a database is created on it and dropped)",
    )
    parser.add_argument("--skip-postgres", action="store_true")
    args = parser.parse_args()

    clean = {k: v for k, v in os.environ.items() if not k.startswith("QWENTRADE_")}
    env = {**clean, "QWENTRADE_LOG_FILE": ""}
    print(f"medians of {args.repeat} whole processes (after one warm-up each)")
    with tempfile.TemporaryDirectory() as folder:
        cwd = Path(folder)
        floor = timed([sys.executable, "-c", "pass"], env, cwd, args.repeat)
        print("without a database:")
        print(f"  {'python -c pass':<50} {floor * 1000:7.0f} ms   1.0x")
        for name in (["--help"], ["version"], ["settings"]):
            line(
                f"qwentrade {' '.join(name)}",
                timed([QWENTRADE, *name], env, cwd, args.repeat),
                floor,
                QUICK_TARGET,
            )

        sqlite_env = {**env, "QWENTRADE_DATABASE_URL": f"sqlite:///{cwd / 'bench.db'}"}
        script = RAW_SQLITE.format(tables=TABLES, symbols=SYMBOLS)
        raw = [sys.executable, "-c", script, str(cwd / "bench.db")]
        bench_database("SQLite", sqlite_env, cwd, raw, args.repeat, args.days)

        if not args.skip_postgres:
            url, plain = create_database(args.url)
            try:
                pg_env = {**env, "QWENTRADE_DATABASE_URL": url}
                script = RAW_POSTGRES.format(tables=TABLES, symbols=SYMBOLS)
                raw = [sys.executable, "-c", script, plain]
                bench_database("PostgreSQL", pg_env, cwd, raw, args.repeat, args.days)
            finally:
                drop_database(url)


if __name__ == "__main__":
    main()
