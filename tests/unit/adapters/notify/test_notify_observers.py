"""NotifyingRepositories over memory, SQLite and PostgreSQL: a stored change is told once
(the repository's compare-and-set decides), after the write, and a notifier that fails
never fails the write."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import attrs

from qwentrade.adapters.notify import MemoryNotifier, NotifyingRepositories
from qwentrade.domain.notify import NoticeKind, Notification
from qwentrade.domain.records import (
    IntentRecord,
    OrderRecord,
    PendingOrderRecord,
    RelationRecord,
)

T0 = datetime(2026, 3, 1, 12, tzinfo=UTC)
BTC = "BTC-USDT-SWAP"


def kinds(notifier: MemoryNotifier) -> list[NoticeKind]:
    return [n.kind for n in notifier.sent]


def test_a_relation_is_told_opened_and_closed_once_each(repos):
    notifier = MemoryNotifier()
    observed = NotifyingRepositories(repos, notifier)
    intent = IntentRecord("i1", "oEntry1", BTC, "OPEN", "LONG", Decimal(3), T0, T0, state="SENT")
    observed.intents.add(intent)
    reserved = RelationRecord("oEntry1", BTC, "LONG", T0, T0, stop_loss_price=Decimal(90000))
    observed.relations.save(reserved)
    assert notifier.sent == []
    repos.history.upsert_orders([
        OrderRecord(
            "101", "oEntry1", BTC, "buy", "long", "market", "filled", Decimal(3), Decimal(3),
            None, Decimal("95000.5"), 10, Decimal("-0.1"), Decimal(0), False, T0, T0,
        )
    ])  # fmt: skip
    filled = attrs.evolve(reserved, open_order_id="101", open_time=T0)
    for _ in range(2):  # a replayed fill changes nothing and tells nothing
        observed.relations.save(filled)
    closed = attrs.evolve(
        filled,
        status="CLOSED",
        close_time=T0 + timedelta(hours=2),
        pnl=Decimal("12.345"),
        pnl_percentage=Decimal("4.1"),
        close_reason="take_profit",
    )
    for _ in range(2):
        observed.relations.save(closed)
    assert kinds(notifier) == [NoticeKind.POSITION_OPENED, NoticeKind.TAKE_PROFIT_HIT]
    opened, hit = notifier.sent
    assert "3 contracts at 95000.5" in opened.body and "stop-loss 90000" in opened.body
    assert "PnL +12.35 USDT (+4.1 %)" in hit.body
    # the repository behind holds what was written
    assert repos.relations.get("oEntry1").status == "CLOSED"


def test_an_add_is_told_when_its_intent_is_acknowledged_once(repos):
    notifier = MemoryNotifier()
    observed = NotifyingRepositories(repos, notifier)
    new = IntentRecord("i2", "aAdd1", BTC, "ADD", "SHORT", Decimal(2), T0, T0)
    observed.intents.add(new)
    sent = attrs.evolve(new, state="SENT")
    assert observed.intents.update(sent, "NEW")
    acknowledged = attrs.evolve(sent, state="ACKNOWLEDGED", order_id="7")
    assert observed.intents.update(acknowledged, "SENT")
    assert not observed.intents.update(acknowledged, "SENT")  # lost the race: no tale
    assert kinds(notifier) == [NoticeKind.POSITION_ADDED]
    assert "Added 2 contracts to the SHORT" in notifier.sent[0].body


def test_a_pending_order_is_told_triggered_by_the_write_that_moved_it(repos):
    notifier = MemoryNotifier()
    observed = NotifyingRepositories(repos, notifier)
    order = PendingOrderRecord(
        "p1", BTC, "LONG", Decimal(94000), "DOWN", Decimal(100), 5, T0,
        T0 + timedelta(hours=1), T0,
    )  # fmt: skip
    observed.pending.save(order)
    triggered = attrs.evolve(
        order, status="TRIGGERED", closed_at=T0, fill_price=Decimal(93990), updated_at=T0
    )
    assert observed.pending.save(triggered, expected_status="PENDING")
    assert not observed.pending.save(triggered, expected_status="PENDING")
    noted = attrs.evolve(triggered, reason="opened qX")
    assert observed.pending.save(noted, expected_status="TRIGGERED")
    assert kinds(notifier) == [NoticeKind.PENDING_TRIGGERED]
    assert observed.pending.get("p1").reason == "opened qX"  # reads pass through


class Broken:
    def send(self, notification: Notification) -> None:
        raise RuntimeError("the chat is down")


def test_a_failing_notifier_never_fails_the_write(repos, caplog):
    observed = NotifyingRepositories(repos, Broken())
    relation = RelationRecord("qtxAdopted1", BTC, "LONG", T0, T0, open_time=T0)
    assert observed.relations.save(relation).client_order_id == "qtxAdopted1"
    assert repos.relations.get("qtxAdopted1") is not None
    assert "could not build a notification" in caplog.text


def test_the_memory_notifier_applies_the_switches_and_the_rate_limit():
    from qwentrade.adapters.memory import MemoryConfigStore
    from qwentrade.adapters.sim import SteppedClock

    config = MemoryConfigStore()
    config.set("NOTIFY_RATE_LIMIT_COUNT", 1)
    config.set("NOTIFY_PENDING_EXPIRED", False)
    notifier = MemoryNotifier(config, SteppedClock(T0))
    for kind in (NoticeKind.SIGNAL, NoticeKind.SIGNAL, NoticeKind.PENDING_EXPIRED):
        notifier.send(Notification(kind, BTC, "t", "b", T0))
    assert kinds(notifier) == [NoticeKind.SIGNAL]
