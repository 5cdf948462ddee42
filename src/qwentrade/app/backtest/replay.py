"""The parity path: the live code replayed candle by candle over the simulated exchange.

A :class:`~qwentrade.adapters.sim.SimEngine` replays the candles (its intra-candle walk:
open, then low/high, then close, never a future price; funding at 00/08/16 UTC;
liquidation), driven by a stepped clock to each 15m close in turn. At each close, as the
live system does after storing a closed candle:

1. positions the exchange closed during the step (stop-loss, take-profit, liquidation)
   are recorded through ``TradingService.handle_external_close`` (what the reconciler
   does live);
2. the detector's result for that close is stored as a signal (ACTIVE, expiring
   ``DETECTOR_SIGNAL_EXPIRE_HOURS`` later), exactly as ``DetectionService`` stores it;
3. ``SignalPolicy.run`` (the live policy pass) opens the newest active signal through
   ``TradingService.open_position``, with its stop-loss and take-profit attached as
   exchange algo orders, when the symbol is flat.

For speed the detector's results come from ``detect_history`` (the vectorised form, proven
equal to the per-call ``detect`` the live ``DetectionService`` runs) computed once, and
each close's row is fed to the same policy code path; the policy reads the ATR of the
newest closed candle as it does live. A position still open after the last candle is
closed at market by ``TradingService.close_position`` (reason ``end``).

Closes at which nothing can happen are not stepped one by one: while a position is open
the policy does nothing, so the engine coasts (``SimEngine.coast``) over the candles that
reach no trigger and no liquidation level (funding still settled) and the walk resumes
at the first one that may fire; while flat with nothing live on the exchange and no
signal active, the replay jumps to the next signal's close. Both give the same trades
and equity as stepping every close (tests/unit/app/backtest/test_replay_skips.py).

This module wires the simulated exchange and the memory repositories itself (as a test
does): a backtest is its own small composition, never the running service's.
"""

from __future__ import annotations

import logging
from decimal import Decimal

import attrs
import numpy as np
import polars as pl

from qwentrade.app.backtest.data import MS_15M, Market
from qwentrade.app.backtest.params import POLICY_KEYS, BacktestParams
from qwentrade.app.backtest.report import TRADE_SCHEMA, BacktestResult, equity_frame
from qwentrade.app.pending import PendingOrderService
from qwentrade.app.policy import SignalPolicy
from qwentrade.app.trading import TradingService
from qwentrade.domain.detector import detect_history
from qwentrade.domain.market import Timeframe, from_ms
from qwentrade.domain.records import SignalRecord
from qwentrade.domain.venue import AlgoOrder, AlgoState, ExchangePosition

log = logging.getLogger(__name__)


class _ReplayKlines:
    """The policy's view of the stored 15m candles: the newest is the last closed one."""

    def __init__(self, frame: pl.DataFrame) -> None:
        self._frame = frame
        self.cursor = 0

    def latest(self, symbol: str, timeframe: Timeframe, count: int = 1) -> pl.DataFrame:
        start = max(0, self.cursor - count + 1)
        return self._frame.slice(start, self.cursor - start + 1)


def signals(market: Market, params: BacktestParams) -> pl.DataFrame:
    """The detector's verdict at every 15m close (``detect_history`` over the whole file)."""
    return detect_history(market.candles, market.candles_4h, params.detector)


