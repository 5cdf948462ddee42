"""Crash anywhere: SIGKILL the trading service inside any step of a trade, restart, reconcile.

One fake OKX server (a real-time market, on loopback) and one PostgreSQL database live for
the whole test. Each run forks a child process (a ``forkserver`` child that imported
everything once) which builds the real services (TradingService, PendingOrderService,
SignalPolicy over OkxExchange and the SQL repositories), brings its symbol into the state
the operation needs, then performs ONE operation: open, add, reduce, close, set-plans, a
pending order's trigger, or the signal policy's open. It dies by SIGKILL:

- at a step (most runs): every Exchange call and every repository write is a step (the
  ports are wrapped; the trading code has no test hooks), killed just BEFORE it (it never
  happens) or just AFTER it (it happened, the answer is lost) - the step drawn at random
  up to the most steps the operation has been seen to take;
- or after a random delay (0-60 ms) from the parent, wherever the child is then;
- or not at all, when the drawn step lies beyond what the operation took.

Then the parent plays the restarted service: reconcile at start, run the pending monitor
and the signal policy once (they resume what was interrupted), sometimes repeat the killed
call with the same idempotency key, reconcile again, and checks:

- zero duplicate orders: no client order id was accepted twice by the server;
- every open position has exactly one OPEN relation of its side and exactly one live
  stop-loss order covering it, which its relation names; no algo order of a flat symbol;
- no intent is left unresolved.

``make test`` runs SOAK_TRADING_RUNS (default 100) runs, ``make soak`` 1,000; SOAK_SEED
replays a sequence (every failure names the seed and the run).
"""

from __future__ import annotations

import contextlib
import functools
import multiprocessing
import os
import random
import signal
import sys
import time
import traceback
import uuid
from collections import Counter
from datetime import timedelta
from decimal import Decimal
from typing import Any

import attrs
import pytest
import sqlalchemy as sa

from qwentrade.adapters.okx.exchange import OkxExchange
from qwentrade.adapters.okx.gate import PermitGate
from qwentrade.adapters.okx.retry import RetryPolicy
from qwentrade.adapters.okx.signing import OkxCredentials
from qwentrade.adapters.sim import RealClock
from qwentrade.adapters.sql import SqlRepositories, make_engine
from qwentrade.adapters.sql.migrate import upgrade
from qwentrade.app.pending import PendingOrderService
from qwentrade.app.policy import SignalPolicy
from qwentrade.app.reconcile import ReconciliationService
from qwentrade.app.trading import TradingService
from qwentrade.domain.errors import DomainError
from qwentrade.domain.records import SignalRecord
from qwentrade.testing.fake_okx import FakeOkx

RUNS = int(os.environ.get("SOAK_TRADING_RUNS", "100"))
SYMBOLS = ("BTC-USDT-SWAP", "ETH-USDT-SWAP", "SOL-USDT-SWAP")
OPERATIONS = ("open", "add", "reduce", "close", "set_plans", "pending_trigger", "policy_open")
KEY, SECRET, PASSPHRASE = "kill-key", "kill-secret", "kill-pass"
MARGIN = Decimal(50)
ZERO = Decimal(0)
FIRST_GUESS_STEPS = 30  # until an operation has been seen to finish
CONFIG = {
    "API_RATE_LIMIT": 1000,
    "API_MIN_INTERVAL": 0,
    "POLICY_ENABLED": "true",
    "POLICY_STOP_MODE": "percent",
    "POLICY_USE_PENDING": False,
    "POLICY_MARGIN_PER_TRADE": 50,
    "TRADING_DEFAULT_LEVERAGE": 5,
}


# -- the step hook: the ports wrapped, the trading code untouched --------------------------


class Wire:
    """Counts steps once armed and SIGKILLs its own process at step ``kill_at``."""

    def __init__(self, kill_at: int | None, phase: str) -> None:
        self.kill_at = kill_at
        self.phase = phase
        self.armed = False
        self.count = 0

    def step(self, name: str, call, *args, **kwargs):
        if not self.armed:
            return call(*args, **kwargs)
        self.count += 1
        here = self.count == self.kill_at
        if here and self.phase == "before":
            os.kill(os.getpid(), signal.SIGKILL)
        result = call(*args, **kwargs)
        if here:
            os.kill(os.getpid(), signal.SIGKILL)
        return result


