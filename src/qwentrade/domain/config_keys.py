"""The runtime-tunable settings held in the database (table ``config``), as data.

Each :class:`ConfigKey` has a type, a default, an optional range and a description. Values
travel as text (``config set api.max_retries 5``) and are parsed and checked here, so every
:class:`~qwentrade.ports.config.ConfigStore` behaves the same. Secrets never live in this
table: they come from the environment (or the secrets file).
"""

from __future__ import annotations

import math
import re

import attrs

from qwentrade.domain.errors import DomainError, InvalidInput

ConfigValue = str | int | float | bool
TYPES = ("string", "int", "float", "bool")
_TRUE = frozenset({"true", "1", "yes", "on"})
_FALSE = frozenset({"false", "0", "no", "off"})
SECRET_NAME = re.compile(r"secret|password|passphrase|api_?key|token|private|credential", re.I)


class ConfigUnavailable(DomainError):
    """The config table could not be written (the database is unreachable)."""


@attrs.frozen
class ConfigKey:
    """One typed config key: ``type`` is string/int/float/bool; ``minimum``/``maximum``
    bound numbers (inclusive); ``choices`` bound strings."""

    name: str
    type: str
    default: ConfigValue
    description: str
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] = ()

    def parse(self, value: object) -> ConfigValue:
        """``value`` (typed, or text as stored) as this key's type, checked against its range.

        Raises :class:`InvalidInput` naming the key and saying what is allowed.
        """
        parsed = _PARSERS[self.type](self.name, value)
        if isinstance(parsed, int | float) and not isinstance(parsed, bool):
            if self.minimum is not None and parsed < self.minimum:
                raise InvalidInput(self.name, f"{parsed} is below the minimum {self.minimum:g}")
            if self.maximum is not None and parsed > self.maximum:
                raise InvalidInput(self.name, f"{parsed} is above the maximum {self.maximum:g}")
        if self.choices and parsed not in self.choices:
            raise InvalidInput(self.name, f"{parsed!r} is not one of {', '.join(self.choices)}")
        return parsed

    def format(self, value: ConfigValue) -> str:
        """The stored text of a parsed value (bools as ``true``/``false``)."""
        if isinstance(value, bool):
            return "true" if value else "false"
        return repr(value) if isinstance(value, float) else str(value)


@attrs.frozen
class ConfigEntry:
    """A key with its effective value, as listed by ``ConfigStore.all()``."""

    key: str
    value: ConfigValue
    type: str
    default: ConfigValue
    description: str

    @property
    def is_default(self) -> bool:
        return self.value == self.default


