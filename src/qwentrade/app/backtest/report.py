"""A backtest's result: trades and equity as polars frames, the stats, plots and reports.

Stats (``BacktestResult.stats``, also the ``--json`` object): ``trades``,
``total_return`` and ``annual_return`` (fractions of the starting balance; annualised
over the traded span), ``max_drawdown`` (a negative fraction of the running peak),
``sharpe`` and ``sortino`` (daily equity returns, annualised with sqrt(365), no risk-free
rate), ``win_rate`` (share of trades with realised PnL > 0), ``profit_factor`` (gross
profit / gross loss; null without a loss), ``average_trade`` (mean realised PnL, USDT),
``exposure`` (share of 15m closes spent in a position), ``fees`` and ``funding`` (USDT,
negative when paid), ``buy_and_hold`` (the traded span's price return), ``start_balance``,
``end_balance``, ``funding_source`` (stored, flat or stored+flat) and ``engine``.
"""

from __future__ import annotations

import html
import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs
import numpy as np
import polars as pl

from qwentrade.domain.errors import InvalidInput

if TYPE_CHECKING:
    from qwentrade.app.backtest.data import Market
    from qwentrade.app.backtest.params import BacktestParams

UTC_TIME = pl.Datetime("us", "UTC")
TRADE_SCHEMA = {
    "side": pl.String,
    "signal_time": UTC_TIME,
    "score": pl.Int64,
    "entry_time": UTC_TIME,
    "entry_price": pl.Float64,
    "size": pl.Float64,
    "stop_loss": pl.Float64,
    "take_profit": pl.Float64,
    "exit_time": UTC_TIME,
    "exit_price": pl.Float64,
    "exit_reason": pl.String,
    "pnl": pl.Float64,
    "fees": pl.Float64,
    "funding": pl.Float64,
    "penalty": pl.Float64,
    "realized": pl.Float64,
}
MS_15M = 900_000
DAYS_PER_YEAR = 365.0


def equity_frame(market: Market, equity: np.ndarray) -> pl.DataFrame:
    """``time`` (each traded 15m close), ``close``, ``equity`` and ``drawdown``."""
    traded = market.traded()
    peak = np.maximum.accumulate(equity)
    with np.errstate(divide="ignore", invalid="ignore"):
        drawdown = np.where(peak > 0, equity / peak - 1.0, 0.0)
    return traded.select(
        (pl.col("time") + pl.duration(minutes=15)).alias("time"),
        "close",
        pl.Series("equity", equity),
        pl.Series("drawdown", drawdown),
    )


@attrs.define
class BacktestResult:
    """What ``qwentrade.backtest`` returns: ``trades``, ``equity``, ``stats``, ``plot()``."""

    trades: pl.DataFrame
    equity: pl.DataFrame
    market: Market
    params: BacktestParams
    engine: str
    _stats: dict[str, Any] | None = None

    @property
    def stats(self) -> dict[str, Any]:
        if self._stats is None:
            self._stats = compute_stats(self)
        return self._stats

    def plot(self):
        """A plotly figure: candles with entries/exits and SL/TP, equity and drawdown."""
        return figures(self)[0]

    def to_html(self, path: str | Path) -> Path:
        """Write the self-contained HTML report (plotly's JS embedded: works offline)."""
        return write_html(self, path)

    def summary(self) -> str:
        """The stats as an aligned two-column table."""
        return summary_table(self.stats)

    def __repr__(self) -> str:
        s = self.stats
        return (
            f"BacktestResult({self.engine}, {self.market.symbol}, trades={s['trades']}, "
            f"total_return={s['total_return']:.4f}, max_drawdown={s['max_drawdown']:.4f})"
        )


