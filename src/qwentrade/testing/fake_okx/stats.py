"""Public market statistics of the fake OKX server: open interest, the long/short account
ratio and liquidation orders, fed by the simulated market.

Endpoints (OKX v5 docs "Public data" and "Trading statistics"; shapes checked against the
recorded/documented payloads in ``tests/data/okx``)::

    GET /api/v5/public/open-interest                       instType=SWAP [instId|instFamily]
    GET /api/v5/rubik/stat/contracts/open-interest-history instId [period begin end limit]
    GET /api/v5/rubik/stat/contracts/open-interest-volume  ccy [period begin end]
    GET /api/v5/rubik/stat/contracts/long-short-account-ratio-contract  instId [period ...]
    GET /api/v5/rubik/stat/contracts/long-short-account-ratio           ccy [period ...]
    GET /api/v5/public/liquidation-orders  instType=SWAP instFamily|uly [instId state
                                           before after limit]

Rules the fake keeps (ccxt's ``handle_trading_statistics_window`` agrees on the first):

1. Statistics rows are arrays of strings, newest first; ``begin``/``end`` are exclusive
   (newer than / older than); ``limit`` at most 100 (default 100) on the ``instId``
   endpoints, which serve the latest 1,440 periods; the ``ccy`` endpoints take ``5m``,
   ``1H``, ``1D`` only and return every row in range.
2. A row stamped ``ts`` describes the period that ENDED at ``ts``: its ratio leans with
   that period's price move, its open interest is valued at the price at ``ts``. Only
   ended periods are served, so nothing is revealed before it happened.
3. Open interest (coins) is a smooth deterministic function of time per coin; ``oi`` is
   contracts (``oiCcy / ctVal``), ``oiUsd`` is ``oiCcy`` times the price.
4. Liquidation orders: each 5-minute slot holds up to two filled liquidations, seeded by
   symbol and slot; a falling slot liquidates longs (``posSide`` long, ``side`` sell),
   a rising one shorts. ``sz`` is contracts, ``bkPx`` near the walk's price at ``ts``.
   Only the last day is served (OKX: "liquidation orders in the last day"); ``state``
   ``unfilled`` (OKX's default) answers no orders - the fake fills them at once.
   ``before``/``after`` page on the details' ``ts`` (newer/older, exclusive); ``limit``
   (at most 100) counts details.

The values are synthetic, like the fake CoinGlass server's, but move with the simulated
prices and are the same on every call.
"""

from __future__ import annotations

import math
import zlib
from datetime import timedelta
from decimal import Decimal
from random import Random

from qwentrade.domain.instruments import Instrument
from qwentrade.domain.market import Candle, to_ms
from qwentrade.testing.fake_okx import market, minutes
from qwentrade.testing.fake_okx.endpoints import Answer, Call, engine_call, instrument
from qwentrade.testing.fake_okx.params import (
    OkxError,
    bad,
    limit,
    optional,
    quote,
    required,
    time_ms,
)
from qwentrade.testing.fake_okx.state import ServerState
from qwentrade.testing.fake_okx.wire import INST_TYPE, num

HOUR = 3_600_000
DAY = 24 * HOUR
STATS_LIMIT = 100
STATS_RECENT = 1440  # periods the instId endpoints serve back from now
#: the ``ccy`` endpoints: period -> how far back it may reach (OKX docs)
CCY_PERIODS = {"5m": 2 * DAY, "1H": 30 * DAY, "1D": 180 * DAY}
#: ``1D`` on the ``ccy`` endpoints: the fake aligns it to UTC
CCY_BARS = {"5m": "5m", "1H": "1H", "1D": "1Dutc"}
OI_COINS = {"BTC": 26_000.0, "ETH": 1_500_000.0, "SOL": 9_000_000.0}
LIQUIDATION_SLOT = 5 * 60_000
LIQUIDATION_HORIZON = DAY
LIQUIDATION_LIMIT = 100


def _noise(*parts: object) -> float:
    """A deterministic number in [-1, 1) from ``parts``."""
    return zlib.crc32(":".join(map(str, parts)).encode()) / 2**31 - 1.0


def _coin(symbol: str) -> str:
    return symbol.split("-")[0]


def oi_coins(symbol: str, at_ms: int) -> float:
    """Open interest of ``symbol`` in coins at ``at_ms`` (rule 3)."""
    hours = at_ms / HOUR
    base = OI_COINS.get(_coin(symbol), 1_000_000.0)
    swing = 0.08 * math.sin(hours / (9 * 24) * 2 * math.pi) + 0.03 * math.sin(hours / 31)
    return base * (1 + swing)


def oi_numbers(spec: Instrument, at_ms: int, price: float) -> tuple[str, str, str]:
    """(``oi`` contracts, ``oiCcy`` coins, ``oiUsd``) as OKX text."""
    contracts = Decimal(f"{oi_coins(spec.inst_id, at_ms) / float(spec.ct_val):.2f}")
    coins = contracts * spec.ct_val
    usd = Decimal(f"{float(coins) * price:.4f}")
    return num(contracts), num(coins), num(usd)


