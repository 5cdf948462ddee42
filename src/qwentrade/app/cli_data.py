"""CLI commands over the database: db, config, backfill, detect (sync: cli_sync.py)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from datetime import datetime

from qwentrade.app.settings import Settings, parse_finite_number
from qwentrade.domain.errors import DomainError
from qwentrade.domain.market import Timeframe

STORED = ("15m", "4h", "1d")
MAX_DAYS = 3650  # ten years: far more than any venue keeps, far from datetime's limits


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A plain aligned text table."""
    cells = [[str(h) for h in headers]] + [["" if c is None else str(c) for c in r] for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(line.rstrip() for line in lines)


def _container(settings: Settings):
    """The container, with the database migrated to head (a newer one is refused)."""
    from qwentrade.app.container import build, prepare_database

    container = build(settings)
    prepare_database(container)
    return container


def cmd_db_upgrade(args: argparse.Namespace, settings: Settings) -> int:
    from qwentrade.adapters.sql import current_revision, upgrade

    before = current_revision(settings.database_url)
    after = upgrade(settings.database_url, args.revision)
    print(f"database schema: {before or 'empty'} -> {after}")
    return 0


def cmd_db_current(args: argparse.Namespace, settings: Settings) -> int:
    from qwentrade.adapters.sql import current_revision, head_revision

    current = current_revision(settings.database_url)
    print(f"database schema revision: {current or 'empty'} (this qwentrade: {head_revision()})")
    return 0


def cmd_config_list(args: argparse.Namespace, settings: Settings) -> int:
    store = _container(settings).repositories().config
    rows = [
        (e.key, _text(e.value), "" if e.is_default else "*", e.allowed, e.description)
        for e in store.all()
    ]
    print(table(("key", "value", "set", "allowed", "description"), rows))
    return 0


def cmd_config_get(args: argparse.Namespace, settings: Settings) -> int:
    # A database at head is read through the bare driver, without importing SQLAlchemy
    # (config_direct.py says when); anything else takes the full path, which migrates.
    from qwentrade.adapters.sql.config_direct import NotDirect, config_get
    from qwentrade.app.container import build

    build(settings)  # the mode's checks, as on the full path
    try:
        value = config_get(settings.database_url, args.key)
    except NotDirect:
        value = _container(settings).repositories().config.get(args.key)
    print(_text(value))
    return 0


def cmd_config_set(args: argparse.Namespace, settings: Settings) -> int:
    value = _container(settings).repositories().config.set(args.key, args.value)
    print(f"{args.key} = {_text(value)}")
    return 0


def cmd_config_reset(args: argparse.Namespace, settings: Settings) -> int:
    value = _container(settings).repositories().config.reset(args.key)
    print(f"{args.key} = {_text(value)} (default)")
    return 0


def _text(value: object) -> str:
    return json.dumps(value) if isinstance(value, bool) else str(value)


def _symbols(args: argparse.Namespace, settings: Settings) -> tuple[str, ...]:
    if not args.symbol:
        return settings.symbols
    unknown = [s for s in args.symbol if s not in settings.symbols]
    if unknown:
        raise DomainError(
            f"symbol {', '.join(unknown)} is not configured; configured: "
            f"{', '.join(settings.symbols)} (set QWENTRADE_SYMBOLS)"
        )
    return tuple(args.symbol)


def cmd_backfill(args: argparse.Namespace, settings: Settings) -> int:
    container = _container(settings)
    timeframes = [Timeframe.parse(t) for t in (args.timeframe or STORED)]
    symbols = _symbols(args, settings)
    gaps = container.gaps()
    rows = []
    sync = None
    for symbol in symbols:
        for timeframe in timeframes:
            # Ask the database first: a series with nothing missing needs neither the
            # exchange nor the indicators (nor their imports); the sync asks again.
            missing = gaps.missing(symbol, timeframe, args.days)
            if not missing:
                rows.append((symbol, timeframe.label, 0, 0, 0, None, None))
                continue
            if sync is None:
                sync = _kline_sync(container)
            with _progress(f"{symbol} {timeframe.label}", len(missing), args.quiet) as bar:
                r = sync.run(symbol, timeframe, container.clock().now(), args.days, bar)
            rows.append(
                (
                    r.symbol,
                    r.timeframe.label,
                    r.fetched,
                    r.written,
                    r.still_missing,
                    r.first,
                    r.last,
                )
            )
    print(table(("symbol", "tf", "fetched", "written", "missing", "first", "last"), rows))
    return 0


def _kline_sync(container):
    """The candle sync without detection (a backfill stores candles only)."""
    from qwentrade.app.sync.klines import KlineSync

    repositories = container.repositories()
    return KlineSync(
        container.market_data(), repositories.klines, container.backfill(), repositories.config
    )


class _Bar:
    """A tqdm bar of one series' missing candles: count, rate, ETA and the time range
    fetched so far; nothing when quiet or not on a terminal."""

    def __init__(self, description: str, total: int, quiet: bool) -> None:
        self._bar = None
        if not quiet and sys.stderr.isatty():
            from tqdm import tqdm

            self._bar = tqdm(total=total, desc=description, unit="candle", leave=True)

    def __call__(
        self, done: int, total: int, first: datetime | None, last: datetime | None
    ) -> None:
        if self._bar is not None:
            if first is not None and last is not None:
                self._bar.set_postfix_str(f"{first:%Y-%m-%d %H:%M} .. {last:%Y-%m-%d %H:%M}")
            self._bar.update(done - self._bar.n)

    def __enter__(self) -> _Bar:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.close()


def _progress(description: str, total: int, quiet: bool) -> _Bar:
    """A progress callback for ``KlineSync.run``, drawn only on a terminal."""
    return _Bar(description, total, quiet)


def cmd_detect(args: argparse.Namespace, settings: Settings) -> int:
    from qwentrade.app.detection import NoCandles

    detection = _container(settings).detection()
    results, empty = [], []
    for symbol in _symbols(args, settings):
        try:
            results.append(detection.detect(symbol, store=not args.dry_run))
        except NoCandles as e:
            empty.append(str(e))
    if args.json:
        print(json.dumps([d.result.to_details() | {"symbol": d.symbol} for d in results]))
    elif results:
        rows = []
        for d in results:
            r = d.result
            parts = " ".join(f"{k}={v}" for k, v in r.parts.items() if v)
            signal = r.signal_type.value if r.signal else "-"
            rows.append((d.symbol, r.time, r.score, signal, parts))
        print(table(("symbol", "candle", "score", "signal", "points"), rows))
        for d in results:
            if not d.result.signal:
                print(f"{d.symbol}: {d.result.reason}")
    for message in empty:  # judged what could be; each symbol without candles says so
        print(f"qwentrade: {message}", file=sys.stderr)
    return 1 if empty else 0


def add_commands(sub: argparse._SubParsersAction, run) -> None:
    """Register the database commands; ``run(handler)`` wraps a handler for argparse."""
    db = sub.add_parser(
        "db",
        help="database schema: upgrade, current",
        description="Manage the database schema (Alembic migrations). The service upgrades "
        "automatically at start; a database newer than this qwentrade is refused.",
    )
    db_sub = db.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    p = db_sub.add_parser(
        "upgrade",
        help="migrate the schema up to the newest revision",
        description="Create or migrate the schema of QWENTRADE_DATABASE_URL.",
    )
    p.add_argument("revision", nargs="?", default="head", help="target revision (default head)")
    p.set_defaults(func=run(cmd_db_upgrade))
    p = db_sub.add_parser(
        "current", help="show the schema revision", description="Show the schema revision."
    )
    p.set_defaults(func=run(cmd_db_current))

    config = sub.add_parser(
        "config",
        help="runtime settings stored in the database: list, get, set, reset",
        description="Typed runtime settings kept in the config table (rate limits, detector "
        "thresholds, intervals). A change is seen by a running service at once. Secrets "
        "are never stored here: they come from the environment.",
    )
    config_sub = config.add_subparsers(dest="config_command", metavar="ACTION", required=True)
    p = config_sub.add_parser(
        "list", help="every key with value, type and description", description="List keys."
    )
    p.set_defaults(func=run(cmd_config_list))
    p = config_sub.add_parser("get", help="print one value", description="Print one value.")
    p.add_argument("key")
    p.set_defaults(func=run(cmd_config_get))
    p = config_sub.add_parser(
        "set",
        help="check and store a value",
        description="Check a value against the key's type and range, then store it; a bad "
        "value is refused and the old one stays.",
    )
    p.add_argument("key")
    p.add_argument("value")
    p.set_defaults(func=run(cmd_config_set))
    p = config_sub.add_parser(
        "reset", help="go back to the default", description="Forget a stored value."
    )
    p.add_argument("key")
    p.set_defaults(func=run(cmd_config_reset))

    p = sub.add_parser(
        "backfill",
        help="fetch missing closed candles of the last N days, with indicators",
        description="Fetch every missing closed candle of the last --days days (default: "
        "each timeframe's configured history window) for each symbol and timeframe, compute "
        "the indicators over the stored history and upsert them, page by page (a "
        "progress bar per series on a terminal: candles, ETA), then print a summary. "
        "Only missing candles are fetched: running it again is cheap and changes nothing; "
        "an interrupted run resumes where it stopped.",
    )
    p.add_argument(
        "--days",
        type=days,
        default=None,
        help="how far back to look, in days (a positive number; default each timeframe's "
        "history window from the config table: KLINE_15M_START_DAYS 30, "
        "KLINE_4H_START_DAYS 180, KLINE_1D_START_DAYS 600)",
    )
    p.add_argument(
        "--symbol", action="append", help="a configured symbol (repeatable; default all)"
    )
    p.add_argument(
        "--timeframe",
        action="append",
        choices=STORED,
        help="15m, 4h or 1d (repeatable; default all three)",
    )
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run(cmd_backfill))

    p = sub.add_parser(
        "detect",
        help="run the signal detector at the last stored 15m close",
        description="Judge each symbol's last stored 15m close with the three-layer detector "
        "and print the score and its parts; a signal (score >= 15) is stored in market_signal "
        "unless --dry-run. Needs stored candles: run `qwentrade backfill` first.",
    )
    p.add_argument("--symbol", action="append", help="a configured symbol (default all)")
    p.add_argument("--dry-run", action="store_true", help="do not store signals")
    p.add_argument("--json", action="store_true", help="print the full explanation as JSON")
    p.set_defaults(func=run(cmd_detect))


def days(text: str) -> float:
    """The ``--days`` argument: a positive, finite number in ASCII digits, at most
    :data:`MAX_DAYS`."""
    value = parse_finite_number(text)
    if value is None or not 0 < value <= MAX_DAYS:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a number of days between 0 and {MAX_DAYS}: use e.g. "
            "--days 30 or --days 0.5"
        )
    return value


def report_error(error: Exception | str) -> int:
    """Print ``error`` as one line on stderr; the exit status 1."""
    print(f"qwentrade: {error}", file=sys.stderr)
    return 1