def compute_stats(result: BacktestResult) -> dict[str, Any]:
    trades, equity = result.trades, result.equity
    start = float(result.params.balance)
    values = equity["equity"].to_numpy()
    end = float(values[-1]) if values.size else start
    times = equity["time"]
    span_days = max((times[-1] - times[0]).total_seconds() / 86400, 1 / 96) if values.size else 1.0
    total = end / start - 1.0
    annual = (end / start) ** (DAYS_PER_YEAR / span_days) - 1.0 if end > 0 else -1.0
    daily = (
        equity.group_by_dynamic("time", every="1d")
        .agg(pl.col("equity").last())["equity"]
        .to_numpy()
    )
    daily = np.concatenate([[start], daily])
    returns = np.diff(daily) / daily[:-1]
    sharpe = _ratio(returns, returns.std(ddof=1) if returns.size > 1 else 0.0)
    downside = returns[returns < 0]
    sortino = _ratio(
        returns, math.sqrt(float(np.mean(np.minimum(returns, 0) ** 2))) if downside.size else 0.0
    )
    realized = trades["realized"].to_numpy() if trades.height else np.zeros(0)
    gains, losses = realized[realized > 0].sum(), -realized[realized < 0].sum()
    close = result.market.traded()["close"].to_numpy()
    in_position = _exposure(trades, times)
    return {
        "engine": result.engine,
        "symbol": result.market.symbol,
        "start": times[0].isoformat() if values.size else None,
        "end": times[-1].isoformat() if values.size else None,
        "trades": int(trades.height),
        "total_return": total,
        "annual_return": annual,
        "max_drawdown": float(equity["drawdown"].min()) if values.size else 0.0,
        "sharpe": sharpe,
        "sortino": sortino,
        "win_rate": float((realized > 0).mean()) if realized.size else 0.0,
        "profit_factor": float(gains / losses) if losses > 0 else None,
        "average_trade": float(realized.mean()) if realized.size else 0.0,
        "exposure": in_position,
        "fees": float(trades["fees"].sum()) if trades.height else 0.0,
        "funding": float(trades["funding"].sum()) if trades.height else 0.0,
        "funding_source": result.market.funding_source,
        "buy_and_hold": float(close[-1] / close[0] - 1.0),
        "start_balance": start,
        "end_balance": end,
    }


def _ratio(returns: np.ndarray, deviation: float) -> float:
    if returns.size < 2 or not deviation or not math.isfinite(deviation):
        return 0.0
    return float(returns.mean() / deviation * math.sqrt(DAYS_PER_YEAR))


def _exposure(trades: pl.DataFrame, times: pl.Series) -> float:
    if not trades.height or times.len() == 0:
        return 0.0
    closes = times.to_numpy().astype("datetime64[us]").astype(np.int64)
    held = np.zeros(closes.size, dtype=bool)
    entries = trades["entry_time"].to_numpy().astype("datetime64[us]").astype(np.int64)
    exits = trades["exit_time"].to_numpy().astype("datetime64[us]").astype(np.int64)
    for a, b in zip(
        np.searchsorted(closes, entries, "left"),
        np.searchsorted(closes, exits, "left"),
        strict=True,
    ):
        held[a:b] = True
    return float(held.mean())


def summary_table(stats: dict[str, Any]) -> str:
    width = max(len(k) for k in stats)
    lines = []
    for key, value in stats.items():
        if isinstance(value, float):
            shown = f"{value:,.4f}"
        else:
            shown = "-" if value is None else str(value)
        lines.append(f"{key:<{width}}  {shown}")
    return "\n".join(lines)


def json_line(stats: dict[str, Any]) -> str:
    """The stats as one JSON line (NaN and infinities as null)."""

    def clean(value: Any) -> Any:
        if isinstance(value, float) and not math.isfinite(value):
            return None
        return value

    return json.dumps({k: clean(v) for k, v in stats.items()}, separators=(",", ":"))


# -- figures -------------------------------------------------------------------------------

MAX_CANDLES = 20_000  # more than this many candles are drawn as 1h candles (a lighter page)


