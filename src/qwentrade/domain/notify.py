"""Notifications: what happened, as a short text a trader reads on a phone.

Rules:

1. A :class:`Notification` has a :class:`NoticeKind` (each kind is switched on or off by
   its config key ``NOTIFY_<KIND>``, read when it is sent), a ``subject`` (the symbol, the
   job, the component: what the rate limit counts per kind), a title, a body, a level
   (Apprise's ``info``/``success``/``warning``/``failure``) and the time it happened.
2. The text says what happened and nothing secret: symbols, sides, sizes, prices, PnL,
   job ids, error lines. Never a key, a URL with credentials, an order's signature.
   :func:`redact` removes given secret strings from any text as a last line of defence.
3. The builders here are pure: the stored records before and after a change go in, a
   Notification (or None: nothing worth telling) comes out. A transition is told once:
   the caller passes the compare-and-set's result, so a repeated write tells nothing.
4. Trouble is told once per episode: :class:`FailureStreaks` when a job has failed
   ``threshold`` runs in a row (and again when it recovers), :class:`StreamWatch` when the
   private stream has been down for more than ``threshold`` seconds (and when it is back).
5. :class:`RateLimiter`: at most ``count`` notifications of one (kind, subject) per
   ``window`` seconds; the rest are counted and the next one delivered says how many
   were held back. Times are passed in, never read.
"""

from __future__ import annotations

import enum
from collections import deque
from collections.abc import Iterable
from datetime import datetime, timedelta
from decimal import Decimal

import attrs

from qwentrade.domain.errors import InvalidInput
from qwentrade.domain.market import require_utc
from qwentrade.domain.numbers import round_to_step
from qwentrade.domain.reconcile import ADOPTED_PREFIX
from qwentrade.domain.records import (
    IntentRecord,
    PendingOrderRecord,
    RelationRecord,
    SignalRecord,
)


class NoticeKind(enum.Enum):
    """What a notification is about; ``config_key`` switches it on or off."""

    SIGNAL = "signal"
    POSITION_OPENED = "position_opened"
    POSITION_ADDED = "position_added"
    POSITION_REDUCED = "position_reduced"
    POSITION_CLOSED = "position_closed"
    STOP_LOSS_HIT = "stop_loss_hit"
    TAKE_PROFIT_HIT = "take_profit_hit"
    EXTERNAL_CLOSE = "external_close"
    PENDING_TRIGGERED = "pending_triggered"
    PENDING_EXPIRED = "pending_expired"
    SYNC_FAILING = "sync_failing"
    STREAM_DOWN = "stream_down"
    AUTH_FAILURE = "auth_failure"
    POSITION_ADOPTED = "position_adopted"

    @property
    def config_key(self) -> str:
        return "NOTIFY_" + self.name


LEVELS = ("info", "success", "warning", "failure")
# close reasons that mean the position was closed outside the system (reconciliation and
# TradingService.handle_external_close); stop_loss/take_profit are the venue's own orders
STOP_LOSS_REASON = "stop_loss"
TAKE_PROFIT_REASON = "take_profit"
EXTERNAL_REASONS = frozenset({"external", "liquidation", "adl"})
MAX_TEXT = 1000
CENT = Decimal("0.01")


@attrs.frozen
class Notification:
    """One thing to tell (see the module docstring)."""

    kind: NoticeKind
    subject: str
    title: str
    body: str
    at: datetime = attrs.field(converter=lambda value: require_utc(value, "at"))
    level: str = "info"

    def __attrs_post_init__(self) -> None:
        if self.level not in LEVELS:
            raise InvalidInput("level", f"must be one of {', '.join(LEVELS)}, got {self.level!r}")

    def with_note(self, note: str) -> Notification:
        """This notification with ``note`` appended to its body."""
        return attrs.evolve(self, body=f"{self.body}\n{note}" if self.body else note)

    def redacted(self, secrets: Iterable[str]) -> Notification:
        """This notification with every one of ``secrets`` removed from its texts."""
        secrets = tuple(secrets)
        return attrs.evolve(
            self,
            subject=redact(self.subject, secrets),
            title=redact(self.title, secrets),
            body=redact(self.body, secrets),
        )