def long_short_ratio(symbol: str, period: Candle) -> str:
    """Accounts long over accounts short after ``period`` (leans with its move)."""
    move = period.close / period.open - 1 if period.open else 0.0
    lean = math.tanh(40 * move) * 12 + 4 * _noise("ratio", symbol, to_ms(period.time))
    long_pct = min(85.0, max(15.0, 55 + lean))
    return f"{long_pct / (100 - long_pct):.16g}"


# -- period windows --------------------------------------------------------------------


def _periods(
    state: ServerState,
    spec: Instrument,
    bar: market.Bar,
    begin: int | None,
    end: int | None,
    count: int,
    recent: int | None,
) -> list[Candle]:
    """The periods (as candles, oldest first) whose END stamps answer the request."""
    length = bar.length
    now_ms = to_ms(state.engine.server_time())
    first_ms = to_ms(state.engine.price_path.first_time(spec.inst_id))
    # a row at ts covers the candle [ts - length, ts): shift the bounds by one period
    window = market.candle_window(
        bar,
        now_ms - length,  # only candles that have closed
        first_ms,
        None if end is None else end - length,
        None if begin is None else begin - length,
        count,
        recent,
    )
    if window is None:
        return []
    base = state.engine.price_path.base
    base_ms = int(base.duration / timedelta(milliseconds=1))
    frame = market.source_frame(bar, base)
    if frame is None:
        return minutes.fine_candles(
            state.tape(spec.inst_id), base_ms, spec.inst_id, length, window, now_ms, spec.tick_sz
        )
    return engine_call(
        market.build_candles, state.engine.candles, spec.inst_id, bar, frame, window, now_ms
    )


def _stat_bar(call: Call, allowed: dict[str, str] | None = None) -> market.Bar:
    name = optional(call.query, "period") or "5m"
    if allowed is not None:
        if name not in allowed:
            raise bad("period", f"one of {', '.join(allowed)}")
        name = allowed[name]
    bar = market.BARS.get(name)
    if bar is None:
        raise bad("period", f"the fake serves {', '.join(market.BARS)}")
    return bar


def _spec_of_ccy(state: ServerState, call: Call) -> Instrument:
    ccy = required(call.query, "ccy")
    for symbol, spec in state.instruments.items():
        if _coin(symbol) == ccy:
            return spec
    raise bad("ccy", f"{quote(ccy)} is not a currency the fake lists")


def _ccy_window(call: Call, state: ServerState, period: str) -> tuple[int | None, int | None]:
    begin, end = time_ms(call.query, "begin"), time_ms(call.query, "end")
    reach = to_ms(state.engine.server_time()) - CCY_PERIODS[period]
    return max(begin if begin is not None else reach, reach), end


# -- handlers ----------------------------------------------------------------------------


def open_interest(state: ServerState, call: Call) -> Answer:
    kind = required(call.query, "instType")
    if kind not in ("SWAP", "FUTURES", "OPTION"):
        raise bad("instType")
    wanted = optional(call.query, "instId")
    family = optional(call.query, "instFamily") or optional(call.query, "uly")
    if kind == "OPTION" and not family:
        raise OkxError("50014", "Parameter instFamily can not be empty.", 400)
    if kind != INST_TYPE:
        return Answer([])
    if wanted:
        instrument(state, call.query)
    now = state.engine.server_time()
    rows = []
    for symbol, spec in state.instruments.items():
        if (wanted and symbol != wanted) or (family and _coin(symbol) + "-USDT" != family):
            continue
        price = float(state.engine.last_price(symbol))
        oi, oi_ccy, oi_usd = oi_numbers(spec, to_ms(now), price)
        row = {"instType": INST_TYPE, "instId": symbol, "oi": oi, "oiCcy": oi_ccy}
        rows.append(row | {"oiUsd": oi_usd, "ts": str(to_ms(now))})
    return Answer(rows)


def open_interest_history(state: ServerState, call: Call) -> Answer:
    spec = instrument(state, call.query)
    bar = _stat_bar(call)
    count = limit(call.query, STATS_LIMIT, STATS_LIMIT)
    begin, end = time_ms(call.query, "begin"), time_ms(call.query, "end")
    periods = _periods(state, spec, bar, begin, end, count, STATS_RECENT)
    rows = []
    for period in reversed(periods):
        stamp = to_ms(period.time) + bar.length
        rows.append([str(stamp), *oi_numbers(spec, stamp, period.close)])
    return Answer(rows)


