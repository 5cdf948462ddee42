"""The runtime-tunable settings held in the database (table ``config``), as data.

Each :class:`ConfigKey` has a type, a default, an allowed range and a description. Values
travel as text (``config set DETECTOR_SIGNAL_THRESHOLD 20``) and are parsed and checked
here, so every :class:`~qwentrade.ports.config.ConfigStore` behaves the same. Rules:

1. Key names are the original system's (``DETECTOR_SIGNAL_EXPIRE_HOURS``,
   ``DETECTOR_KLINE_15M_COUNT``, ``KLINE_15M_START_DAYS``); keys it leaves implicit
   (``DETECTOR_*``) follow its pattern. A name is looked up case-insensitively with ``.``
   or ``-`` read as ``_``, so ``detector.signal_threshold`` is ``DETECTOR_SIGNAL_THRESHOLD``.
2. Defaults are the original's. Only keys that code reads exist: each is read at the
   moment it is used, so a change is seen without a restart.
3. Numbers are ASCII decimal only (``1_0``, ``١٠`` or ``𝟗`` are refused). A refused value
   is echoed only when it is short and looks like a number; anything else (it could be
   a secret typed into the wrong place) is described, never shown.
4. Keys that constrain each other are checked together on every write
   (:data:`CROSS_RULES`); the stored combination always makes sense.
5. Secrets never live in this table: they come from the environment (or the secrets
   file).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from datetime import timedelta

import attrs

from qwentrade.domain.detector.params import DetectorParams
from qwentrade.domain.errors import DomainError, InvalidInput
from qwentrade.domain.schedule import TimesOfDay

ConfigValue = str | int | float | bool
TYPES = ("string", "int", "float", "bool")
_TRUE = frozenset({"true", "1", "yes", "on"})
_FALSE = frozenset({"false", "0", "no", "off"})
SECRET_NAME = re.compile(r"secret|password|passphrase|api_?key|token|private|credential", re.I)
_INT = re.compile(r"[+-]?[0-9]+", re.ASCII)
_FLOAT = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?", re.ASCII)
_SHOWABLE = re.compile(r"[0-9+\-.eE_ ]{1,24}|[A-Za-z]{1,8}", re.ASCII)
_NAME = re.compile(r"[A-Za-z0-9_.\-]{1,100}", re.ASCII)


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
                raise InvalidInput(
                    self.name, f"{parsed} is below the minimum {self.minimum:g} ({self.allowed})"
                )
            if self.maximum is not None and parsed > self.maximum:
                raise InvalidInput(
                    self.name, f"{parsed} is above the maximum {self.maximum:g} ({self.allowed})"
                )
        if self.choices and parsed not in self.choices:
            raise InvalidInput(self.name, f"{shown(parsed)} is not one of {self.allowed}")
        return parsed

    def format(self, value: ConfigValue) -> str:
        """The stored text of a parsed value (bools as ``true``/``false``)."""
        if isinstance(value, bool):
            return "true" if value else "false"
        return repr(value) if isinstance(value, float) else str(value)

    @property
    def allowed(self) -> str:
        """What may be set, for people: ``1..5000``, ``true/false``, ``a, b``."""
        if self.type == "bool":
            return "true/false"
        if self.choices:
            return ", ".join(self.choices)
        if self.type in ("int", "float"):
            low = "" if self.minimum is None else f"{self.minimum:g}"
            high = "" if self.maximum is None else f"{self.maximum:g}"
            kind = "whole number" if self.type == "int" else "number"
            return f"{kind} {low}..{high}"
        return "text"


@attrs.frozen
class ConfigEntry:
    """A key with its effective value, as listed by ``ConfigStore.all()``."""

    key: str
    value: ConfigValue
    type: str
    default: ConfigValue
    description: str
    allowed: str = ""

    @property
    def is_default(self) -> bool:
        return self.value == self.default


def entry(spec: ConfigKey, value: ConfigValue) -> ConfigEntry:
    """The listing entry of ``spec`` holding ``value``."""
    return ConfigEntry(spec.name, value, spec.type, spec.default, spec.description, spec.allowed)


def shown(value: object) -> str:
    """``value`` for an error message: itself when short and number-like, else described
    (a value typed into the wrong place may be a secret; a huge one floods the screen)."""
    if isinstance(value, bool | int | float) or value is None:
        return repr(value)
    if isinstance(value, str) and _SHOWABLE.fullmatch(value.strip() or "-"):
        return repr(value)
    if isinstance(value, str):
        return f"a text of {len(value)} character{'' if len(value) == 1 else 's'} (not shown)"
    return f"a {type(value).__name__} (not shown)"


def _parse_int(name: str, value: object) -> int:
    if isinstance(value, bool):
        raise InvalidInput(name, f"expected a whole number, got {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and _INT.fullmatch(value.strip()):
        return int(value.strip())
    raise InvalidInput(name, f"expected a whole number in ASCII digits, got {shown(value)}")


def _parse_float(name: str, value: object) -> float:
    if isinstance(value, bool):
        raise InvalidInput(name, f"expected a number, got {value!r}")
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str) and _FLOAT.fullmatch(value.strip()):
        number = float(value.strip())
    else:
        if isinstance(value, str) and value.strip().lower().lstrip("+-") in ("inf", "nan"):
            raise InvalidInput(name, f"expected a finite number, got {shown(value)}")
        raise InvalidInput(name, f"expected a number in ASCII digits, got {shown(value)}")
    if not math.isfinite(number):
        raise InvalidInput(name, f"expected a finite number, got {shown(value)}")
    return number


def _parse_bool(name: str, value: object) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower() if isinstance(value, str | int) else ""
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise InvalidInput(name, f"expected true or false, got {shown(value)}")


def _parse_string(name: str, value: object) -> str:
    if not isinstance(value, str):
        raise InvalidInput(name, f"expected text, got {type(value).__name__}")
    return value


_PARSERS = {"int": _parse_int, "float": _parse_float, "bool": _parse_bool, "string": _parse_string}


def _key(name: str, type_: str, default: ConfigValue, description: str, **kw) -> ConfigKey:
    return ConfigKey(name, type_, default, description, **kw)


_D = DetectorParams()

# Detector keys and the DetectorParams field each sets; defaults come from DetectorParams,
# whose defaults are the original's rules (its docstring quotes them).
DETECTOR_FIELDS: dict[str, str] = {
    "DETECTOR_KLINE_15M_COUNT": "kline_15m_count",
    "DETECTOR_KLINE_4H_COUNT": "kline_4h_count",
    "DETECTOR_SIGNAL_THRESHOLD": "signal_threshold",
    "DETECTOR_ACTIVITY_RATIO": "active_width_ratio",
    "DETECTOR_NEUTRAL_BAND": "neutral_band",
    "DETECTOR_BB_WINDOW": "bollinger_window",
    "DETECTOR_REQUIRE_ALIGNMENT": "environment_requires_alignment",
    "DETECTOR_MACD_RISING_BARS": "macd_rising_bars",
    "DETECTOR_MACD_RISING_REQUIRES_SIGN": "macd_rising_requires_sign",
    "DETECTOR_RSI_LONG_MAX": "rsi_long_max",
    "DETECTOR_RSI_SHORT_MIN": "rsi_short_min",
    "DETECTOR_RSI_VETO": "rsi_gate_blocks_signal",
    "DETECTOR_RSI_DOUBLE_LONG_BELOW": "rsi_double_long_below",
    "DETECTOR_RSI_DOUBLE_SHORT_ABOVE": "rsi_double_short_above",
    "DETECTOR_VOLUME_STD_MULTIPLIER": "volume_std_multiplier",
    "DETECTOR_VOLUME_WINDOW": "volume_window",
    "DETECTOR_BB_CONFIRM_RATIO": "confirm_width_ratio",
    "DETECTOR_MULTI_TIMEFRAME": "multi_timeframe",
    "DETECTOR_POINTS_ENVIRONMENT": "points_environment",
    "DETECTOR_POINTS_MACD": "points_macd",
    "DETECTOR_POINTS_RSI": "points_rsi",
    "DETECTOR_POINTS_VOLUME": "points_volume",
    "DETECTOR_POINTS_BOLLINGER": "points_bollinger",
    "DETECTOR_POINTS_MULTI_TIMEFRAME": "points_multi_timeframe",
}
SIGNAL_EXPIRE_HOURS = "DETECTOR_SIGNAL_EXPIRE_HOURS"
KLINE_SYNC_DELAY = "KLINE_SYNC_DELAY"
SYNC_TIMES_KEYS = ("FUNDING_RATE_SYNC_TIMES", "ETF_FLOW_SYNC_TIMES", "FEAR_GREED_SYNC_TIMES")
START_DAYS = {
    "15m": "KLINE_15M_START_DAYS",
    "4h": "KLINE_4H_START_DAYS",
    "1d": "KLINE_1D_START_DAYS",
}


def _detector(name: str, type_: str, description: str, **kw) -> ConfigKey:
    return ConfigKey(name, type_, getattr(_D, DETECTOR_FIELDS[name]), description, **kw)


CONFIG_KEYS: dict[str, ConfigKey] = {
    k.name: k
    for k in (
        # the detector's input (original: 15m x 100, 4h x 60 candles)
        _detector("DETECTOR_KLINE_15M_COUNT", "int",
                  "15m candles loaded per detection (at least the longest window)",
                  minimum=1, maximum=5000),
        _detector("DETECTOR_KLINE_4H_COUNT", "int",
                  "4h candles loaded per detection (at least MACD rising bars + 1)",
                  minimum=1, maximum=5000),
        # environment layer
        _detector("DETECTOR_ACTIVITY_RATIO", "float",
                  "active when Bollinger width >= mean width x this", minimum=0, maximum=10),
        _detector("DETECTOR_NEUTRAL_BAND", "float",
                  "NEUTRAL when |close - EMA55| <= this x EMA55 (0.001 = 0.1 %)",
                  minimum=0, maximum=0.1),
        _detector("DETECTOR_BB_WINDOW", "int",
                  "15m candles the mean Bollinger width is taken over", minimum=1, maximum=1000),
        _detector("DETECTOR_REQUIRE_ALIGNMENT", "bool",
                  "option: the environment +10 also needs the 15m and 4h trends aligned"),
        # trigger layer
        _detector("DETECTOR_MACD_RISING_BARS", "int",
                  "closes the MACD histogram must keep rising (falling) over",
                  minimum=1, maximum=20),
        _detector("DETECTOR_MACD_RISING_REQUIRES_SIGN", "bool",
                  "option: a rise counts only above zero (a fall only below)"),
        _detector("DETECTOR_RSI_LONG_MAX", "float", "LONG needs RSI below this",
                  minimum=0, maximum=100),
        _detector("DETECTOR_RSI_SHORT_MIN", "float", "SHORT needs RSI above this",
                  minimum=0, maximum=100),
        _detector("DETECTOR_RSI_VETO", "bool",
                  "an RSI outside the limit withholds the signal whatever the score"),
        _detector("DETECTOR_RSI_DOUBLE_LONG_BELOW", "float",
                  "LONG position multiplier 2 when RSI is below this", minimum=0, maximum=100),
        _detector("DETECTOR_RSI_DOUBLE_SHORT_ABOVE", "float",
                  "SHORT position multiplier 2 when RSI is above this", minimum=0, maximum=100),
        # confirmation layer
        _detector("DETECTOR_VOLUME_STD_MULTIPLIER", "float",
                  "volume confirmed at >= mean + this x standard deviation",
                  minimum=0, maximum=10),
        _detector("DETECTOR_VOLUME_WINDOW", "int",
                  "15m candles the volume mean and deviation are taken over",
                  minimum=2, maximum=1000),
        _detector("DETECTOR_BB_CONFIRM_RATIO", "float",
                  "Bollinger confirmed at width >= mean width x this", minimum=0, maximum=10),
        _detector("DETECTOR_MULTI_TIMEFRAME", "bool",
                  "score 15m/4h resonance (both triggering the same way)"),
        # score
        _detector("DETECTOR_POINTS_ENVIRONMENT", "int", "points: environment passed",
                  minimum=0, maximum=100),
        _detector("DETECTOR_POINTS_MACD", "int", "points: MACD turn or rise",
                  minimum=0, maximum=100),
        _detector("DETECTOR_POINTS_RSI", "int", "points: RSI within its limit",
                  minimum=0, maximum=100),
        _detector("DETECTOR_POINTS_VOLUME", "int", "points: volume confirmed",
                  minimum=0, maximum=100),
        _detector("DETECTOR_POINTS_BOLLINGER", "int", "points: Bollinger confirmed",
                  minimum=0, maximum=100),
        _detector("DETECTOR_POINTS_MULTI_TIMEFRAME", "int", "points: 15m/4h resonance",
                  minimum=0, maximum=100),
        _detector("DETECTOR_SIGNAL_THRESHOLD", "int",
                  "minimum score for a LONG/SHORT signal", minimum=0, maximum=600),
        _key(SIGNAL_EXPIRE_HOURS, "float", 4.0,
             "hours a stored signal stays active after its candle closed",
             minimum=0.25, maximum=168),
        # OKX REST: the permit gate and the retry policy (original: APIManager)
        _key("API_RATE_LIMIT", "int", 10, "OKX requests allowed per window, all endpoints",
             minimum=1, maximum=1000),
        _key("API_RATE_WINDOW", "float", 2.0, "length of the rate-limit window, seconds",
             minimum=0.1, maximum=60),
        _key("API_MIN_INTERVAL", "float", 0.2, "minimum gap between two OKX requests, seconds",
             minimum=0, maximum=10),
        _key("API_MAX_RETRIES", "int", 3,
             "retries of a request that failed on the network, a timeout, 5xx or a rate "
             "limit (an order is looked up, never re-sent blindly)", minimum=0, maximum=10),
        _key("API_REQUEST_TIMEOUT", "float", 30.0, "timeout of one OKX request, seconds",
             minimum=1, maximum=120),
        # trading (TradingService)
        _key("TRADING_DEFAULT_LEVERAGE", "int", 10,
             "leverage of a new position when the caller gives none (capped by the "
             "instrument's maximum)", minimum=1, maximum=125),
        _key("TRADING_MARGIN_MODE", "string", "cross",
             "margin mode of new orders: cross or isolated", choices=("cross", "isolated")),
        _key("TRADING_LEASE_SECONDS", "float", 30.0,
             "a service instance's hold on the symbols it trades lasts this long unless "
             "renewed (every third of it); another instance takes a symbol over only "
             "after it expired", minimum=5, maximum=3600),
        # the simulated exchange's fills (sim and paper modes; adapters/sim/model.py),
        # read at each fill or placement that needs them
        _key("SIM_SPREAD_BPS", "float", 1.0,
             "simulated exchange: quoted spread in basis points; a market order or a "
             "triggered stop pays half of it (plus SIM_SLIPPAGE_BPS)", minimum=0,
             maximum=1000),
        _key("SIM_SLIPPAGE_BPS", "float", 2.0,
             "simulated exchange: basis points a market order or a triggered stop loses "
             "beyond half the spread", minimum=0, maximum=1000),
        _key("SIM_PRICE_BAND_PERCENT", "float", 5.0,
             "simulated exchange: a limit order may buy at most this percent above the "
             "last price and sell at most this percent below it (else OKX 51006)",
             minimum=0.01, maximum=100),
        # OKX private WebSocket (original: WS_*)
        _key("WS_HEARTBEAT_INTERVAL", "float", 20.0,
             "send 'ping' after this long without a message (OKX drops at 30 s)",
             minimum=1, maximum=29),
        _key("WS_PING_TIMEOUT", "float", 5.0, "reconnect when no 'pong' comes within this long",
             minimum=1, maximum=60),
        _key("WS_RECONNECT_INTERVAL", "float", 5.0, "wait before each reconnect, seconds",
             minimum=0.1, maximum=300),
        # reconciliation (database vs exchange; also at start and after each reconnect)
        _key("RECONCILE_INTERVAL", "float", 300.0,
             "seconds between two periodic reconciliations", minimum=5, maximum=86400),
        _key("RECONCILE_INTENT_GRACE", "float", 60.0,
             "seconds an order intent may stay unresolved (in flight) before "
             "reconciliation looks its order up; 0 at start", minimum=1, maximum=3600),
        _key("STOP_LOSS_GUARD_DEFAULT_PERCENT", "float", 5.0,
             "stop-loss the guard places on a position with none and no plan: percent "
             "below (LONG) / above (SHORT) the worse of entry and mark", minimum=0.1,
             maximum=50),
        # pending trigger orders (original: PENDING_ORDER_EXPIRE_HOURS, 1 h)
        _key("PENDING_ORDER_EXPIRE_HOURS", "float", 1.0,
             "hours a new pending order waits for its trigger before it expires",
             minimum=0.01, maximum=720),
        _key("PENDING_MONITOR_INTERVAL", "float", 5.0,
             "seconds between two checks of pending orders against the price",
             minimum=0.5, maximum=300),
        # the signal policy: trading on signals (read at every signal)
        _key("POLICY_ENABLED", "string", "auto",
             "trade on signals: auto = on in sim and paper, off in live; true; false",
             choices=("auto", "true", "false")),
        _key("POLICY_INTERVAL", "float", 60.0,
             "seconds between two passes over active signals not yet traded",
             minimum=1, maximum=3600),
        _key("POLICY_MARGIN_PER_TRADE", "float", 100.0,
             "USDT of margin per trade (times the signal's position multiplier)",
             minimum=0.01, maximum=1e9),
        _key("POLICY_LEVERAGE", "int", 5,
             "leverage of positions opened on signals (capped at the instrument's maximum)",
             minimum=1, maximum=125),
        _key("POLICY_STOP_MODE", "string", "atr",
             "stop-loss/take-profit distance: atr = ATR(14) of 15m x the multiples; "
             "percent = the fixed percentages", choices=("atr", "percent")),
        _key("POLICY_SL_ATR_MULTIPLE", "float", 1.5,
             "stop-loss distance from the entry in ATR(14) of 15m", minimum=0.1, maximum=50),
        _key("POLICY_TP_ATR_MULTIPLE", "float", 3.0,
             "take-profit distance from the entry in ATR(14) of 15m (0: no take-profit)",
             minimum=0, maximum=100),
        _key("POLICY_SL_PERCENT", "float", 1.0,
             "stop-loss distance from the entry, percent of the price", minimum=0.01,
             maximum=50),
        _key("POLICY_TP_PERCENT", "float", 2.0,
             "take-profit distance from the entry, percent of the price (0: no take-profit)",
             minimum=0, maximum=1000),
        _key("POLICY_USE_PENDING", "bool", False,
             "place a pending trigger order at a pullback instead of opening at market"),
        _key("POLICY_PENDING_OFFSET_PERCENT", "float", 0.2,
             "pullback of the pending order's trigger from the price, percent "
             "(below it for LONG, above for SHORT)", minimum=0.01, maximum=20),
        # candle history (original: 15m 30 days, 4h 180, 1d 600)
        _key(START_DAYS["15m"], "int", 30,
             "days of 15m candles the sync engine keeps filled (and `backfill` without --days)",
             minimum=1, maximum=3650),
        _key(START_DAYS["4h"], "int", 180,
             "days of 4h candles the sync engine keeps filled (and `backfill` without --days)",
             minimum=1, maximum=3650),
        _key(START_DAYS["1d"], "int", 600,
             "days of 1d candles the sync engine keeps filled (and `backfill` without --days)",
             minimum=1, maximum=3650),
        # market-data and account-history windows (original: funding 30 days; the other
        # kinds "history at start"); read at each run of their sync job
        _key("FUNDING_RATE_START_DAYS", "int", 30,
             "days of funding settlements the funding_rate job keeps filled",
             minimum=1, maximum=3650),
        _key("OPEN_INTEREST_START_DAYS", "int", 30,
             "days of 15m open interest the open_interest job keeps filled (OKX's own "
             "statistics, used without a CoinGlass key, hold the last 15 days)",
             minimum=1, maximum=3650),
        _key("MARKET_SENTIMENT_START_DAYS", "int", 30,
             "days of hourly long/short account ratios the market_sentiment job keeps filled",
             minimum=1, maximum=3650),
        _key("LIQUIDATION_START_DAYS", "int", 30,
             "days of hourly liquidations the liquidation job keeps filled (OKX, used "
             "without a CoinGlass key, holds the last day)", minimum=1, maximum=3650),
        _key("ETF_FLOW_START_DAYS", "int", 365,
             "days of daily ETF flows (BTC, ETH) the etf_flow job keeps filled",
             minimum=1, maximum=3650),
        _key("FEAR_GREED_START_DAYS", "int", 365,
             "days of the daily fear & greed index the fear_greed job keeps filled",
             minimum=1, maximum=3650),
        _key("ORDER_BOOK_DEPTH", "int", 20,
             "levels a side of each order-book snapshot", minimum=1, maximum=400),
        _key("ORDER_HISTORY_START_DAYS", "int", 90,
             "days of order history read at start (OKX keeps 3 months)",
             minimum=1, maximum=3650),
        _key("POSITION_HISTORY_START_DAYS", "int", 90,
             "days of position history read at start (OKX keeps 3 months)",
             minimum=1, maximum=3650),
        # sync schedules (original: klines right after each close, funding after each
        # settlement, open interest 15 min, sentiment/book/liquidations hourly, ETF flows
        # daily 08:00, fear & greed daily, order/position history 30 s); read at each run
        _key(KLINE_SYNC_DELAY, "float", 5.0,
             "seconds after a candle closes that its kline job runs (the venue confirms it)",
             minimum=0, maximum=600),
        _key("FUNDING_RATE_SYNC_TIMES", "string", "00:01,08:01,16:01",
             "UTC times of day (HH:MM, comma separated) the funding-rate job runs"),
        _key("OPEN_INTEREST_SYNC_INTERVAL", "int", 900, "seconds between open-interest syncs",
             minimum=10, maximum=86400),
        _key("MARKET_SENTIMENT_SYNC_INTERVAL", "int", 3600,
             "seconds between long/short sentiment syncs", minimum=10, maximum=86400),
        _key("ORDER_BOOK_SYNC_INTERVAL", "int", 3600, "seconds between order-book snapshots",
             minimum=10, maximum=86400),
        _key("ETF_FLOW_SYNC_TIMES", "string", "08:00",
             "UTC times of day (HH:MM, comma separated) the ETF-flow job runs"),
        _key("FEAR_GREED_SYNC_TIMES", "string", "00:10",
             "UTC times of day (HH:MM, comma separated) the fear & greed job runs"),
        _key("LIQUIDATION_SYNC_INTERVAL", "int", 3600, "seconds between liquidation syncs",
             minimum=10, maximum=86400),
        _key("ORDER_HISTORY_SYNC_INTERVAL", "int", 30, "seconds between order-history syncs",
             minimum=5, maximum=86400),
        _key("POSITION_HISTORY_SYNC_INTERVAL", "int", 30,
             "seconds between position-history syncs", minimum=5, maximum=86400),
        # notifications (QWENTRADE_NOTIFY_URLS): each kind on or off, read at each send
        # (one per domain.notify.NoticeKind: NOTIFY_ + the kind's name)
        *(_key(name, "bool", True, f"notify: {text}") for name, text in (
            ("NOTIFY_SIGNAL", "a new LONG/SHORT signal"),
            ("NOTIFY_POSITION_OPENED", "a position opened (its entry filled)"),
            ("NOTIFY_POSITION_ADDED", "an add to a position accepted"),
            ("NOTIFY_POSITION_REDUCED", "a reduce of a position accepted"),
            ("NOTIFY_POSITION_CLOSED", "a position closed by qwentrade, with its PnL"),
            ("NOTIFY_STOP_LOSS_HIT", "a stop-loss closed a position, with its PnL"),
            ("NOTIFY_TAKE_PROFIT_HIT", "a take-profit closed a position, with its PnL"),
            ("NOTIFY_EXTERNAL_CLOSE", "a position closed outside qwentrade"),
            ("NOTIFY_PENDING_TRIGGERED", "a pending order triggered"),
            ("NOTIFY_PENDING_EXPIRED", "a pending order expired"),
            ("NOTIFY_SYNC_FAILING", "a sync job failing NOTIFY_SYNC_FAILING_RUNS runs "
             "in a row (and its recovery)"),
            ("NOTIFY_STREAM_DOWN", "the private stream down for more than "
             "NOTIFY_STREAM_DOWN_SECONDS (and back)"),
            ("NOTIFY_AUTH_FAILURE", "an HTTP request refused for a missing or wrong "
             "API key"),
            ("NOTIFY_POSITION_ADOPTED", "reconciliation adopting a position the "
             "database did not know"),
        )),
        _key("NOTIFY_SYNC_FAILING_RUNS", "int", 3,
             "failed runs in a row of one sync job before it is notified",
             minimum=1, maximum=1000),
        _key("NOTIFY_STREAM_DOWN_SECONDS", "float", 120.0,
             "seconds the private stream may be down before it is notified",
             minimum=1, maximum=86400),
        _key("NOTIFY_RATE_LIMIT_COUNT", "int", 5,
             "notifications of one kind and subject (symbol, job) per "
             "NOTIFY_RATE_LIMIT_WINDOW; more are held back and counted",
             minimum=1, maximum=1000),
        _key("NOTIFY_RATE_LIMIT_WINDOW", "float", 600.0,
             "seconds of the notification rate limit's window", minimum=1, maximum=86400),
        _key("NOTIFY_RETRIES", "int", 3,
             "delivery attempts after a failed one (then the notification is logged and "
             "dropped)", minimum=0, maximum=10),
        _key("NOTIFY_RETRY_DELAY", "float", 2.0,
             "seconds before the first retry of a failed delivery; doubled each retry",
             minimum=0, maximum=600),
    )
}  # fmt: skip


def _key_values(values: Mapping[str, ConfigValue], *names: str) -> list[ConfigValue]:
    return [values.get(name, CONFIG_KEYS[name].default) for name in names]


def _rsi_limits(values: Mapping[str, ConfigValue]) -> str | None:
    short_min, long_max = _key_values(values, "DETECTOR_RSI_SHORT_MIN", "DETECTOR_RSI_LONG_MAX")
    if short_min >= long_max:  # type: ignore[operator]
        return (
            f"DETECTOR_RSI_SHORT_MIN {short_min:g} must be below DETECTOR_RSI_LONG_MAX "
            f"{long_max:g}, or no RSI would suit either side"
        )
    return None


def _reachable_threshold(values: Mapping[str, ConfigValue]) -> str | None:
    points = [n for n in DETECTOR_FIELDS if n.startswith("DETECTOR_POINTS_")]
    total = sum(_key_values(values, *points))  # type: ignore[arg-type]
    (threshold,) = _key_values(values, "DETECTOR_SIGNAL_THRESHOLD")
    if threshold > total:  # type: ignore[operator]
        return (
            f"DETECTOR_SIGNAL_THRESHOLD {threshold} is above the highest possible score "
            f"{total} (the DETECTOR_POINTS_* keys): no signal could ever fire"
        )
    return None


def _counts_cover_windows(values: Mapping[str, ConfigValue]) -> str | None:
    count_15m, count_4h, bb, volume, bars, multi = _key_values(
        values,
        "DETECTOR_KLINE_15M_COUNT",
        "DETECTOR_KLINE_4H_COUNT",
        "DETECTOR_BB_WINDOW",
        "DETECTOR_VOLUME_WINDOW",
        "DETECTOR_MACD_RISING_BARS",
        "DETECTOR_MULTI_TIMEFRAME",
    )
    needed = max(bb, volume, bars + 1)  # type: ignore[operator,type-var]
    if count_15m < needed:  # type: ignore[operator]
        return (
            f"DETECTOR_KLINE_15M_COUNT {count_15m} is below {needed}, the 15m candles the "
            "windows read (DETECTOR_BB_WINDOW, DETECTOR_VOLUME_WINDOW, "
            "DETECTOR_MACD_RISING_BARS + 1)"
        )
    if multi and count_4h < bars + 1:  # type: ignore[operator]
        return (
            f"DETECTOR_KLINE_4H_COUNT {count_4h} is below {bars + 1}, the 4h candles "
            "resonance reads (DETECTOR_MACD_RISING_BARS + 1)"
        )
    return None


def _interval_within_window(values: Mapping[str, ConfigValue]) -> str | None:
    interval, window = _key_values(values, "API_MIN_INTERVAL", "API_RATE_WINDOW")
    if interval > window:  # type: ignore[operator]
        return (
            f"API_MIN_INTERVAL {interval:g} s is longer than API_RATE_WINDOW {window:g} s: "
            "the window could never hold more than one request"
        )
    return None


def _times_of_day_rule(name: str) -> Callable[[Mapping[str, ConfigValue]], str | None]:
    def rule(values: Mapping[str, ConfigValue]) -> str | None:
        (text,) = _key_values(values, name)
        try:
            TimesOfDay.parse(str(text))
        except InvalidInput as e:
            return f"{name} {e.message}; e.g. 00:01,08:01,16:01"
        return None

    return rule


CROSS_RULES: tuple[
    tuple[frozenset[str], Callable[[Mapping[str, ConfigValue]], str | None]], ...
] = (
    (frozenset({"DETECTOR_RSI_SHORT_MIN", "DETECTOR_RSI_LONG_MAX"}), _rsi_limits),
    (
        frozenset(n for n in DETECTOR_FIELDS if n.startswith("DETECTOR_POINTS_"))
        | {"DETECTOR_SIGNAL_THRESHOLD"},
        _reachable_threshold,
    ),
    (
        frozenset(
            {
                "DETECTOR_KLINE_15M_COUNT",
                "DETECTOR_KLINE_4H_COUNT",
                "DETECTOR_BB_WINDOW",
                "DETECTOR_VOLUME_WINDOW",
                "DETECTOR_MACD_RISING_BARS",
                "DETECTOR_MULTI_TIMEFRAME",
            }
        ),
        _counts_cover_windows,
    ),
    (frozenset({"API_MIN_INTERVAL", "API_RATE_WINDOW"}), _interval_within_window),
    *((frozenset({name}), _times_of_day_rule(name)) for name in SYNC_TIMES_KEYS),
)


def effective_values(stored: Mapping[str, str]) -> dict[str, ConfigValue]:
    """Every key's value from the stored texts (absent or invalid text: the default)."""
    values: dict[str, ConfigValue] = {}
    for name, spec in CONFIG_KEYS.items():
        text = stored.get(name)
        try:
            values[name] = spec.default if text is None else spec.parse(text)
        except InvalidInput:
            values[name] = spec.default
    return values


