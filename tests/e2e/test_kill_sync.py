"""kill -9 the sync engine at random moments of its backfill and live sync, then restart.

Each trial forks a process running the kline sync engine (three timeframes, two symbols,
detection on every 15m close) over the simulated market on an accelerated clock (two 15m
candles per real second; the clock goes on from trial to trial) and kills it with
SIGKILL: in three trials of ten at a random moment of its first 0.3 s (start-up
included), in the others 0-0.15 s after its first write was seen - inside the backfill,
a page write, a detection or the live sync (waiting for a write rather than a fixed time
keeps the trials meaningful on a loaded machine). Before about half the trials part of
the newest candles is forgotten, so the next start has a backfill to do. After every
kill each stored series must be whole: no gap between its first and last candle, no
duplicate, indicators equal to a recompute. At the end one more start completes every
window. The trials fork from a warm forkserver (tests/e2e/sync_child.py), so a trial
costs its run time, not an interpreter start. `make test` runs SOAK_SYNC_KILLS
(default 25) per database, SQLite and PostgreSQL; `make soak` runs 200 each (SOAK_SEED
replays a run: failures name the seed).
"""

from __future__ import annotations

import multiprocessing
import os
import random
import signal
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
import sync_child

from qwentrade.adapters.sim.clock import SteppedClock
from qwentrade.adapters.sql import make_engine, upgrade
from qwentrade.app.verify import SeriesVerifier
from qwentrade.domain.series import STORED_TIMEFRAMES, closed_span

TRIALS = int(os.environ.get("SOAK_SYNC_KILLS", "25"))
SYMBOLS = ("BTC-USDT-SWAP", "ETH-USDT-SWAP")
T0 = datetime(2025, 6, 1, 0, 0, 30, tzinfo=UTC)
WINDOWS = {"KLINE_15M_START_DAYS": 20, "KLINE_4H_START_DAYS": 60, "KLINE_1D_START_DAYS": 120}


@pytest.fixture(scope="module")
def forkserver():
    """A forkserver that has imported sync_child (and the main script) once."""
    context = multiprocessing.get_context("forkserver")
    # The server starts with this environment and ignores the parent's sys.path (3.11):
    # without tests/e2e on PYTHONPATH its preload fails silently and every trial would
    # import qwentrade again.
    here = str(Path(__file__).parent)
    previous = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (here, previous) if p)
    context.set_forkserver_preload(["__main__", "sync_child"])
    try:
        probe = context.Process(target=sync_child.preloaded)
        probe.start()  # starts the server (its preload takes a second, once)
        probe.join(60)
        assert probe.exitcode == 0, "the forkserver did not preload sync_child"
    finally:
        if previous is None:
            del os.environ["PYTHONPATH"]
        else:
            os.environ["PYTHONPATH"] = previous
    return context


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'kill.db'}"
    postgres_url = request.getfixturevalue("postgres_url")
    name = f"qt_sync_kill_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = make_engine(postgres_url).execution_options(isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')

    def drop():
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()

    request.addfinalizer(drop)
    return str(sa.make_url(postgres_url).set(database=name).render_as_string(hide_password=False))


def forget_some(engine: sa.Engine, rng: random.Random) -> str:
    """Give the next start a backfill: drop a symbol's 15m series, or its newest part
    (never an old part: the indicators after it were computed from that history)."""
    symbol = rng.choice(SYMBOLS)
    with engine.begin() as connection:
        if rng.random() < 0.3:
            connection.execute(sa.text("DELETE FROM klines_15m WHERE symbol = :s"), {"s": symbol})
            return "emptied"
        cut = connection.execute(
            sa.text(
                "SELECT time FROM klines_15m WHERE symbol = :s ORDER BY time DESC LIMIT 1 OFFSET :n"
            ),
            {"s": symbol, "n": rng.randrange(1, 1500)},
        ).scalar()
        if cut is not None:
            connection.execute(
                sa.text("DELETE FROM klines_15m WHERE symbol = :s AND time >= :t"),
                {"s": symbol, "t": cut},
            )
    return "cut"