def redact(text: str, secrets: Iterable[str]) -> str:
    """``text`` with each secret (of 4 characters or more) replaced by ``********``."""
    for secret in sorted((s for s in secrets if s and len(s) >= 4), key=len, reverse=True):
        text = text.replace(secret, "********")
    return text


def _num(value: Decimal | float | int | None) -> str:
    if value is None:
        return "?"
    if isinstance(value, Decimal):
        text = format(value.normalize(), "f")
        return text
    return f"{value:g}"


def _signed(value: Decimal | None) -> str:
    """PnL to the cent: ``+12.34``, ``-0.5``."""
    if value is None:
        return "?"
    return ("+" if value > 0 else "") + _num(round_to_step(value, CENT))


def _when(at: datetime) -> str:
    return at.strftime("%Y-%m-%d %H:%M UTC")


def _clip(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 1] + "…"


# ---- builders ----------------------------------------------------------------------------


def signal_notice(signal: SignalRecord) -> Notification:
    """A new LONG/SHORT signal: symbol, score, the 15m close it was found on, validity,
    and the points of each part of the score when the detector's explanation has them."""
    out_of = signal.details.get("max_score")
    score = f"{signal.score:g}" + (f"/{out_of}" if isinstance(out_of, int) else "")
    parts = signal.details.get("parts")
    why = ""
    if isinstance(parts, dict):
        scored = [f"{name} {points}" for name, points in parts.items() if points]
        why = f" Points: {', '.join(scored)}." if scored else ""
    rsi = signal.details.get("rsi_value")
    if isinstance(rsi, int | float) and not isinstance(rsi, bool):
        why += f" RSI {rsi:.1f}."
    return Notification(
        NoticeKind.SIGNAL,
        signal.symbol,
        f"{signal.signal_type} signal {signal.symbol} (score {score})",
        f"{signal.signal_type} {signal.symbol} at {_num(signal.price)}, score {score}, on "
        f"the 15m candle of {_when(signal.time)}; active until {_when(signal.expire_at)}."
        + (" " + _clip(why) if why else ""),
        signal.created_at,
    )


def _opened(relation: RelationRecord, size: Decimal | None, price: Decimal | None) -> str:
    fill = []
    if size is not None:
        fill.append(f"{_num(size)} contracts" + (f" at {_num(price)}" if price else ""))
    if relation.stop_loss_price is not None:
        fill.append(f"stop-loss {_num(relation.stop_loss_price)}")
    if relation.take_profit_price is not None:
        fill.append(f"take-profit {_num(relation.take_profit_price)}")
    head = f"Opened {relation.side} {relation.symbol}"
    return f"{head}: {', '.join(fill)}." if fill else f"{head}."