def check_combination(values: Mapping[str, ConfigValue], changed: str) -> None:
    """Refuse (InvalidInput naming ``changed``) a set of values breaking a cross-key rule
    that involves ``changed``; ``values`` holds the effective value of every key, the new
    one included (missing keys count as their defaults)."""
    for keys, rule in CROSS_RULES:
        if changed in keys:
            problem = rule(values)
            if problem:
                hint = "; change the other key first" if len(keys) > 1 else ""
                raise InvalidInput(changed, f"{problem}{hint}")


def detector_params(values: Mapping[str, ConfigValue]) -> DetectorParams:
    """The DetectorParams that the config values give (missing keys: their defaults)."""
    fields = {field: values.get(name, _D_DEFAULT[name]) for name, field in DETECTOR_FIELDS.items()}
    hours = values.get(SIGNAL_EXPIRE_HOURS, CONFIG_KEYS[SIGNAL_EXPIRE_HOURS].default)
    return DetectorParams(**fields, signal_expiry=timedelta(hours=float(hours)))


_D_DEFAULT = {name: CONFIG_KEYS[name].default for name in DETECTOR_FIELDS}


def canonical_name(name: object) -> str:
    """``name`` as a key is stored: upper case, ``.`` and ``-`` read as ``_``."""
    if not isinstance(name, str) or not _NAME.fullmatch(name.strip()):
        raise InvalidInput("key", f"expected a config key name, got {shown(name)}")
    return re.sub(r"[.\-]", "_", name.strip()).upper()


def config_key(name: str) -> ConfigKey:
    """The key called ``name`` (any case; ``.``/``-`` as ``_``); secrets and unknown names
    raise InvalidInput naming it."""
    if isinstance(name, str) and SECRET_NAME.search(name):
        raise InvalidInput(
            name[:100],
            "secrets are not kept in the config table: secrets come from the environment "
            "(QWENTRADE_* variables or QWENTRADE_SECRETS_FILE)",
        )
    canonical = canonical_name(name)
    try:
        return CONFIG_KEYS[canonical]
    except KeyError:
        raise InvalidInput(
            name, "is not a config key (a typo?); `qwentrade config list` shows them all"
        ) from None
