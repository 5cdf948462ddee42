"""Permit gate: how late a STOP_LOSS is admitted while QUERY callers saturate the gate.

``--queries`` threads call ``PermitGate.permit(QUERY, ...)`` back to back (each call's body
sleeps ``--call-ms``, a stand-in for the HTTP round trip), so the gate always has queries
waiting. Meanwhile the main thread sends ``--stops`` STOP_LOSS calls at random moments.
The reference, from the same run: replaying every admission the gate made before a
stop-loss arrived through ``domain.ratelimit.PermitSchedule`` gives the next free slot a
stop-loss may take - "it must be the next free slot". Printed per stop-loss, as medians
and worst cases over ``--repeat`` runs:

* wait: from calling ``permit`` to the body starting, beside the schedule's wait (the slot);
* lateness: the body's start after the slot (thread wake-up and the gate's own work);
* queries admitted between a stop-loss's arrival and its admission (must be 0).

    .venv/bin/python benchmarks/bench_gate.py               # original limits: 10 / 2 s, 0.2 s
    .venv/bin/python benchmarks/bench_gate.py --window 0.5 --interval 0.05 --stops 60

Target: every stop-loss takes the next free slot (no query overtakes it) and its median
lateness is thread wake-up (<= 2 ms), not a fraction of the 200 ms interval. Beside it, the
same run measures plain ``Condition.wait(timeout)`` calls: the wake-up floor of the machine.
"""

from __future__ import annotations

import argparse
import bisect
import random
import statistics
import threading
import time

from qwentrade.adapters.memory import MemoryConfigStore
from qwentrade.adapters.okx import GateClosed, PermitGate
from qwentrade.domain.ratelimit import PermitSchedule, Priority

CANDLES = "GET /api/v5/market/candles"
ORDER_ALGO = "POST /api/v5/trade/order-algo"
LATENESS_TARGET = 0.002  # seconds, median: thread wake-up, far below one minimum interval


class Run:
    """One saturated run: every admission, and each stop-loss's arrival and admission."""

    def __init__(self, gate: PermitGate) -> None:
        self.gate = gate
        self.admissions: list[tuple[float, Priority]] = []
        self.stops: list[tuple[float, float, float]] = []  # arrived, admitted at, body start
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.wake_lateness: list[float] = []

    def query_caller(self, call_seconds: float) -> None:
        try:
            while not self.stop.is_set():
                with self.gate.permit(Priority.QUERY, CANDLES, "BTC-USDT-SWAP") as at:
                    with self.lock:
                        self.admissions.append((at, Priority.QUERY))
                    time.sleep(call_seconds)
        except GateClosed:
            pass  # the end of the run

    def bare_waits(self, longest: float, seed: int) -> None:
        """The floor: how late a plain Condition.wait(timeout) wakes on this machine now."""
        rng = random.Random(seed)
        condition = threading.Condition()
        with condition:
            while not self.stop.is_set():
                seconds = rng.uniform(0, longest)
                deadline = time.monotonic() + seconds
                condition.wait(seconds)
                self.wake_lateness.append(time.monotonic() - deadline)

    def stop_loss(self) -> None:
        arrived = time.monotonic()
        with self.gate.permit(Priority.STOP_LOSS, ORDER_ALGO, "BTC-USDT-SWAP") as at:
            started = time.monotonic()
            with self.lock:
                self.admissions.append((at, Priority.STOP_LOSS))
        self.stops.append((arrived, at, started))


