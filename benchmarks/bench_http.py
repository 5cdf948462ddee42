"""HTTP reads of a running ``qwentrade serve`` under load, against the server stack's floor.

Starts ``qwentrade serve`` (sim mode, SQLite in a temporary folder, the sync engine and
every background component running on the accelerated market) and, in the same run, a
reference: a bare Litestar app on uvicorn answering ``GET /ping`` with a constant JSON
object (the floor of "uvicorn + Litestar + JSON" on this machine). A load generator in
this process (raw asyncio HTTP/1.1 keep-alive connections on loopback: far lighter than
a client library) then drives each endpoint:

- open loop: requests sent at a fixed ``--rate`` (default 200/s) for ``--seconds``; the
  achieved rate and the p50/p99 latency of the answers;
- closed loop: ``--concurrency`` clients back to back; the requests per second reached.

Endpoints: ``GET /health``, ``GET /signals``, ``GET /klines/BTC-USDT-SWAP/15m?limit=1000``
(1,000 candles with indicators) and ``GET /metrics``. Each measurement is repeated
``--repeat`` times; the medians are printed with the ratio of p99 to the reference's, and
the load average at the start and the end (other work on the machine shows in p99).

/klines and /metrics answer from the refresh-ahead cache (adapters/http/cache.py): a
constant query is read again in the background every 2 s (1 s for /metrics), so these
figures are those of shared answers while the refreshes run, not of the reads themselves.

    .venv/bin/python benchmarks/bench_http.py [--rate 200] [--seconds 5] [--repeat 3]
                                              [--phase steady|backfill]

                                              [--sim-speed 1|120]

``--phase steady`` (default) measures once every sync job has finished its start-up run
(the engine then runs on its schedule); ``--phase backfill`` measures while the start-up
backfill of 30 days x 3 symbols still runs in the same process. ``--sim-speed`` (default
1: the schedule of a real deployment) sets the simulated market's speed; at 120 (the
demo speed of ``qwentrade serve``) a 15m close, its sync, detection and the signal policy
come every 7.5 s: 120 times the background work of a real deployment.

Target: p99 under 20 ms at 200 requests/s for the reads, with the sync engine running.
Note: the load generator shares the machine's cores with the service.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import httpx

QWENTRADE = str(Path(sys.executable).with_name("qwentrade"))
KEY = "bench-key"
ENDPOINTS = (
    "/health",
    "/signals",
    "/klines/BTC-USDT-SWAP/15m?limit=1000",
    "/metrics",
)
REFERENCE_APP = textwrap.dedent(
    """
    import sys
    import uvicorn
    from litestar import Litestar, get

    @get("/ping", sync_to_thread=False)
    def ping() -> dict:
        return {"status": "ok", "mode": "sim", "checks": {"database": "ok"}}

    app = Litestar([ping], logging_config=None)
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
    """
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(check, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"timed out waiting for {what}")


class Connection:
    """One keep-alive HTTP/1.1 connection on raw asyncio streams: a load generator much
    lighter than a full client, so the service, not the generator, is what is measured."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def get(self, path: str) -> int:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        request = f"GET {path} HTTP/1.1\r\nHost: {self.host}\r\nX-API-Key: {KEY}\r\n\r\n"
        self.writer.write(request.encode())
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        length = 0
        chunked = False
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.lower() == b"content-length":
                length = int(value)
            elif name.lower() == b"transfer-encoding" and b"chunked" in value.lower():
                chunked = True
        if chunked:
            while True:
                size = int((await self.reader.readuntil(b"\r\n")).strip(), 16)
                await self.reader.readexactly(size + 2)
                if size == 0:
                    break
        else:
            await self.reader.readexactly(length)
        return status


async def open_loop(
    port: int, path: str, rate: float, seconds: float
) -> tuple[float, list[float], int]:
    """Send ``rate`` requests per second for ``seconds`` over a pool of connections.

    Latency counts from the moment a request was due (not when a connection was free):
    an overloaded service cannot hide its queue (no coordinated omission)."""
    latencies: list[float] = []
    errors = 0
    pool: asyncio.Queue[Connection] = asyncio.Queue()
    for _ in range(64):
        pool.put_nowait(Connection("127.0.0.1", port))

    async def one(due: float) -> None:
        nonlocal errors
        connection = await pool.get()
        try:
            status = await asyncio.wait_for(connection.get(path), 10)
            if status >= 400:
                errors += 1
            latencies.append(time.perf_counter() - due)
        except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError):
            errors += 1
            connection = Connection("127.0.0.1", port)
        finally:
            pool.put_nowait(connection)

    tasks = []
    began = time.perf_counter()
    for i in range(int(rate * seconds)):
        due = began + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(due)))
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - began
    return len(latencies) / elapsed, latencies, errors