class Wired:
    """``target`` with its public methods (or only ``methods``) passing through ``wire``."""

    def __init__(self, target: Any, wire: Wire, methods: frozenset[str] | None = None) -> None:
        self._target = target
        self._wire = wire
        self._methods = methods

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._target, name)
        if name.startswith("_") or not callable(value):
            return value
        if self._methods is not None and name not in self._methods:
            return value
        return functools.partial(self._wire.step, name, value)


WRITES = {
    "intents": frozenset({"add", "update"}),
    "relations": frozenset({"save"}),
    "history": frozenset({"upsert_orders", "upsert_positions"}),
    "pending": frozenset({"save"}),
    "signals": frozenset({"set_status"}),
}


@attrs.define
class Repos:
    intents: Any
    relations: Any
    history: Any
    pending: Any
    signals: Any
    klines: Any
    status: Any
    config: Any


@attrs.define
class Services:
    exchange: Any
    repos: Repos
    trading: TradingService
    pending: PendingOrderService
    policy: SignalPolicy
    engine: sa.Engine


def services(url: str, rest_url: str, wire: Wire | None = None) -> Services:
    """The real services on the fake server and PostgreSQL (ports wired when ``wire``)."""
    engine = make_engine(url)
    sql = SqlRepositories.from_engine(engine)
    config = sql.config
    clock = RealClock()
    exchange: Any = OkxExchange(
        PermitGate(config),
        rest_url=rest_url,
        credentials=OkxCredentials(KEY, SECRET, PASSPHRASE),
        config=config,
        order_expiry=5.0,
        backoff=RetryPolicy(base=0.05, cap=0.2),
    )
    parts = {name: getattr(sql, name) for name in attrs.fields_dict(Repos)}
    if wire is not None:
        exchange = Wired(exchange, wire)
        for name, methods in WRITES.items():
            parts[name] = Wired(parts[name], wire, methods)
    repos = Repos(**parts)
    trading = TradingService(exchange, repos, config, clock)
    pending = PendingOrderService(repos.pending, trading, exchange, config, clock)
    policy = SignalPolicy(trading, pending, repos.signals, repos.klines, config, clock, "sim")
    return Services(exchange, repos, trading, pending, policy, engine)


# -- one run: the plan, its preparation and its operation ---------------------------------


@attrs.frozen
class Plan:
    run: int
    operation: str
    symbol: str
    side: str
    kill: str  # "step", "delay"
    kill_at: int
    phase: str  # "before", "after"
    delay: float
    repeat: bool
    key: str


def protection(last: Decimal, side: str, distance: str = "0.05") -> tuple[Decimal, Decimal]:
    away = Decimal(distance)
    if side == "LONG":
        return last * (1 - away), last * (1 + away)
    return last * (1 + away), last * (1 - away)


def open_relation(svc: Services, symbol: str):
    found = svc.repos.relations.find(symbol=symbol, status="OPEN", limit=1)
    return found[0] if found else None