def open_interest_volume(state: ServerState, call: Call) -> Answer:
    spec = _spec_of_ccy(state, call)
    name = optional(call.query, "period") or "5m"
    bar = _stat_bar(call, CCY_BARS)
    begin, end = _ccy_window(call, state, name)
    periods = _periods(state, spec, bar, begin, end, 10**6, None)
    rows = []
    for period in reversed(periods):
        stamp = to_ms(period.time) + bar.length
        usd = oi_numbers(spec, stamp, period.close)[2]
        rows.append([str(stamp), usd, f"{period.volume * period.close:.4f}"])
    return Answer(rows)


def long_short_ratio_contract(state: ServerState, call: Call) -> Answer:
    spec = instrument(state, call.query)
    bar = _stat_bar(call)
    count = limit(call.query, STATS_LIMIT, STATS_LIMIT)
    begin, end = time_ms(call.query, "begin"), time_ms(call.query, "end")
    periods = _periods(state, spec, bar, begin, end, count, STATS_RECENT)
    return Answer(
        [
            [str(to_ms(p.time) + bar.length), long_short_ratio(spec.inst_id, p)]
            for p in reversed(periods)
        ]
    )


def long_short_ratio_ccy(state: ServerState, call: Call) -> Answer:
    spec = _spec_of_ccy(state, call)
    name = optional(call.query, "period") or "5m"
    bar = _stat_bar(call, CCY_BARS)
    begin, end = _ccy_window(call, state, name)
    periods = _periods(state, spec, bar, begin, end, 10**6, None)
    return Answer(
        [
            [str(to_ms(p.time) + bar.length), long_short_ratio(spec.inst_id, p)]
            for p in reversed(periods)
        ]
    )


def liquidation_details(
    state: ServerState, spec: Instrument, oldest: int, newest: int, now_ms: int
) -> list[dict[str, str]]:
    """Filled liquidations of ``spec`` with ``oldest <= ts <= newest``, newest first
    (a slot still open at ``now_ms`` leans by its move so far)."""
    tape = state.tape(spec.inst_id)
    first = max(oldest, to_ms(state.engine.price_path.first_time(spec.inst_id)))
    slot = first - first % LIQUIDATION_SLOT
    out: list[dict[str, str]] = []
    while slot <= newest:
        rng = Random(zlib.crc32(f"liq:{spec.inst_id}:{slot}".encode()))
        ended = min(slot + LIQUIDATION_SLOT, now_ms)
        falling = tape.price_float(ended) < tape.price_float(slot)
        for _ in range(rng.choice((0, 1, 1, 2))):
            ts = slot + rng.randrange(LIQUIDATION_SLOT)
            longs = rng.random() < (0.8 if falling else 0.2)
            lots = rng.randint(1, 400)
            size = spec.lot_sz * lots if spec.lot_sz * lots >= spec.min_sz else spec.min_sz
            if not first <= ts <= newest:
                continue
            price = tape.price_float(ts) * (1 + (0.001 if longs else -0.001) * rng.random())
            out.append(
                {
                    "bkLoss": "0",
                    "bkPx": num(spec.round_price(Decimal(f"{price:.8f}"))),
                    "ccy": "",
                    "posSide": "long" if longs else "short",
                    "side": "sell" if longs else "buy",
                    "sz": num(size),
                    "ts": str(ts),
                }
            )
        slot += LIQUIDATION_SLOT
    out.sort(key=lambda d: int(d["ts"]), reverse=True)
    return out


def liquidation_orders(state: ServerState, call: Call) -> Answer:
    kind = required(call.query, "instType")
    if kind not in ("MARGIN", "SWAP", "FUTURES", "OPTION"):
        raise bad("instType")
    family = optional(call.query, "instFamily") or optional(call.query, "uly")
    wanted = optional(call.query, "instId")
    if kind != "MARGIN" and not family:
        raise OkxError("50015", "Either parameter instFamily or uly is required.", 400)
    state_name = optional(call.query, "state") or "unfilled"
    if state_name not in ("unfilled", "filled"):
        raise bad("state")
    count = limit(call.query, LIQUIDATION_LIMIT, LIQUIDATION_LIMIT)
    before, after = time_ms(call.query, "before"), time_ms(call.query, "after")
    if wanted:
        instrument(state, call.query)
    if kind != INST_TYPE or state_name != "filled":
        return Answer([])
    now_ms = to_ms(state.engine.server_time())
    oldest = now_ms - LIQUIDATION_HORIZON
    newest = now_ms
    if before is not None:
        oldest = max(oldest, before + 1)
    if after is not None:
        newest = min(newest, after - 1)
    rows = []
    for symbol, spec in state.instruments.items():
        family_of = _coin(symbol) + "-USDT"
        if family_of != family or (wanted and symbol != wanted) or newest < oldest:
            continue
        details = liquidation_details(state, spec, oldest, newest, now_ms)[:count]
        rows.append(
            {
                "details": details,
                "instFamily": family_of,
                "instId": symbol,
                "instType": INST_TYPE,
                "totalLoss": "0",
                "uly": family_of,
            }
        )
    return Answer(rows)
