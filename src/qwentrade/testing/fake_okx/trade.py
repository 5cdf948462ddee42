"""Trade endpoints of the fake OKX server: orders, cancels, lookups, algo orders.

Place/cancel endpoints answer per item with ``sCode``/``sMsg`` and a top-level ``code``
of ``"0"`` (all succeeded), ``"1"`` (all failed) or ``"2"`` (a batch partly succeeded),
as OKX does; lookups answer a top-level error (``51603`` for an unknown order).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from qwentrade.adapters.sim.history import FINISHED_ALGO_STATES
from qwentrade.domain.errors import DomainError
from qwentrade.domain.market import TimeRange, from_ms, to_ms
from qwentrade.domain.venue import AlgoOrder, Order, OrderState
from qwentrade.testing.fake_okx import params, wire
from qwentrade.testing.fake_okx.endpoints import (
    Answer,
    Call,
    body_object,
    instrument,
    require_any,
)
from qwentrade.testing.fake_okx.params import OkxError, bad, empty, from_domain
from qwentrade.testing.fake_okx.state import ServerState

MAX_BATCH = 20
MAX_ALGO_CANCELS = 10
HISTORY_DAYS = timedelta(days=7)
ARCHIVE_DAYS = timedelta(days=92)
UNFILLED_CANCELED_KEPT = timedelta(hours=2)
ALGO_TYPES = ("conditional", "oco", "trigger", "move_order_stop", "twap", "iceberg", "chase")
# the engine has no cap of its own; the server filters further, so it reads in pages
ENGINE_PAGE = 100
FAILED = {"1": "All operations failed", "2": "Bulk operation partially succeeded."}


def envelope(items: list[dict]) -> Answer:
    """Top-level code 0 / 1 / 2 from the items' sCodes."""
    failed = sum(1 for item in items if item["sCode"] != "0")
    code = "0" if failed == 0 else ("1" if failed == len(items) else "2")
    return Answer(items, code, FAILED.get(code, ""))


def _stamp(state: ServerState) -> str:
    return wire.ms(state.engine.server_time())


def _body_list(call: Call, maximum: int) -> list:
    if call.body is None:
        raise OkxError("50000", "Body for POST request cannot be empty.", 400)
    if not isinstance(call.body, list):
        raise bad("body", "must be a JSON array")
    if not call.body:
        raise empty("body")
    if len(call.body) > maximum:
        raise bad("body", f"at most {maximum} items per request")
    return call.body


# -- placing and canceling -----------------------------------------------------------------


def _place_item(state: ServerState, item: object) -> dict:
    raw = item if isinstance(item, dict) else {}
    sent_id = params.echo(raw.get("clOrdId")) if isinstance(raw.get("clOrdId"), str) else ""
    sent_tag = params.echo(raw.get("tag")) if isinstance(raw.get("tag"), str) else ""
    result = {"clOrdId": sent_id, "ordId": "", "tag": sent_tag, "ts": _stamp(state)}
    try:
        request = params.order_request(item, state.make_client_id())  # type: ignore[arg-type]
        instrument(state, raw)
        order = state.engine.place_order(request)
        state.count_placed(request.client_order_id)
    except OkxError as e:
        return result | {"sCode": e.code, "sMsg": e.message, "subCode": ""}
    except DomainError as e:
        error = from_domain(e)
        return result | {"sCode": error.code, "sMsg": error.message, "subCode": ""}
    shown, _ = state.order_view(order)
    return result | {
        "clOrdId": shown,
        "ordId": order.order_id,
        "sCode": "0",
        "sMsg": "Order placed",
        "subCode": "",
    }


def place_order(state: ServerState, call: Call) -> Answer:
    return envelope([_place_item(state, body_object(call))])


def batch_orders(state: ServerState, call: Call) -> Answer:
    return envelope([_place_item(state, item) for item in _body_list(call, MAX_BATCH)])


def _cancel_item(state: ServerState, item: object) -> dict:
    raw = item if isinstance(item, dict) else {}
    result = {"clOrdId": params.echo(raw.get("clOrdId")), "ordId": params.echo(raw.get("ordId"))}
    result["ts"] = _stamp(state)
    try:
        spec = instrument(state, raw)
        require_any(raw, "ordId", "clOrdId")
        order = state.engine.cancel_order(
            spec.inst_id,
            params.optional(raw, "ordId") or None,
            params.optional(raw, "clOrdId") or None,
        )
    except OkxError as e:
        return result | {"sCode": e.code, "sMsg": e.message}
    except DomainError as e:
        error = from_domain(e)
        return result | {"sCode": error.code, "sMsg": error.message}
    shown, _ = state.order_view(order)
    return result | {"clOrdId": shown, "ordId": order.order_id, "sCode": "0", "sMsg": ""}


def cancel_order(state: ServerState, call: Call) -> Answer:
    return envelope([_cancel_item(state, body_object(call))])