def prepare(svc: Services, plan: Plan) -> dict[str, Any]:
    """Bring the symbol where the operation needs it (not armed: no kill here)."""
    held = svc.exchange.positions(plan.symbol)
    needs_position = plan.operation in ("add", "reduce", "close", "set_plans")
    context: dict[str, Any] = {}
    if held and not needs_position:
        svc.trading.close_position(plan.symbol, reason="harness", key=f"prep-{plan.key}")
    if needs_position and not held:
        last = svc.pending.last_price(plan.symbol)
        stop, take = protection(last, plan.side)
        svc.trading.open_position(
            plan.symbol, plan.side, MARGIN * 2, stop, take, leverage=5, key=f"prep-{plan.key}"
        )
    last = svc.pending.last_price(plan.symbol)
    if plan.operation == "pending_trigger":
        stop, take = protection(last, plan.side)
        # a level the price has just crossed: the next monitor pass triggers it
        level = last * (Decimal("1.0001") if plan.side == "LONG" else Decimal("0.9999"))
        order = svc.pending.create(plan.symbol, plan.side, MARGIN, level, stop, take, 5)
        crossed = "DOWN" if order.crossing == "UP" else "UP"
        assert svc.repos.pending.save(attrs.evolve(order, crossing=crossed), "PENDING")
        context["pending_id"] = order.id
    if plan.operation == "policy_open":
        now = RealClock().now()
        stored = svc.repos.signals.add(
            SignalRecord(
                plan.symbol,
                now.replace(second=0, microsecond=0) - timedelta(minutes=plan.run % 100_000),
                plan.side,
                20,
                last,
                now,
                now + timedelta(hours=1),
                details={"run": plan.run, "key": plan.key},
            )
        )
        context["signal"] = stored
    return context


def act(svc: Services, plan: Plan, context: dict[str, Any]) -> None:
    """The one operation the run is about (killed somewhere inside)."""
    symbol, side = plan.symbol, plan.side
    if plan.operation == "open":
        stop, take = protection(svc.pending.last_price(symbol), side)
        svc.trading.open_position(symbol, side, MARGIN, stop, take, leverage=5, key=plan.key)
    elif plan.operation == "add":
        svc.trading.add_position(symbol, MARGIN / 2, key=plan.key)
    elif plan.operation == "reduce":
        svc.trading.reduce_position(symbol, MARGIN / 4, key=plan.key)
    elif plan.operation == "close":
        svc.trading.close_position(symbol, reason="manual", key=plan.key)
    elif plan.operation == "set_plans":
        relation = open_relation(svc, symbol)
        if relation is None:
            raise DomainError(f"no OPEN relation for {symbol}")
        stop, take = protection(svc.pending.last_price(symbol), relation.side, "0.07")
        svc.trading.set_stop_loss_take_profit(
            relation.client_order_id,
            [
                {"kind": "stop_loss", "trigger_price": stop, "fraction": 1},
                {"kind": "take_profit", "trigger_price": take, "fraction": "0.5"},
            ],
        )
    elif plan.operation == "pending_trigger":
        svc.pending.check()
    elif plan.operation == "policy_open":
        svc.policy.on_signal(context["signal"])


def child(conn, url: str, rest_url: str, plan: Plan) -> None:
    """The service process of one run (forked from the forkserver)."""
    wire = Wire(plan.kill_at if plan.kill == "step" else None, plan.phase)
    try:
        svc = services(url, rest_url, wire)
        context = prepare(svc, plan)
    except Exception as e:
        conn.send(("unprepared", 0, f"{type(e).__name__}: {e}"))
        os._exit(3)
    wire.armed = True
    conn.send(("armed", 0, ""))
    try:
        act(svc, plan, context)
        outcome = ("done", wire.count, "")
    except DomainError as e:
        outcome = ("refused", wire.count, f"{type(e).__name__}: {e}")
    except Exception:
        outcome = ("error", wire.count, traceback.format_exc())
    conn.send(outcome)
    conn.close()
    os._exit(0)


# -- the checks -----------------------------------------------------------------------------


