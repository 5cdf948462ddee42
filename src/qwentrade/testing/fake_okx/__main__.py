"""Run the fake OKX server from the command line until SIGINT/SIGTERM::

    python -m qwentrade.testing.fake_okx --port 8080 --api-key K --secret S --passphrase P \\
        --balance 10000 --history-days 30 --seed 1 [--speed 60]

It prints its REST and WebSocket URLs (one ``name=value`` per line) and serves a market
with ``--history-days`` of candle history for BTC-, ETH- and SOL-USDT-SWAP that moves on
in real time (``--speed`` times faster). Point any OKX client at it, e.g. ccxt with
``urls['api']['rest']`` = the REST URL and ``urls['api']['ws']`` = the WS base URL.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Sequence

from qwentrade.testing.fake_okx.server import (
    DEFAULT_API_KEY,
    DEFAULT_PASSPHRASE,
    DEFAULT_SECRET,
    FakeOkx,
    build_engine,
)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m qwentrade.testing.fake_okx",
        description="A fake OKX v5 server (REST + private WebSocket) over a simulated market.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="port to bind (0: any free port)")
    parser.add_argument("--api-key", default=DEFAULT_API_KEY)
    parser.add_argument("--secret", default=DEFAULT_SECRET)
    parser.add_argument("--passphrase", default=DEFAULT_PASSPHRASE)
    parser.add_argument("--balance", default="10000", help="starting USDT balance")
    parser.add_argument("--history-days", type=float, default=30.0, help="days of candles")
    parser.add_argument("--seed", type=int, default=1, help="seed of the generated market")
    parser.add_argument("--speed", type=float, default=1.0, help="market time per real time")
    parser.add_argument(
        "--no-rate-limits", action="store_true", help="do not enforce OKX's rate limits"
    )
    args = parser.parse_args(argv)
    if args.history_days <= 0:
        parser.error("--history-days must be positive")
    if args.speed <= 0:
        parser.error("--speed must be positive")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    stop = threading.Event()

    def on_signal(signum, frame) -> None:
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    engine = build_engine(args.balance, args.history_days, args.seed, args.speed)
    with FakeOkx(
        engine,
        api_key=args.api_key,
        secret=args.secret,
        passphrase=args.passphrase,
        host=args.host,
        port=args.port,
        rate_limits=not args.no_rate_limits,
    ) as okx:
        print(f"rest_url={okx.rest_url}")
        print(f"ws_url={okx.ws_url}")
        print(f"ws_base_url={okx.ws_base_url}")
        print(f"api_key={args.api_key}", flush=True)
        while not stop.wait(0.5):
            pass
    print("stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
