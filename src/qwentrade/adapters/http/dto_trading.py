"""Request and response schemas of /trading and /pending-order (the field types and their
checks come from ``dto.py``)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal

import msgspec

from qwentrade.adapters.http.dto import (
    Amount,
    IdempotencyKey,
    Leverage,
    Price,
    SideName,
    SignalId,
    Symbol,
    Text,
    check_positive,
)
from qwentrade.domain.records import PendingOrderRecord

# -- trading -----------------------------------------------------------------------------------


class OpenPositionRequest(msgspec.Struct, forbid_unknown_fields=True):
    """Open a position: ``amount`` is the margin in USDT, sized with ``leverage``."""

    symbol: Symbol
    side: SideName
    amount: Amount
    stop_loss_trigger: Price | None = None
    take_profit_trigger: Price | None = None
    leverage: Leverage | None = None
    order_type: Literal["market", "limit"] = "market"
    price: Price | None = None
    signal_id: SignalId | None = None
    key: IdempotencyKey | None = None

    def __post_init__(self) -> None:
        check_positive(self, "amount", "stop_loss_trigger", "take_profit_trigger", "price")


def check_target(request: object) -> None:
    """A position is named by ``symbol`` or by ``cl_ord_id`` (its opening order, as the
    original API): at least one."""
    if request.symbol is None and request.cl_ord_id is None:  # type: ignore[attr-defined]
        raise ValueError(
            "field `symbol` is required (or `cl_ord_id`, the client order id that opened "
            "the position)"
        )


class AddPositionRequest(msgspec.Struct, forbid_unknown_fields=True):
    """Add margin to the position of ``symbol`` (or of the order ``cl_ord_id`` opened)."""

    amount: Amount
    symbol: Symbol | None = None
    cl_ord_id: Text | None = None
    stop_loss_trigger: Price | None = None
    take_profit_trigger: Price | None = None
    key: IdempotencyKey | None = None

    def __post_init__(self) -> None:
        check_target(self)
        check_positive(self, "amount", "stop_loss_trigger", "take_profit_trigger")


class ReducePositionRequest(msgspec.Struct, forbid_unknown_fields=True):
    """Release margin from the position of ``symbol`` (or of ``cl_ord_id``)."""

    amount: Amount
    symbol: Symbol | None = None
    cl_ord_id: Text | None = None
    key: IdempotencyKey | None = None

    def __post_init__(self) -> None:
        check_target(self)
        check_positive(self, "amount")


class ClosePositionRequest(msgspec.Struct, forbid_unknown_fields=True):
    """Close all of the position (``amount`` omitted) or part of it."""

    symbol: Symbol | None = None
    cl_ord_id: Text | None = None
    amount: Amount | None = None
    key: IdempotencyKey | None = None

    def __post_init__(self) -> None:
        check_target(self)
        check_positive(self, "amount")


Fraction = Annotated[
    Decimal, msgspec.Meta(description="Part of the position, 0 < f <= 1", examples=["0.5"])
]


class PlanRequest(msgspec.Struct, forbid_unknown_fields=True):
    """One protection order: ``size`` (contracts) or ``fraction`` of the position."""

    kind: Literal["stop_loss", "take_profit"]
    trigger_price: Price
    size: Amount | None = None
    fraction: Fraction | None = None

    def __post_init__(self) -> None:
        check_positive(self, "trigger_price", "size")
        check_positive(self, "fraction", most=Decimal(1))


class SetPlansRequest(msgspec.Struct, forbid_unknown_fields=True):
    """Replace the SL/TP orders of the position opened by ``cl_ord_id`` (at least one
    stop-loss; new orders are placed before the old ones are canceled)."""

    cl_ord_id: Text
    plans: Annotated[list[PlanRequest], msgspec.Meta(min_length=1, max_length=20)]


class OrderIdResponse(msgspec.Struct):
    """The client order id (OKX ``clOrdId``) of the order sent."""

    cl_ord_id: str


# -- pending orders --------------------------------------------------------------------------


class CreatePendingRequest(msgspec.Struct, forbid_unknown_fields=True):
    """A trigger order: opens ``side`` when the price crosses ``trigger_price``."""

    symbol: Symbol
    side: SideName
    amount: Amount
    trigger_price: Price
    stop_loss_trigger: Price | None = None
    take_profit_trigger: Price | None = None
    leverage: Leverage | None = None
    signal_id: SignalId | None = None
    expire_hours: Annotated[float, msgspec.Meta(gt=0, le=24 * 365, examples=[24])] | None = None

    def __post_init__(self) -> None:
        check_positive(self, "amount", "trigger_price", "stop_loss_trigger", "take_profit_trigger")


class PendingOrderResponse(msgspec.Struct):
    id: str
    symbol: str
    side: str
    trigger_price: Decimal
    crossing: str
    amount: Decimal
    leverage: int
    status: str
    created_at: datetime
    expire_at: datetime
    updated_at: datetime
    stop_loss_trigger: Decimal | None
    take_profit_trigger: Decimal | None
    signal_id: int | None
    closed_at: datetime | None
    fill_price: Decimal | None
    reason: str


def pending_to_dto(record: PendingOrderRecord) -> PendingOrderResponse:
    names = msgspec.structs.fields(PendingOrderResponse)
    return PendingOrderResponse(**{f.name: getattr(record, f.name) for f in names})