async def closed_loop(port: int, path: str, concurrency: int, seconds: float) -> float:
    """Requests per second with ``concurrency`` connections sending back to back."""
    done = 0
    stop = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal done
        connection = Connection("127.0.0.1", port)
        while time.perf_counter() < stop:
            await connection.get(path)
            done += 1

    began = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return done / (time.perf_counter() - began)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def measure(port: int, path: str, args: argparse.Namespace) -> dict[str, float]:
    runs = []
    for _ in range(args.repeat):
        rate, latencies, errors = asyncio.run(open_loop(port, path, args.rate, args.seconds))
        peak = asyncio.run(closed_loop(port, path, args.concurrency, min(args.seconds, 3)))
        runs.append(
            {
                "rate": rate,
                "p50": percentile(latencies, 0.5) * 1000,
                "p99": percentile(latencies, 0.99) * 1000,
                "errors": errors,
                "peak": peak,
            }
        )
    return {k: statistics.median(r[k] for r in runs) for k in runs[0]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument(
        "--sim-speed",
        type=float,
        default=1.0,
        help="the simulated market's speed (QWENTRADE_SIM_SPEED): 1 (default) runs the "
        "sync engine on its real schedule; 120 (what `qwentrade serve` demos with) makes "
        "it do 120 times the work per second",
    )
    parser.add_argument(
        "--phase",
        choices=("steady", "backfill"),
        default="steady",
        help="steady: measure once every sync job has finished its start-up run (the "
        "engine then runs on schedule: a 15m close every 7.5 s at the sim's 120x); "
        "backfill: measure as soon as 1,000 candles are stored, while the start-up "
        "backfill still runs",
    )
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="qwentrade-bench-http-"))
    port, reference_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("QWENTRADE_")}
    env.update({"QWENTRADE_API_KEY": KEY, "QWENTRADE_LOG_LEVEL": "WARNING"})
    env["QWENTRADE_SIM_SPEED"] = f"{args.sim_speed:g}"
    service = subprocess.Popen(
        [QWENTRADE, "serve", "--port", str(port)],
        cwd=folder,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    reference = subprocess.Popen(
        [sys.executable, "-c", REFERENCE_APP, str(reference_port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until(
            lambda: httpx.get(f"http://127.0.0.1:{reference_port}/ping").is_success, 30, "ref"
        )
        wait_until(lambda: httpx.get(base + "/health").is_success, 60, "the service")

        def candles() -> bool:
            url = base + ENDPOINTS[2]
            return httpx.get(url, headers={"X-API-Key": KEY}).json()["count"] >= 1000

        wait_until(candles, 120, "1,000 stored candles")
        if args.phase == "steady":

            def settled() -> bool:
                jobs = httpx.get(base + "/sync/status", headers={"X-API-Key": KEY}).json()
                return all(
                    job["state"] == "DISABLED" or job["last_success"] for job in jobs["jobs"]
                )

            wait_until(settled, 300, "every sync job's start-up run")
        print(f"sim speed {args.sim_speed:g}x, phase {args.phase}: rate {args.rate:g}/s "
              f"for {args.seconds:g} s, {args.repeat} runs, medians")  # fmt: skip
        print("load average at start: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
        print(f"{'endpoint':42} {'req/s':>7} {'p50 ms':>7} {'p99 ms':>7} {'p99/ref':>7} "
              f"{'peak/s':>7} {'errors':>6}")  # fmt: skip
        floor = measure(reference_port, "/ping", args)
        rows = [("reference: bare Litestar /ping", floor)]
        rows += [(path, measure(port, path, args)) for path in ENDPOINTS]
        for name, m in rows:
            print(
                f"{name:42} {m['rate']:7.1f} {m['p50']:7.2f} {m['p99']:7.2f} "
                f"{m['p99'] / floor['p99']:7.2f} {m['peak']:7.0f} {m['errors']:6.0f}"
            )
        print("load average at end: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    finally:
        for process in (service, reference):
            process.terminate()
            process.wait(10)


if __name__ == "__main__":
    main()
