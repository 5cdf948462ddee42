"""Parameter sweeps: a grid or a random search over detector and policy parameters, run on
every local core (a process pool) or on an existing Ray or Dask cluster, and walk-forward
windows (choose on a training window, trade the next one) to show overfitting.

A sweep file (TOML)::

    metric = "sharpe"          # sort (descending) by this stat
    search = "grid"            # or "random" (then: samples = 100, seed = 1)
    engine = "fast"            # or "replay"

    [params]                   # config keys: a list of values, or a range for random
    POLICY_SL_ATR_MULTIPLE = [1.0, 1.5, 2.0]
    POLICY_TP_ATR_MULTIPLE = { min = 1.5, max = 4.0 }
    DETECTOR_SIGNAL_THRESHOLD = [15, 18, 21]

    [walk_forward]             # optional
    train_days = 90
    test_days = 30
"""

from __future__ import annotations

import itertools
import multiprocessing
import os
import random
import tomllib
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import attrs
import polars as pl

from qwentrade.app.backtest.data import MS_15M, Market, settlements
from qwentrade.app.backtest.params import BacktestParams
from qwentrade.domain.errors import InvalidInput

DAY_MS = 86_400_000
STAT_COLUMNS = (
    "trades",
    "total_return",
    "annual_return",
    "max_drawdown",
    "sharpe",
    "sortino",
    "win_rate",
    "profit_factor",
    "average_trade",
    "exposure",
    "fees",
    "funding",
)


@attrs.frozen
class SweepSpec:
    """A parsed sweep file (see the module docstring)."""

    points: tuple[dict[str, Any], ...]
    metric: str = "sharpe"
    engine: str = "fast"
    train_days: float | None = None
    test_days: float | None = None


def read_spec(path: str | Path, base: Mapping[str, Any] | None = None) -> SweepSpec:
    """Parse a sweep file; every point is checked as BacktestParams before anything runs."""
    path = Path(path)
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise InvalidInput("sweep", f"cannot read {path}: {e}") from None
    grid = doc.get("params")
    if not isinstance(grid, dict) or not grid:
        raise InvalidInput("sweep", f"{path} needs a [params] table of config keys")
    search = doc.get("search", "grid")
    if search == "grid":
        for key, values in grid.items():
            if not isinstance(values, list) or not values:
                raise InvalidInput("sweep", f"{key}: a grid needs a non-empty list of values")
        keys = list(grid)
        points = [
            dict(zip(keys, combo, strict=True)) for combo in itertools.product(*grid.values())
        ]
    elif search == "random":
        samples = int(doc.get("samples", 100))
        rng = random.Random(int(doc.get("seed", 1)))
        points = [{k: _draw(k, v, rng) for k, v in grid.items()} for _ in range(samples)]
    else:
        raise InvalidInput("sweep", f"search must be grid or random, got {search!r}")
    for point in points:
        BacktestParams.of({**(base or {}), **point})
    metric = str(doc.get("metric", "sharpe"))
    if metric not in STAT_COLUMNS:
        raise InvalidInput("metric", f"{metric!r} is not one of {', '.join(STAT_COLUMNS)}")
    engine = str(doc.get("engine", "fast"))
    if engine not in ("fast", "replay"):
        raise InvalidInput("engine", f"must be fast or replay, got {engine!r}")
    windows = doc.get("walk_forward") or {}
    train, test = windows.get("train_days"), windows.get("test_days")
    if (train is None) != (test is None) or (train is not None and (train <= 0 or test <= 0)):
        raise InvalidInput("walk_forward", "give positive train_days and test_days, or neither")
    return SweepSpec(tuple(points), metric, engine, train, test)


def _draw(key: str, values: Any, rng: random.Random) -> Any:
    if isinstance(values, list) and values:
        return rng.choice(values)
    if isinstance(values, dict) and "min" in values and "max" in values:
        low, high = values["min"], values["max"]
        if isinstance(low, int) and isinstance(high, int):
            return rng.randint(low, high)
        return round(rng.uniform(float(low), float(high)), 6)
    raise InvalidInput("sweep", f"{key}: give a list of values or {{ min = .., max = .. }}")


# -- running -------------------------------------------------------------------------------

_MARKET: Market | None = None
_VERDICTS: dict[Any, pl.DataFrame] = {}


def _init(market: Market) -> None:
    global _MARKET
    _MARKET = market
    _VERDICTS.clear()


def _evaluate(task: tuple[dict[str, Any], str, tuple[int, int] | None]) -> dict[str, Any]:
    """One point in a worker: its stats (the detector's verdicts cached per detector)."""
    from qwentrade.app.backtest import run
    from qwentrade.app.backtest.replay import signals

    point, engine, window = task
    assert _MARKET is not None
    params = BacktestParams.of(point)
    detector = params.detector
    verdicts = _VERDICTS.get(detector)
    if verdicts is None:
        verdicts = _VERDICTS[detector] = signals(_MARKET, params)
    market = _MARKET if window is None else narrowed(_MARKET, *window, params)
    stats = run(market, params, engine=engine, verdicts=verdicts).stats
    return {**point, **{k: stats[k] for k in STAT_COLUMNS}}