def problems(server: FakeOkx, svc: Services) -> list[str]:
    """What breaks the invariants now."""
    found = []
    duplicates = {cid: n for cid, n in server.state.placed().items() if n > 1}
    if duplicates:
        found.append(f"duplicate orders: {duplicates}")
    unresolved = svc.repos.intents.unresolved()
    if unresolved:
        found.append(f"unresolved intents: {[(i.intent_id, i.state) for i in unresolved]}")
    positions = {p.symbol: p for p in svc.exchange.positions() if p.is_open}
    algos = svc.exchange.open_algos()
    relations = svc.repos.relations.find(status="OPEN", limit=None)
    for symbol in SYMBOLS:
        position = positions.get(symbol)
        mine = [r for r in relations if r.symbol == symbol]
        stops = [a for a in algos if a.symbol == symbol and a.sl_trigger_price is not None]
        if position is None:
            if mine:
                found.append(f"{symbol}: OPEN relation {mine[0].client_order_id} but no position")
            if any(a.symbol == symbol for a in algos):
                found.append(f"{symbol}: algo orders but no position")
            continue
        direction = "LONG" if position.direction.value == "long" else "SHORT"
        if [r.side for r in mine] != [direction]:
            found.append(f"{symbol}: {direction} position, OPEN relations {mine}")
        # exactly one stop-loss order, covering the position (one reduce-only order larger
        # than what is left, after a reduce cut short, still closes it all)
        shown = [(a.algo_id, a.size, a.sl_trigger_price, a.tp_trigger_price) for a in stops]
        named = [(r.stop_loss_algo_id, r.take_profit_algo_id) for r in mine]
        if len(stops) != 1 or (stops[0].size or position.contracts) < position.contracts:
            found.append(
                f"{symbol}: stop-losses {shown} for {position.contracts}; relation names {named}"
            )
            continue
        if mine and mine[0].stop_loss_algo_id not in {a.algo_id for a in stops}:
            found.append(f"{symbol}: relation names stop {named}, live {shown}")
    return found


# -- fixtures and the test ----------------------------------------------------------------


@pytest.fixture(scope="module")
def world(postgres_url):
    name = f"qt_killtrade_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = make_engine(postgres_url).execution_options(isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    url = sa.make_url(postgres_url).set(database=name).render_as_string(hide_password=False)
    upgrade(url)
    engine = make_engine(url)
    config = SqlRepositories.from_engine(engine).config
    for key, value in CONFIG.items():
        config.set(key, value)
    engine.dispose()
    server = FakeOkx(
        api_key=KEY,
        secret=SECRET,
        passphrase=PASSPHRASE,
        rate_limits=False,
        history_days=1,
        balance=1_000_000,
        seed=3,
    ).start()
    try:
        yield url, server
    finally:
        server.stop()
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def draw_plan(rng: random.Random, run: int, steps: dict[str, int]) -> Plan:
    operation = OPERATIONS[run % len(OPERATIONS)] if run < len(OPERATIONS) else None
    operation = operation or rng.choice(OPERATIONS)
    return Plan(
        run=run,
        operation=operation,
        symbol=rng.choice(SYMBOLS),
        side=rng.choice(("LONG", "SHORT")),
        kill="delay" if rng.random() < 0.2 else "step",
        kill_at=rng.randint(1, steps.get(operation, FIRST_GUESS_STEPS)),
        phase=rng.choice(("before", "after")),
        delay=rng.uniform(0.0, 0.06),
        repeat=rng.random() < 0.5,
        key=f"kill-{run}-{uuid.UUID(int=rng.getrandbits(128)).hex[:12]}",
    )


PRELOAD_ROOTS = frozenset(
    {"qwentrade", "sqlalchemy", "psycopg", "psycopg_binary", "ccxt", "requests", "urllib3"}
    | {"httpx", "attrs", "polars", "numpy", "litestar", "uvicorn", "pytest", "_pytest"}
)


