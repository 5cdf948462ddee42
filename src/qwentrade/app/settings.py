"""Settings: one frozen object built from ``QWENTRADE_*`` environment variables.

``Settings.from_env(os.environ)`` is the only way in. A bad value stops the start with a
:class:`SettingsError` that names the variable and says what is allowed. Secrets are held in
:class:`Secret`, whose ``repr`` and ``str`` never show the value; only ``reveal()`` does.

Secrets may also come from a file named by ``QWENTRADE_SECRETS_FILE`` (``NAME=value`` lines,
``#`` comments); a variable set in the environment wins over the file.
"""

from __future__ import annotations

import enum
import math
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import attrs

PREFIX = "QWENTRADE_"
DEFAULT_SYMBOLS = ("BTC-USDT-SWAP", "ETH-USDT-SWAP", "SOL-USDT-SWAP")
DEFAULT_DATABASE_URL = "sqlite:///qwentrade.db"
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
SYMBOL_PATTERN = re.compile(r"^[A-Z0-9]{1,15}-[A-Z]{2,8}-SWAP$")
SECRETS_FILE_MAX_BYTES = 1024 * 1024  # a secrets file is a few lines; /dev/zero is not one
# ASCII digits only: int()/float() also take "1_0", Arabic-Indic and mathematical digits.
WHOLE_NUMBER = re.compile(r"[+-]?[0-9]+")
DECIMAL_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
# Variables read elsewhere (the test suite), not by the service: not "unknown".
FOREIGN_VARIABLES = frozenset({"QWENTRADE_TEST_DATABASE_URL"})


class SettingsError(ValueError):
    """A setting has a value that is not allowed; ``variable`` names it."""

    def __init__(self, variable: str, message: str) -> None:
        super().__init__(f"{variable}: {message}")
        self.variable = variable


@attrs.frozen(repr=False)
class Secret:
    """A secret string: masked in ``repr``/``str``; ``reveal()`` gives the value."""

    _value: str = attrs.field(alias="value")

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('********')"

    def __str__(self) -> str:
        return "********"

    def __bool__(self) -> bool:
        return bool(self._value)


class Mode(enum.Enum):
    """sim: simulated market and exchange; paper: OKX prices, simulated orders; live: OKX."""

    SIM = "sim"
    PAPER = "paper"
    LIVE = "live"


@attrs.frozen
class Settings:
    """Everything the process needs to start, typed and validated."""

    mode: Mode = Mode.SIM
    database_url: str = DEFAULT_DATABASE_URL
    symbols: tuple[str, ...] = DEFAULT_SYMBOLS
    http_host: str = "127.0.0.1"
    http_port: int = 8000
    http_open_reads: bool = False
    http_cors_origins: tuple[str, ...] = ()
    http_max_body_bytes: int = 64 * 1024
    log_level: str = "INFO"
    log_file: Path | None = Path("qwentrade.log")
    log_max_bytes: int = 10 * 1024 * 1024
    log_backups: int = 5
    shutdown_grace: float = 5.0
    sim_speed: float | None = None
    api_key: Secret | None = None
    okx_api_key: Secret | None = None
    okx_secret: Secret | None = None
    okx_passphrase: Secret | None = None
    okx_rest_url: str = "https://www.okx.com"
    okx_demo: bool = False
    okx_ws_url: str = "wss://ws.okx.com:8443/ws/v5/private"
    coinglass_api_key: Secret | None = None
    coinglass_url: str = "https://open-api-v4.coinglass.com"
    notify_urls: Secret | None = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Settings:
        """Build settings from ``environ`` (normally ``os.environ``); raise SettingsError."""
        values = dict(_read_secrets_file(environ))
        values.update({k: v for k, v in environ.items() if k.startswith(PREFIX)})
        known = {_variable(name) for name in _PARSERS} | {f"{PREFIX}SECRETS_FILE"}
        for variable in sorted(values):
            if variable not in known and variable not in FOREIGN_VARIABLES:
                raise SettingsError(
                    variable,
                    "is not a qwentrade setting (a typo?); known settings: "
                    + ", ".join(sorted(known)),
                )
        kwargs: dict[str, Any] = {}
        for name, parse in _PARSERS.items():
            raw = values.get(_variable(name))
            if raw is not None:
                kwargs[name] = parse(_variable(name), raw.strip())
        settings = cls(**kwargs)
        settings.check()
        return settings

    def check(self) -> None:
        """Cross-field rules. (The OKX credentials that live mode needs are checked when a
        live container is built, :meth:`missing_okx_credentials`: ``qwentrade settings``
        must still show a live configuration that lacks them.)"""

    def missing_okx_credentials(self) -> list[str]:
        """The ``QWENTRADE_OKX_*`` variables of the API key, secret and passphrase that are
        not set (all three are needed to sign OKX's private requests)."""
        return [
            _variable(name)
            for name in ("okx_api_key", "okx_secret", "okx_passphrase")
            if not getattr(self, name)
        ]

    def secrets(self) -> list[str]:
        """The revealed values of every configured secret (for the log masking filter)."""
        return [
            value.reveal()
            for value in attrs.asdict(self, recurse=False).values()
            if isinstance(value, Secret) and value
        ] + notify_url_list(self.notify_urls)  # each URL alone, too

    def describe(self) -> dict[str, str]:
        """Every setting as text, secrets masked: safe to print or return from an API."""
        out = {}
        for name, value in attrs.asdict(self, recurse=False).items():
            if name in SECRET_FIELDS:
                out[name] = "set (hidden)" if value else "not set"
            elif name == "database_url":
                out[name] = _safe_url(value)
            elif isinstance(value, Mode):
                out[name] = value.value
            elif isinstance(value, tuple):
                out[name] = ",".join(value)
            else:
                out[name] = "" if value is None else str(value)
        return out


