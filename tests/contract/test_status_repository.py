"""StatusRepository contract: counters that only grow, atomically."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

import pytest
from storage_samples import T0

from qwentrade.domain.errors import InvalidInput

M = timedelta(minutes=1)


def test_runs_are_counted(repos):
    first = repos.status.record_run("klines_15m", T0, ok=True, rows=96)
    assert (first.runs, first.successes, first.failures, first.rows) == (1, 1, 0, 96)
    assert first.value == "OK" and first.last_success_at == T0
    failed = repos.status.record_run("klines_15m", T0 + M, ok=False, error="50011 rate limited")
    assert (failed.runs, failed.successes, failed.failures, failed.rows) == (2, 1, 1, 96)
    assert failed.value == "FAILING" and failed.consecutive_failures == 1
    assert failed.last_error == "50011 rate limited" and failed.last_error_at == T0 + M
    assert failed.last_success_at == T0
    again = repos.status.record_run("klines_15m", T0 + 2 * M, ok=False, error="timeout")
    assert again.consecutive_failures == 2
    back = repos.status.record_run("klines_15m", T0 + 3 * M, ok=True, rows=1)
    assert back.consecutive_failures == 0 and back.value == "OK"
    assert back.last_error == "timeout"  # kept: the last error stays visible after recovery
    assert repos.status.get("klines_15m") == back


def test_set_state_keeps_counters_and_all_is_sorted(repos):
    repos.status.record_run("b_job", T0, ok=True)
    repos.status.set_state("b_job", "DISABLED", T0 + M, note="no CoinGlass key")
    repos.status.set_state("a_job", "IDLE", T0)
    a, b = repos.status.all()
    assert (a.key, a.value, a.runs) == ("a_job", "IDLE", 0)
    assert (b.key, b.value, b.runs, b.note) == ("b_job", "DISABLED", 1, "no CoinGlass key")
    assert repos.status.get("missing") is None


def test_bad_values_are_refused(repos):
    with pytest.raises(InvalidInput) as info:
        repos.status.record_run("x", datetime(2024, 1, 1), ok=True)
    assert info.value.field == "at"
    with pytest.raises(InvalidInput) as info:
        repos.status.record_run("x", T0, ok=True, rows=-1)
    assert info.value.field == "rows"
    with pytest.raises(InvalidInput) as info:
        repos.status.set_state("x", "BROKEN", T0)
    assert info.value.field == "state"
    assert repos.status.all() == []


def test_counters_from_two_threads_lose_nothing(repos):
    def run(ok: bool) -> None:
        for i in range(25):
            repos.status.record_run("shared", T0 + i * M, ok=ok, rows=2)

    threads = [threading.Thread(target=run, args=(ok,)) for ok in (True, False)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    status = repos.status.get("shared")
    assert (status.runs, status.successes, status.failures, status.rows) == (50, 25, 25, 100)