def _parse_int(name: str, value: object) -> int:
    if isinstance(value, bool):
        raise InvalidInput(name, f"expected an integer, got {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            pass
    raise InvalidInput(name, f"expected an integer, got {value!r}")


def _parse_float(name: str, value: object) -> float:
    if isinstance(value, bool):
        raise InvalidInput(name, f"expected a number, got {value!r}")
    try:
        number = float(value.strip() if isinstance(value, str) else value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise InvalidInput(name, f"expected a number, got {value!r}") from None
    if not math.isfinite(number):
        raise InvalidInput(name, f"expected a finite number, got {value!r}")
    return number


def _parse_bool(name: str, value: object) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise InvalidInput(name, f"expected true or false, got {value!r}")


def _parse_string(name: str, value: object) -> str:
    if not isinstance(value, str):
        raise InvalidInput(name, f"expected text, got {type(value).__name__}")
    return value


_PARSERS = {"int": _parse_int, "float": _parse_float, "bool": _parse_bool, "string": _parse_string}


def _key(name: str, type_: str, default: ConfigValue, description: str, **kw) -> ConfigKey:
    return ConfigKey(name, type_, default, description, **kw)


CONFIG_KEYS: dict[str, ConfigKey] = {
    k.name: k
    for k in (
        # OKX REST: the permit gate's budget and the retry policy.
        _key("api.rate_limit", "int", 20, "requests allowed per window (all endpoints)",
             minimum=1, maximum=1000),
        _key("api.rate_window_seconds", "float", 2.0, "length of the rate-limit window, seconds",
             minimum=0.1, maximum=60),
        _key("api.min_interval_seconds", "float", 0.1,
             "minimum gap between two requests, seconds", minimum=0, maximum=10),
        _key("api.max_retries", "int", 3,
             "retries of a failed query (orders are never re-sent blindly)",
             minimum=0, maximum=10),
        _key("api.retry_backoff_seconds", "float", 1.0, "first retry delay; doubles each retry",
             minimum=0, maximum=60),
        _key("api.timeout_seconds", "float", 10.0, "HTTP timeout of one OKX request, seconds",
             minimum=1, maximum=120),
        _key("coinglass.timeout_seconds", "float", 15.0,
             "HTTP timeout of one CoinGlass request, seconds", minimum=1, maximum=120),
        # detector
        _key("detector.signal_threshold", "int", 15,
             "minimum score (0-30) for a LONG/SHORT signal", minimum=0, maximum=30),
        _key("detector.min_candles", "int", 100,
             "closed 15m candles needed before detection starts", minimum=1, maximum=10_000),
        _key("detector.max_signals_per_day", "int", 6,
             "signals per symbol per UTC day at most", minimum=1, maximum=96),
        _key("detector.cooldown_minutes", "int", 60,
             "minutes after a signal before the same symbol and side may signal again",
             minimum=0, maximum=1440),
        _key("signal.expiry_hours", "float", 4.0, "hours a signal stays valid",
             minimum=0.25, maximum=72),
        # trading
        _key("pending.expiry_minutes", "int", 60, "minutes before a pending order expires",
             minimum=1, maximum=10_080),
        _key("pending.check_interval_seconds", "float", 5.0,
             "how often the pending-order monitor looks at prices", minimum=0.5, maximum=300),
        # sync
        _key("sync.start_days_15m", "int", 30, "days of 15m candles to backfill at first start",
             minimum=1, maximum=3650),
        _key("sync.start_days_4h", "int", 180, "days of 4H candles to backfill at first start",
             minimum=1, maximum=3650),
        _key("sync.start_days_1d", "int", 365, "days of 1D candles to backfill at first start",
             minimum=1, maximum=3650),
        _key("sync.start_days_market", "int", 30,
             "days of funding, open interest, sentiment and liquidations to backfill",
             minimum=1, maximum=3650),
        _key("sync.start_days_history", "int", 90,
             "days of own order and position history to backfill", minimum=1, maximum=3650),
        # private WebSocket
        _key("ws.heartbeat_seconds", "float", 25.0,
             "send 'ping' after this long without a message (OKX drops at 30 s)",
             minimum=1, maximum=29),
        _key("ws.ping_timeout_seconds", "float", 10.0,
             "reconnect when no 'pong' arrives within this long", minimum=1, maximum=60),
        _key("ws.reconnect_seconds", "float", 5.0, "first reconnect delay; doubles each try",
             minimum=0.1, maximum=300),
        _key("ws.reconnect_max_seconds", "float", 60.0, "longest reconnect delay",
             minimum=1, maximum=3600),
    )
}  # fmt: skip


def config_key(name: str) -> ConfigKey:
    """The key called ``name``; secrets and unknown names raise InvalidInput naming it."""
    if not isinstance(name, str):
        raise InvalidInput("key", f"expected a key name, got {name!r}")
    if SECRET_NAME.search(name):
        raise InvalidInput(
            name,
            "secrets are not kept in the config table: secrets come from the environment "
            "(QWENTRADE_* variables or QWENTRADE_SECRETS_FILE)",
        )
    try:
        return CONFIG_KEYS[name]
    except KeyError:
        known = ", ".join(sorted(CONFIG_KEYS))
        raise InvalidInput(name, f"is not a config key (a typo?); known keys: {known}") from None