def relation_notice(
    before: RelationRecord | None,
    after: RelationRecord,
    *,
    known_intent: bool = True,
    size: Decimal | None = None,
    price: Decimal | None = None,
) -> Notification | None:
    """What the change of a trading relation from ``before`` to ``after`` tells: a position
    opened (its entry filled), adopted (a relation that appears already open with no
    intent of ours behind it, or reconciliation's ``qtx`` id), closed with its PnL (by a
    stop-loss, a take-profit, outside the system, or by us); None for any other change.
    ``size``/``price`` describe the entry fill when the caller knows them."""
    symbol, side = after.symbol, after.side
    was_open = before is not None and before.status == "OPEN" and before.open_time is not None
    adopted = after.client_order_id.startswith(ADOPTED_PREFIX) or not known_intent
    if before is None and after.status == "OPEN" and after.open_time is not None and adopted:
        return Notification(
            NoticeKind.POSITION_ADOPTED,
            symbol,
            f"Adopted an unknown {side} position {symbol}",
            f"The exchange holds a {side} {symbol} position the database did not know "
            f"(opened {_when(after.open_time)}); it is now tracked and given a "
            "stop-loss if it has none.",
            after.updated_at,
            "warning",
        )
    if (
        after.status == "OPEN"
        and after.open_time is not None
        and (before is None or before.open_time is None)
    ):
        return Notification(
            NoticeKind.POSITION_OPENED,
            symbol,
            f"Opened {side} {symbol}",
            _opened(after, size, price),
            after.open_time,
            "success",
        )
    if before is not None and before.status == "OPEN" and after.status == "CLOSED":
        reason = after.close_reason
        pnl = f"PnL {_signed(after.pnl)} USDT"
        if after.pnl_percentage is not None:
            pnl += f" ({_signed(after.pnl_percentage)} %)"
        at = after.close_time or after.updated_at
        level = "success" if after.pnl is not None and after.pnl > 0 else "warning"
        if not was_open and after.pnl in (None, Decimal(0)):
            return None  # an entry that never filled: nothing was held
        if reason == STOP_LOSS_REASON:
            kind, title = NoticeKind.STOP_LOSS_HIT, f"Stop-loss hit: {side} {symbol} closed"
        elif reason == TAKE_PROFIT_REASON:
            kind, title = NoticeKind.TAKE_PROFIT_HIT, f"Take-profit hit: {side} {symbol} closed"
        elif reason in EXTERNAL_REASONS or reason.startswith("external"):
            kind, title = NoticeKind.EXTERNAL_CLOSE, f"{side} {symbol} closed outside qwentrade"
            level = "warning"
        else:
            kind, title = NoticeKind.POSITION_CLOSED, f"Closed {side} {symbol}"
        return Notification(
            kind,
            symbol,
            title,
            f"{title}: {pnl}; reason: {_clip(reason) or 'none given'}.",
            at,
            level,
        )
    return None


def intent_notice(
    intent: IntentRecord,
    expected_state: str,
    *,
    side: str | None = None,
    price: Decimal | None = None,
) -> Notification | None:
    """An ADD or REDUCE order the venue accepted (the intent moved to ACKNOWLEDGED from
    ``expected_state``); None for any other intent change. ``side`` is the position's
    (the intent's side is the position's too), ``price`` the fill's average when known."""
    if intent.state != "ACKNOWLEDGED" or expected_state == "ACKNOWLEDGED":
        return None
    side = side or intent.side
    at = f" at {_num(price)}" if price is not None else ""
    if intent.action == "ADD":
        return Notification(
            NoticeKind.POSITION_ADDED,
            intent.symbol,
            f"Added to {side} {intent.symbol}",
            f"Added {_num(intent.size)} contracts{at} to the {side} {intent.symbol} position.",
            intent.updated_at,
        )
    if intent.action == "REDUCE":
        return Notification(
            NoticeKind.POSITION_REDUCED,
            intent.symbol,
            f"Reduced {side} {intent.symbol}",
            f"Reduced the {side} {intent.symbol} position by {_num(intent.size)} contracts{at}.",
            intent.updated_at,
        )
    return None


def pending_notice(order: PendingOrderRecord, expected_status: str | None) -> Notification | None:
    """A pending order that moved from PENDING to TRIGGERED or EXPIRED; None otherwise."""
    if expected_status != "PENDING":
        return None
    head = f"pending {order.side} {order.symbol} ({_num(order.amount)} USDT x{order.leverage})"
    if order.status == "TRIGGERED":
        price = f" at {_num(order.fill_price)}" if order.fill_price is not None else ""
        return Notification(
            NoticeKind.PENDING_TRIGGERED,
            order.symbol,
            f"Pending order triggered: {order.side} {order.symbol}",
            f"The {head} crossed its trigger {_num(order.trigger_price)}{price}; the "
            "position opens now.",
            order.closed_at or order.updated_at,
        )
    if order.status == "EXPIRED":
        return Notification(
            NoticeKind.PENDING_EXPIRED,
            order.symbol,
            f"Pending order expired: {order.side} {order.symbol}",
            f"The {head} with trigger {_num(order.trigger_price)} expired at "
            f"{_when(order.expire_at)} without triggering.",
            order.closed_at or order.updated_at,
        )
    return None


def auth_failure_notice(
    method: str, route: str, client: str, reason: str, at: datetime
) -> Notification:
    """An HTTP request refused for a missing or wrong API key (never the key itself)."""
    return Notification(
        NoticeKind.AUTH_FAILURE,
        "http",
        "Refused an HTTP request: bad API key",
        f"Refused {_clip(method)} {_clip(route)} from {_clip(client)}: {_clip(reason)}.",
        at,
        "warning",
    )


