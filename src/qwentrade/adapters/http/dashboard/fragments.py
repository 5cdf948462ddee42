"""Server-rendered HTML fragments of the dashboard (tables swapped in by htmx).

Each function takes plain values (records, dicts from the services) and returns escaped
HTML. Buttons carry ``data-action`` attributes that ``static/dashboard.js`` turns into
calls of the ordinary API endpoints with the user's key.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from html import escape
from typing import Any

from qwentrade.domain.records import OrderRecord, PendingOrderRecord, SignalRecord

NUMBER = re.compile(r"-?\d+\.\d+")


def _text(value: Any) -> str:
    if value is None or value == "":
        return "–"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S UTC")
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    if isinstance(value, str) and NUMBER.fullmatch(value):
        return format(Decimal(value).normalize(), "f")  # "4502.7540300000" -> "4502.75403"
    return str(value)


def duration(seconds: float) -> str:
    """``75`` -> ``1 m 15 s``; ``5950`` -> ``1 h 39 m``; ``90000`` -> ``1 d 1 h``."""
    whole = int(max(seconds, 0))
    days, rest = divmod(whole, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes} m"
    return f"{minutes} m {secs} s" if minutes else f"{secs} s"


def _iso(value: str | None) -> datetime | str | None:
    try:
        return datetime.fromisoformat(value) if value else None
    except ValueError:
        return value


def _cell(value: Any, cls: str = "") -> str:
    attr = f' class="{cls}"' if cls else ""
    return f"<td{attr}>{escape(_text(value))}</td>"


def _sign(value: Any) -> str:
    try:
        number = Decimal(str(value))
    except ArithmeticError:
        return ""
    return "pos" if number > 0 else "neg" if number < 0 else ""


def table(caption: str, headers: Sequence[str], rows: Iterable[str], empty: str) -> str:
    body = "".join(rows)
    if not body:
        return f'<p class="muted empty">{escape(empty)}</p>'
    head = "".join(f'<th scope="col">{escape(h)}</th>' for h in headers)
    return (
        f'<div class="table-wrap"><table><caption>{escape(caption)}</caption>'
        f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>"
    )


def positions(held: Sequence[Mapping[str, Any]]) -> str:
    """Open positions with entry, size, leverage, uPnL, SL/TP and the two actions."""
    rows = []
    for p in held:
        symbol = str(p.get("symbol", ""))
        plans = p.get("plans") or []
        stops = ", ".join(
            _text(a.get("stop_loss_trigger")) for a in plans if a.get("stop_loss_trigger")
        )
        targets = ", ".join(
            _text(a.get("take_profit_trigger")) for a in plans if a.get("take_profit_trigger")
        )
        first_sl = next((a["stop_loss_trigger"] for a in plans if a.get("stop_loss_trigger")), "")
        first_tp = next(
            (a["take_profit_trigger"] for a in plans if a.get("take_profit_trigger")), ""
        )
        s = escape(symbol)
        actions = (
            f'<button type="button" data-action="close" data-symbol="{s}">Close'
            f'<span class="sr-only"> {s}</span></button> '
            f'<button type="button" data-action="edit-plans" data-symbol="{s}"'
            f' data-cl-ord-id="{escape(str(p.get("cl_ord_id") or ""))}"'
            f' data-sl="{escape(_text(first_sl) if first_sl else "")}"'
            f' data-tp="{escape(_text(first_tp) if first_tp else "")}">'
            f'Change plans<span class="sr-only"> of {s}</span></button>'
        )
        rows.append(
            f'<tr data-symbol="{s}">'
            + _cell(symbol)
            + _cell(p.get("side"), "side-" + str(p.get("side", "")).lower())
            + _cell(p.get("avg_price"))
            + _cell(p.get("mark_price"))
            + _cell(p.get("size"))
            + _cell(p.get("leverage"))
            + _cell(p.get("margin"))
            + _cell(p.get("unrealised_pnl"), _sign(p.get("unrealised_pnl")))
            + _cell(stops)
            + _cell(targets)
            + _cell(p.get("cl_ord_id"), "mono")
            + f'<td><div class="actions">{actions}</div></td></tr>'
        )
    headers = (
        "Symbol",
        "Side",
        "Entry",
        "Mark",
        "Size (contracts)",
        "Leverage",
        "Margin",
        "uPnL",
        "Stop-loss",
        "Take-profit",
        "Order",
        "Actions",
    )
    return table("Open positions", headers, rows, "No open position.")


def orders(found: Sequence[OrderRecord]) -> str:
    rows = [
        "<tr>"
        + _cell(o.created_at)
        + _cell(o.symbol)
        + _cell(f"{o.side} {o.pos_side}")
        + _cell(o.order_type)
        + _cell(o.status)
        + _cell(o.amount)
        + _cell(o.filled_amount)
        + _cell(o.avg_price if o.avg_price is not None else o.price)
        + _cell(o.fee)
        + _cell(o.pnl, _sign(o.pnl))
        + _cell("yes" if o.reduce_only else "no")
        + _cell(o.cl_ord_id, "mono")
        + "</tr>"
        for o in found
    ]
    headers = (
        "Created",
        "Symbol",
        "Side",
        "Type",
        "State",
        "Size",
        "Filled",
        "Price",
        "Fee",
        "PnL",
        "Reduce-only",
        "Client id",
    )
    return table("Orders, newest first", headers, rows, "No order matches.")


def pending(found: Sequence[PendingOrderRecord]) -> str:
    rows = []
    for o in found:
        action = (
            f'<button type="button" data-action="cancel-pending" data-id="{escape(o.id)}">'
            f'Cancel<span class="sr-only"> {escape(o.symbol)} {escape(o.side)} at '
            f"{escape(_text(o.trigger_price))}</span></button>"
            if o.status == "PENDING"
            else ""
        )
        rows.append(
            "<tr>"
            + _cell(o.created_at)
            + _cell(o.symbol)
            + _cell(o.side)
            + _cell(f"{o.crossing.lower()} {_text(o.trigger_price)}")
            + _cell(o.amount)
            + _cell(o.leverage)
            + _cell(o.stop_loss_trigger)
            + _cell(o.take_profit_trigger)
            + _cell(o.status)
            + _cell(o.expire_at)
            + _cell(o.reason)
            + f"<td>{action}</td></tr>"
        )
    headers = (
        "Created",
        "Symbol",
        "Side",
        "Trigger",
        "Margin",
        "Leverage",
        "Stop-loss",
        "Take-profit",
        "State",
        "Expires",
        "Reason",
        "Action",
    )
    return table("Pending orders, newest first", headers, rows, "No pending order matches.")


def explanation(details: Mapping[str, Any]) -> list[tuple[str, str]]:
    """One line per detector layer: (layer, what it saw and the points it gave)."""
    out = []
    env = details.get("environment")
    if isinstance(env, Mapping):
        out.append(
            (
                "environment",
                f"mode {env.get('mode')}, active {env.get('active')} (Bollinger width "
                f"{_text(env.get('bb_width'))} vs {_text(env.get('active_threshold'))}), "
                f"trend 15m {env.get('trend_15m')}, 4h {env.get('trend_4h')}",
            )
        )
    trig = details.get("trigger")
    if isinstance(trig, Mapping):
        out.append(
            (
                "trigger",
                f"{trig.get('direction')}: MACD {trig.get('macd_move') or 'no move'} "
                f"+{trig.get('macd_points')}, RSI {_text(trig.get('rsi'))} vs limit "
                f"{_text(trig.get('rsi_limit'))} +{trig.get('rsi_points')}",
            )
        )
    conf = details.get("confirmation")
    if isinstance(conf, Mapping):
        out.append(
            (
                "confirmation",
                f"volume +{conf.get('volume_points')}, Bollinger expansion "
                f"+{conf.get('bollinger_points')}, 4h resonance "
                f"+{conf.get('multi_timeframe_points', details.get('multi_tf_score'))}",
            )
        )
    if not out and details.get("reason"):
        out.append(("reason", str(details["reason"])))
    return out


def signals(found: Sequence[SignalRecord]) -> str:
    rows = []
    for s in found:
        lines = explanation(s.details)
        body = "".join(f"<dt>{escape(layer)}</dt><dd>{escape(text)}</dd>" for layer, text in lines)
        explain = (
            f"<details><summary>Explanation of signal {s.id}</summary><dl>{body}</dl></details>"
            if body
            else "–"
        )
        rows.append(
            "<tr>"
            + _cell(s.time)
            + _cell(s.symbol)
            + _cell(s.signal_type, "side-" + s.signal_type.lower())
            + _cell(f"{s.score:g}")
            + _cell(s.price)
            + _cell(s.status)
            + _cell(s.expire_at)
            + f"<td>{explain}</td></tr>"
        )
    headers = ("Candle (15m)", "Symbol", "Type", "Score", "Price", "State", "Expires", "Why")
    return table("Signals, newest first", headers, rows, "No signal.")


def system(
    health: Any,
    jobs: Sequence[Any],
    stream: Any,
    gate: Any,
    checks: Mapping[str, Any],
) -> str:
    """Mode and version, component checks, sync jobs, the private stream, the gate."""
    parts = [
        '<dl class="facts">'
        f"<dt>Mode</dt><dd>{escape(health.mode)}</dd>"
        f"<dt>Version</dt><dd>{escape(health.version)}</dd>"
        f"<dt>Started</dt><dd>{escape(_text(health.started_at))}</dd>"
        f"<dt>Uptime</dt><dd>{escape(f'{health.uptime_seconds:.0f}')} s</dd>"
        "</dl>"
    ]
    check_rows = [
        f"<tr>{_cell(name)}{_cell(r.state, 'state-' + str(r.state).lower())}{_cell(r.detail)}</tr>"
        for name, r in checks.items()
    ]
    parts.append(table("Components", ("Component", "State", "Detail"), check_rows, "No check."))
    if stream is None:
        parts.append('<p class="muted">Private stream: none in this mode.</p>')
    else:
        state = "connected" if stream.connected else "disconnected"
        parts.append(
            f'<p>Private stream: <strong class="state-{state}">{state}</strong>, '
            f"{stream.reconnects} reconnects since start.</p>"
        )
    if gate is not None:
        names = list(dict.fromkeys([*gate.waiting, *gate.admitted]))  # in priority order
        gate_rows = [
            "<tr>"
            + _cell(name)
            + _cell(gate.waiting.get(name, 0))
            + _cell(gate.admitted.get(name, 0))
            + _cell(f"{gate.max_wait_seconds.get(name, 0.0):.3f}")
            + _cell(gate.timed_out.get(name, 0))
            + "</tr>"
            for name in names
        ]
        headers = ("Priority", "Waiting", "Admitted", "Longest wait (s)", "Timed out")
        parts.append(table("Exchange permit gate by priority", headers, gate_rows, "Idle."))
    job_rows = [
        "<tr>"
        + _cell(j.job)
        + _cell(j.state, "state-" + str(j.state).lower())
        + _cell("yes" if j.running else "no")
        + _cell(None if j.lag_seconds is None else duration(j.lag_seconds))
        + _cell(_iso(j.last_success))
        + _cell(j.runs)
        + _cell(j.rows_stored)
        + _cell(j.consecutive_failures)
        + _cell(j.last_error or j.note)
        + "</tr>"
        for j in jobs
    ]
    headers = (
        "Job",
        "State",
        "Running",
        "Lag",
        "Last success",
        "Runs",
        "Rows",
        "Failures in a row",
        "Last error / note",
    )
    parts.append(table("Sync jobs", headers, job_rows, "No sync job in this process."))
    return "\n".join(parts)


def config(entries: Sequence[Any]) -> str:
    rows = []
    for e in entries:
        key = escape(e.key)
        value = e.value if not isinstance(e.value, bool) else str(e.value).lower()
        default = e.default if not isinstance(e.default, bool) else str(e.default).lower()
        if e.type == "bool":
            options = "".join(
                f'<option value="{v}"{" selected" if v == value else ""}>{v}</option>'
                for v in ("true", "false")
            )
            control = f'<select id="cfg-{key}" name="value">{options}</select>'
        else:
            control = f'<input id="cfg-{key}" name="value" value="{escape(_text(value))}">'
        field = (
            f'<form class="config-form" data-key="{key}">'
            f'<label class="sr-only" for="cfg-{key}">New value of {key}</label>{control}'
            f'<button type="submit">Set<span class="sr-only"> {key}</span></button></form>'
        )
        rows.append(
            f'<tr data-key="{key}">'
            + _cell(e.key, "mono key")
            + _cell(value)
            + _cell(e.type)
            + _cell(default)
            + _cell(e.allowed)
            + _cell(e.description)
            + f"<td>{field}</td></tr>"
        )
    headers = ("Key", "Value", "Type", "Default", "Allowed", "Description", "Change")
    return table("Runtime configuration", headers, rows, "No config key.")


def problem(status: int, detail: str) -> str:
    return f'<p class="error" role="alert">{status}: {escape(detail)}</p>'
