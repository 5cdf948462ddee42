"""The Notifier port: tell the trader what happened (a chat, a phone, a mail box).

Implementations: ``adapters.notify.AppriseNotifier`` (Telegram, Discord, Slack, e-mail,
ntfy, webhooks through Apprise, on a background queue) and
``adapters.notify.MemoryNotifier`` (keeps them, for tests and a process without targets).
"""

from __future__ import annotations

from typing import Protocol

from qwentrade.domain.notify import Notification


class Notifier(Protocol):
    """Accepts notifications from any thread; never blocks its caller on delivery."""

    def send(self, notification: Notification) -> None:
        """Queue ``notification`` for delivery and return at once. A kind switched off
        (its ``NOTIFY_<KIND>`` config key) or over the rate limit is dropped here; a full
        queue drops it with a warning; a failed delivery is retried and logged. Never
        raises into the caller (trading must never fail because a chat is down)."""
        ...
