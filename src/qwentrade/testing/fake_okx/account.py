"""Positions, position history and the balance in OKX's wire format (pure).

Same conventions as :mod:`.wire`: every field real OKX answers carry, numbers as strings,
``""`` for what the simulator has no notion of (greeks, spot borrowing, USD prices).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from qwentrade.domain.instruments import Instrument
from qwentrade.domain.records import PositionRecord
from qwentrade.domain.venue import Balance, ExchangePosition, PosSide, TdMode
from qwentrade.testing.fake_okx.wire import INST_TYPE, SETTLE, fields, ms, num

ZERO = Decimal(0)


# -- positions -----------------------------------------------------------------------------

_POSITION_BLANKS = fields(
    "availPos baseBal baseBorrowed baseInterest bizRefId bizRefType clSpotInUseAmt "
    "deltaBS deltaPA gammaBS gammaPA hedgedPos interest liab liabCcy maxSpotInUseAmt "
    "nonSettleAvgPx optVal pendingCloseOrdLiabVal posCcy quoteBal quoteBorrowed "
    "quoteInterest settledPnl spotInUseAmt spotInUseCcy thetaBS thetaPA usdPx vegaBS "
    "vegaPA"
)


def position_dict(
    position: ExchangePosition,
    instrument: Instrument,
    last_price: Decimal,
    equity: Decimal | None = None,
    push_time: datetime | None = None,
) -> dict[str, Any]:
    """The position object (``GET /account/positions``; ``pTime`` added for pushes).

    ``equity`` (the account's) gives ``mgnRatio`` for a cross position.
    """
    contracts = position.contracts
    mark = position.mark_price
    notional = contracts * instrument.ct_val * mark
    isolated = position.margin_mode is TdMode.ISOLATED
    ratio = num(position.unrealised_pnl / position.margin) if position.margin else "0"
    margin_ratio_base = position.margin + position.unrealised_pnl if isolated else equity
    mmr = position.maintenance_margin
    mgn_ratio = num(margin_ratio_base / mmr) if margin_ratio_base is not None and mmr else ""
    closing_pnl = position.realised_pnl - position.fee - position.funding_fee
    breakeven = ""
    if position.avg_price is not None and contracts:
        per_unit = position.realised_pnl / (contracts * instrument.ct_val)
        direction = 1 if position.direction is PosSide.LONG else -1
        breakeven = num(position.avg_price - direction * per_unit)
    body: dict[str, Any] = {name: "" for name in _POSITION_BLANKS}
    body.update(
        {
            "instType": INST_TYPE,
            "instId": position.symbol,
            "mgnMode": position.margin_mode.value,
            "posId": position.pos_id,
            "posSide": position.pos_side.value,
            "pos": num(position.size),
            "availPos": num(contracts) if contracts else "",
            "avgPx": num(position.avg_price),
            "markPx": num(mark),
            "last": num(last_price),
            "idxPx": num(mark),
            "upl": num(position.unrealised_pnl),
            "uplRatio": ratio,
            "uplLastPx": num(position.unrealised_pnl),
            "uplRatioLastPx": ratio,
            "lever": str(position.leverage),
            "liqPx": num(position.liquidation_price),
            "imr": "" if isolated else num(position.margin),
            "margin": num(position.margin) if isolated else "",
            "mgnRatio": mgn_ratio,
            "mmr": num(mmr),
            "notionalUsd": num(notional),
            "ccy": SETTLE,
            "adl": "1",
            "tradeId": "",
            "bePx": breakeven,
            "realizedPnl": num(position.realised_pnl),
            "pnl": num(closing_pnl),
            "fee": num(position.fee),
            "fundingFee": num(position.funding_fee),
            "liqPenalty": "0",
            "closeOrderAlgo": [],
            "cTime": ms(position.created_at),
            "uTime": ms(position.updated_at),
        }
    )
    if push_time is not None:
        body["pTime"] = ms(push_time)
    return body


def position_history_dict(record: PositionRecord, direction: str) -> dict[str, Any]:
    """A ``positions-history`` row; ``direction`` is ``long``/``short``."""
    base = record.avg_price * record.close_total_size
    ratio = num(record.pnl * record.leverage / base) if base else "0"
    return {
        "instType": INST_TYPE,
        "instId": record.symbol,
        "mgnMode": record.margin_mode,
        "type": str(record.close_type),
        "posId": record.pos_id,
        "posSide": record.pos_side,
        "direction": direction,
        "lever": str(record.leverage),
        "openAvgPx": num(record.avg_price),
        "closeAvgPx": num(record.close_avg_price),
        "openMaxPos": num(record.open_max_size),
        "closeTotalPos": num(record.close_total_size),
        "pnl": num(record.pnl),
        "pnlRatio": ratio,
        "fee": num(record.fee),
        "fundingFee": num(record.funding_fee),
        "liqPenalty": num(record.realized_pnl - record.pnl - record.fee - record.funding_fee),
        "realizedPnl": num(record.realized_pnl),
        "triggerPx": "",
        "uly": record.symbol.removesuffix("-SWAP"),
        "ccy": SETTLE,
        "nonSettleAvgPx": "",
        "settledPnl": "",
        "cTime": ms(record.created_at),
        "uTime": ms(record.updated_at),
    }


# -- account -------------------------------------------------------------------------------

_DETAIL_BLANKS = fields(
    "accAvgPx borrowFroz clSpotInUseAmt crossLiab interest isoLiab liab maxLoan "
    "maxSpotInUse maxSpotInUseAmt mgnRatio openAvgPx spotBal spotInUseAmt spotUpl "
    "spotUplRatio totalPnl totalPnlRatio uplLiab"
)


def balance_dict(
    balance: Balance, positions: list[ExchangePosition], instruments: Mapping[str, Instrument]
) -> dict[str, Any]:
    """The ``GET /account/balance`` object (one currency, USDT, in ``details``)."""
    cross = [p for p in positions if p.margin_mode is TdMode.CROSS]
    isolated = [p for p in positions if p.margin_mode is TdMode.ISOLATED]
    imr = sum((p.margin for p in cross), ZERO)
    mmr = sum((p.maintenance_margin for p in positions), ZERO)
    iso_eq = sum((p.margin + p.unrealised_pnl for p in isolated), ZERO)
    iso_upl = sum((p.unrealised_pnl for p in isolated), ZERO)
    notional = sum(
        (p.contracts * instruments[p.symbol].ct_val * p.mark_price for p in positions), ZERO
    )
    order_frozen = max(ZERO, balance.frozen - imr - sum((p.margin for p in isolated), ZERO))
    updated = ms(balance.updated_at)
    detail: dict[str, Any] = {name: "" for name in _DETAIL_BLANKS}
    detail.update(
        {
            "ccy": balance.currency,
            "eq": num(balance.equity),
            "cashBal": num(balance.cash_balance),
            "availBal": num(balance.available),
            "availEq": num(balance.available),
            "frozenBal": num(balance.frozen),
            "ordFrozen": num(order_frozen),
            "upl": num(balance.unrealised_pnl),
            "isoEq": num(iso_eq),
            "isoUpl": num(iso_upl),
            "eqUsd": num(balance.equity),
            "disEq": num(balance.equity),
            "imr": num(imr),
            "mmr": num(mmr),
            "notionalLever": num(notional / balance.equity) if balance.equity > 0 else "0",
            "twap": "0",
            "stgyEq": "0",
            "fixedBal": "0",
            "rewardBal": "0",
            "smtSyncEq": "0",
            "spotCopyTradingEq": "0",
            "spotIsoBal": "0",
            "colBorrAutoConversion": "0",
            "collateralEnabled": False,
            "collateralRestrict": False,
            "uTime": updated,
        }
    )
    return {
        "uTime": updated,
        "totalEq": num(balance.equity),
        "isoEq": num(iso_eq),
        "adjEq": num(balance.equity),
        "availEq": num(balance.available),
        "ordFroz": num(order_frozen),
        "imr": num(imr),
        "mmr": num(mmr),
        "borrowFroz": "",
        "mgnRatio": num(balance.equity / mmr) if mmr else "",
        "notionalUsd": num(notional),
        "notionalUsdForBorrow": "0",
        "notionalUsdForFutures": "0",
        "notionalUsdForOption": "0",
        "notionalUsdForSwap": num(notional),
        "upl": num(balance.unrealised_pnl),
        "details": [detail],
    }
