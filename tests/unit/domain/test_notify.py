"""domain.notify: what each stored change tells, once; the trouble trackers; the rate
limit; no secret in a text."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import attrs
import pytest

from qwentrade.domain.config_keys import CONFIG_KEYS
from qwentrade.domain.errors import InvalidInput
from qwentrade.domain.notify import (
    FailureStreaks,
    NoticeKind,
    Notification,
    RateLimiter,
    StreamWatch,
    intent_notice,
    pending_notice,
    redact,
    relation_notice,
    signal_notice,
)
from qwentrade.domain.records import (
    IntentRecord,
    PendingOrderRecord,
    RelationRecord,
    SignalRecord,
)

T0 = datetime(2026, 3, 1, 12, tzinfo=UTC)
BTC = "BTC-USDT-SWAP"


def relation(**changes) -> RelationRecord:
    base = RelationRecord("qAbc123", BTC, "LONG", T0, T0)
    return attrs.evolve(base, **changes)


def test_every_kind_has_its_switch_on_by_default():
    for kind in NoticeKind:
        key = CONFIG_KEYS[kind.config_key]
        assert (key.type, key.default) == ("bool", True), kind
    assert CONFIG_KEYS["NOTIFY_SYNC_FAILING_RUNS"].default == 3


def test_a_signal_tells_its_side_symbol_score_and_validity():
    signal = SignalRecord(BTC, T0, "LONG", 18, Decimal("95000.5"), T0, T0 + timedelta(hours=4))
    notice = signal_notice(signal)
    assert notice.kind is NoticeKind.SIGNAL and notice.subject == BTC
    assert "LONG" in notice.title and "18" in notice.title
    assert "95000.5" in notice.body and "2026-03-01 16:00 UTC" in notice.body
    explained = attrs.evolve(
        signal,
        details={
            "max_score": 30,
            "parts": {"environment": 10, "macd": 5, "rsi": 0, "volume": 3},
            "rsi_value": 28.44,
        },
    )
    notice = signal_notice(explained)
    assert "(score 18/30)" in notice.title
    assert notice.body.endswith("UTC. Points: environment 10, macd 5, volume 3. RSI 28.4.")


def test_an_entry_filled_is_an_open_with_its_fill_and_protection():
    reserved = relation(stop_loss_price=Decimal("94000"), take_profit_price=Decimal("99000"))
    filled = attrs.evolve(reserved, open_time=T0, open_order_id="1")
    notice = relation_notice(reserved, filled, size=Decimal("3"), price=Decimal("95000"))
    assert notice is not None and notice.kind is NoticeKind.POSITION_OPENED
    assert notice.body == (
        "Opened LONG BTC-USDT-SWAP: 3 contracts at 95000, stop-loss 94000, take-profit 99000."
    )
    bare = relation_notice(relation(), relation(open_time=T0))
    assert bare.body == "Opened LONG BTC-USDT-SWAP."  # no fill known, no plans
    # a reservation, a plan change of an open position, a repeat: nothing to tell
    assert relation_notice(None, reserved) is None
    moved = attrs.evolve(filled, stop_loss_price=Decimal("94500"))
    assert relation_notice(filled, moved) is None
    assert relation_notice(filled, filled) is None


def test_a_relation_that_appears_open_without_an_intent_is_an_adoption():
    adopted = relation(client_order_id="qtxABCDEF", open_time=T0)
    assert relation_notice(None, adopted).kind is NoticeKind.POSITION_ADOPTED
    unknown = relation(open_time=T0)
    assert relation_notice(None, unknown, known_intent=False).kind is NoticeKind.POSITION_ADOPTED
    # our own entry recorded late by reconciliation: an open
    assert relation_notice(None, unknown, known_intent=True).kind is NoticeKind.POSITION_OPENED


@pytest.mark.parametrize(
    ("reason", "kind"),
    [
        ("stop_loss", NoticeKind.STOP_LOSS_HIT),
        ("take_profit", NoticeKind.TAKE_PROFIT_HIT),
        ("external", NoticeKind.EXTERNAL_CLOSE),
        ("manual", NoticeKind.POSITION_CLOSED),
        ("signal reversed", NoticeKind.POSITION_CLOSED),
    ],
)
def test_a_close_tells_its_cause_and_pnl(reason, kind):
    open_ = relation(open_time=T0)
    closed = attrs.evolve(
        open_,
        status="CLOSED",
        close_time=T0 + timedelta(hours=1),
        pnl=Decimal("-12.50"),
        pnl_percentage=Decimal("-2.5"),
        close_reason=reason,
    )
    notice = relation_notice(open_, closed)
    assert notice.kind is kind
    assert "PnL -12.5 USDT (-2.5 %)" in notice.body
    assert notice.at == T0 + timedelta(hours=1)
    assert relation_notice(closed, closed) is None  # told once


def test_an_entry_that_never_filled_closes_silently():
    reserved = relation()
    ended = attrs.evolve(reserved, status="CLOSED", pnl=Decimal(0), close_reason="manual")
    assert relation_notice(reserved, ended) is None
    failed = attrs.evolve(reserved, status="FAILED", close_reason="refused")
    assert relation_notice(reserved, failed) is None


def intent(action: str, state: str) -> IntentRecord:
    return IntentRecord("i1", "aX1", BTC, action, "LONG", Decimal(2), T0, T0, state=state)


def test_acknowledged_adds_and_reduces_are_told_once():
    added = intent_notice(intent("ADD", "ACKNOWLEDGED"), "SENT", price=Decimal("95100"))
    assert added.kind is NoticeKind.POSITION_ADDED and "2 contracts at 95100" in added.body
    reduced = intent_notice(intent("REDUCE", "ACKNOWLEDGED"), "OUTCOME_UNKNOWN")
    assert reduced.kind is NoticeKind.POSITION_REDUCED and "by 2 contracts" in reduced.body
    assert intent_notice(intent("ADD", "ACKNOWLEDGED"), "ACKNOWLEDGED") is None
    assert intent_notice(intent("ADD", "SENT"), "NEW") is None
    assert intent_notice(intent("OPEN", "ACKNOWLEDGED"), "SENT") is None  # the relation tells
    assert intent_notice(intent("CLOSE", "ACKNOWLEDGED"), "SENT") is None


def pending(status: str) -> PendingOrderRecord:
    return PendingOrderRecord(
        "p1", BTC, "SHORT", Decimal("96000"), "UP", Decimal(50), 5, T0,
        T0 + timedelta(hours=1), T0, status=status, fill_price=Decimal("96010"),
    )  # fmt: skip


def test_pending_orders_tell_their_trigger_and_expiry_from_pending_only():
    triggered = pending_notice(pending("TRIGGERED"), "PENDING")
    assert triggered.kind is NoticeKind.PENDING_TRIGGERED
    assert "96000" in triggered.body and "96010" in triggered.body
    assert "50 USDT x5" in triggered.body
    expired = pending_notice(pending("EXPIRED"), "PENDING")
    assert expired.kind is NoticeKind.PENDING_EXPIRED and "13:00 UTC" in expired.body
    assert pending_notice(pending("TRIGGERED"), "TRIGGERED") is None  # a note on it
    assert pending_notice(pending("CANCELLED"), "PENDING") is None
    assert pending_notice(pending("PENDING"), None) is None


def test_a_sync_job_is_told_once_per_failure_streak_and_on_recovery():
    streaks = FailureStreaks()
    at = T0
    told = [streaks.observe("klines_15m:BTC", False, "ExchangeUnavailable: down", at, 3)]
    told += [streaks.observe("klines_15m:BTC", False, "again", at, 3) for _ in range(4)]
    assert [n is not None for n in told] == [False, False, True, False, False]
    assert "failed 3 runs in a row" in told[2].body and "again" in told[2].body
    assert told[2].level == "failure"
    recovered = streaks.observe("klines_15m:BTC", True, "", at, 3)
    assert recovered.kind is NoticeKind.SYNC_FAILING and "recovered" in recovered.title
    assert streaks.observe("klines_15m:BTC", True, "", at, 3) is None
    # a streak shorter than the threshold, then success: nothing at all
    assert streaks.observe("funding_rate:BTC", False, "x", at, 3) is None
    assert streaks.observe("funding_rate:BTC", True, "", at, 3) is None


def test_the_stream_is_told_down_past_the_threshold_once_and_back():
    watch = StreamWatch()
    assert watch.observe(True, T0, 60) is None
    assert watch.observe(False, T0, 60) is None
    assert watch.observe(False, T0 + timedelta(seconds=60), 60) is None  # not more than 60
    down = watch.observe(False, T0 + timedelta(seconds=61), 60)
    assert down.kind is NoticeKind.STREAM_DOWN and "61 s" in down.body
    assert watch.observe(False, T0 + timedelta(seconds=600), 60) is None
    back = watch.observe(True, T0 + timedelta(seconds=630), 60)
    assert "restored" in back.title and "630 s" in back.body
    # a short blip is never told
    assert watch.observe(False, T0 + timedelta(seconds=700), 60) is None
    assert watch.observe(True, T0 + timedelta(seconds=710), 60) is None


def note(subject: str = BTC, kind: NoticeKind = NoticeKind.SIGNAL) -> Notification:
    return Notification(kind, subject, "title", "body", T0)


def test_the_rate_limit_counts_per_kind_and_subject_and_says_what_it_held():
    limiter = RateLimiter()
    admitted = [limiter.admit(note(), T0 + timedelta(seconds=i), 2, 60) for i in range(5)]
    assert [a is not None for a in admitted] == [True, True, False, False, False]
    assert limiter.held() == 3
    assert limiter.admit(note("ETH-USDT-SWAP"), T0, 2, 60) is not None
    assert limiter.admit(note(kind=NoticeKind.POSITION_OPENED), T0, 2, 60) is not None
    later = limiter.admit(note(), T0 + timedelta(seconds=60), 2, 60)
    assert later is not None and "3 similar notifications held back" in later.body
    assert limiter.held() == 0


def test_secrets_are_removed_from_every_text():
    leaky = Notification(
        NoticeKind.SYNC_FAILING, "job", "error key-0123456789", "url json://u:pw-secret@h", T0
    )
    clean = leaky.redacted(["key-0123456789", "pw-secret", "ab"])
    assert "key-0123456789" not in clean.title and "pw-secret" not in clean.body
    assert clean.body == "url json://u:********@h"
    assert redact("a b", ["ab"]) == "a b"  # too short to be a secret: left alone


def test_a_notification_needs_an_aware_time_and_a_known_level():
    with pytest.raises(InvalidInput, match="level"):
        Notification(NoticeKind.SIGNAL, "s", "t", "b", T0, level="loud")
    with pytest.raises(InvalidInput):
        Notification(NoticeKind.SIGNAL, "s", "t", "b", datetime(2026, 1, 1))
