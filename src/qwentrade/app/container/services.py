"""The providers of the application services: the sync jobs and their engine, backfill,
gaps and detection, trading with its leases, pending orders and their monitor, the
signal policy and reconciliation, each on the adapters of
:class:`~qwentrade.app.container.adapters.AdapterProviders`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from qwentrade.app.container.adapters import AdapterProviders, _once
from qwentrade.app.settings import Mode

if TYPE_CHECKING:
    from qwentrade.app.backfill import KlineBackfill
    from qwentrade.app.detection import DetectionService
    from qwentrade.app.gaps import KlineGaps
    from qwentrade.app.locks import TradingLeases
    from qwentrade.app.pending import PendingMonitor, PendingOrderService
    from qwentrade.app.policy import SignalPolicy
    from qwentrade.app.reconcile import ReconciliationService
    from qwentrade.app.sync.engine import SyncEngine
    from qwentrade.app.sync.history import HistorySync
    from qwentrade.app.sync.klines import KlineSync
    from qwentrade.app.sync.market import MarketSync
    from qwentrade.app.trading import TradingService
    from qwentrade.ports.market_data import MarketDataSource


class ServiceProviders(AdapterProviders):
    """The application services' providers (the second layer of ``Container``)."""

    @_once
    def market_sync(self) -> MarketSync:
        """The market-data jobs: funding and order books from ``market_data()``; open
        interest, sentiment and liquidations from CoinGlass with a key, else from OKX's
        statistics; ETF flows and fear & greed from CoinGlass only. ``sim`` runs offline:
        the kinds with no source there are disabled with the reason."""
        from qwentrade.app.sync.market import MarketSync

        repositories = self.repositories()
        offline = self.settings.mode is Mode.SIM
        coinglass: MarketDataSource | None = None
        okx_statistics: MarketDataSource | None = None
        history_start = None
        if not offline and self.settings.coinglass_api_key is not None:
            coinglass = self.coinglass()
        elif not offline:
            from qwentrade.adapters.okx.market_source import history_start

            okx_statistics = self.okx_statistics()
        return MarketSync(
            self.market_data(),
            repositories.market,
            repositories.config,
            self.clock(),
            coinglass,
            okx_statistics,
            okx_history_start=history_start,
            offline=offline,
        )

    @_once
    def history_sync(self) -> HistorySync:
        """The order and position history of the order venue (``exchange()``); it follows
        the private stream once the stream's consumer hands it the events (``record``)."""
        from qwentrade.app.sync.history import HistorySync

        repositories = self.repositories()

        def stream_connected() -> bool:
            stream = self._built.get("private_stream")
            return bool(stream is not None and stream.connected)

        return HistorySync(
            self.exchange(),
            repositories.history,
            repositories.config,
            self.clock(),
            stream_connected,
        )

    @_once
    def gaps(self) -> KlineGaps:
        from qwentrade.app.gaps import KlineGaps

        return KlineGaps(self.kline_index(), self.clock(), self.repositories().config)

    @_once
    def backfill(self) -> KlineBackfill:
        from qwentrade.app.backfill import KlineBackfill

        repositories = self.repositories()
        return KlineBackfill(
            self.market_data(), repositories.klines, self.clock(), config=repositories.config
        )

    @_once
    def detection(self) -> DetectionService:
        from qwentrade.app.detection import DetectionService

        repositories = self.repositories()
        return DetectionService(
            repositories.klines, repositories.signals, self.clock(), repositories.config
        )

    @_once
    def trading_leases(self) -> TradingLeases:
        """This instance's hold on the symbols it trades (rows in ``trading_lease``)."""
        from qwentrade.adapters.sql.repositories.trading import SqlLeaseRepository
        from qwentrade.app.locks import TradingLeases

        return TradingLeases(
            SqlLeaseRepository(self.database()),
            self.clock(),
            self.repositories().config,
            symbols=self.settings.symbols,
        )

    @_once
    def trading(self) -> TradingService:
        """Open/add/reduce/close positions on the order venue (``exchange()``)."""
        from qwentrade.app.trading import TradingService

        repositories = self.repositories()
        return TradingService(
            self.exchange(),
            self.notifying_repositories(),  # opens, adds, reduces, closes are notified
            repositories.config,
            self.clock(),
            leases=self.trading_leases(),
        )

    @_once
    def pending_orders(self) -> PendingOrderService:
        """Pending trigger orders: they open through ``trading()`` when price crosses."""
        from qwentrade.app.pending import PendingOrderService

        repositories = self.repositories()
        return PendingOrderService(
            self.notifying_repositories().pending,  # triggers and expiries are notified
            self.trading(),
            self.exchange(),
            repositories.config,
            self.clock(),
        )

    @_once
    def pending_monitor(self) -> PendingMonitor:
        """Checks pending orders every ``PENDING_MONITOR_INTERVAL`` seconds."""
        from qwentrade.app.pending import PendingMonitor

        return PendingMonitor(self.pending_orders(), self.repositories().config, self.clock())

    @_once
    def signal_policy(self) -> SignalPolicy:
        """Trades on signals (``POLICY_*`` keys; on by default in sim and paper): each new
        signal the sync engine stores, and a pass every ``POLICY_INTERVAL`` seconds."""
        from qwentrade.app.policy import SignalPolicy

        repositories = self.repositories()
        policy = SignalPolicy(
            self.trading(),
            self.pending_orders(),
            repositories.signals,
            repositories.klines,
            repositories.config,
            self.clock(),
            self.mode(),
        )
        self.sync_engine().subscribe(policy.on_signal)
        return policy

    @_once
    def reconciler(self) -> ReconciliationService:
        """Reconciliation (at start, after each private-stream reconnect, periodically) and
        the private-stream consumer, on the order venue and its stream; stream orders and
        positions go to ``history_sync()`` when this build has it."""
        from qwentrade.app.reconcile import ReconciliationService

        repositories = self.repositories()
        history = getattr(self, "history_sync", None)
        return ReconciliationService(
            self.exchange(),
            self.notifying_repositories(),  # adoptions and external closes are notified
            self.trading(),
            None if history is None else history(),
            repositories.config,
            self.clock(),
            self.private_stream(),
        )

    @_once
    def kline_sync(self) -> KlineSync:
        """The candle jobs (klines_15m/4h/1d) with detection on each new 15m close."""
        from qwentrade.app.sync.klines import KlineSync

        repositories = self.repositories()
        return KlineSync(
            self.market_data(),
            repositories.klines,
            self.backfill(),
            repositories.config,
            detection=self.detection(),
            signals=repositories.signals,
            status=repositories.status,
        )

    @_once
    def sync_engine(self) -> SyncEngine:
        """Every sync job of the configured symbols on one scheduler (app/sync/specs.py):
        candles with detection, the seven market kinds, the account's history."""
        from qwentrade.app.sync.engine import SyncEngine
        from qwentrade.app.sync.specs import history_specs, kline_specs, market_specs

        repositories = self.repositories()
        config = repositories.config
        klines = self.kline_sync()
        specs = (
            kline_specs(klines, repositories.klines, config)
            + market_specs(self.market_sync(), repositories.market, config)
            + history_specs(self.history_sync(), config)
        )
        return SyncEngine(
            specs, self.settings.symbols, self.clock(), repositories.status, klines=klines
        )
