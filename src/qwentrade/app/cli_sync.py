"""`qwentrade sync`: the sync engine in the foreground, or one pass (``--once``)."""

from __future__ import annotations

import argparse
import signal
import threading
from collections.abc import Sequence
from types import FrameType

import attrs

from qwentrade.app.settings import Settings
from qwentrade.domain.errors import InvalidInput

DESCRIPTION = (
    "Run the sync engine in the foreground until Ctrl-C or SIGTERM (it stops within 5 s): "
    "every data kind of every configured symbol (candles with indicators and detection on "
    "each 15m close, funding, open interest, sentiment, order book, ETF flows, fear & "
    "greed, liquidations, order and position history) is first brought up to date - the "
    "backfill, gap repair and resume after a crash - then kept so on its schedule (config "
    "keys *_SYNC_INTERVAL, *_SYNC_TIMES, KLINE_SYNC_DELAY). Each run that stores rows or "
    "fails is shown; a kind with no source (no CoinGlass key, or sim mode) is reported "
    "disabled with the reason. With --once: one pass over the candle series (--days, "
    "default 2), or with --kind one run of those kinds' jobs, then exit."
)
KIND_HELP = (
    "with --once: run the jobs of this kind once (repeatable; 'all' = every kind): "
    "klines_15m, klines_4h, klines_1d, funding_rate, open_interest, market_sentiment, "
    "order_book, etf_flow, fear_greed, liquidation, order_history, position_history"
)


def cmd_sync(args: argparse.Namespace, settings: Settings) -> int:
    from qwentrade.app.cli_data import _symbols, cmd_backfill

    if args.kind and not args.once:
        raise InvalidInput("kind", "--kind runs jobs once: add --once")
    if args.timeframe and not (args.once or args.days is not None):
        raise InvalidInput("timeframe", "--timeframe narrows the one-shot candle pass: add --once")
    symbols = _symbols(args, settings)
    if args.kind:
        return _run_kinds(attrs.evolve(settings, symbols=symbols), args.kind, args.quiet)
    if args.once or args.days is not None:  # --days means a one-shot pass over N days
        if args.days is None:
            args.days = 2.0
        return cmd_backfill(args, settings)
    return _foreground(attrs.evolve(settings, symbols=symbols), args.quiet)


def _engine(settings: Settings):
    from qwentrade.app.cli_data import _container

    return _container(settings).sync_engine()


def _run_kinds(settings: Settings, kinds: Sequence[str], quiet: bool) -> int:
    from qwentrade.app.cli_data import table
    from qwentrade.app.sync.specs import KINDS

    engine = _engine(settings)
    wanted = None if "all" in kinds else list(dict.fromkeys(kinds))
    unknown = [k for k in wanted or () if k not in KINDS]
    if unknown:
        raise InvalidInput("kind", f"{', '.join(unknown)} is not a kind; use one of {KINDS}")
    available = {job.split(":")[0] for job in engine.job_ids}
    absent = [k for k in wanted or () if k not in available]
    if absent:
        raise InvalidInput(
            "kind", f"{', '.join(absent)} has no job in this build yet; available: {available}"
        )
    results = engine.run_once(kinds=wanted)
    rows = [(r.job_id, r.state, r.rows, f"{r.seconds:.1f}", r.error or r.note) for r in results]
    print(table(("job", "state", "rows", "seconds", "note"), rows))
    return 1 if any(r.state == "FAILING" for r in results) else 0


def _foreground(settings: Settings, quiet: bool) -> int:
    from qwentrade.app.cli_data import table
    from qwentrade.app.logging import configure_logging

    configure_logging(settings)  # errors (masked) on stderr as well as in the log file
    engine = _engine(settings)
    stop = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {s: signal.signal(s, request_stop) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        if not quiet:
            engine.on_run(_show)
        jobs = len(engine.job_ids)
        print(
            f"qwentrade sync: {jobs} jobs for {', '.join(settings.symbols)} "
            f"({settings.mode.value} mode); Ctrl-C stops",
            flush=True,
        )
        engine.start()
        stop.wait()
        print("qwentrade sync: stopping", flush=True)
        stopped = engine.stop(timeout=5.0)
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
    status = engine.status()
    rows = [
        (s["job"], s["state"], s["rows_stored"], s["last_success"] or "-", s["last_error"] or "")
        for s in status
    ]
    if not quiet:
        print(table(("job", "state", "rows", "last success", "last error"), rows))
    print(f"qwentrade sync: stopped{'' if stopped else ' (a job was still running)'}", flush=True)
    return 0


def _show(result) -> None:
    """One line per run that stored something or failed (a disabled job is logged once,
    with its reason, and listed in the table at the end)."""
    if result.state == "DISABLED" or (result.state == "OK" and not result.rows):
        return
    when = result.at.strftime("%Y-%m-%d %H:%M:%S")
    detail = f"+{result.rows} rows" if result.state == "OK" else (result.error or result.note)
    print(f"{when}  {result.job_id:<34} {result.state:<8} {detail}", flush=True)


def add_sync(sub: argparse._SubParsersAction, run) -> None:
    """Register ``qwentrade sync``; ``run(handler)`` wraps a handler for argparse."""
    from qwentrade.app.cli_data import STORED, days

    p = sub.add_parser(
        "sync", help="run the sync engine in the foreground (or once)", description=DESCRIPTION
    )
    p.add_argument(
        "--once",
        action="store_true",
        help="one pass, then exit: the candle series (gaps of the last --days days and new "
        "closes), or with --kind those kinds' jobs",
    )
    p.add_argument(
        "--days",
        type=days,
        default=None,
        help="with --once: how far back the candle pass looks, in days (default 2; implies --once)",
    )
    p.add_argument(
        "--symbol", action="append", help="a configured symbol (repeatable; default all)"
    )
    p.add_argument(
        "--timeframe",
        action="append",
        choices=STORED,
        help="with --once: 15m, 4h or 1d (repeatable; default all three)",
    )
    p.add_argument("--kind", action="append", help=KIND_HELP)
    p.add_argument("-q", "--quiet", action="store_true", help="show no runs, no progress bar")
    p.set_defaults(func=run(cmd_sync))
