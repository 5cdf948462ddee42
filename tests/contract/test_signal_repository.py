"""SignalRepository contract: one signal per candle and side, statuses, expiry."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from decimal import Decimal

import attrs
import pytest
from storage_samples import BTC, ETH, T0, signal

from qwentrade.domain.errors import InvalidInput

M15 = timedelta(minutes=15)


def test_add_assigns_an_id_and_round_trips(repos):
    stored = repos.signals.add(signal())
    assert stored.id is not None
    assert stored == attrs.evolve(signal(), id=stored.id)
    assert repos.signals.get(stored.id) == stored
    assert repos.signals.get(stored.id + 1000) is None


def test_detecting_the_same_candle_again_updates_but_keeps_id_and_status(repos):
    first = repos.signals.add(signal(score=16))
    assert repos.signals.set_status(first.id, "EXECUTED")
    again = repos.signals.add(
        attrs.evolve(signal(score=21), price=Decimal("1.5"), details={"v": 2})
    )
    assert again.id == first.id
    assert (again.score, again.price, again.details, again.status) == (
        21.0,
        Decimal("1.5"),
        {"v": 2},
        "EXECUTED",
    )
    assert len(repos.signals.find()) == 1
    other_side = repos.signals.add(signal(signal_type="SHORT"))
    assert other_side.id != first.id


def test_find_filters_and_pages_newest_first(repos):
    for i in range(6):
        repos.signals.add(signal(BTC if i % 2 else ETH, T0 + i * M15))
    assert [s.time for s in repos.signals.find(BTC)] == [T0 + 5 * M15, T0 + 3 * M15, T0 + M15]
    window = repos.signals.find(start=T0 + M15, end=T0 + 3 * M15)
    assert [s.time for s in window] == [T0 + 2 * M15, T0 + M15]
    assert [s.time for s in repos.signals.find(limit=2, offset=1)] == [T0 + 4 * M15, T0 + 3 * M15]


def test_active_and_expire(repos):
    early = repos.signals.add(signal(at=T0))
    late = repos.signals.add(signal(at=T0 + 4 * M15))
    now = early.expire_at
    assert repos.signals.active(now - M15) == [late, early]
    assert repos.signals.active(now) == [late]
    assert repos.signals.expire(now) == 1
    assert repos.signals.get(early.id).status == "EXPIRED"
    assert repos.signals.find(status="EXPIRED") == [attrs.evolve(early, status="EXPIRED")]
    assert repos.signals.expire(now) == 0


def test_set_status_compare_and_set(repos):
    stored = repos.signals.add(signal())
    assert not repos.signals.set_status(stored.id, "EXECUTED", expected="EXPIRED")
    assert repos.signals.set_status(stored.id, "EXECUTED", expected="ACTIVE")
    assert not repos.signals.set_status(stored.id, "CANCELLED", expected="ACTIVE")
    assert not repos.signals.set_status(99_999, "CANCELLED")
    with pytest.raises(InvalidInput) as info:
        repos.signals.set_status(stored.id, "DONE")
    assert info.value.field == "status"


def test_bad_values_are_refused(repos):
    with pytest.raises(InvalidInput) as info:
        attrs.evolve(signal(), time=datetime(2024, 1, 1))
    assert info.value.field == "time"
    with pytest.raises(InvalidInput) as info:
        attrs.evolve(signal(), details={"price": object()})
    assert info.value.field == "details"
    with pytest.raises(InvalidInput) as info:
        repos.signals.active(datetime(2024, 1, 1))
    assert info.value.field == "now"


def test_only_one_thread_wins_a_status_change(repos):
    stored = repos.signals.add(signal())
    wins: list[bool] = []
    barrier = threading.Barrier(4)

    def take() -> None:
        barrier.wait()
        wins.append(repos.signals.set_status(stored.id, "EXECUTED", expected="ACTIVE"))

    threads = [threading.Thread(target=take) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(wins) == [False, False, False, True]