def run_replay(
    market: Market,
    params: BacktestParams,
    *,
    verdicts: pl.DataFrame | None = None,
    progress: bool = False,
) -> BacktestResult:
    """Backtest ``market`` through the simulated exchange, TradingService and SignalPolicy."""
    from qwentrade.adapters.memory import MemoryRepositories
    from qwentrade.adapters.sim import FeeRates, ReplayPath, SimEngine, SimExchange, SteppedClock
    from qwentrade.adapters.sim.model import Costs
    from qwentrade.adapters.sim.prices import Series

    verdicts = signals(market, params) if verdicts is None else verdicts
    symbol, first, last = market.symbol, market.first, market.last
    traded = market.traded()
    ts = traded["ts_ms"].to_numpy()
    series = Series(
        *(traded[c].to_numpy() for c in ("ts_ms", "open", "high", "low", "close", "volume"))
    )
    path = ReplayPath({symbol: series}, {symbol: dict(market.funding)})
    clock = SteppedClock(from_ms(int(ts[0])))
    engine = SimEngine(
        instruments=[market.instrument],
        balance=params.balance,
        clock=clock,
        price_path=path,
        fee_rates=FeeRates(maker=params.maker_fee, taker=params.taker_fee),
        costs=Costs(spread_bps=params.spread_bps, slippage_bps=params.slippage_bps),
        intrabar=params.intrabar,
    )
    exchange = SimExchange(engine)
    klines = _ReplayKlines(market.candles)

    def desk():
        """Fresh repositories and services over the same exchange. A replay swaps them in
        while no position is open (the active signals carried over), so the memory
        repositories stay small (their lookups scan every row) and the run linear."""
        repos = MemoryRepositories()
        config = repos.config
        for key in POLICY_KEYS:
            config.set(key, params.get(key))
        config.set("POLICY_ENABLED", "true")
        config.set("POLICY_USE_PENDING", False)
        trading = TradingService(exchange, repos, config, clock)
        pending = PendingOrderService(repos.pending, trading, exchange, config, clock)
        policy = SignalPolicy(trading, pending, repos.signals, klines, config, clock, "sim")
        return repos, trading, policy

    repos, trading, policy = desk()
    stored = 0

    def store(repos, i: int, now) -> None:
        """Store the detector's signal of close ``i`` as DetectionService stores it."""
        repos.signals.add(
            SignalRecord(
                symbol=symbol,
                time=times[i],
                signal_type=kinds[i],
                score=int(scores[i]),
                price=Decimal(repr(float(closes[i]))),
                created_at=now,
                expire_at=now + expiry,
                details={"position_multiplier": int(multipliers[i]), "score": int(scores[i])},
            )
        )

    events: list[object] = []
    engine.subscribe(events.append)
    kinds = verdicts["signal_type"].cast(pl.String).to_list()
    scores = verdicts["score"].to_list()
    multipliers = verdicts["position_multiplier"].to_list()
    times = verdicts["time"].to_list()
    expiry = params.detector.signal_expiry
    expiry_ms = int(expiry.total_seconds() * 1000)
    closes = market.candles["close"].to_list()
    close_times = [from_ms(int(t) + MS_15M) for t in market.ts]

    trades: list[dict] = []
    equity = np.zeros(last - first + 1)
    opened: dict | None = None
    newest_signal = -(10**18)
    last_equity = float(params.balance)
    # the closes a signal is stored at: while flat with nothing live and no signal still
    # active, the candles up to the next of them can only move the clock (see below)
    signal_rows = np.flatnonzero(verdicts["signal_type"].is_not_null().to_numpy()[:last])
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=last - first + 1, desc="replay", unit="candle", leave=False)
    i = first
    while i <= last:
        close_ms = int(market.ts[i]) + MS_15M
        now = from_ms(close_ms)
        clock.set(now)
        engine.sync()
        moved = bool(events) or opened is not None
        if events:
            leg = _legs(events)
            closed = [e for e in events if isinstance(e, ExchangePosition) and not e.size]
            events.clear()
            for position in closed:
                trading.handle_external_close(symbol, leg or "liquidation", at=position.updated_at)
                assert opened is not None
                trades.append(_trade(exchange, symbol, opened, leg or "liquidation"))
                opened = None
        klines.cursor = i
        if stored > ROTATE_AFTER and opened is None:
            # the signals still ACTIVE and unexpired move along, oldest first (the policy
            # reads only those, newest by time then id: the order is kept)
            carried = repos.signals.active(now, symbol=symbol)
            repos, trading, policy = desk()
            for signal in reversed(carried):
                repos.signals.add(attrs.evolve(signal, id=None))
            stored = len(carried)
        if i < last and kinds[i] is not None:
            stored += 1
            store(repos, i, now)
            newest_signal = close_ms
        waiting = opened is None and i < last and close_ms - newest_signal < expiry_ms
        if waiting and policy.run(now):
            (relation,) = repos.relations.find(symbol, status="OPEN", limit=1)
            signal = repos.signals.get(relation.signal_id)
            opened = {
                "side": relation.side,
                "signal_time": signal.time,
                "score": signal.score,
                "stop_loss": relation.stop_loss_price,
                "take_profit": relation.take_profit_price,
            }
            events.clear()
        if moved or opened is not None or i == first:
            last_equity = float(engine.balance().equity)
        # flat and nothing happened: the balance is what it was (no funding, no fill)
        equity[i - first] = last_equity
        step = 1
        if opened is not None and i + 1 < last:
            # A position is open: the policy does nothing until it closes, so the closes
            # up to the first candle that may reach a trigger or the liquidation level
            # only store their signals and mark the equity. The engine coasts over them
            # (funding still settled) and the walk resumes close by close before that one.
            reached: list = []
            offer = COAST_CANDLES  # doubled while the engine coasts over every close offered
            while i + 1 + len(reached) < last:
                start = i + 1 + len(reached)
                more = engine.coast(close_times[start : min(last, start + offer)])
                reached += more
                if len(more) < offer:
                    break
                offer *= 2
            events.clear()  # funding settlements only: nothing the loop acts on
            # the policy next reads the signals at the close after the last one reached: a
            # signal expired by then is never read (the active ones only are), so it is
            # not stored; the newest one still counts for the jumps while flat
            next_read = int(market.ts[i + 1 + len(reached)]) + MS_15M
            for k, balance in zip(range(i + 1, i + 1 + len(reached)), reached, strict=True):
                if kinds[k] is not None:
                    close_ms = int(market.ts[k]) + MS_15M
                    if close_ms + expiry_ms > next_read:
                        stored += 1
                        store(repos, k, close_times[k])
                    newest_signal = close_ms
                last_equity = float(balance.equity)
                equity[k - first] = last_equity
            if reached:
                klines.cursor = i + len(reached)
                clock.set(reached[-1].updated_at)
            step = 1 + len(reached)
        elif opened is None and close_ms + MS_15M - newest_signal >= expiry_ms and i < last:
            # No signal is active at the next close, and until the next one is stored the
            # policy has nothing to act on: if the account holds nothing (no position, no
            # resting order, no live algo), those closes can change nothing but the clock
            # and the equity stays as it is. Jump to the next signal's close (or the last).
            k = int(np.searchsorted(signal_rows, i, side="right"))
            target = int(signal_rows[k]) if k < signal_rows.size else last
            if target > i + 1 and _flat(engine, symbol):
                equity[i + 1 - first : target - first] = last_equity
                step = target - i
        if bar is not None:
            bar.update(step)
        i += step
    if bar is not None:
        bar.close()
    if opened is not None:
        trading.close_position(symbol, reason="end")
        trades.append(_trade(exchange, symbol, opened, "end"))
        equity[-1] = float(engine.balance().equity)
    frame = (
        pl.DataFrame(trades, schema=TRADE_SCHEMA, orient="row")
        if trades
        else pl.DataFrame(schema=TRADE_SCHEMA)
    )
    return BacktestResult(
        trades=frame,
        equity=equity_frame(market, equity),
        market=market,
        params=params,
        engine="replay",
    )


