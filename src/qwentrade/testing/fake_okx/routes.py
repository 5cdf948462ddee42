"""The fake OKX server's REST route table: one row per endpoint it serves."""

from __future__ import annotations

import attrs

from qwentrade.testing.fake_okx import endpoints, stats, trade
from qwentrade.testing.fake_okx.endpoints import Handler


@attrs.frozen
class Route:
    """``private`` routes need a signed request; ``trade`` answers carry in/outTime."""

    handler: Handler
    private: bool = False
    trade: bool = False


ROUTES: dict[tuple[str, str], Route] = {
    ("GET", "/api/v5/public/time"): Route(endpoints.public_time),
    ("GET", "/api/v5/public/instruments"): Route(endpoints.instruments),
    ("GET", "/api/v5/market/candles"): Route(endpoints.candles),
    ("GET", "/api/v5/market/history-candles"): Route(endpoints.history_candles),
    ("GET", "/api/v5/market/books"): Route(endpoints.books),
    ("GET", "/api/v5/market/ticker"): Route(endpoints.ticker),
    ("GET", "/api/v5/public/funding-rate"): Route(endpoints.funding_rate),
    ("GET", "/api/v5/public/funding-rate-history"): Route(endpoints.funding_history),
    ("GET", "/api/v5/public/open-interest"): Route(stats.open_interest),
    ("GET", "/api/v5/public/liquidation-orders"): Route(stats.liquidation_orders),
    ("GET", "/api/v5/rubik/stat/contracts/open-interest-history"): Route(
        stats.open_interest_history
    ),
    ("GET", "/api/v5/rubik/stat/contracts/open-interest-volume"): Route(stats.open_interest_volume),
    ("GET", "/api/v5/rubik/stat/contracts/long-short-account-ratio-contract"): Route(
        stats.long_short_ratio_contract
    ),
    ("GET", "/api/v5/rubik/stat/contracts/long-short-account-ratio"): Route(
        stats.long_short_ratio_ccy
    ),
    ("GET", "/api/v5/asset/currencies"): Route(endpoints.currencies, private=True),
    ("GET", "/api/v5/account/balance"): Route(endpoints.balance, private=True),
    ("GET", "/api/v5/account/positions"): Route(endpoints.positions, private=True),
    ("GET", "/api/v5/account/positions-history"): Route(endpoints.positions_history, private=True),
    ("GET", "/api/v5/account/config"): Route(endpoints.account_config, private=True),
    ("GET", "/api/v5/account/leverage-info"): Route(endpoints.leverage_info, private=True),
    ("POST", "/api/v5/account/set-leverage"): Route(endpoints.set_leverage, private=True),
    ("POST", "/api/v5/account/set-position-mode"): Route(endpoints.set_position_mode, private=True),
    ("POST", "/api/v5/trade/order"): Route(trade.place_order, private=True, trade=True),
    ("POST", "/api/v5/trade/batch-orders"): Route(trade.batch_orders, private=True, trade=True),
    ("POST", "/api/v5/trade/cancel-order"): Route(trade.cancel_order, private=True, trade=True),
    ("POST", "/api/v5/trade/cancel-batch-orders"): Route(
        trade.cancel_batch_orders, private=True, trade=True
    ),
    ("GET", "/api/v5/trade/order"): Route(trade.get_order, private=True),
    ("GET", "/api/v5/trade/orders-pending"): Route(trade.orders_pending, private=True),
    ("GET", "/api/v5/trade/orders-history"): Route(trade.orders_history, private=True),
    ("GET", "/api/v5/trade/orders-history-archive"): Route(
        trade.orders_history_archive, private=True
    ),
    ("POST", "/api/v5/trade/order-algo"): Route(trade.place_algo, private=True, trade=True),
    ("GET", "/api/v5/trade/order-algo"): Route(trade.get_algo, private=True),
    ("POST", "/api/v5/trade/cancel-algos"): Route(trade.cancel_algos, private=True, trade=True),
    ("GET", "/api/v5/trade/orders-algo-pending"): Route(trade.algos_pending, private=True),
    ("GET", "/api/v5/trade/orders-algo-history"): Route(trade.algos_history, private=True),
}
