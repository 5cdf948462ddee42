"""OKX error codes the simulated exchange answers with, and the errors that carry them.

Every refusal raises a ``DomainError`` with a ``code`` attribute holding OKX's ``sCode``
(see okx-spec B22/D4), so the fake OKX server can put the code on the wire unchanged:
``ExchangeRejected(message, code)`` for venue rejections, :class:`SimInsufficientFunds`
(51008) and :class:`SimOrderNotFound` (51400 on cancel, 51603 on lookup).
"""

from __future__ import annotations

from qwentrade.domain.errors import ExchangeRejected, InsufficientFunds, OrderNotFound

PARAMETER_ERROR = "51000"
INSTRUMENT_NOT_FOUND = "51001"
PRICE_OUT_OF_BAND = "51006"  # Order price is not within the price limit
INSUFFICIENT_MARGIN = "51008"
POST_ONLY_WOULD_TAKE = "51019"  # OKX cancels such an order; kept for reference
BELOW_MIN_SIZE = "51020"
DUPLICATE_CLIENT_ORDER_ID = "51016"
DUPLICATE_ALGO_CLIENT_ID = "51065"
LOT_SIZE = "51121"
NO_POSITION_TO_REDUCE = "51169"
MARKET_SIZE_TOO_LARGE = "51202"  # Market - order amount exceeds the max amount
LIMIT_SIZE_TOO_LARGE = "51203"  # Order amount exceeds the limit
TP_ABOVE_LAST_FOR_SHORT = "51277"  # TP trigger price cannot be higher than the last price
SL_BELOW_LAST_FOR_SHORT = "51278"  # SL trigger price cannot be lower than the last price
TP_BELOW_LAST_FOR_LONG = "51279"  # TP trigger price cannot be lower than the last price
SL_ABOVE_LAST_FOR_LONG = "51280"  # SL trigger price cannot be higher than the last price
CANCEL_FAILED = "51400"
ORDER_NOT_FOUND = "51603"
ALGO_NOT_FOUND = "51603"
SETTINGS_BLOCKED = "59000"
LEVERAGE_TOO_HIGH = "59102"


class SimInsufficientFunds(InsufficientFunds):
    """Not enough available margin; ``code`` is OKX's ``51008``."""

    def __init__(self, message: str, code: str = INSUFFICIENT_MARGIN) -> None:
        super().__init__(message)
        self.code = code


class SimOrderNotFound(OrderNotFound):
    """No such (open) order; ``code`` is OKX's 51400 (cancel) or 51603 (lookup)."""

    def __init__(self, message: str, code: str = ORDER_NOT_FOUND) -> None:
        super().__init__(message)
        self.code = code


def rejected(code: str, message: str) -> ExchangeRejected:
    """An ``ExchangeRejected`` carrying OKX's ``code`` (the message says what to do)."""
    return ExchangeRejected(message, code)