def _flat(engine, symbol: str) -> bool:
    """The account holds nothing on ``symbol``: no position, resting order or live algo."""
    return not (engine.positions(symbol) or engine.open_orders(symbol) or engine.open_algos(symbol))


def _legs(events: list[object]) -> str | None:
    for event in events:
        if isinstance(event, AlgoOrder) and event.state is AlgoState.EFFECTIVE:
            leg = event.triggered_leg
            return None if leg is None else str(getattr(leg, "value", leg))
    return None


def _trade(exchange, symbol: str, opened: dict, reason: str) -> dict:
    (record,) = exchange.position_history(symbol, limit=1)
    penalty = record.realized_pnl - record.pnl - record.fee - record.funding_fee
    return {
        "side": opened["side"],
        "signal_time": opened["signal_time"],
        "score": opened["score"],
        "entry_time": record.created_at,
        "entry_price": float(record.avg_price),
        "size": float(record.close_total_size),
        "stop_loss": float(opened["stop_loss"]),
        "take_profit": None if opened["take_profit"] is None else float(opened["take_profit"]),
        "exit_time": record.updated_at,
        "exit_price": float(record.close_avg_price),
        "exit_reason": _reason(reason),
        "pnl": float(record.pnl),
        "fees": float(record.fee),
        "funding": float(record.funding_fee),
        "penalty": float(penalty),
        "realized": float(record.realized_pnl),
    }


def _reason(reason: str) -> str:
    reason = reason.lower()
    if "stop" in reason or reason == "sl":
        return "stop_loss"
    if "take" in reason or reason == "tp":
        return "take_profit"
    return reason


COAST_CANDLES = 16  # closes first offered to SimEngine.coast while a position is open
ROTATE_AFTER = 200  # signals stored before the repositories are renewed (see desk())