def figures(result: BacktestResult) -> list:
    """The report's plotly figures: [candles+trades+equity+drawdown, monthly returns,
    per-score outcomes]."""
    try:
        import plotly.graph_objects as go
        from plotly.subplots import make_subplots
    except ImportError:  # pragma: no cover - plotly is a dependency
        raise InvalidInput("report", "plotly is not installed: pip install plotly") from None
    candles = result.market.traded()
    if candles.height > MAX_CANDLES:
        candles = candles.group_by_dynamic("time", every="1h").agg(
            pl.col("open").first(),
            pl.col("high").max(),
            pl.col("low").min(),
            pl.col("close").last(),
        )
    trades, equity = result.trades, result.equity
    main = make_subplots(
        rows=3,
        cols=1,
        shared_xaxes=True,
        row_heights=[0.55, 0.25, 0.2],
        vertical_spacing=0.03,
        subplot_titles=(f"{result.market.symbol} ({result.engine})", "equity (USDT)", "drawdown"),
    )
    main.add_trace(
        go.Candlestick(
            x=candles["time"].to_list(),
            open=candles["open"].to_list(),
            high=candles["high"].to_list(),
            low=candles["low"].to_list(),
            close=candles["close"].to_list(),
            name="price",
            showlegend=False,
        ),
        row=1,
        col=1,
    )
    if trades.height:
        long = trades["side"] == "LONG"
        for mask, name, symbol, color in (
            (long, "long entry", "triangle-up", "#1a9850"),
            (~long, "short entry", "triangle-down", "#d73027"),
        ):
            chosen = trades.filter(mask)
            main.add_trace(
                go.Scatter(
                    x=chosen["entry_time"].to_list(),
                    y=chosen["entry_price"].to_list(),
                    mode="markers",
                    marker={"symbol": symbol, "size": 9, "color": color},
                    name=name,
                ),
                row=1,
                col=1,
            )
        main.add_trace(
            go.Scatter(
                x=trades["exit_time"].to_list(),
                y=trades["exit_price"].to_list(),
                mode="markers",
                marker={"symbol": "x", "size": 8, "color": "#333"},
                name="exit",
                text=trades["exit_reason"].to_list(),
            ),
            row=1,
            col=1,
        )
        for column, color in (("stop_loss", "#d73027"), ("take_profit", "#1a9850")):
            xs, ys = [], []
            for entry, exit_, level in zip(
                trades["entry_time"].to_list(),
                trades["exit_time"].to_list(),
                trades[column].to_list(),
                strict=True,
            ):
                if level is not None:
                    xs += [entry, exit_, None]
                    ys += [level, level, None]
            main.add_trace(
                go.Scatter(
                    x=xs,
                    y=ys,
                    mode="lines",
                    line={"color": color, "width": 1, "dash": "dot"},
                    name=column,
                ),
                row=1,
                col=1,
            )
    main.add_trace(
        go.Scatter(
            x=equity["time"].to_list(),
            y=equity["equity"].to_list(),
            name="equity",
            line={"color": "#2c7fb8"},
        ),
        row=2,
        col=1,
    )
    hold = float(result.params.balance) * equity["close"] / equity["close"][0]
    main.add_trace(
        go.Scatter(
            x=equity["time"].to_list(),
            y=hold.to_list(),
            name="buy and hold",
            line={"color": "#aaa", "dash": "dash"},
        ),
        row=2,
        col=1,
    )
    main.add_trace(
        go.Scatter(
            x=equity["time"].to_list(),
            y=equity["drawdown"].to_list(),
            name="drawdown",
            fill="tozeroy",
            line={"color": "#d73027"},
        ),
        row=3,
        col=1,
    )
    main.update_layout(height=900, xaxis_rangeslider_visible=False, margin={"t": 40, "b": 20})

    monthly = (
        equity.group_by_dynamic("time", every="1mo")
        .agg(pl.col("equity").first().alias("first"), pl.col("equity").last().alias("last"))
        .with_columns((pl.col("last") / pl.col("first") - 1).alias("return"))
    )
    months = go.Figure(
        go.Bar(
            x=monthly["time"].dt.strftime("%Y-%m").to_list(),
            y=monthly["return"].to_list(),
            marker_color=[
                "#1a9850" if (v or 0) >= 0 else "#d73027" for v in monthly["return"].to_list()
            ],
        )
    )
    months.update_layout(title="monthly returns", height=350, yaxis_tickformat=".1%")

    if trades.height:
        by_score = (
            trades.group_by("score")
            .agg(
                pl.len().alias("trades"),
                (pl.col("realized") > 0).mean().alias("win_rate"),
                pl.col("realized").mean().alias("average"),
            )
            .sort("score")
        )
    else:
        by_score = pl.DataFrame({"score": [], "trades": [], "win_rate": [], "average": []})
    scores = make_subplots(specs=[[{"secondary_y": True}]])
    scores.add_trace(
        go.Bar(
            x=by_score["score"].to_list(),
            y=by_score["average"].to_list(),
            name="average realised PnL",
        )
    )
    scores.add_trace(
        go.Scatter(
            x=by_score["score"].to_list(),
            y=by_score["win_rate"].to_list(),
            name="win rate",
            mode="lines+markers",
        ),
        secondary_y=True,
    )
    scores.update_layout(title="outcome by signal score", height=350)
    return [main, months, scores]


def write_html(result: BacktestResult, path: str | Path) -> Path:
    """The self-contained HTML report at ``path``: summary table and the figures."""
    path = Path(path)
    if path.suffix.lower() not in (".html", ".htm"):
        raise InvalidInput("report", f"{path} must end in .html")
    parts = []
    for n, figure in enumerate(figures(result)):
        parts.append(
            figure.to_html(full_html=False, include_plotlyjs=(n == 0), div_id=f"figure-{n}")
        )
    rows = "".join(
        f"<tr><th>{html.escape(k)}</th><td>{html.escape(_shown(v))}</td></tr>"
        for k, v in result.stats.items()
    )
    page = f"""<!doctype html>
<html><head><meta charset="utf-8">
<title>qwentrade backtest {html.escape(result.market.symbol)}</title>
<style>body{{font-family:sans-serif;margin:1em}} table{{border-collapse:collapse}}
th,td{{padding:2px 10px;text-align:left;border-bottom:1px solid #ddd}}</style></head>
<body><h1>Backtest {html.escape(result.market.symbol)} ({html.escape(result.engine)})</h1>
<table id="stats">{rows}</table>
{"".join(parts)}
</body></html>
"""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page, encoding="utf-8")
    return path


def _shown(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.4f}"
    return "-" if value is None else str(value)
