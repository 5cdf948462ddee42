"""History queries of the simulated exchange: completed orders and finished algo orders.

Pages follow OKX's list convention (okx-spec.md, "Pagination convention"): newest first;
``after`` an id returns only records OLDER than it, ``before`` an id only NEWER ones, both
exclusive. Ids are handed out in creation order, so "older" means a smaller id; unlike a
time cursor this stays exact when many records share one millisecond. With ``before``
the newest records above the cursor come first, as with OKX's ``before`` used alone.

There is no cap beyond the ``limit`` asked for: the fake OKX server applies OKX's own
maximum of 100 and pages through the engine when it filters further.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Iterator
from typing import TypeVar

from qwentrade.adapters.sim.state import SimState
from qwentrade.domain.errors import InvalidInput
from qwentrade.domain.market import TimeRange
from qwentrade.domain.records import OrderRecord
from qwentrade.domain.venue import AlgoOrder, AlgoState

T = TypeVar("T")

#: The states a finished (no longer live) algo order can be in on the simulator.
FINISHED_ALGO_STATES = (AlgoState.EFFECTIVE, AlgoState.CANCELED, AlgoState.ORDER_FAILED)


def check_limit(limit: int) -> None:
    """Refuse a ``limit`` that is not a whole number of at least 1."""
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise InvalidInput("limit", f"must be a whole number of at least 1, got {limit!r}")


def cursor(value: str | None, field: str) -> int | None:
    """An id cursor as a number (ids are decimal digits), or None when not given."""
    if value is None or value == "":
        return None
    if not isinstance(value, str) or not value.isdigit():
        raise InvalidInput(field, f"must be an id made of digits, got {value!r}")
    return int(value)


def _between(
    ids_newest_first: Iterable[tuple[int, T]], after: int | None, before: int | None
) -> Iterator[T]:
    for number, item in ids_newest_first:
        if after is not None and number >= after:
            continue
        if before is not None and number <= before:
            return  # newest first: everything further down is older still
        yield item


def order_page(
    state: SimState,
    symbol: str | None,
    span: TimeRange | None,
    limit: int,
    after_order_id: str | None,
    before_order_id: str | None,
) -> list[OrderRecord]:
    """Completed orders of ``symbol`` (or all) created in ``span``, newest first.

    The cursors and the span are bisected in the state's order index (ids rise and
    creation times never fall along it), so a page costs its own length plus the open
    orders inside the window, not the whole history."""
    after = cursor(after_order_id, "after_order_id")
    before = cursor(before_order_id, "before_order_id")
    index = state.order_index.get(symbol)
    if index is None:
        return []
    low, high = 0, len(index.ids)
    if after is not None:
        high = bisect_left(index.ids, after)
    if before is not None:
        low = bisect_right(index.ids, before)
    if span is not None:
        high = min(high, bisect_left(index.times, span.end))
        low = max(low, bisect_left(index.times, span.start))
    out = []
    for k in range(high - 1, low - 1, -1):
        order = state.orders[index.keys[k]]
        if order.is_open:
            continue
        out.append(order.to_record())
        if len(out) == limit:
            break
    return out


def finished_algo_state(value: AlgoState | str | None) -> AlgoState | None:
    """``value`` as one of FINISHED_ALGO_STATES (None for any), else InvalidInput."""
    if value is None:
        return None
    try:
        wanted = AlgoState(value)
    except ValueError:
        wanted = None
    if wanted not in FINISHED_ALGO_STATES:
        names = ", ".join(s.value for s in FINISHED_ALGO_STATES)
        raise InvalidInput("state", f"{value!r} is not a finished algo state; use one of {names}")
    return wanted


def algo_page(
    state: SimState,
    symbol: str | None,
    wanted: AlgoState | None,
    limit: int,
    after_algo_id: str | None,
    before_algo_id: str | None,
) -> list[AlgoOrder]:
    """Finished algo orders of ``symbol`` (or all) in state ``wanted`` (or any), newest first."""
    after = cursor(after_algo_id, "after_algo_id")
    before = cursor(before_algo_id, "before_algo_id")
    # ``state.algos`` keeps insertion order, and ids are handed out as algos are inserted
    newest_first = ((int(a.algo_id), a) for a in reversed(state.algos.values()))
    out = []
    for algo in _between(newest_first, after, before):
        if algo.is_open or (symbol is not None and algo.symbol != symbol):
            continue
        if wanted is not None and algo.state is not wanted:
            continue
        out.append(algo)
        if len(out) == limit:
            break
    return out
