"""BacktestParams: everything a backtest decides with, by the live system's config names.

A backtest trades with the detector's and the signal policy's config keys
(``DETECTOR_*``, ``POLICY_*``, ``TRADING_MARGIN_MODE``) plus the account the simulated
exchange starts with (``balance``), OKX's fee tier (``maker_fee``/``taker_fee``, Lv1 by
default), the flat funding rate used where no rate is stored (``funding_rate``) and the
simulated exchange's market model (``spread_bps``, ``slippage_bps``: what a taker fill
pays; ``intrabar``: ``stop_first`` or ``path``; see ``adapters/sim/model.py``).
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import attrs

from qwentrade.domain.config_keys import (
    CONFIG_KEYS,
    DETECTOR_FIELDS,
    detector_params,
)
from qwentrade.domain.config_keys import (
    SIGNAL_EXPIRE_HOURS as EXPIRY,
)
from qwentrade.domain.detector.params import DetectorParams
from qwentrade.domain.errors import InvalidInput

# the policy's keys a backtest reads (market entries only: the pending variant waits for
# a pullback the fast path does not model, so it is refused rather than ignored)
POLICY_KEYS = (
    "POLICY_MARGIN_PER_TRADE",
    "POLICY_LEVERAGE",
    "POLICY_STOP_MODE",
    "POLICY_SL_ATR_MULTIPLE",
    "POLICY_TP_ATR_MULTIPLE",
    "POLICY_SL_PERCENT",
    "POLICY_TP_PERCENT",
    "TRADING_MARGIN_MODE",
)
ACCOUNT_DEFAULTS: dict[str, Decimal] = {
    "balance": Decimal(10000),
    "maker_fee": Decimal("0.0002"),
    "taker_fee": Decimal("0.0005"),
    "funding_rate": Decimal("0.0001"),
    "spread_bps": Decimal(1),
    "slippage_bps": Decimal(2),
}
INTRABAR = ("stop_first", "path")


@attrs.frozen
class BacktestParams:
    """The config values (``values``: key -> value, config-key names) and the account."""

    values: Mapping[str, Any] = attrs.field(factory=dict)
    balance: Decimal = ACCOUNT_DEFAULTS["balance"]
    maker_fee: Decimal = ACCOUNT_DEFAULTS["maker_fee"]
    taker_fee: Decimal = ACCOUNT_DEFAULTS["taker_fee"]
    funding_rate: Decimal = ACCOUNT_DEFAULTS["funding_rate"]
    spread_bps: Decimal = ACCOUNT_DEFAULTS["spread_bps"]
    slippage_bps: Decimal = ACCOUNT_DEFAULTS["slippage_bps"]
    intrabar: str = "stop_first"

    @classmethod
    def of(cls, params: BacktestParams | Mapping[str, Any] | None) -> BacktestParams:
        """``params`` as BacktestParams: a mapping of config keys (any case, ``.`` or ``-``
        for ``_``) and account fields; unknown names are refused."""
        if params is None:
            return cls()
        if isinstance(params, BacktestParams):
            return params
        if not isinstance(params, Mapping):
            raise InvalidInput("params", f"must be a mapping of config keys, got {params!r}")
        values: dict[str, Any] = {}
        account: dict[str, Any] = {}
        for name, value in params.items():
            key = str(name).strip().replace(".", "_").replace("-", "_")
            if key.lower() == "intrabar":
                if value not in INTRABAR:
                    raise InvalidInput("intrabar", f"must be stop_first or path, got {value!r}")
                account["intrabar"] = value
                continue
            if key.lower() in ACCOUNT_DEFAULTS:
                try:
                    account[key.lower()] = Decimal(str(value))
                except ArithmeticError:
                    raise InvalidInput(key.lower(), f"must be a number, got {value!r}") from None
                continue
            key = key.upper()
            if key not in POLICY_KEYS and key not in DETECTOR_FIELDS and key != EXPIRY:
                raise InvalidInput(
                    "params",
                    f"{name!r} is not a backtest parameter: use DETECTOR_* keys, "
                    f"{', '.join(POLICY_KEYS)}, or {', '.join(ACCOUNT_DEFAULTS)}",
                )
            values[key] = CONFIG_KEYS[key].parse(value)
        made = cls(values, **account)
        made.detector  # noqa: B018 - refuse bad detector values now, naming the key
        if made.balance <= 0:
            raise InvalidInput("balance", f"must be positive, got {made.balance}")
        for name in ("maker_fee", "taker_fee", "spread_bps", "slippage_bps"):
            if getattr(made, name) < 0:
                raise InvalidInput(name, f"must not be negative, got {getattr(made, name)}")
        return made

    def get(self, key: str) -> Any:
        """The value of config key ``key`` (its default when not given)."""
        return self.values.get(key, CONFIG_KEYS[key].default)

    @property
    def detector(self) -> DetectorParams:
        return detector_params(self.values)

    def as_dict(self) -> dict[str, Any]:
        out = {key: self.get(key) for key in POLICY_KEYS}
        out.update({k: v for k, v in self.values.items() if k not in out})
        out.update({k: str(getattr(self, k)) for k in ACCOUNT_DEFAULTS})
        out["intrabar"] = self.intrabar
        return out