def run_once(
    args: argparse.Namespace, seed: int
) -> tuple[list[tuple[float, float, int]], float, list[float]]:
    """[(wait, schedule's wait, queries that overtook)] per stop-loss; the mean QUERY wait;
    the lateness of plain timed waits beside them."""
    config = MemoryConfigStore()
    config.set("API_MIN_INTERVAL", args.interval)
    config.set("API_RATE_WINDOW", args.window)
    config.set("API_RATE_LIMIT", args.limit)
    run = Run(PermitGate(config))
    threads = [
        threading.Thread(target=run.query_caller, args=(args.call_ms / 1000,), daemon=True)
        for _ in range(args.queries)
    ]
    threads.append(threading.Thread(target=run.bare_waits, args=(args.interval, seed), daemon=True))
    for thread in threads:
        thread.start()
    rng = random.Random(seed)
    time.sleep(args.window)  # let the queries fill a window first
    for _ in range(args.stops):
        time.sleep(rng.uniform(0.5, 2.5) * args.interval + rng.uniform(0, args.window / 4))
        if run.gate.state().waiting[Priority.QUERY] == 0:
            raise SystemExit("the gate is not saturated: raise --queries")
        run.stop_loss()
    state = run.gate.state()
    query_wait = state.total_wait[Priority.QUERY] / state.admitted[Priority.QUERY]
    run.stop.set()
    run.gate.close()  # wakes the waiting queries (they end with GateClosed)
    for thread in threads:
        thread.join(5)
    return measure(run, args), query_wait, run.wake_lateness


def measure(run: Run, args: argparse.Namespace) -> list[tuple[float, float, int]]:
    admissions = sorted(run.admissions)
    times = [at for at, _ in admissions]
    results = []
    for arrived, at, started in run.stops:
        before = bisect.bisect_left(times, arrived)
        schedule = PermitSchedule(
            args.limit, args.window, args.interval, admissions=tuple(times[:before][-args.limit :])
        )
        slot = schedule.earliest(arrived, Priority.STOP_LOSS)  # the next free slot
        overtaken = sum(
            1 for t, priority in admissions[before:] if t < at and priority is Priority.QUERY
        )
        results.append((started - arrived, slot - arrived, overtaken))

    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=int, default=6, help="QUERY threads")
    parser.add_argument("--stops", type=int, default=25, help="STOP_LOSS calls per run")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--limit", type=int, default=10)
    parser.add_argument("--window", type=float, default=2.0)
    parser.add_argument("--interval", type=float, default=0.2)
    parser.add_argument("--call-ms", type=float, default=5.0, help="body of each query call")
    args = parser.parse_args()

    samples: list[tuple[float, float, int]] = []
    query_waits, wakes = [], []
    for seed in range(args.repeat):
        stops, query_wait, wake_lateness = run_once(args, seed)
        samples += stops
        query_waits.append(query_wait)
        wakes += wake_lateness
    waits = [wait for wait, _, _ in samples]
    slots = [slot for _, slot, _ in samples]
    late = [wait - slot for wait, slot, _ in samples]
    overtaken = sum(n for _, _, n in samples)
    print(
        f"{args.queries} QUERY threads saturating {args.limit} per {args.window:g} s, "
        f"{args.interval * 1000:g} ms apart; {len(samples)} STOP_LOSS calls in {args.repeat} runs"
    )
    ms = 1000
    print(
        f"STOP_LOSS wait (call -> body)    : median {statistics.median(waits) * ms:7.2f} ms, "
        f"worst {max(waits) * ms:7.2f} ms"
    )
    print(
        f"schedule's next free slot        : median {statistics.median(slots) * ms:7.2f} ms, "
        f"worst {max(slots) * ms:7.2f} ms   (reference, same run)"
    )
    print(
        f"lateness after the slot          : median {statistics.median(late) * ms:7.2f} ms, "
        f"worst {max(late) * ms:7.2f} ms"
    )
    print(
        f"plain Condition.wait lateness    : median {statistics.median(wakes) * ms:7.2f} ms, "
        f"worst {max(wakes) * ms:7.2f} ms   (the machine's floor, same run)"
    )
    median_slot = statistics.median(slots)
    if median_slot > 0:
        print(f"  median wait / median slot wait : {statistics.median(waits) / median_slot:.3f}")
    print(
        f"QUERY mean wait (for scale)      : {statistics.median(query_waits) * ms:7.2f} ms "
        "(median of the runs' means)"
    )
    print(f"queries admitted ahead of a waiting STOP_LOSS: {overtaken}")
    ok = overtaken == 0 and statistics.median(late) <= LATENESS_TARGET
    print(
        f"  ({'meets' if ok else 'MISSES'} the target: the next free slot, no query ahead, "
        f"median lateness <= {LATENESS_TARGET * ms:g} ms)"
    )


if __name__ == "__main__":
    main()