SECRET_FIELDS = frozenset(
    {"api_key", "okx_api_key", "okx_secret", "okx_passphrase", "coinglass_api_key", "notify_urls"}
)


def _variable(name: str) -> str:
    return PREFIX + name.upper()


def parse_whole_number(text: str) -> int | None:
    """``text`` as an int if it is written in ASCII decimal digits (optional sign), else None."""
    text = text.strip()
    return int(text) if WHOLE_NUMBER.fullmatch(text) else None


def parse_finite_number(text: str) -> float | None:
    """``text`` as a finite float if it is an ASCII decimal number (``2``, ``0.5``,
    ``1e3``), else None: no ``nan``, ``inf``, ``1_0`` or non-ASCII digits."""
    text = text.strip()
    if not DECIMAL_NUMBER.fullmatch(text):
        return None
    value = float(text)
    return value if math.isfinite(value) else None


def _read_secrets_file(environ: Mapping[str, str]) -> dict[str, str]:
    variable = f"{PREFIX}SECRETS_FILE"
    path = environ.get(variable)
    if not path:
        return {}
    try:
        with Path(path).open("rb") as file:
            data = file.read(SECRETS_FILE_MAX_BYTES + 1)
    except OSError as e:
        raise SettingsError(
            variable, f"cannot read {path}: {e.strerror}; name a readable file of secrets"
        ) from None
    if len(data) > SECRETS_FILE_MAX_BYTES:
        raise SettingsError(
            variable,
            f"{path} is larger than {SECRETS_FILE_MAX_BYTES} bytes: name a small file of "
            "QWENTRADE_NAME=value lines",
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise SettingsError(
            variable,
            f"{path} is not UTF-8 text (byte {e.start}): save it as UTF-8 "
            "QWENTRADE_NAME=value lines",
        ) from None
    values = {}
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, value = line.partition("=")
        if not sep or not name.strip().startswith(PREFIX):
            raise SettingsError(
                f"{PREFIX}SECRETS_FILE",
                f"line {number} of {path} is not QWENTRADE_NAME=value",
            )
        values[name.strip()] = value.strip()
    return values


def _mode(variable: str, raw: str) -> Mode:
    try:
        return Mode(raw.lower())
    except ValueError:
        raise SettingsError(variable, f"{raw!r} is not one of sim, paper, live") from None


def _database_url(variable: str, raw: str) -> str:
    if not raw.startswith(("sqlite:", "postgresql:", "postgresql+psycopg:")):
        raise SettingsError(
            variable,
            f"{_safe_url(raw)!r} is not supported: use sqlite:///path/file.db "
            "or postgresql+psycopg://user@host:5432/database",
        )
    if raw.startswith("postgresql:"):
        raw = "postgresql+psycopg:" + raw.removeprefix("postgresql:")
    return raw


def _safe_url(url: str) -> str:
    """The URL with any password replaced, for error messages."""
    return re.sub(r"(//[^:/@]+:)[^@]*@", r"\1***@", url)


def _symbols(variable: str, raw: str) -> tuple[str, ...]:
    symbols = tuple(s.strip().upper() for s in raw.split(",") if s.strip())
    if not symbols:
        raise SettingsError(variable, "needs at least one symbol, e.g. BTC-USDT-SWAP")
    for symbol in symbols:
        if not SYMBOL_PATTERN.match(symbol):
            raise SettingsError(
                variable, f"{symbol!r} is not an OKX perpetual swap id like BTC-USDT-SWAP"
            )
    if len(set(symbols)) != len(symbols):
        raise SettingsError(variable, f"lists a symbol twice: {raw}")
    return symbols


def _int_in(low: int, high: int) -> Callable[[str, str], int]:
    def parse(variable: str, raw: str) -> int:
        value = parse_whole_number(raw)
        if value is None:
            raise SettingsError(variable, f"{raw!r} is not a whole number: use the digits 0-9 only")
        if not low <= value <= high:
            raise SettingsError(variable, f"{value} is outside {low}..{high}")
        return value

    return parse


def _float_in(low: float, high: float) -> Callable[[str, str], float]:
    def parse(variable: str, raw: str) -> float:
        value = parse_finite_number(raw)
        if value is None:
            raise SettingsError(variable, f"{raw!r} is not a number: use the digits 0-9 and a '.'")
        if not low <= value <= high:
            raise SettingsError(variable, f"{value} is outside {low}..{high}")
        return value

    return parse


def _log_level(variable: str, raw: str) -> str:
    if raw.upper() not in LOG_LEVELS:
        raise SettingsError(variable, f"{raw!r} is not one of {', '.join(LOG_LEVELS)}")
    return raw.upper()


def _log_file(variable: str, raw: str) -> Path | None:
    if not raw:
        return None
    path = Path(raw)
    if path.is_dir():
        raise SettingsError(
            variable,
            f"{raw} is a folder: name a file in it (e.g. {path / 'qwentrade.log'}), or set "
            "it empty to log to no file",
        )
    return path


def _host(variable: str, raw: str) -> str:
    if not raw or any(c.isspace() for c in raw):
        raise SettingsError(variable, f"{raw!r} is not a host name or address")
    return raw


def _url(variable: str, raw: str) -> str:
    if not re.match(r"^(https?|wss?)://[^\s/]+", raw):
        raise SettingsError(variable, f"{raw!r} is not an http(s):// or ws(s):// URL")
    return raw.rstrip("/")


def _bool(variable: str, raw: str) -> bool:
    text = raw.lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off", ""):
        return False
    raise SettingsError(variable, f"{raw!r} is not true or false (also 1/0, yes/no, on/off)")


def _origins(variable: str, raw: str) -> tuple[str, ...]:
    origins = tuple(o.strip().rstrip("/") for o in raw.split(",") if o.strip())
    for origin in origins:
        if origin != "*" and not re.fullmatch(r"https?://[^\s/]+", origin):
            raise SettingsError(
                variable, f"{origin!r} is not an origin like https://dashboard.example.com"
            )
    return origins


def _secret(variable: str, raw: str) -> Secret | None:
    return Secret(raw) if raw else None


def notify_url_list(urls: Secret | None) -> list[str]:
    """The Apprise URLs of ``QWENTRADE_NOTIFY_URLS`` (separated by spaces or commas)."""
    return urls.reveal().replace(",", " ").split() if urls else []


def _notify_urls(variable: str, raw: str) -> Secret | None:
    for index, url in enumerate(notify_url_list(Secret(raw)), 1):
        if not re.match(r"^[a-z][a-z0-9+.-]*://\S", url, re.I):  # the URL is never echoed
            raise SettingsError(
                variable,
                f"URL #{index} is not an Apprise URL (scheme://..., e.g. tgram://, "
                "discord://, slack://, mailto://, ntfy://, json://); separate URLs by spaces",
            )
    return _secret(variable, raw)


_PARSERS: dict[str, Callable[[str, str], Any]] = {
    "mode": _mode,
    "database_url": _database_url,
    "symbols": _symbols,
    "http_host": _host,
    "http_port": _int_in(0, 65535),
    "http_open_reads": _bool,
    "http_cors_origins": _origins,
    "http_max_body_bytes": _int_in(1024, 16 * 1024 * 1024),
    "log_level": _log_level,
    "log_file": _log_file,
    "log_max_bytes": _int_in(1024, 2**40),
    "log_backups": _int_in(0, 1000),
    "shutdown_grace": _float_in(0.1, 300.0),
    "sim_speed": _float_in(0.01, 10000.0),
    "api_key": _secret,
    "okx_api_key": _secret,
    "okx_secret": _secret,
    "okx_passphrase": _secret,
    "okx_rest_url": _url,
    "okx_demo": _bool,
    "okx_ws_url": _url,
    "coinglass_api_key": _secret,
    "coinglass_url": _url,
    "notify_urls": _notify_urls,
}

SETTING_HELP: dict[str, str] = {
    "mode": "sim (default: simulated market, no network), paper (OKX public prices, "
    "simulated orders, no keys) or live (real orders on OKX; needs the three OKX keys)",
    "database_url": "sqlite:///qwentrade.db (default, embedded) or postgresql+psycopg://...",
    "symbols": "comma-separated OKX swap ids (default BTC-USDT-SWAP,ETH-USDT-SWAP,SOL-USDT-SWAP)",
    "http_host": "address the HTTP service binds (default 127.0.0.1)",
    "http_port": "port of the HTTP service (default 8000; 0 picks a free one)",
    "http_open_reads": "true: the HTTP queries (GET, except /config) need no API key; "
    "default false (every endpoint but /health and the docs needs X-API-Key)",
    "http_cors_origins": "comma-separated browser origins allowed to call the API "
    "(default none: CORS closed)",
    "http_max_body_bytes": "largest HTTP request body accepted (default 65536; 413 beyond)",
    "log_level": "DEBUG, INFO (default), WARNING, ERROR or CRITICAL",
    "log_file": "rotating log file (default qwentrade.log; empty disables the file)",
    "log_max_bytes": "size at which the log file rotates (default 10485760 = 10 MB)",
    "log_backups": "rotated log files kept (default 5)",
    "shutdown_grace": "seconds allowed for a clean stop (default 5)",
    "sim_speed": "sim mode: how many times faster than real time the simulated market runs "
    "(default 120 for `qwentrade serve`: a 15m candle every 7.5 s; 1 for other commands)",
    "api_key": "secret: the HTTP API key (X-API-Key header); when unset, serve generates "
    "one at first start, prints it once and stores only its hash",
    "okx_api_key": "secret: OKX API key (live mode)",
    "okx_secret": "secret: OKX API secret (live mode)",
    "okx_passphrase": "secret: OKX API passphrase (live mode)",
    "okx_rest_url": "OKX REST base URL of paper and live mode (default https://www.okx.com)",
    "okx_demo": "true: OKX demo trading (sends x-simulated-trading: 1 on every request; needs "
    "a demo API key); default false",
    "okx_ws_url": "OKX private WebSocket URL",
    "coinglass_api_key": "secret: CoinGlass v4 key; with it open interest, long/short "
    "sentiment, liquidations, ETF flows and fear & greed sync from CoinGlass (paper, live); "
    "without it the first three come from OKX's public statistics and the last two are "
    "disabled",
    "coinglass_url": "CoinGlass API base URL",
    "notify_urls": "secret: Apprise URLs notifications go to, separated by spaces (e.g. "
    "tgram://bot-token/chat-id discord://id/token ntfy://topic json://host/path); none: "
    "notifications are only kept in memory. NOTIFY_* config keys pick the kinds",
}