def forkserver():
    """A forkserver context whose server has imported what this process has (its
    children start in milliseconds). Python 3.11's forkserver ignores the parent's
    sys.path, so this module itself is imported by each child (cheaply: its imports are
    preloaded)."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(
        sorted(m for m in sys.modules if m.split(".")[0] in PRELOAD_ROOTS and "__main__" not in m)
    )
    return context


def run_child(ctx, url: str, rest_url: str, plan: Plan) -> tuple[str, int, str]:
    """Run one child; returns (outcome, steps, detail): killed / done / refused / error."""
    receive, send = ctx.Pipe(duplex=False)
    process = ctx.Process(target=child, args=(send, url, rest_url, plan), daemon=True)
    process.start()
    send.close()
    messages: list[tuple[str, int, str]] = []
    deadline = time.monotonic() + 60
    while process.is_alive() and time.monotonic() < deadline:
        if receive.poll(0.005):
            try:
                messages.append(receive.recv())
            except EOFError:
                break
            if messages[-1][0] == "armed" and plan.kill == "delay":
                time.sleep(plan.delay)
                process.kill()
    process.join(30)
    while receive.poll(0):
        try:
            messages.append(receive.recv())
        except EOFError:
            break
    receive.close()
    if process.exitcode == -signal.SIGKILL:
        return "killed", 0, ""
    if not messages:
        return "error", 0, f"child exited {process.exitcode} without a word"
    return messages[-1]


def reconciler_of(svc: Services) -> ReconciliationService:
    return ReconciliationService(
        svc.exchange, svc.repos, svc.trading, None, svc.repos.config, RealClock()
    )


def restart(svc: Services, plan: Plan, context) -> None:
    """What the restarted service does: reconcile at start (a reconciler built now, as a
    new process builds its own: the killed child's intents are an earlier process's),
    resume the monitor or the policy when the run used them, maybe repeat the
    interrupted call (same key), and reconcile again after anything it did."""
    reconciler = reconciler_of(svc)
    report = reconciler.reconcile("start")
    assert report.ok, report.failures
    acted = plan.operation in ("pending_trigger", "policy_open")
    if plan.operation == "pending_trigger":
        svc.pending.check()
    elif plan.operation == "policy_open":
        svc.policy.run()
    if plan.repeat and plan.operation in ("open", "add", "reduce", "close"):
        acted = True
        with contextlib.suppress(DomainError):  # e.g. nothing left to reduce: refused
            act(svc, plan, context)
    if acted:
        report = reconciler.reconcile("start")
        assert report.ok, report.failures


@pytest.mark.timeout(120 + 4 * RUNS)  # the soak's 1,000 runs outlast the default 300 s
def test_a_kill_anywhere_in_a_trade_leaves_no_duplicate_and_every_position_protected(world):
    url, server = world
    seed = int(os.environ.get("SOAK_SEED") or int.from_bytes(os.urandom(4), "little"))
    rng = random.Random(seed)
    svc = services(url, server.rest_url)
    reconciler_of(svc).reconcile("start")  # warm: every module a run needs is imported now
    ctx = forkserver()
    steps: dict[str, int] = {}
    outcomes: Counter[tuple[str, str]] = Counter()
    spent: Counter[str] = Counter()
    started = time.monotonic()
    try:
        for run in range(RUNS):
            plan = draw_plan(rng, run, steps)
            begun = time.monotonic()
            outcome, count, detail = run_child(ctx, url, server.rest_url, plan)
            spent["child"] += time.monotonic() - begun
            assert outcome not in ("error", "unprepared"), f"seed {seed} run {run} {plan}: {detail}"
            if outcome in ("done", "refused"):
                steps[plan.operation] = max(count, 1)
            outcomes[(plan.operation, outcome)] += 1
            signal_context = {}
            if plan.operation == "policy_open":
                found = svc.repos.signals.find(symbol=plan.symbol, limit=1)
                signal_context = {"signal": found[0]} if found else {}
            begun = time.monotonic()
            restart(svc, plan, signal_context)
            spent["restart"] += time.monotonic() - begun
            begun = time.monotonic()
            wrong = problems(server, svc)
            spent["check"] += time.monotonic() - begun
            assert not wrong, f"seed {seed} run {run} {plan} ({outcome}): {wrong}"
    finally:
        svc.engine.dispose()
    elapsed = time.monotonic() - started
    killed = sum(n for (_, outcome), n in outcomes.items() if outcome == "killed")
    print(
        f"\n{RUNS} runs (seed {seed}) in {elapsed:.1f} s: {killed} killed inside the "
        f"operation; per operation: {dict(sorted(outcomes.items()))}; steps seen: {steps}; "
        f"seconds spent: "
        f"{ {part: round(seconds, 1) for part, seconds in spent.items()} }",
        file=sys.stderr,
    )
    assert killed >= RUNS // 2
