"""A fake CoinGlass v4 server fed by the simulated market (okx-spec section E).

Endpoints (GET, ``CG-API-KEY`` header on every request)::

    /api/futures/open-interest/aggregated-history       symbol=BTC interval [unit]
    /api/futures/open-interest/history                   exchange=OKX symbol=BTCUSDT interval
    /api/futures/global-long-short-account-ratio/history exchange symbol interval
    /api/futures/top-long-short-account-ratio/history    exchange symbol interval
    /api/futures/top-long-short-position-ratio/history   exchange symbol interval
    /api/futures/liquidation/aggregated-history          exchange_list symbol=BTC interval
    /api/futures/liquidation/history                     exchange symbol=BTCUSDT interval
    /api/etf/bitcoin/flow-history, /api/etf/ethereum/flow-history
    /api/index/fear-greed-history
    /api/user/account/subscription

History endpoints take ``limit`` (default and max 1000), ``start_time``/``end_time`` (ms)
and return rows oldest first. Envelope ``{"code": "0", "msg": "success", "data": ...}``.
Errors, where the docs and field reports disagree (okx-spec F11), are answered as:
missing/invalid key HTTP 401 ``{"code": "401", "msg": ...}``; bad or missing parameters
HTTP 200 ``{"code": "400", ...}``; an interval below the plan's minimum HTTP 200
``{"code": "401", "msg": "Upgrade plan"}``; over the plan's requests per minute HTTP 429
``{"code": "429", "msg": "Rate limit exceeded"}``. Every answer carries the
``API-KEY-MAX-LIMIT``/``API-KEY-USE-LIMIT`` headers.

Numbers follow the docs' samples: OHLC open interest and per-pair liquidations as strings,
ratios, aggregated liquidations and ETF flows as JSON numbers. Fear & greed is one object
of parallel lists ``data_list``/``price_list``/``time_list`` (times in ms) inside a list.
The values are synthetic but derived from the simulated prices, so they move with them:
open interest follows price, the long/short ratio leans with the trend, liquidations
grow with the wicks, ETF flows and fear & greed follow the daily return.
"""

from __future__ import annotations

import json
import math
import threading
import time
import zlib
from collections import deque
from datetime import timedelta
from decimal import Decimal

from litestar import Litestar, Request, Response, get

from qwentrade.adapters.sim import SimEngine
from qwentrade.domain.market import Candle, Timeframe, to_ms
from qwentrade.testing.fake_okx.market import BARS, Bar, build_candles, candle_window, source_frame
from qwentrade.testing.fake_okx.server import build_engine
from qwentrade.testing.fake_okx.serving import ThreadedServer