def cancel_batch_orders(state: ServerState, call: Call) -> Answer:
    return envelope([_cancel_item(state, item) for item in _body_list(call, MAX_BATCH)])


# -- order lookups -------------------------------------------------------------------------


def _order_dict(state: ServerState, order: Order) -> dict:
    shown, tag = state.order_view(order)
    return wire.order_dict(order, tag, shown)


def get_order(state: ServerState, call: Call) -> Answer:
    spec = instrument(state, call.query)
    require_any(call.query, "ordId", "clOrdId")
    try:
        order = state.engine.get_order(
            spec.inst_id, call.query.get("ordId") or None, call.query.get("clOrdId") or None
        )
    except DomainError:
        raise OkxError("51603", "Order does not exist") from None
    return Answer([_order_dict(state, order)])


def _ord_id_page(orders: list, call: Call, key) -> list:
    """Apply ``after``/``before`` (cursor on an id, exclusive) and ``limit``; newest first."""
    after, before = params.integer(call.query, "after"), params.integer(call.query, "before")
    count = params.limit(call.query, 100, 100)
    found = [o for o in orders if (after is None or int(key(o)) < after)]
    found = [o for o in found if (before is None or int(key(o)) > before)]
    found.sort(key=lambda o: int(key(o)), reverse=True)
    return found[:count]


def _filters(call: Call, order: Order) -> bool:
    kinds = [k for k in params.optional(call.query, "ordType").split(",") if k]
    state_filter = params.optional(call.query, "state")
    return (not kinds or order.order_type.value in kinds) and (
        not state_filter or order.state.value == state_filter
    )


def _swap_only(call: Call, required: bool) -> bool:
    kind = params.required(call.query, "instType") if required else None
    kind = kind or params.optional(call.query, "instType")
    if kind and kind not in ("SPOT", "MARGIN", "SWAP", "FUTURES", "OPTION", "EVENTS"):
        raise bad("instType")
    return kind in ("", "SWAP")


def orders_pending(state: ServerState, call: Call) -> Answer:
    if not _swap_only(call, required=False):
        return Answer([])
    symbol = instrument(state, call.query).inst_id if call.query.get("instId") else None
    orders = [o for o in state.engine.open_orders(symbol) if _filters(call, o)]
    return Answer([_order_dict(state, o) for o in _ord_id_page(orders, call, lambda o: o.order_id)])


def _walk(fetch: Callable[[str | None], list], key: Callable, keep: Callable, count: int) -> list:
    """Up to ``count`` items that ``keep`` accepts, newest first, paging through ``fetch``.

    ``fetch(cursor)`` returns a page of ENGINE_PAGE items older than the id ``cursor``
    (None: from the newest); filtering here may drop items, so one page is not enough.
    """
    found: list = []
    cursor = None
    while len(found) < count:
        page = fetch(cursor)
        found.extend(item for item in page if keep(item))
        if len(page) < ENGINE_PAGE:
            break
        cursor = key(page[-1])
    return found[:count]


def _id_cursor(call: Call, name: str) -> str | None:
    value = params.integer(call.query, name)
    return None if value is None else str(value)


def _history(state: ServerState, call: Call, archive: bool) -> Answer:
    if not _swap_only(call, required=True):
        return Answer([])
    symbol = instrument(state, call.query).inst_id if call.query.get("instId") else None
    now = state.engine.server_time()
    start = now - (ARCHIVE_DAYS if archive else HISTORY_DAYS)
    end = now + timedelta(milliseconds=1)
    begin, until = params.time_ms(call.query, "begin"), params.time_ms(call.query, "end")
    if begin is not None:
        start = max(start, from_ms(begin))
    if until is not None:
        end = min(end, from_ms(until + 1))
    after, before = _id_cursor(call, "after"), _id_cursor(call, "before")
    count = params.limit(call.query, 100, 100)
    if end <= start:
        return Answer([])
    span = TimeRange(start, end)

    def fetch(cursor: str | None) -> list[Order]:
        records = state.engine.order_history(
            symbol, span, ENGINE_PAGE, after_order_id=cursor or after, before_order_id=before
        )
        return [state.engine.get_order(r.symbol, r.order_id) for r in records]

    def keep(order: Order) -> bool:
        unfilled_cancel = order.state is OrderState.CANCELED and order.filled_size == 0
        if unfilled_cancel and (archive or now - order.updated_at > UNFILLED_CANCELED_KEPT):
            return False
        return _filters(call, order)

    orders = _walk(fetch, lambda o: o.order_id, keep, count)
    return Answer([_order_dict(state, o) for o in orders])


def orders_history(state: ServerState, call: Call) -> Answer:
    return _history(state, call, archive=False)


def orders_history_archive(state: ServerState, call: Call) -> Answer:
    return _history(state, call, archive=True)


# -- algo orders ---------------------------------------------------------------------------


def _algo_dict(state: ServerState, algo: AlgoOrder) -> dict:
    last = state.engine.last_price(algo.symbol)
    return wire.algo_dict(algo, last, algo.tag)


