"""Instruments: the contract facts every size and price is checked against."""

from __future__ import annotations

from decimal import Decimal

import attrs

from qwentrade.domain.errors import InvalidInput
from qwentrade.domain.numbers import is_multiple, round_to_lot, round_to_tick


def _positive(instance: object, attribute: attrs.Attribute, value: Decimal) -> None:
    if not isinstance(value, Decimal) or not value.is_finite() or value <= 0:
        raise InvalidInput(attribute.name, f"must be a positive Decimal, got {value!r}")


@attrs.frozen
class Instrument:
    """An OKX perpetual swap.

    ``ct_val`` is the contract value in the base currency (0.01 BTC for BTC-USDT-SWAP), so a
    position of ``n`` contracts holds ``n * ct_val`` base units; sizes are in contracts.
    """

    inst_id: str
    ct_val: Decimal = attrs.field(validator=_positive)
    lot_sz: Decimal = attrs.field(validator=_positive)
    tick_sz: Decimal = attrs.field(validator=_positive)
    min_sz: Decimal = attrs.field(validator=_positive)
    max_lever: int = 100
    settle_ccy: str = "USDT"

    def __attrs_post_init__(self) -> None:
        if not self.inst_id:
            raise InvalidInput("inst_id", "must not be empty")
        if self.max_lever < 1:
            raise InvalidInput("max_lever", f"must be at least 1, got {self.max_lever}")
        if not is_multiple(self.min_sz, self.lot_sz):
            raise InvalidInput(
                "min_sz", f"{self.min_sz} is not a multiple of the lot size {self.lot_sz}"
            )

    @property
    def base_ccy(self) -> str:
        return self.inst_id.split("-")[0]

    def round_price(self, price: Decimal, mode: str = "nearest") -> Decimal:
        """Price rounded to the tick size."""
        return round_to_tick(price, self.tick_sz, mode)

    def round_size(self, size: Decimal) -> Decimal:
        """Size in contracts rounded down to the lot size."""
        return round_to_lot(size, self.lot_sz)

    def check_size(self, size: Decimal, field: str = "size") -> Decimal:
        """Return ``size`` if it is a valid order size in contracts, else raise naming ``field``."""
        if size <= 0:
            raise InvalidInput(field, f"must be positive, got {size}")
        if not is_multiple(size, self.lot_sz):
            raise InvalidInput(field, f"{size} is not a multiple of the lot size {self.lot_sz}")
        if size < self.min_sz:
            raise InvalidInput(field, f"{size} is below the minimum size {self.min_sz}")
        return size

    def check_leverage(self, leverage: int, field: str = "leverage") -> int:
        """Return ``leverage`` if within 1..max_lever, else raise naming ``field``."""
        if isinstance(leverage, bool) or not isinstance(leverage, int):
            raise InvalidInput(field, f"must be a whole number, got {leverage!r}")
        if not 1 <= leverage <= self.max_lever:
            raise InvalidInput(
                field, f"{leverage} is outside 1..{self.max_lever} allowed for {self.inst_id}"
            )
        return leverage

    def contracts_for(self, base_amount: Decimal) -> Decimal:
        """Contracts (rounded down to the lot size) that hold ``base_amount`` of the base coin."""
        return self.round_size(base_amount / self.ct_val)


DEFAULT_INSTRUMENTS: dict[str, Instrument] = {
    # Contract facts as OKX lists them for the three default symbols.
    "BTC-USDT-SWAP": Instrument(
        "BTC-USDT-SWAP", Decimal("0.01"), Decimal("0.01"), Decimal("0.1"), Decimal("0.01"), 100
    ),
    "ETH-USDT-SWAP": Instrument(
        "ETH-USDT-SWAP", Decimal("0.1"), Decimal("0.01"), Decimal("0.01"), Decimal("0.01"), 100
    ),
    "SOL-USDT-SWAP": Instrument(
        "SOL-USDT-SWAP", Decimal("1"), Decimal("0.01"), Decimal("0.01"), Decimal("0.01"), 50
    ),
}
