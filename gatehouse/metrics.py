"""Prometheus metrics of one gateway process (served at ``/metrics``)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

__all__ = ["Metrics"]


class Metrics:
    """Counters and histograms, on a registry of their own (no globals)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "gatehouse_requests", "Requests answered", ["endpoint", "status"], registry=self.registry
        )
        self.upstream_errors = Counter(
            "gatehouse_upstream_errors", "Failed upstream attempts", ["model_group", "status"], registry=self.registry
        )
        self.guardrail_calls = Counter(
            "gatehouse_guardrail_calls", "Guardrail checks by outcome", ["guardrail", "mode", "status"], registry=self.registry
        )
        self.guardrail_fail_open = Counter(
            "gatehouse_guardrail_fail_open",
            "Guardrail checks that failed and let the request pass (fail-open)",
            ["guardrail", "reason"],
            registry=self.registry,
        )
        self.guardrail_latency = Histogram(
            "gatehouse_guardrail_latency_seconds", "Guardrail check latency", ["guardrail", "mode"], registry=self.registry
        )
        self.hook_errors = Counter(
            "gatehouse_hook_errors", "Hooks that raised or misbehaved", ["hook", "callback"], registry=self.registry
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)
