"""`qwentrade verify [--repair]`: check every stored candle series."""

from __future__ import annotations

import argparse

from qwentrade.app.settings import Settings

DESCRIPTION = (
    "Check every stored candle series (or those of --symbol/--timeframe) for gaps between "
    "its first and last candle, duplicate open times, and indicators that differ from a "
    "recompute over the whole stored history. Exit status 1 when something is wrong. "
    "With --repair: fetch the missing closes, then rewrite the indicators from the first "
    "wrong cell on (holding the series' writer lock), and report what remains (a close "
    "the venue never had stays a gap)."
)


def cmd_verify(args: argparse.Namespace, settings: Settings) -> int:
    from tqdm import tqdm

    from qwentrade.app.cli_data import _container, _symbols, table
    from qwentrade.app.verify import SeriesVerifier
    from qwentrade.domain.market import Timeframe

    container = _container(settings)
    verifier = SeriesVerifier(
        container.repositories().klines, container.backfill(), container.clock()
    )
    symbols = _symbols(args, settings) if args.symbol else None
    timeframes = tuple(Timeframe.parse(t) for t in args.timeframe or ())
    series = verifier.series(symbols, timeframes)
    checks = []
    with tqdm(
        total=len(series), desc="verify", unit="series", disable=True if args.quiet else None
    ) as bar:
        for symbol, timeframe in series:
            bar.set_postfix_str(f"{symbol} {timeframe.label}")
            checks.append(verifier.check(symbol, timeframe, repair=args.repair))
            bar.update()
    rows = [
        (
            c.symbol,
            c.timeframe.label,
            c.rows,
            c.gaps,
            c.duplicates,
            c.wrong_cells,
            c.first_wrong or "-",
            f"fetched {c.fetched}, rewrote {c.rewritten}" if args.repair else "-",
            "ok" if c.sound else "WRONG",
        )
        for c in checks
    ]
    headers = ("symbol", "tf", "rows", "gaps", "dup", "wrong", "first wrong", "repair", "state")
    print(table(headers, rows) if rows else "no stored candle series")
    return 0 if all(c.sound for c in checks) else 1


def add_verify(sub: argparse._SubParsersAction, run) -> None:
    """Register ``verify``; ``run(handler)`` wraps a handler for argparse."""
    p = sub.add_parser(
        "verify",
        help="check stored candle series (gaps, duplicates, indicators)",
        description=DESCRIPTION,
    )
    p.add_argument("--repair", action="store_true", help="fill gaps and rewrite wrong cells")
    p.add_argument("--symbol", action="append", help="a configured symbol (repeatable)")
    p.add_argument(
        "--timeframe",
        action="append",
        choices=("15m", "4h", "1d"),
        help="15m, 4h or 1d (repeatable; default all three)",
    )
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run(cmd_verify))
