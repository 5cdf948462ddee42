"""``qwentrade backtest``: backtest the live strategy on stored candles or a candle file."""

from __future__ import annotations

import argparse
import sys

DESCRIPTION = """\
Backtest the live strategy (the detector, the signal policy and the trading rules over the
simulated exchange) on 15m OKX candles: a CSV/Parquet file (--data: ts_ms,open,high,low,
close,volume; 4h derived) or the candles stored for --symbol in QWENTRADE_DATABASE_URL.
Prints a summary table; --json prints the stats as one JSON object on the last line;
--report writes a self-contained HTML report. Parameters are config keys (--param
POLICY_SL_ATR_MULTIPLE=2, DETECTOR_SIGNAL_THRESHOLD=18, ...) and balance, maker_fee,
taker_fee, funding_rate, spread_bps, slippage_bps, intrabar. --sweep FILE.toml runs a grid
or random search (see qwentrade.app.backtest.sweep) on every core, or on --cluster.
"""


def add_backtest(sub: argparse._SubParsersAction, run) -> None:
    """Register ``qwentrade backtest``; ``run(handler)`` wraps a handler for argparse."""
    p = sub.add_parser(
        "backtest",
        help="backtest the strategy on stored candles or a candle file",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--data", help="a CSV or Parquet file of 15m candles (default: stored)")
    p.add_argument("--symbol", help="the swap, e.g. ETH-USDT-SWAP (default: from --data's name)")
    p.add_argument("--start", help="first traded day, e.g. 2024-01-01 (UTC)")
    p.add_argument("--end", help="day the backtest stops before (UTC)")
    p.add_argument("--engine", choices=("fast", "replay"), default="fast", help="default fast")
    p.add_argument("--report", metavar="PATH.html", help="write the HTML report there")
    p.add_argument("--json", action="store_true", help="print the stats as one JSON line")
    p.add_argument("--funding", metavar="PATH.csv", help="funding rates (ts_ms,funding_rate)")
    p.add_argument("--param", action="append", default=[], metavar="KEY=VALUE", help="a parameter")
    p.add_argument("--sweep", metavar="FILE.toml", help="run a parameter sweep")
    p.add_argument("--cluster", metavar="ADDRESS", help="with --sweep: a Ray or Dask cluster")
    p.add_argument("--workers", type=int, help="with --sweep: processes (default all cores)")
    p.add_argument("--top", type=int, default=20, help="with --sweep: rows shown (default 20)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run(cmd_backtest))


def cmd_backtest(args: argparse.Namespace, settings) -> int:
    from decimal import Decimal

    from qwentrade.app.backtest import data, run
    from qwentrade.app.backtest.params import BacktestParams
    from qwentrade.app.backtest.report import json_line
    from qwentrade.domain.errors import InvalidInput

    values = {}
    for item in args.param:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise InvalidInput("param", f"{item!r} is not KEY=VALUE")
        values[key.strip()] = value.strip()
    params = BacktestParams.of(values)
    start = data.parse_date(args.start, "start") if args.start else None
    end = data.parse_date(args.end, "end") if args.end else None
    funding: dict[int, Decimal] = {}
    if args.data:
        candles = data.read_file(args.data)
        symbol = args.symbol or data.symbol_from_name(args.data)
        if symbol is None:
            raise InvalidInput("symbol", f"cannot tell the swap from {args.data}: give --symbol")
    else:
        symbol = args.symbol or settings.symbols[0]
        candles, funding = data.from_store(settings.database_url, symbol, end=end)
    if args.funding:
        funding = data.read_funding(args.funding)
    market = data.market(
        candles, symbol, start=start, end=end, funding=funding, flat_rate=params.funding_rate
    )
    tty = sys.stderr.isatty() and not args.quiet
    if args.sweep:
        return _sweep(args, market, values, tty)
    result = run(market, params, engine=args.engine, progress=tty)
    if args.report:
        path = result.to_html(args.report)
        print(f"report: {path}", file=sys.stderr)
    print(result.summary())
    if args.json:
        print(json_line(result.stats))
    return 0


def _sweep(args, market, base, tty: bool) -> int:
    import polars as pl

    from qwentrade.app.backtest import sweep

    spec = sweep.read_spec(args.sweep, base)
    if spec.train_days is not None:
        frame = sweep.walk_forward(
            market, spec, base=base, workers=args.workers, cluster=args.cluster
        )
    else:
        bar = None
        if tty:
            from tqdm import tqdm

            bar = tqdm(total=len(spec.points), desc="sweep", unit="point", leave=False)
        frame = sweep.sweep(
            market,
            spec,
            base=base,
            workers=args.workers,
            cluster=args.cluster,
            progress=None if bar is None else bar.update,
        )
        if bar is not None:
            bar.close()
    with pl.Config(tbl_rows=args.top, tbl_cols=-1, tbl_width_chars=200):
        print(frame.head(args.top))
    if args.json:
        print(frame.write_json())
    return 0
