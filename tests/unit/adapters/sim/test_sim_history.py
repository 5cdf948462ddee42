"""History queries of the simulated exchange: order-id cursors, finished algos, tags."""

from __future__ import annotations

import pytest
from sim_helpers import BTC, ETH, at, engine, flat

from qwentrade.domain.errors import InvalidInput
from qwentrade.domain.market import TimeRange
from qwentrade.domain.venue import (
    AlgoRequest,
    AlgoState,
    AlgoType,
    AttachedAlgo,
    OrderRequest,
)


def round_trips(sim, count: int, prefix: str = "o") -> list[str]:
    """``count`` filled market orders (buy, sell, buy, ...) at one instant; their ids."""
    ids = []
    for i in range(count):
        side = "buy" if i % 2 == 0 else "sell"
        ids.append(sim.place_order(OrderRequest(BTC, side, "1", f"{prefix}{i}")).order_id)
    return ids


def walk_orders(sim, limit: int) -> list[str]:
    """Every completed order id, newest first, read page by page with ``after_order_id``."""
    seen: list[str] = []
    cursor = None
    while True:
        page = sim.order_history(limit=limit, after_order_id=cursor)
        seen.extend(r.order_id for r in page)
        if len(page) < limit:
            return seen
        cursor = page[-1].order_id


def test_order_id_cursors_page_exactly_through_orders_of_one_millisecond():
    sim, _ = engine(flat(100000, 2), balance=100000)
    ids = round_trips(sim, 250)
    assert len({sim.get_order(BTC, order_id=i).created_at for i in ids}) == 1
    assert walk_orders(sim, 100) == ids[::-1]
    assert walk_orders(sim, 7) == ids[::-1]


def test_after_is_older_and_before_is_newer_both_exclusive():
    sim, _ = engine(flat(100000, 2), balance=100000)
    ids = round_trips(sim, 10)
    older = sim.order_history(after_order_id=ids[5])
    assert [r.order_id for r in older] == ids[4::-1]
    newer = sim.order_history(before_order_id=ids[5])
    assert [r.order_id for r in newer] == ids[:5:-1]
    between = sim.order_history(after_order_id=ids[8], before_order_id=ids[2])
    assert [r.order_id for r in between] == ids[7:2:-1]
    # before alone returns the newest above the cursor first, as OKX's before does
    assert [r.order_id for r in sim.order_history(before_order_id=ids[2], limit=2)] == [
        ids[9],
        ids[8],
    ]


def test_order_history_has_no_cap_beyond_the_limit_asked_for():
    sim, _ = engine(flat(100000, 2), balance=100000)
    ids = round_trips(sim, 130)
    assert [r.order_id for r in sim.order_history(limit=500)] == ids[::-1]
    assert len(sim.position_history(limit=500)) == 65


def test_history_windows_equal_a_full_filter_over_every_order():
    """Span, symbol and cursors together: each page is what filtering every order gives
    (the engine bisects its index instead of scanning; resting orders are skipped)."""
    sim, clock = engine(flat(100000, 12), balance=10**7, more={ETH: flat(3000, 12)})
    placed = []
    for minute in range(0, 150, 15):
        clock.set(at(minute))
        for k, symbol in enumerate((BTC, ETH, BTC)):
            side = "buy" if (minute // 15 + k) % 2 == 0 else "sell"
            placed.append(sim.place_order(OrderRequest(symbol, side, "1", f"h{minute}x{k}")))
        # a resting order in the window: open, so never in the history
        sim.place_order(OrderRequest(ETH, "buy", "1", f"r{minute}", "limit", "1000"))
    ids = [o.order_id for o in placed]
    for symbol in (None, BTC, ETH):
        for span in (
            None,
            TimeRange(at(30), at(90)),
            TimeRange(at(44), at(46)),
            TimeRange(at(200), at(300)),
        ):
            for after, before in ((None, None), (ids[20], None), (None, ids[4]), (ids[25], ids[7])):
                want = [
                    o.order_id
                    for o in reversed(placed)
                    if (symbol is None or o.symbol == symbol)
                    and (span is None or o.created_at in span)
                    and (after is None or int(o.order_id) < int(after))
                    and (before is None or int(o.order_id) > int(before))
                ]
                for limit in (100, 3):
                    page = sim.order_history(symbol, span, limit, after, before)
                    assert [r.order_id for r in page] == want[:limit], (symbol, span, after)
    closes = sim.position_history(BTC, TimeRange(at(30), at(90)))
    assert closes and all(at(30) <= r.updated_at < at(90) for r in closes)
    every = [r for r in sim.position_history(BTC, limit=500) if at(30) <= r.updated_at < at(90)]
    assert closes == every


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": True}, "limit"),
        ({"after_order_id": "12a"}, "after_order_id"),
        ({"before_order_id": "-5"}, "before_order_id"),
    ],
)
def test_bad_history_arguments_name_the_field(kwargs, field):
    sim, _ = engine(flat(100000, 2))
    with pytest.raises(InvalidInput) as refused:
        sim.order_history(**kwargs)
    assert refused.value.field == field


