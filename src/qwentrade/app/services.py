"""The bundle of application services handed to driving adapters (HTTP, notebooks)."""

from __future__ import annotations

import attrs

from qwentrade.app.system import SystemService


@attrs.frozen
class Services:
    """Every use-case service, resolved before any thread starts."""

    system: SystemService