# ---- trouble trackers --------------------------------------------------------------------


@attrs.define
class FailureStreaks:
    """Consecutive failed runs per sync job; tells once per streak (rule 4)."""

    _streaks: dict[str, int] = attrs.field(factory=dict)
    _told: set[str] = attrs.field(factory=set)

    def observe(
        self, job_id: str, ok: bool, error: str, at: datetime, threshold: int
    ) -> Notification | None:
        """Count one run of ``job_id``: the notification when its failure streak reaches
        ``threshold`` runs, or when a job told about succeeds again; else None."""
        if ok:
            self._streaks.pop(job_id, None)
            if job_id in self._told:
                self._told.discard(job_id)
                return Notification(
                    NoticeKind.SYNC_FAILING,
                    job_id,
                    f"Sync job {job_id} recovered",
                    f"The sync job {job_id} ran successfully again.",
                    at,
                    "success",
                )
            return None
        runs = self._streaks.get(job_id, 0) + 1
        self._streaks[job_id] = runs
        if runs < max(1, threshold) or job_id in self._told:
            return None
        self._told.add(job_id)
        return Notification(
            NoticeKind.SYNC_FAILING,
            job_id,
            f"Sync job {job_id} failing",
            f"The sync job {job_id} has failed {runs} runs in a row; last error: "
            f"{_clip(error) or 'none given'}.",
            at,
            "failure",
        )


@attrs.define
class StreamWatch:
    """The private stream's outages; tells once an outage passes the threshold (rule 4)."""

    _down_since: datetime | None = None
    _told: bool = False

    def observe(self, connected: bool, now: datetime, threshold: float) -> Notification | None:
        """Note the stream's state at ``now``: the notification when it has been down for
        more than ``threshold`` seconds, or when it is back after that; else None."""
        if connected:
            since, told = self._down_since, self._told
            self._down_since, self._told = None, False
            if told and since is not None:
                seconds = (now - since).total_seconds()
                return Notification(
                    NoticeKind.STREAM_DOWN,
                    "private_stream",
                    "Private stream restored",
                    f"The exchange's private stream is delivering again after {seconds:.0f} s "
                    "down; reconciliation runs now.",
                    now,
                    "success",
                )
            return None
        if self._down_since is None:
            self._down_since = now
            return None
        down = (now - self._down_since).total_seconds()
        if self._told or down <= threshold:
            return None
        self._told = True
        return Notification(
            NoticeKind.STREAM_DOWN,
            "private_stream",
            "Private stream down",
            f"The exchange's private stream has been down for {down:.0f} s (since "
            f"{_when(self._down_since)}): position and order updates arrive only through "
            "the periodic reconciliation until it is back.",
            now,
            "failure",
        )


@attrs.define
class RateLimiter:
    """At most ``count`` notifications per (kind, subject) per ``window`` (rule 5)."""

    _sent: dict[tuple[NoticeKind, str], deque[datetime]] = attrs.field(factory=dict)
    _held: dict[tuple[NoticeKind, str], int] = attrs.field(factory=dict)

    def admit(
        self, notification: Notification, now: datetime, count: int, window: float
    ) -> Notification | None:
        """``notification`` (with a note of how many were held back since the last one)
        when its (kind, subject) has room at ``now``; None when it is held back."""
        key = (notification.kind, notification.subject)
        sent = self._sent.setdefault(key, deque())
        horizon = now - timedelta(seconds=window)
        while sent and sent[0] <= horizon:
            sent.popleft()
        if len(sent) >= count:
            self._held[key] = self._held.get(key, 0) + 1
            return None
        sent.append(now)
        held = self._held.pop(key, 0)
        if held:
            return notification.with_note(
                f"({held} similar notification{'s' if held > 1 else ''} held back by the "
                "rate limit)"
            )
        return notification

    def held(self) -> int:
        """How many notifications are held back and not yet mentioned."""
        return sum(self._held.values())