def protected_entry(cid: str, **stops) -> OrderRequest:
    return OrderRequest(BTC, "buy", "1", cid, attached_algos=[AttachedAlgo(**stops)])


def stop_request(**kw) -> AlgoRequest:
    fields = {"size": "1", "tp_trigger_price": "105000.0"} | kw
    return AlgoRequest(BTC, "sell", AlgoType.CONDITIONAL, **fields)


def test_algo_history_holds_finished_algos_newest_first_with_their_states():
    # the second candle dips to 99000: the stop at 99500 fires, the one at 95000 does not
    sim, _ = engine([*flat(100000), (100000, 100000, 99000, 99000), *flat(99000, 2)])
    sim.place_order(protected_entry("e1", sl_trigger_price="99500.0"))
    [fires] = sim.open_algos()
    canceled = sim.place_algo(stop_request())
    sim.cancel_algos([(BTC, canceled.algo_id)])
    assert [a.algo_id for a in sim.algo_history()] == [canceled.algo_id]
    sim.place_order(protected_entry("e2", sl_trigger_price="95000.0"))
    sim.advance(at(30))
    [live] = sim.open_algos()
    finished = sim.algo_history(BTC)
    assert [(a.algo_id, a.state) for a in finished] == [
        (canceled.algo_id, AlgoState.CANCELED),
        (fires.algo_id, AlgoState.EFFECTIVE),
    ]
    assert live.algo_id not in {a.algo_id for a in finished}
    assert sim.algo_history(state="effective") == [finished[1]]
    assert sim.algo_history(state=AlgoState.CANCELED) == [finished[0]]
    assert sim.algo_history(after_algo_id=canceled.algo_id) == [finished[1]]
    assert sim.algo_history(before_algo_id=fires.algo_id) == [finished[0]]
    assert sim.algo_history(limit=1) == [finished[0]]


def test_algo_history_pages_exactly_through_algos_of_one_millisecond():
    sim, _ = engine(flat(100000, 2))
    sim.place_order(OrderRequest(BTC, "buy", "1", "e1"))
    ids = [sim.place_algo(stop_request()).algo_id for _ in range(120)]
    for start in range(0, 120, 10):
        sim.cancel_algos([(BTC, i) for i in ids[start : start + 10]])
    assert len({sim.get_algo(BTC, algo_id=i).updated_at for i in ids}) == 1
    seen: list[str] = []
    cursor = None
    while page := sim.algo_history(limit=50, after_algo_id=cursor):
        seen.extend(a.algo_id for a in page)
        cursor = page[-1].algo_id
    assert seen == ids[::-1]


@pytest.mark.parametrize("state", ["live", "pause", "nonsense"])
def test_algo_history_refuses_states_that_are_not_finished(state):
    sim, _ = engine(flat(100000, 2))
    with pytest.raises(InvalidInput) as refused:
        sim.algo_history(state=state)
    assert refused.value.field == "state"


def test_tags_are_kept_on_orders_and_algos():
    sim, _ = engine(flat(100000, 2))
    order = sim.place_order(OrderRequest(BTC, "buy", "1", "t1", tag="strat7"))
    assert order.tag == "strat7"
    assert sim.get_order(BTC, client_order_id="t1").tag == "strat7"
    assert sim.place_order(OrderRequest(BTC, "buy", "1", "t2")).tag == ""
    algo = sim.place_algo(stop_request(tag="guard1"))
    assert algo.tag == "guard1" and sim.get_algo(BTC, algo_id=algo.algo_id).tag == "guard1"


@pytest.mark.parametrize("tag", ["has space", "x" * 17, "dash-ed"])
def test_a_tag_must_be_up_to_16_letters_or_digits(tag):
    with pytest.raises(InvalidInput) as refused:
        OrderRequest(BTC, "buy", "1", "t1", tag=tag)
    assert refused.value.field == "tag"
    with pytest.raises(InvalidInput):
        stop_request(tag=tag)