HOUR = 3_600_000
INTERVALS = {
    "15m": BARS["15m"],
    "30m": BARS["30m"],
    "1h": BARS["1H"],
    "4h": BARS["4H"],
    "6h": BARS["6Hutc"],
    "8h": Bar("8h", 8 * HOUR),
    "12h": BARS["12Hutc"],
    "1d": BARS["1Dutc"],
}
KNOWN_INTERVALS = ("1m", "3m", "5m", *INTERVALS, "1w")
PLANS = {  # requests per minute, smallest interval allowed (ms)
    "hobbyist": (30, 4 * HOUR),
    "startup": (80, HOUR // 2),
    "standard": (300, 0),
    "professional": (1200, 0),
}
OI_COINS = {"BTC": 900_000.0, "ETH": 9_000_000.0, "SOL": 50_000_000.0}
ETF_TICKERS = {"BTC": ("IBIT", "FBTC", "GBTC", "ARKB"), "ETH": ("ETHA", "FETH", "ETHE")}
MAX_LIMIT = 1000


class CoinGlassError(Exception):
    def __init__(self, code: str, message: str, status: int = 200) -> None:
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


def _noise(*parts: object) -> float:
    """A deterministic number in [-1, 1) from ``parts``."""
    return zlib.crc32(":".join(map(str, parts)).encode()) / 2**31 - 1.0


class FakeCoinGlass:
    """The fake CoinGlass server; ``base_url`` is ``http://127.0.0.1:PORT``."""

    def __init__(
        self,
        engine: SimEngine | None = None,
        *,
        api_key: str = "fake-coinglass-key",
        plan: str = "standard",
        host: str = "127.0.0.1",
        port: int = 0,
        history_days: float = 30,
        seed: int = 1,
    ) -> None:
        if plan not in PLANS:
            raise ValueError(f"plan {plan!r} is not one of {', '.join(PLANS)}")
        self.engine = engine or build_engine(history_days=history_days, seed=seed)
        self.api_key = api_key
        self.plan = plan
        self._calls: dict[str, deque[float]] = {}
        self._lock = threading.Lock()
        self._server = ThreadedServer(self._app(), host, port, "fake-coinglass", websockets=False)
        self.host = host

    @property
    def base_url(self) -> str:
        if self._server.port is None:
            raise RuntimeError("the fake CoinGlass server is not started")
        return f"http://{self.host}:{self._server.port}"

    def __enter__(self) -> FakeCoinGlass:
        self._server.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.stop()

    # -- plumbing ------------------------------------------------------------------------

    def _app(self) -> Litestar:
        routes = {
            "/api/futures/open-interest/aggregated-history": self.open_interest_aggregated,
            "/api/futures/open-interest/history": self.open_interest_pair,
            "/api/futures/global-long-short-account-ratio/history": self.ratio("global_account"),
            "/api/futures/top-long-short-account-ratio/history": self.ratio("top_account"),
            "/api/futures/top-long-short-position-ratio/history": self.ratio("top_position"),
            "/api/futures/liquidation/aggregated-history": self.liquidation_aggregated,
            "/api/futures/liquidation/history": self.liquidation_pair,
            "/api/etf/bitcoin/flow-history": lambda q: self.etf("BTC"),
            "/api/etf/ethereum/flow-history": lambda q: self.etf("ETH"),
            "/api/index/fear-greed-history": self.fear_greed,
            "/api/user/account/subscription": self.subscription,
        }

        @get("/{path:path}", sync_to_thread=True)
        def handle(request: Request) -> Response:
            used = self._count(request.headers.get("cg-api-key", ""))
            headers = {"API-KEY-MAX-LIMIT": str(PLANS[self.plan][0]), "API-KEY-USE-LIMIT": used}
            try:
                key = request.headers.get("cg-api-key")
                if not key:
                    raise CoinGlassError("401", "API key missing.", 401)
                if key != self.api_key:
                    raise CoinGlassError("401", "Invalid API key.", 401)
                if int(used) > PLANS[self.plan][0]:
                    raise CoinGlassError("429", "Rate limit exceeded", 429)
                handler = routes.get(request.url.path)
                if handler is None:
                    raise CoinGlassError("404", f"Not Found: {request.url.path}", 404)
                body = {"code": "0", "msg": "success", "data": handler(dict(request.query_params))}
                status = 200
            except CoinGlassError as e:
                body, status = {"code": e.code, "msg": e.message}, e.status
            return Response(
                json.dumps(body).encode(),
                status_code=status,
                media_type="application/json",
                headers=headers,
            )

        return Litestar([handle], debug=False)

    def _count(self, key: str) -> str:
        now = time.monotonic()
        with self._lock:
            calls = self._calls.setdefault(key, deque())
            while calls and calls[0] <= now - 60:
                calls.popleft()
            calls.append(now)
            return str(len(calls))

    def _bucket_candles(self, query: dict, coin: str) -> tuple[list[Candle], Bar]:
        interval = query.get("interval")
        if not interval:
            raise CoinGlassError("400", "interval is required")
        if interval not in KNOWN_INTERVALS:
            raise CoinGlassError("400", f"interval {interval} is not valid")
        if interval not in INTERVALS:
            raise CoinGlassError("400", f"interval {interval} is not served by the fake")
        bar = INTERVALS[interval]
        if bar.length < PLANS[self.plan][1]:
            raise CoinGlassError("401", "Upgrade plan")
        symbol = f"{coin}-USDT-SWAP"
        path = self.engine.price_path
        if symbol not in path.symbols:
            raise CoinGlassError("400", f"symbol {coin} is not supported")
        limit = _int(query, "limit", MAX_LIMIT)
        if not 1 <= limit <= MAX_LIMIT:
            raise CoinGlassError("400", f"limit must be 1..{MAX_LIMIT}")
        now_ms = to_ms(self.engine.server_time())
        start, end = _int(query, "start_time", None), _int(query, "end_time", None)
        first = to_ms(path.first_time(symbol))
        after = None if end is None else end + 1
        before = None if start is None else start - 1
        # with start_time, the rows from it forwards; otherwise the newest of the range
        span = 10**9 if start is not None else limit
        window = candle_window(bar, now_ms, first, after, before, span)
        if window is None:
            return [], bar
        if start is not None:
            window = (window[0], min(window[1], window[0] + (limit - 1) * bar.length))
        frame = source_frame(bar, path.base)
        if frame is None:
            raise CoinGlassError("400", f"interval {interval} is finer than the market's data")
        candles = build_candles(self.engine.candles, symbol, bar, frame, window, now_ms)
        return candles, bar

    # -- endpoints -----------------------------------------------------------------------

    def open_interest_aggregated(self, query: dict) -> list[dict]:
        coin = _required(query, "symbol").upper()
        unit = query.get("unit", "usd")
        candles, _ = self._bucket_candles(query, coin)
        return [_oi_row(coin, c, unit) for c in candles]

    def open_interest_pair(self, query: dict) -> list[dict]:
        _required(query, "exchange")
        coin = _pair_coin(_required(query, "symbol"))
        candles, _ = self._bucket_candles(query, coin)
        share = 0.12  # one exchange's share of the aggregate
        return [_oi_row(coin, c, query.get("unit", "usd"), share) for c in candles]

    def ratio(self, kind: str):
        def handler(query: dict) -> list[dict]:
            _required(query, "exchange")
            coin = _pair_coin(_required(query, "symbol"))
            candles, _ = self._bucket_candles(query, coin)
            rows = []
            for c in candles:
                lean = math.tanh(40 * (c.close / c.open - 1)) * 12 + 4 * _noise(kind, c.time)
                long_pct = round(min(85.0, max(15.0, 55 + lean)), 2)
                short_pct = round(100 - long_pct, 2)
                rows.append(
                    {
                        "time": to_ms(c.time),
                        f"{kind}_long_percent": long_pct,
                        f"{kind}_short_percent": short_pct,
                        f"{kind}_long_short_ratio": round(long_pct / short_pct, 2),
                    }
                )
            return rows

        return handler

    def _liquidations(self, c: Candle) -> tuple[float, float]:
        notional = c.volume * c.close
        long_wick = (c.open - c.low) / c.open if c.open else 0.0
        short_wick = (c.high - c.open) / c.open if c.open else 0.0
        return notional * 0.004 * (1 + 60 * long_wick), notional * 0.004 * (1 + 60 * short_wick)

    def liquidation_aggregated(self, query: dict) -> list[dict]:
        _required(query, "exchange_list")
        coin = _required(query, "symbol").upper()
        candles, _ = self._bucket_candles(query, coin)
        rows = []
        for c in candles:
            longs, shorts = self._liquidations(c)
            rows.append(
                {
                    "time": to_ms(c.time),
                    "aggregated_long_liquidation_usd": round(longs, 5),
                    "aggregated_short_liquidation_usd": round(shorts, 5),
                }
            )
        return rows

    def liquidation_pair(self, query: dict) -> list[dict]:
        _required(query, "exchange")
        coin = _pair_coin(_required(query, "symbol"))
        candles, _ = self._bucket_candles(query, coin)
        rows = []
        for c in candles:
            longs, shorts = self._liquidations(c)
            rows.append(
                {
                    "time": to_ms(c.time),
                    "long_liquidation_usd": f"{longs * 0.15:.5f}",
                    "short_liquidation_usd": f"{shorts * 0.15:.5f}",
                }
            )
        return rows

    def _days(self, coin: str) -> list[Candle]:
        """Closed daily candles of ``coin`` (oldest first)."""
        symbol = f"{coin}-USDT-SWAP"
        now = self.engine.server_time()
        first = Timeframe.D1.floor(self.engine.price_path.first_time(symbol))
        days = (Timeframe.D1.floor(now) - first) // timedelta(days=1)
        candles = self.engine.candles(symbol, Timeframe.D1, limit=max(1, min(300, days + 1)))
        return [c for c in candles if c.confirmed]

    def etf(self, coin: str) -> list[dict]:
        rows = []
        for c in self._days(coin):
            move = c.close / c.open - 1
            scale = 2.5e9 if coin == "BTC" else 6e8
            flow = int(round(scale * move * 10 + scale * 0.05 * _noise("etf", coin, c.time), -5))
            tickers = ETF_TICKERS[coin]
            weights = [abs(_noise(coin, t, c.time)) + 0.2 for t in tickers]
            parts = [int(round(flow * w / sum(weights), -5)) for w in weights]
            parts[0] += flow - sum(parts)
            rows.append(
                {
                    "timestamp": to_ms(c.time),
                    "flow_usd": flow,
                    "price_usd": round(c.close, 2),
                    "etf_flows": [
                        {"etf_ticker": t, "flow_usd": p}
                        for t, p in zip(tickers, parts, strict=True)
                    ],
                }
            )
        return rows

    def fear_greed(self, query: dict) -> list[dict]:
        days = self._days("BTC")
        values, prices, times = [], [], []
        for i, c in enumerate(days):
            week = days[max(0, i - 6)].open
            value = 50 + 350 * (c.close / week - 1) + 6 * _noise("fg", c.time)
            values.append(int(min(95, max(5, round(value)))))
            prices.append(round(c.close, 2))
            times.append(to_ms(c.time))
        return [{"data_list": values, "price_list": prices, "time_list": times}]

    def subscription(self, query: dict) -> dict:
        expire = to_ms(self.engine.server_time()) + 365 * 24 * HOUR
        return {"level": self.plan.upper(), "expire_time": expire, "expired": False}


def _required(query: dict, name: str) -> str:
    value = query.get(name)
    if not value:
        raise CoinGlassError("400", f"{name} is required")
    return value


def _int(query: dict, name: str, default):
    value = query.get(name)
    if value in (None, ""):
        return default
    if not str(value).lstrip("-").isdigit():
        raise CoinGlassError("400", f"{name} must be a whole number")
    return int(value)


def _pair_coin(pair: str) -> str:
    """``BTCUSDT`` (or ``BTC-USDT-SWAP``) -> ``BTC``."""
    text = pair.upper().replace("-SWAP", "").replace("-", "")
    if not text.endswith("USDT") or len(text) <= 4:
        raise CoinGlassError("400", f"symbol {pair} is not a USDT pair such as BTCUSDT")
    return text[:-4]


def _oi_row(coin: str, candle: Candle, unit: str, share: float = 1.0) -> dict:
    hours = to_ms(candle.time) / HOUR
    coins = OI_COINS.get(coin, 1e6) * share
    coins *= 1 + 0.08 * math.sin(hours / (9 * 24) * 2 * math.pi) + 0.03 * math.sin(hours / 31)
    if unit == "coin":
        values = [coins * (1 + 0.002 * k) for k in (0, 1, -1, 0.5)]
    else:
        values = [coins * p for p in (candle.open, candle.high, candle.low, candle.close)]
    names = ("open", "high", "low", "close")
    return {"time": to_ms(candle.time)} | {
        name: f"{Decimal(value):.1f}" for name, value in zip(names, values, strict=True)
    }