def narrowed(market: Market, first: int, last: int, params: BacktestParams) -> Market:
    """``market`` traded only on rows ``first``..``last`` (indicators stay warmed up)."""
    ts = market.ts
    rates, source = settlements(
        int(ts[first]), int(ts[last]) + MS_15M, market.funding, params.funding_rate
    )
    return attrs.evolve(market, first=first, last=last, funding=rates, funding_source=source)


def run_points(
    market: Market,
    points: Sequence[Mapping[str, Any]],
    *,
    engine: str = "fast",
    window: tuple[int, int] | None = None,
    workers: int | None = None,
    cluster: str | None = None,
    progress: Callable[[int], None] | None = None,
) -> list[dict[str, Any]]:
    """Every point's stats, in the points' order."""
    tasks = [(dict(p), engine, window) for p in points]
    if cluster:
        return _on_cluster(cluster, market, tasks)
    workers = workers or os.cpu_count() or 1
    if workers == 1 or len(tasks) == 1:
        _init(market)
        out = []
        for task in tasks:
            out.append(_evaluate(task))
            if progress:
                progress(1)
        return out
    # spawned, not forked: polars' and numba's thread pools do not survive a fork
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(
        max_workers=workers, mp_context=context, initializer=_init, initargs=(market,)
    ) as pool:
        out = []
        for result in pool.map(_evaluate, tasks, chunksize=max(1, len(tasks) // (workers * 4))):
            out.append(result)
            if progress:
                progress(1)
        return out


def _on_cluster(address: str, market: Market, tasks: list) -> list[dict[str, Any]]:
    try:
        import ray
    except ImportError:
        ray = None
    if ray is not None:
        ray.init(address=address, ignore_reinit_error=True)

        @ray.remote
        def evaluate(market: Market, task) -> dict[str, Any]:
            _init(market)
            return _evaluate(task)

        shared = ray.put(market)
        return ray.get([evaluate.remote(shared, task) for task in tasks])
    try:
        from dask.distributed import Client
    except ImportError:
        raise InvalidInput(
            "cluster",
            "running on a cluster needs Ray or Dask: pip install 'ray[default]' (an address "
            "like ray://host:10001) or pip install 'dask[distributed]' (tcp://host:8786)",
        ) from None
    with Client(address) as client:
        shared = client.scatter(market, broadcast=True)

        def evaluate(task, market) -> dict[str, Any]:
            _init(market)
            return _evaluate(task)

        return client.gather([client.submit(evaluate, task, shared, pure=False) for task in tasks])


def sweep(
    market: Market,
    spec: SweepSpec,
    *,
    base: Mapping[str, Any] | None = None,
    workers: int | None = None,
    cluster: str | None = None,
    progress: Callable[[int], None] | None = None,
) -> pl.DataFrame:
    """Every point of ``spec`` (over ``base``) with its stats, best ``spec.metric`` first."""
    points = [{**(base or {}), **p} for p in spec.points]
    rows = run_points(
        market, points, engine=spec.engine, workers=workers, cluster=cluster, progress=progress
    )
    return pl.DataFrame(rows).sort(spec.metric, descending=True, nulls_last=True)


def walk_forward(
    market: Market,
    spec: SweepSpec,
    *,
    base: Mapping[str, Any] | None = None,
    workers: int | None = None,
    cluster: str | None = None,
) -> pl.DataFrame:
    """For each training window, the best point by ``spec.metric`` and its result on the
    test window that follows: one row per window (``train_*`` and ``test_*`` stats)."""
    if spec.train_days is None or spec.test_days is None:
        raise InvalidInput("walk_forward", "the sweep file has no [walk_forward] table")
    ts = market.ts
    train_ms, test_ms = int(spec.train_days * DAY_MS), int(spec.test_days * DAY_MS)
    points = [{**(base or {}), **p} for p in spec.points]
    rows = []
    begin = int(ts[market.first])
    end = int(ts[market.last]) + MS_15M
    while begin + train_ms + test_ms <= end:
        train = _rows(ts, begin, begin + train_ms)
        test = _rows(ts, begin + train_ms, begin + train_ms + test_ms)
        results = run_points(
            market, points, engine=spec.engine, window=train, workers=workers, cluster=cluster
        )
        best = max(results, key=lambda r: _score(r[spec.metric]))
        chosen = {k: best[k] for k in points[0]}
        (tested,) = run_points(market, [chosen], engine=spec.engine, window=test, workers=1)
        rows.append(
            {
                "train_start": _iso(ts[train[0]]),
                "test_start": _iso(ts[test[0]]),
                "test_end": _iso(int(ts[test[1]]) + MS_15M),
                **{f"param_{k}": v for k, v in chosen.items()},
                f"train_{spec.metric}": best[spec.metric],
                f"test_{spec.metric}": tested[spec.metric],
                "train_total_return": best["total_return"],
                "test_total_return": tested["total_return"],
                "test_trades": tested["trades"],
            }
        )
        begin += test_ms
    if not rows:
        raise InvalidInput("walk_forward", "the data is shorter than one train + test window")
    return pl.DataFrame(rows)


def _rows(ts, start_ms: int, end_ms: int) -> tuple[int, int]:
    import numpy as np

    first = int(np.searchsorted(ts, start_ms, "left"))
    last = int(np.searchsorted(ts, end_ms, "left")) - 1
    return first, last


def _score(value: Any) -> float:
    return float("-inf") if value is None else float(value)


def _iso(ms) -> str:
    from qwentrade.domain.market import from_ms

    return from_ms(int(ms)).isoformat()