def place_algo(state: ServerState, call: Call) -> Answer:
    body = body_object(call)
    result = {
        "algoId": "",
        "algoClOrdId": params.echo(body.get("algoClOrdId") or body.get("clOrdId")),
        "clOrdId": params.echo(body.get("clOrdId")),
        "tag": params.echo(body.get("tag")),
    }
    try:
        request = params.algo_request(body)
        instrument(state, body)
        algo = state.engine.place_algo(request)
        state.count_placed(request.algo_client_order_id)
    except OkxError as e:
        return envelope([result | {"sCode": e.code, "sMsg": e.message}])
    except DomainError as e:
        error = from_domain(e)
        return envelope([result | {"sCode": error.code, "sMsg": error.message}])
    return envelope([result | {"algoId": algo.algo_id, "sCode": "0", "sMsg": ""}])


def _find_algo(state: ServerState, raw: dict) -> AlgoOrder:
    require_any(raw, "algoId", "algoClOrdId")
    symbols = [instrument(state, raw).inst_id] if raw.get("instId") else list(state.instruments)
    algo_id = params.optional(raw, "algoId") or None
    algo_client_id = params.optional(raw, "algoClOrdId") or None
    for symbol in symbols:
        try:
            return state.engine.get_algo(symbol, algo_id, algo_client_id)
        except DomainError:
            continue
    raise OkxError("51603", "Order does not exist")


def get_algo(state: ServerState, call: Call) -> Answer:
    return Answer([_algo_dict(state, _find_algo(state, call.query))])


def cancel_algos(state: ServerState, call: Call) -> Answer:
    items = []
    for item in _body_list(call, MAX_ALGO_CANCELS):
        raw = item if isinstance(item, dict) else {}
        result = {
            "algoId": params.echo(raw.get("algoId")),
            "algoClOrdId": params.echo(raw.get("algoClOrdId")),
            "clOrdId": "",
            "tag": "",
        }
        try:
            params.required(raw, "instId")
            algo = _find_algo(state, raw)
            state.engine.cancel_algos([(algo.symbol, algo.algo_id)])
        except OkxError as e:
            code = "51400" if e.code == "51603" else e.code
            items.append(result | {"sCode": code, "sMsg": e.message})
            continue
        except DomainError as e:
            error = from_domain(e)
            items.append(result | {"sCode": error.code, "sMsg": error.message})
            continue
        items.append(result | {"algoId": algo.algo_id, "sCode": "0", "sMsg": ""})
    return envelope(items)


def _algo_kinds(call: Call) -> list[str]:
    kinds = [k for k in params.required(call.query, "ordType").split(",") if k]
    if any(k not in ALGO_TYPES for k in kinds):
        raise bad("ordType")
    return kinds


def _algo_filters(call: Call, algo: AlgoOrder, kinds: list[str]) -> bool:
    symbol = params.optional(call.query, "instId")
    algo_id = params.optional(call.query, "algoId")
    return (
        algo.algo_type.value in kinds
        and (not symbol or algo.symbol == symbol)
        and (not algo_id or algo.algo_id == algo_id)
    )


def algos_pending(state: ServerState, call: Call) -> Answer:
    kinds = _algo_kinds(call)
    if not _swap_only(call, required=False):
        return Answer([])
    symbol = instrument(state, call.query).inst_id if call.query.get("instId") else None
    found = [a for a in state.engine.open_algos(symbol) if _algo_filters(call, a, kinds)]
    page = _ord_id_page(found, call, lambda a: a.algo_id)
    return Answer([_algo_dict(state, a) for a in page])


def algos_history(state: ServerState, call: Call) -> Answer:
    kinds = _algo_kinds(call)
    wanted_state = params.optional(call.query, "state")
    if not wanted_state and not call.query.get("algoId"):
        raise empty("state")
    if wanted_state and wanted_state not in FINISHED_ALGO_STATES:
        raise bad("state", f"{params.quote(wanted_state)}: use effective, canceled or order_failed")
    if not _swap_only(call, required=False):
        return Answer([])
    symbol = instrument(state, call.query).inst_id if call.query.get("instId") else None
    after, before = _id_cursor(call, "after"), _id_cursor(call, "before")
    count = params.limit(call.query, 100, 100)
    cutoff = to_ms(state.engine.server_time() - ARCHIVE_DAYS)

    def fetch(cursor: str | None) -> list[AlgoOrder]:
        return state.engine.algo_history(
            symbol,
            wanted_state or None,
            ENGINE_PAGE,
            after_algo_id=cursor or after,
            before_algo_id=before,
        )

    def keep(algo: AlgoOrder) -> bool:
        return _algo_filters(call, algo, kinds) and to_ms(algo.created_at) >= cutoff

    found = _walk(fetch, lambda a: a.algo_id, keep, count)
    return Answer([_algo_dict(state, a) for a in found])
