"""kill -9 inside a candle write, then any rerun: never a hole, never a wrong cell.

Each trial starts `qwentrade backfill` as a subprocess, waits until its series write is
under way (SQLite: the write-ahead log grows; PostgreSQL: a COPY, DELETE or INSERT of the
process is active), lets a random 0-40 ms more pass, and kills it with SIGKILL. Then a
rerun with other --days (sometimes shorter, sometimes longer), and `qwentrade verify`
must find every stored series whole: no gap, no duplicate, indicators equal to a
recompute. `make test` runs a few trials per database; `make soak` runs
SOAK_KILL_TRIALS (default 40) each and prints the counts.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa

from qwentrade.adapters.sql import make_engine

TRIALS = int(os.environ.get("SOAK_KILL_TRIALS", "3"))
SYMBOL = "BTC-USDT-SWAP"


def cli(*args: str, env: dict[str, str], wait: bool = True):
    command = [sys.executable, "-m", "qwentrade.app.cli", *args]
    if not wait:
        return subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)


def environment(url: str, workdir: Path) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("QWENTRADE_")}
    return {
        **clean,
        "QWENTRADE_DATABASE_URL": url,
        "QWENTRADE_LOG_FILE": str(workdir / "qwentrade.log"),
        "QWENTRADE_SYMBOLS": SYMBOL,
    }


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request, tmp_path):
    """(url, a factory of "is a write under way?" probes, one per run)."""
    if request.param == "sqlite":
        path = tmp_path / "kill.db"
        wal = Path(f"{path}-wal")

        def probe():
            # a write changes the write-ahead log; reads never do (the log is reused from
            # its start after a checkpoint, so its size alone says nothing)
            def stamp():
                return (wal.stat().st_mtime_ns, wal.stat().st_size) if wal.exists() else None

            before = stamp()
            return lambda: stamp() not in (None, before)

        return f"sqlite:///{path}", probe
    postgres_url = request.getfixturevalue("postgres_url")
    name = f"qt_kill_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = make_engine(postgres_url).execution_options(isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    url = str(sa.make_url(postgres_url).set(database=name).render_as_string(hide_password=False))
    watcher = make_engine(postgres_url)

    def writing() -> bool:
        with watcher.connect() as connection:
            return bool(
                connection.execute(
                    sa.text(
                        "SELECT count(*) FROM pg_stat_activity WHERE datname = :name "
                        "AND state = 'active' AND (query ILIKE 'COPY%' OR query ILIKE "
                        "'DELETE%' OR query ILIKE 'INSERT%')"
                    ),
                    {"name": name},
                ).scalar()
            )

    def drop():
        watcher.dispose()
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()

    request.addfinalizer(drop)
    return url, lambda: writing


def forget_some(url: str, rng: random.Random) -> bool:
    """Give the next run something to write: drop the whole 15m series (True), or its
    candles after a random recent point (False: the run then extends the stored tail). Dropping
    older candles instead would leave stored indicators computed from a history no
    longer stored, which `verify` rightly calls wrong."""
    engine = make_engine(url)
    try:
        with engine.begin() as connection:
            first = connection.execute(sa.text("SELECT min(time) FROM klines_15m")).scalar()
            if first is None or rng.random() < 0.4:
                connection.execute(sa.text("DELETE FROM klines_15m"))
                return True
            cut = connection.execute(
                # within the newest 5,000 candles (52 days): inside any run's window
                sa.text("SELECT time FROM klines_15m ORDER BY time DESC LIMIT 1 OFFSET :n"),
                {"n": rng.randrange(1, 5_000)},
            ).scalar()
            if cut is not None:
                connection.execute(sa.text("DELETE FROM klines_15m WHERE time >= :t"), {"t": cut})
            return False
    finally:
        engine.dispose()


def kill_inside_a_write(args: list[str], env, probe) -> bool:
    """Start a backfill and SIGKILL it inside a write; True if it was (False: it ended
    before a write was seen, which only a very short run does)."""
    writing = probe()
    process = cli(*args, env=env, wait=False)
    deadline = time.monotonic() + 120
    while process.poll() is None and time.monotonic() < deadline:
        if writing():
            time.sleep(random.uniform(0.0, 0.04))
            process.send_signal(signal.SIGKILL)
            process.wait(30)
            return process.returncode == -signal.SIGKILL
        time.sleep(0.002)
    process.wait(30)
    return False


def test_a_kill_inside_a_write_then_any_rerun_leaves_no_hole(database, tmp_path):
    url, probe = database
    env = environment(url, tmp_path)
    assert cli("db", "upgrade", env=env).returncode == 0
    # SOAK_SEED replays a run: every failure message names the seed
    seed = int(os.environ.get("SOAK_SEED") or int.from_bytes(os.urandom(4), "little"))
    rng = random.Random(seed)
    killed = 0
    for trial in range(TRIALS):
        days = rng.choice([120, 240, 400])
        args = ["backfill", "-q", "--days", str(days), "--timeframe", "15m"]
        emptied = forget_some(url, rng)
        killed += kill_inside_a_write(args, env, probe)
        whole = cli("verify", "-q", env=env)
        assert whole.returncode == 0, f"seed {seed}, trial {trial}: after the kill\n{whole.stdout}"
        # after a cut tail, a rerun shorter than the cut would rightly leave the span
        # between the stored part and its window empty: such reruns only follow an emptying
        rerun_days = str(rng.choice([3, days // 2, days + 20] if emptied else [days, days + 20]))
        rerun = cli("backfill", "-q", "--days", rerun_days, "--timeframe", "15m", env=env)
        assert rerun.returncode == 0, rerun.stderr
        whole = cli("verify", "-q", env=env)
        assert whole.returncode == 0, f"seed {seed}, trial {trial}: after the rerun\n{whole.stdout}"
        assert "WRONG" not in whole.stdout
    print(f"\n{killed} of {TRIALS} runs killed inside a write ({url.split(':')[0]})")
    assert killed >= max(1, TRIALS // 2)
