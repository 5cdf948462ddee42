"""Prometheus metrics of the service (``GET /metrics``, prometheus-client text format).

Request counts and latencies and failed authentications are counted as they happen; the
rest is read from the services when Prometheus scrapes (one registry per app, so two apps
in one process never share counters):

=======================================  ===============================================
qwentrade_http_requests_total            requests by method, route template and status
qwentrade_http_request_duration_seconds  latency histogram by method and route template
qwentrade_http_auth_failures_total       requests refused for a missing or wrong API key
qwentrade_sync_lag_seconds               per job: seconds since its last successful run
qwentrade_sync_consecutive_failures      per job: failed runs since the last success
qwentrade_gate_waiting                   permit gate: callers waiting, per priority
qwentrade_gate_wait_seconds_total        permit gate: summed waits, per priority
qwentrade_gate_wait_seconds_max          permit gate: longest wait, per priority
qwentrade_gate_admitted_total            permit gate: admissions, per priority
qwentrade_gate_timeouts_total            permit gate: callers that gave up, per priority
qwentrade_orders_total                   order intents by outcome (placed, failed, ...)
qwentrade_open_positions                 positions the system holds, per symbol
qwentrade_stream_connected               1 while the private stream delivers events
qwentrade_stream_reconnects_total        private stream reconnections since start
=======================================  ===============================================
"""

from __future__ import annotations

import logging
from collections import Counter as Tally
from collections.abc import Iterator

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram
from prometheus_client import generate_latest as _generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from qwentrade.app.services import Services

log = logging.getLogger(__name__)

CONTENT_TYPE = CONTENT_TYPE_LATEST
# Intent states (domain.orders.IntentState names) by what they mean for an order.
ORDER_OUTCOMES = {
    "ACKNOWLEDGED": "placed",
    "REJECTED": "failed",
    "NOT_FOUND": "failed",
    "ABANDONED": "failed",
    "OUTCOME_UNKNOWN": "unknown",
    "NEW": "in_flight",
    "SENT": "in_flight",
}
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


class HttpMetrics:
    """The app's registry: request and auth counters plus the services' collector."""

    def __init__(self, services: Services) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self.requests = Counter(
            "qwentrade_http_requests",
            "HTTP requests by method, route template and status code.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "qwentrade_http_request_duration_seconds",
            "HTTP request latency (until the response is sent) by method and route.",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.auth_failures = Counter(
            "qwentrade_http_auth_failures",
            "Requests refused for a missing or wrong X-API-Key.",
            registry=self.registry,
        )
        self.registry.register(ServicesCollector(services))

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(method, route).observe(seconds)

    def render(self) -> bytes:
        """The registry in Prometheus' text format (reads the services: run off the loop)."""
        return _generate_latest(self.registry)


class ServicesCollector(Collector):
    """Reads sync, gate, order, position and stream figures at scrape time.

    A source that fails is skipped (and logged): one broken reader never empties the
    whole scrape.
    """

    def __init__(self, services: Services) -> None:
        self._services = services

    def collect(self) -> Iterator[Metric]:
        for source in (self._sync, self._gate, self._orders, self._positions, self._stream):
            try:
                yield from source()
            except Exception as e:  # a scrape reports what it can
                log.warning("metrics: %s failed: %s", source.__name__.strip("_"), e)

    def _sync(self) -> Iterator[Metric]:
        services = self._services
        lag = GaugeMetricFamily(
            "qwentrade_sync_lag_seconds",
            "How far the job's stored data is behind now (seconds).",
            labels=["job"],
        )
        failures = GaugeMetricFamily(
            "qwentrade_sync_consecutive_failures",
            "Failed runs of the job since its last success.",
            labels=["job"],
        )
        if services.sync is not None:
            for job in services.sync.status():
                if job.get("lag_seconds") is not None:
                    lag.add_metric([job["job"]], job["lag_seconds"])
                failures.add_metric([job["job"]], job.get("consecutive_failures") or 0)
        elif services.status is not None and services.clock is not None:
            now = services.clock.now()
            for record in services.status.all():
                if ":" not in record.key:
                    continue
                if record.last_success_at is not None:
                    lag.add_metric([record.key], (now - record.last_success_at).total_seconds())
                failures.add_metric([record.key], record.consecutive_failures)
        else:
            return
        yield lag
        yield failures

    def _gate(self) -> Iterator[Metric]:
        if self._services.gate_state is None:
            return
        state = self._services.gate_state()
        if state is None:
            return
        families = (
            (GaugeMetricFamily, "qwentrade_gate_waiting", "Callers waiting.", state.waiting),
            (
                CounterMetricFamily,
                "qwentrade_gate_wait_seconds",
                "Summed waits.",
                state.total_wait_seconds,
            ),
            (
                GaugeMetricFamily,
                "qwentrade_gate_wait_seconds_max",
                "Longest wait.",
                state.max_wait_seconds,
            ),
            (CounterMetricFamily, "qwentrade_gate_admitted", "Admissions.", state.admitted),
            (
                CounterMetricFamily,
                "qwentrade_gate_timeouts",
                "Callers that gave up.",
                state.timed_out,
            ),
        )
        for family, name, text, values in families:
            metric = family(name, f"Permit gate, per priority: {text}", labels=["priority"])
            for priority, value in values.items():
                metric.add_metric([priority], value)
            yield metric

    def _orders(self) -> Iterator[Metric]:
        intents = self._services.intents
        if intents is None:
            return
        outcomes: Tally[str] = Tally()
        for state, count in intents.count_by_state().items():  # one GROUP BY, not every row
            outcomes[ORDER_OUTCOMES.get(state, "other")] += count
        metric = CounterMetricFamily(
            "qwentrade_orders", "Order intents by outcome.", labels=["outcome"]
        )
        for outcome in sorted(set(ORDER_OUTCOMES.values())):
            metric.add_metric([outcome], outcomes.get(outcome, 0))
        yield metric

    def _positions(self) -> Iterator[Metric]:
        relations = self._services.relations
        if relations is None:
            return
        held = Tally(r.symbol for r in relations.find(status="OPEN", limit=None))
        metric = GaugeMetricFamily(
            "qwentrade_open_positions", "Open positions per symbol.", labels=["symbol"]
        )
        for symbol in sorted(set(self._services.symbols) | set(held)):
            metric.add_metric([symbol], held.get(symbol, 0))
        yield metric

    def _stream(self) -> Iterator[Metric]:
        if self._services.stream_state is None:
            return
        state = self._services.stream_state()
        if state is None:
            return
        yield GaugeMetricFamily(
            "qwentrade_stream_connected",
            "1 while the private stream delivers events.",
            value=1 if state.connected else 0,
        )
        yield CounterMetricFamily(
            "qwentrade_stream_reconnects",
            "Private stream reconnections since start.",
            value=state.reconnects,
        )
