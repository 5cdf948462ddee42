"""Public market-data and account endpoints of the fake OKX server.

Each handler takes the :class:`ServerState` and a parsed :class:`Call` and returns an
:class:`Answer` (the ``data`` list of the envelope) or raises :class:`OkxError`.
Trade endpoints are in :mod:`.trade`; the route table is :data:`ROUTES` in :mod:`.routes`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import attrs

from qwentrade.domain.errors import DomainError
from qwentrade.domain.market import Timeframe, TimeRange, from_ms, to_ms
from qwentrade.domain.venue import PositionMode, PosSide, TdMode
from qwentrade.testing.fake_okx import account, market, minutes, wire
from qwentrade.testing.fake_okx.params import (
    OkxError,
    bad,
    decimal,
    empty,
    from_domain,
    integer,
    limit,
    optional,
    quote,
    required,
    time_ms,
)
from qwentrade.testing.fake_okx.state import ServerState

INST_TYPES = ("SPOT", "MARGIN", "SWAP", "FUTURES", "OPTION", "EVENTS")
FUNDING_INTERVAL = timedelta(hours=8)
THREE_MONTHS = timedelta(days=92)


@attrs.frozen
class Call:
    """A request as the handlers see it: query parameters and the parsed JSON body."""

    method: str
    path: str
    query: dict[str, str]
    body: Any = None


@attrs.frozen
class Answer:
    """The envelope to send: ``{"code", "msg", "data"}`` (+ in/outTime for trades)."""

    data: list
    code: str = "0"
    msg: str = ""


Handler = Callable[[ServerState, Call], Answer]


def instrument(state: ServerState, params: dict, name: str = "instId"):
    symbol = required(params, name)
    found = state.instruments.get(symbol)
    if found is None:
        raise OkxError("51001", f"Instrument ID or Spread ID doesn't exist: {quote(symbol)}")
    return found


def engine_call(fn, *args, **kwargs):
    """Run an engine call, turning its refusals into OKX errors (top-level)."""
    try:
        return fn(*args, **kwargs)
    except DomainError as e:
        raise from_domain(e) from None


def body_object(call: Call) -> dict:
    if call.body is None:
        raise OkxError("50000", "Body for POST request cannot be empty.", 400)
    if not isinstance(call.body, dict):
        raise bad("body", "must be a JSON object")
    return call.body


# -- public --------------------------------------------------------------------------------


def public_time(state: ServerState, call: Call) -> Answer:
    return Answer([{"ts": wire.ms(state.market_now())}])


def instruments(state: ServerState, call: Call) -> Answer:
    kind = required(call.query, "instType")
    if kind not in INST_TYPES:
        raise bad("instType")
    if kind != "SWAP":
        return Answer([])
    wanted = optional(call.query, "instId")
    family = optional(call.query, "instFamily") or optional(call.query, "uly")
    listed = state.engine.price_path
    rows = []
    for symbol, spec in state.instruments.items():
        if wanted and symbol != wanted:
            continue
        if family and symbol.removesuffix("-SWAP") != family:
            continue
        since = listed.first_time(symbol)
        rows.append(market.instrument_dict(spec, since, state.instrument_codes[symbol]))
    if wanted and not rows:
        raise OkxError("51001", f"Instrument ID or Spread ID doesn't exist: {quote(wanted)}")
    return Answer(rows)


def _candles(state: ServerState, call: Call, recent_only: int | None) -> Answer:
    spec = instrument(state, call.query)
    bar = market.BARS.get(call.query.get("bar") or "1m")
    base = state.engine.price_path.base
    base_ms = int(base.duration / timedelta(milliseconds=1))
    frame = market.source_frame(bar, base) if bar else None
    fine = bar is not None and frame is None and base_ms % bar.length == 0
    if bar is None or (frame is None and not fine):
        raise bad("bar", f"the fake serves {', '.join(market.BARS)} (path base {base.value})")
    count = limit(call.query, 100, 300)
    now_ms = to_ms(state.engine.server_time())
    first_ms = to_ms(state.engine.price_path.first_time(spec.inst_id))
    window = market.candle_window(
        bar,
        now_ms,
        first_ms,
        time_ms(call.query, "after"),
        time_ms(call.query, "before"),
        count,
        recent_only,
    )
    if window is None:
        return Answer([])
    if fine:
        tape = state.tape(spec.inst_id)
        candles = minutes.fine_candles(
            tape, base_ms, spec.inst_id, bar.length, window, now_ms, spec.tick_sz
        )
    else:
        candles = engine_call(
            market.build_candles, state.engine.candles, spec.inst_id, bar, frame, window, now_ms
        )
    return Answer([market.candle_row(c, spec) for c in reversed(candles[-count:])])


def candles(state: ServerState, call: Call) -> Answer:
    return _candles(state, call, recent_only=1440)


def history_candles(state: ServerState, call: Call) -> Answer:
    return _candles(state, call, recent_only=None)


def funding_rate(state: ServerState, call: Call) -> Answer:
    symbol = required(call.query, "instId")
    symbols = (
        list(state.instruments) if symbol == "ANY" else [instrument(state, call.query).inst_id]
    )
    now = state.engine.server_time()
    return Answer(
        [
            market.funding_rate_dict(state.engine.funding_rate(s), now, FUNDING_INTERVAL)
            for s in symbols
        ]
    )


def funding_history(state: ServerState, call: Call) -> Answer:
    spec = instrument(state, call.query)
    count = limit(call.query, 400, 400)
    now = state.engine.server_time()
    before, after = time_ms(call.query, "before"), time_ms(call.query, "after")
    start = max(now - THREE_MONTHS, state.engine.price_path.first_time(spec.inst_id))
    if before is not None:
        start = max(start, from_ms(before + 1))
    end = now + timedelta(milliseconds=1)
    if after is not None:
        end = min(end, from_ms(after))
    if end <= start:
        return Answer([])
    rates = state.engine.funding_history(spec.inst_id, TimeRange(start, end))
    return Answer([market.funding_history_dict(r) for r in reversed(rates[-count:])])


def books(state: ServerState, call: Call) -> Answer:
    spec = instrument(state, call.query)
    depth = integer(call.query, "sz", 1)
    if depth is None or not 1 <= depth <= 400:
        raise bad("sz", "1..400")
    return Answer([market.book_dict(engine_call(state.engine.order_book, spec.inst_id, depth))])


def ticker(state: ServerState, call: Call) -> Answer:
    spec = instrument(state, call.query)
    last = state.engine.last_price(spec.inst_id)
    hours = state.engine.candles(spec.inst_id, Timeframe.H1, limit=24)
    day = None
    if hours:
        day = attrs.evolve(
            hours[-1],
            open=hours[0].open,
            high=max(c.high for c in hours),
            low=min(c.low for c in hours),
            volume=sum(c.volume for c in hours),
        )
    return Answer(
        [market.ticker_dict(spec.inst_id, last, spec.tick_sz, day, state.engine.server_time())]
    )


# -- account -------------------------------------------------------------------------------


def currencies(state: ServerState, call: Call) -> Answer:
    return Answer([])


def balance(state: ServerState, call: Call) -> Answer:
    ccys = [c for c in optional(call.query, "ccy").split(",") if c]
    body = account.balance_dict(state.engine.balance(), state.engine.positions(), state.instruments)
    if ccys and wire.SETTLE not in ccys:
        body["details"] = []
    return Answer([body])


def _inst_type_filter(call: Call) -> bool:
    """False when the instType asked for cannot hold a swap position."""
    kind = optional(call.query, "instType")
    if kind and kind not in (*INST_TYPES, "ANY"):
        raise bad("instType")
    return kind in ("", "SWAP", "ANY")


def positions(state: ServerState, call: Call) -> Answer:
    if not _inst_type_filter(call):
        return Answer([])
    ids = [s for s in optional(call.query, "instId").split(",") if s]
    pos_ids = [p for p in optional(call.query, "posId").split(",") if p]
    if len(ids) > 10 or len(pos_ids) > 20:
        raise bad("instId" if len(ids) > 10 else "posId", "too many values")
    equity = state.engine.balance().equity
    rows = []
    for position in reversed(state.engine.positions()):
        if (ids and position.symbol not in ids) or (pos_ids and position.pos_id not in pos_ids):
            continue
        spec = state.instruments[position.symbol]
        rows.append(account.position_dict(position, spec, position.mark_price, equity))
    return Answer(rows)


def positions_history(state: ServerState, call: Call) -> Answer:
    if not _inst_type_filter(call):
        return Answer([])
    symbol = optional(call.query, "instId") or None
    if symbol:
        instrument(state, call.query)
    count = limit(call.query, 100, 100)
    now = state.engine.server_time()
    start, end = now - THREE_MONTHS, now + timedelta(milliseconds=1)
    before, after = time_ms(call.query, "before"), time_ms(call.query, "after")
    if before is not None:
        start = max(start, from_ms(before + 1))
    if after is not None:
        end = min(end, from_ms(after))
    if end <= start:
        return Answer([])
    mode, kind = optional(call.query, "mgnMode"), optional(call.query, "type")
    pos_id = optional(call.query, "posId")
    records = state.engine.position_history(symbol, TimeRange(start, end), limit=100)
    rows = []
    for record in records:
        if (mode and record.margin_mode != mode) or (kind and str(record.close_type) != kind):
            continue
        if pos_id and record.pos_id != pos_id:
            continue
        hint = (record.close_avg_price - record.avg_price) * record.pnl
        direction = state.direction_of(record.pos_id, record.pos_side, 1 if hint >= 0 else -1)
        rows.append(account.position_history_dict(record, direction))
    return Answer(rows[:count])


def set_leverage(state: ServerState, call: Call) -> Answer:
    body = body_object(call)
    # bounded by decimal(): int() of 1e999999999 would build a billion-digit integer
    lever_number = decimal(required(body, "lever"), "lever")
    if lever_number != lever_number.to_integral_value() or lever_number < 1:
        raise bad("lever", "the fake takes whole leverage of at least 1")
    mode = required(body, "mgnMode")
    if mode not in ("cross", "isolated"):
        raise bad("mgnMode")
    spec = instrument(state, body)
    side_text = optional(body, "posSide")
    pos_side = PosSide(side_text) if side_text in ("long", "short") else None
    if side_text and pos_side is None and side_text != "net":
        raise bad("posSide")
    engine_call(state.engine.set_leverage, spec.inst_id, int(lever_number), TdMode(mode), pos_side)
    return Answer(
        [
            {
                "lever": str(int(lever_number)),
                "mgnMode": mode,
                "instId": spec.inst_id,
                "posSide": side_text,
            }
        ]
    )


def leverage_info(state: ServerState, call: Call) -> Answer:
    mode = required(call.query, "mgnMode")
    if mode not in ("cross", "isolated"):
        raise bad("mgnMode")
    ids = [s for s in required(call.query, "instId").split(",") if s]
    hedged = state.engine.position_mode() is PositionMode.LONG_SHORT_MODE
    sides = [PosSide.LONG, PosSide.SHORT] if hedged and mode == "isolated" else [PosSide.NET]
    rows = []
    for symbol in ids:
        instrument(state, {"instId": symbol})
        for side in sides:
            lever = state.engine.leverage(symbol, TdMode(mode), side)
            rows.append(
                {"instId": symbol, "mgnMode": mode, "posSide": side.value, "lever": str(lever)}
            )
    return Answer(rows)


def account_config(state: ServerState, call: Call) -> Answer:
    return Answer(
        [
            {
                "uid": state.uid,
                "mainUid": state.uid,
                "acctLv": "2",
                "acctStpMode": "cancel_maker",
                "posMode": state.engine.position_mode().value,
                "autoLoan": False,
                "greeksType": "PA",
                "feeType": "0",
                "level": "Lv1",
                "levelTmp": "",
                "ctIsoMode": "automatic",
                "mgnIsoMode": "automatic",
                "roleType": "0",
                "spotRoleType": "0",
                "traderInsts": [],
                "spotTraderInsts": [],
                "spotOffsetType": "",
                "opAuth": "1",
                "kycLv": "3",
                "label": "qwentrade fake",
                "ip": "",
                "perm": "read_only,trade",
                "liquidationGear": "-1",
                "enableSpotBorrow": False,
                "spotBorrowAutoRepay": False,
                "type": "0",
                "stgyType": "0",
                "settleCcy": "USDT",
                "settleCcyList": ["USD", "USDC", "USDG"],
            }
        ]
    )


def set_position_mode(state: ServerState, call: Call) -> Answer:
    body = body_object(call)
    text = required(body, "posMode")
    try:
        mode = PositionMode(text)
    except ValueError:
        raise bad("posMode") from None
    engine_call(state.engine.set_position_mode, mode)
    return Answer([{"posMode": mode.value}])


def require_any(params: dict, *names: str) -> None:
    if not any(params.get(n) for n in names):
        raise empty(" or ".join(names))