def stored(engine: sa.Engine) -> tuple[int, ...]:
    """Rows per klines table and of system_status runs: what a trial changed."""
    with engine.connect() as connection:
        return tuple(
            connection.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one()
            for table in ("klines_15m", "klines_4h", "klines_1d", "market_signal")
        )


def whole(verifier: SeriesVerifier) -> list[str]:
    """What is wrong with any stored series (empty when every series is sound)."""
    problems = []
    for symbol, timeframe in verifier.series():
        check = verifier.check(symbol, timeframe)
        if not check.sound:
            problems.append(
                f"{symbol} {timeframe.label}: {check.gaps} gaps, {check.duplicates} "
                f"duplicates, {check.wrong_cells} wrong cells from {check.first_wrong}"
            )
    return problems


def test_kills_during_backfill_and_live_sync_leave_every_series_whole(url, forkserver):
    engine = make_engine(url)
    upgrade(engine)
    seed = int(os.environ.get("SOAK_SEED") or int.from_bytes(os.urandom(4), "little"))
    rng = random.Random(seed)
    origin = time.monotonic()

    def clock_time() -> datetime:
        return T0 + timedelta(seconds=(time.monotonic() - origin) * sync_child.SPEED)

    _engine, repos = sync_child.build(url, SYMBOLS, SteppedClock(clock_time()))
    for key, value in WINDOWS.items():
        repos.config.set(key, value)
    verifier = SeriesVerifier(repos.klines, None, SteppedClock(T0))  # type: ignore[arg-type]
    killed = forgotten = busy = 0
    for trial in range(TRIALS):
        if trial and rng.random() < 0.5:
            forget_some(engine, rng)
            forgotten += 1
        before = stored(engine)
        process = forkserver.Process(target=sync_child.run, args=(url, SYMBOLS, clock_time()))
        process.start()
        if rng.random() < 0.3:
            time.sleep(rng.uniform(0.0, 0.3))  # anywhere, its start-up included
        else:  # once it has written (a page, a close, a signal), a little later
            deadline = time.monotonic() + 30
            while stored(engine) == before:
                assert time.monotonic() < deadline, f"seed {seed}, trial {trial}: no write"
                time.sleep(0.005)
            time.sleep(rng.uniform(0.0, 0.15))
        process.kill()
        process.join(30)
        killed += process.exitcode == -signal.SIGKILL
        busy += stored(engine) != before  # it had written something when it died
        problems = whole(verifier)
        assert not problems, f"seed {seed}, trial {trial}: after the kill\n" + "\n".join(problems)
    # one more start, run to the end: every window complete
    now = clock_time()
    final, _ = sync_child.build(url, SYMBOLS, SteppedClock(now))
    results = final.run_once()
    assert {r.state for r in results} == {"OK"}, results
    assert not whole(verifier), f"seed {seed}: after the last start"
    for timeframe in STORED_TIMEFRAMES:
        days = WINDOWS[f"KLINE_{timeframe.value.upper()}_START_DAYS"]
        span = closed_span(timeframe, now - timedelta(days=days), now)
        for symbol in SYMBOLS:
            missing = repos.klines.missing_closes(symbol, timeframe, span.start, span.end)
            assert missing == [], f"seed {seed}: {symbol} {timeframe.label} misses {missing[:3]}"
    signals = repos.signals.find(limit=None)
    assert len({(s.symbol, s.time, s.signal_type) for s in signals}) == len(signals)
    print(
        f"\n{killed} of {TRIALS} kills, {busy} after the process had written "
        f"({forgotten} after forgetting candles), {url.split(':')[0]}"
    )
    assert killed == TRIALS and busy >= TRIALS // 2
    engine.dispose()
