"""Pending orders, order intents, trading relations and leases: round trips and
compare-and-set."""

from __future__ import annotations

import threading
from datetime import timedelta
from decimal import Decimal

import attrs
import pytest
from storage_samples import BTC, ETH, T0, intent, pending, relation

from qwentrade.adapters.memory import MemoryRepositories
from qwentrade.adapters.memory.trading import MemoryLeaseRepository
from qwentrade.adapters.sql.repositories.trading import SqlLeaseRepository
from qwentrade.domain.errors import InvalidInput, PositionExists
from qwentrade.domain.orders import IntentAction, IntentState
from qwentrade.domain.records import IntentRecord, LeaseRecord, PendingOrderRecord
from qwentrade.testing import builders

M = timedelta(minutes=1)
S = timedelta(seconds=1)


def lease_repository(repos):
    """The lease repository on the backend of ``repos`` (kept apart from the bundles)."""
    if isinstance(repos, MemoryRepositories):
        return MemoryLeaseRepository()
    return SqlLeaseRepository(repos.engine)


def race(count: int, attempt) -> list[bool]:
    """Run ``attempt`` on ``count`` threads released together; their results."""
    results: list[bool] = []
    barrier = threading.Barrier(count)

    def run() -> None:
        barrier.wait()
        results.append(attempt())

    threads = [threading.Thread(target=run) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return results


# -- pending orders ----------------------------------------------------------------------


def test_pending_orders_round_trip_from_the_domain_object(repos):
    domain = builders.pending(id="p-42", signal_id=11)
    record = PendingOrderRecord.from_pending(domain, updated_at=T0)
    assert (record.signal_id, record.status, record.amount) == (11, "PENDING", domain.amount)
    assert repos.pending.save(record)
    back = repos.pending.get("p-42")
    assert back == record
    assert back.to_pending() == domain
    assert repos.pending.get(pending().id) is None
    assert repos.pending.save(pending())
    stored = repos.pending.get(pending().id)
    assert stored == pending()
    assert (stored.stop_loss_trigger, stored.signal_id) == (Decimal("41000"), 7)
    assert repos.pending.get("nope") is None


def test_pending_save_is_an_upsert_and_compare_and_set(repos):
    order = pending()
    repos.pending.save(order)
    repos.pending.save(order)
    assert repos.pending.find() == [order]
    triggered = attrs.evolve(order, status="TRIGGERED", fill_price=Decimal("43000.2"))
    assert not repos.pending.save(triggered, expected_status="CANCELLED")
    assert repos.pending.save(triggered, expected_status="PENDING")
    cancelled = attrs.evolve(order, status="CANCELLED", reason="superseded")
    assert not repos.pending.save(cancelled, expected_status="PENDING")
    assert repos.pending.get(order.id) == triggered
    assert not repos.pending.save(pending("never-stored"), expected_status="PENDING")
    assert repos.pending.get("never-stored") is None


def test_pending_queries(repos):
    for i in range(5):
        status = "PENDING" if i < 3 else "EXPIRED"
        repos.pending.save(pending(f"p{i}", BTC if i != 1 else ETH, T0 + i * M, status))
    assert [o.id for o in repos.pending.open()] == ["p0", "p1", "p2"]
    assert [o.id for o in repos.pending.open(BTC)] == ["p0", "p2"]
    assert [o.id for o in repos.pending.find(status="EXPIRED")] == ["p4", "p3"]
    assert [o.id for o in repos.pending.find(limit=2, offset=1)] == ["p3", "p2"]
    with pytest.raises(InvalidInput) as info:
        repos.pending.find(status="pending")
    assert info.value.field == "status"


def test_only_one_worker_triggers_a_pending_order(repos):
    order = pending()
    repos.pending.save(order)
    triggered = attrs.evolve(order, status="TRIGGERED")
    wins = race(4, lambda: repos.pending.save(triggered, expected_status="PENDING"))
    assert sorted(wins) == [False, False, False, True]


# -- order intents -----------------------------------------------------------------------


def test_intents_round_trip_from_the_domain_object(repos):
    domain = builders.intent(key="sl-1", action=IntentAction.STOP_LOSS)
    record = IntentRecord.from_intent(domain, updated_at=T0)
    assert repos.intents.add(record) == record
    assert repos.intents.get("sl-1").to_intent() == domain
    assert repos.intents.by_client_order_id(domain.client_order_id) == record
    assert repos.intents.by_client_order_id("qtxxxx") is None


def test_adding_an_intent_twice_returns_what_was_decided_first(repos):
    first = intent()
    repos.intents.add(first)
    sent = attrs.evolve(first, state="SENT", updated_at=T0 + M)
    assert repos.intents.update(sent, expected_state="NEW")
    retry = repos.intents.add(attrs.evolve(first, size=Decimal("9")))  # e.g. after a restart
    assert retry == sent
    assert len(repos.intents.find()) == 1


def test_an_intent_key_cannot_be_reused_for_another_order(repos):
    repos.intents.add(intent("k1", BTC))
    with pytest.raises(InvalidInput) as info:
        repos.intents.add(intent("k1", ETH))
    assert info.value.field == "intent_id"
    clash = attrs.evolve(intent("k2"), client_order_id=intent("k1").client_order_id)
    with pytest.raises(InvalidInput) as info:
        repos.intents.add(clash)
    assert info.value.field == "client_order_id"
    assert repos.intents.get("k2") is None


def test_intent_updates_are_compare_and_set(repos):
    record = repos.intents.add(intent())
    domain = record.to_intent().apply("send")
    sent = IntentRecord.from_intent(domain, updated_at=T0 + M)
    assert not repos.intents.update(sent, expected_state="SENT")
    assert repos.intents.update(sent, expected_state="NEW")
    lost = IntentRecord.from_intent(domain.apply("answer_lost", error="timeout"), T0 + 2 * M)
    assert repos.intents.update(lost, expected_state="SENT")
    acked = domain.apply("answer_lost", error="timeout").apply("acknowledge", order_id="778899")
    assert repos.intents.update(IntentRecord.from_intent(acked, T0 + 3 * M), "OUTCOME_UNKNOWN")
    back = repos.intents.get(record.intent_id)
    assert (back.state, back.order_id, back.error) == ("ACKNOWLEDGED", "778899", "timeout")
    assert back.to_intent().state is IntentState.ACKNOWLEDGED
    assert not repos.intents.update(intent("never-added"), expected_state="NEW")
    with pytest.raises(InvalidInput) as info:
        repos.intents.update(attrs.evolve(sent, symbol=ETH), expected_state="ACKNOWLEDGED")
    assert info.value.field == "intent_id"


def test_unresolved_intents_are_the_ones_to_reconcile(repos):
    states = ["NEW", "SENT", "OUTCOME_UNKNOWN", "ACKNOWLEDGED", "REJECTED", "NOT_FOUND"]
    for i, state in enumerate(states):
        repos.intents.add(attrs.evolve(intent(f"k{i}", at=T0 + i * M), state=state))
    assert [i.state for i in repos.intents.unresolved()] == states[:3]
    assert repos.intents.unresolved(ETH) == []
    assert [i.intent_id for i in repos.intents.find(limit=2)] == ["k5", "k4"]
    assert [i.intent_id for i in repos.intents.find(state="REJECTED")] == ["k4"]


def test_intents_are_counted_by_state(repos):
    assert repos.intents.count_by_state() == {}
    for i, state in enumerate(["NEW", "SENT", "SENT", "ACKNOWLEDGED", "ACKNOWLEDGED", "SENT"]):
        repos.intents.add(attrs.evolve(intent(f"k{i}", at=T0 + i * M), state=state))
    assert repos.intents.count_by_state() == {"NEW": 1, "SENT": 3, "ACKNOWLEDGED": 2}


def test_only_one_worker_moves_an_intent(repos):
    record = repos.intents.add(intent())
    sent = attrs.evolve(record, state="SENT")
    assert sorted(race(4, lambda: repos.intents.update(sent, "NEW"))) == [False, False, False, True]


def test_concurrent_adds_of_one_intent_store_it_once(repos):
    record = intent()
    results: list[IntentRecord] = []
    race(4, lambda: results.append(repos.intents.add(record)) or True)
    assert results == [record] * 4
    assert repos.intents.find() == [record]


# -- relations ---------------------------------------------------------------------------


def test_relations_round_trip_and_are_found_by_algo_id(repos):
    link = repos.relations.save(relation())
    assert link == attrs.evolve(relation(), id=link.id) and isinstance(link.id, int)
    assert repos.relations.save(relation()) == link  # the same entry order keeps its id
    assert repos.relations.get(link.client_order_id) == link
    assert repos.relations.by_algo_id(link.stop_loss_algo_id) == link
    assert repos.relations.by_algo_id(link.take_profit_algo_id) == link
    assert repos.relations.by_algo_id("other") is None
    closed = attrs.evolve(
        relation(),
        status="CLOSED",
        pos_id="pos-9",
        updated_at=T0 + M,
        open_time=T0 + M / 2,
        close_order_id="5002",
        close_time=T0 + M,
        pnl=Decimal("12.3456789"),
        pnl_percentage=Decimal("-1.25"),
    )
    assert repos.relations.save(closed) == attrs.evolve(closed, id=link.id)
    assert repos.relations.find(status="CLOSED") == [attrs.evolve(closed, id=link.id)]
    assert repos.relations.find(status="OPEN") == []
    other = repos.relations.save(relation("qtoentry2", at=T0 + M))
    assert other.id is not None and other.id != link.id


def test_relation_queries(repos):
    for i in range(4):
        status = "CLOSED" if i < 2 else "OPEN"  # one OPEN relation per symbol
        link = attrs.evolve(relation(f"qt{i}", BTC if i < 3 else ETH, T0 + i * M), status=status)
        repos.relations.save(link)
    assert [r.client_order_id for r in repos.relations.find(BTC, "LONG")] == ["qt2", "qt1", "qt0"]
    assert [r.client_order_id for r in repos.relations.find(limit=1, offset=1)] == ["qt2"]
    with pytest.raises(InvalidInput) as info:
        repos.relations.find(side="long")
    assert info.value.field == "side"


def test_one_open_relation_per_symbol(repos):
    first = repos.relations.save(relation("qtfirst"))
    with pytest.raises(PositionExists) as info:
        repos.relations.save(relation("qtsecond", at=T0 + M))
    assert info.value.symbol == BTC
    assert repos.relations.get("qtsecond") is None
    assert repos.relations.save(relation("qteth", ETH)).status == "OPEN"  # other symbols
    failed = attrs.evolve(relation("qtfailed"), status="FAILED", close_reason="rejected: 51008")
    assert repos.relations.save(failed).close_reason == "rejected: 51008"
    closed = attrs.evolve(first, status="CLOSED", close_reason="manual")
    assert repos.relations.save(closed).close_reason == "manual"
    assert repos.relations.save(relation("qtsecond", at=T0 + M)).status == "OPEN"
    with pytest.raises(PositionExists):  # reopening the closed one is refused too
        repos.relations.save(attrs.evolve(closed, status="OPEN"))


def test_two_writers_cannot_both_open_one_symbol(repos):
    outcomes: list[str] = []

    numbers = iter(range(4))

    def attempt() -> bool:
        i = next(numbers)
        try:
            repos.relations.save(relation(f"qtrace{i}", at=T0 + i * M))
            outcomes.append("open")
        except PositionExists:
            outcomes.append("refused")
        return True

    race(4, attempt)
    assert sorted(outcomes) == ["open", "refused", "refused", "refused"]
    assert len(repos.relations.find(BTC, status="OPEN")) == 1


def test_leases_are_held_until_they_expire(repos):
    leases = lease_repository(repos)
    until = T0 + 30 * S
    held = leases.acquire(BTC, "a", T0, until)
    assert held == LeaseRecord(BTC, "a", T0, until) and held.held_by("a", T0)
    assert leases.acquire(BTC, "b", T0 + S, T0 + 31 * S) == held  # refused: still a's
    renewed = leases.acquire(BTC, "a", T0 + 10 * S, T0 + 40 * S)
    assert renewed == LeaseRecord(BTC, "a", T0, T0 + 40 * S)  # acquired_at kept
    taken = leases.acquire(BTC, "b", T0 + 40 * S, T0 + 70 * S)  # expired: taken over
    assert taken == LeaseRecord(BTC, "b", T0 + 40 * S, T0 + 70 * S)
    assert not taken.held_by("a", T0 + 41 * S)
    assert leases.release(BTC, "a") is False and leases.get(BTC) == taken
    assert leases.release(BTC, "b") is True and leases.get(BTC) is None
    assert leases.acquire(ETH, "a", T0, until).owner == "a"


def test_only_one_of_racing_instances_gets_a_lease(repos):
    winners: list[str] = []

    numbers = iter(range(4))
    leases = lease_repository(repos)

    def attempt() -> bool:
        i = next(numbers)
        lease = leases.acquire(BTC, f"owner{i}", T0, T0 + 30 * S)
        if lease.owner == f"owner{i}":
            winners.append(lease.owner)
        return True

    race(4, attempt)
    assert len(winners) == 1 and leases.get(BTC).owner == winners[0]
