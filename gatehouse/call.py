"""The per-request state every stage of the flow shares (:class:`Call`)."""

from __future__ import annotations

import os
import random
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Mapping

from .auth.identity import UserAPIKeyAuth
from .endpoints import Endpoint
from .untrusted import hook_headers

if TYPE_CHECKING:  # the policy layer builds on Call; only its type is named here
    from .policy.variants import Policy
    from .pricing.served import Served

__all__ = ["Call", "Rejection", "new_call_id", "client_correlation_id"]

MAX_CALL_ID = 128


_random = random.Random(int.from_bytes(os.urandom(16), "big"))


def new_call_id() -> str:
    """A fresh UUID (version 4 layout), unique per request.

    The gateway always makes its own: the call id keys per-request accounting
    (parallel slots, token counts), so a client must not be able to choose or
    share it. Call ids identify, they do not authenticate: they come from a
    per-process generator seeded from ``os.urandom`` rather than a system call
    per request.
    """
    h = "%032x" % _random.getrandbits(128)
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) & 3]}{h[17:20]}-{h[20:]}"


def client_correlation_id(headers: Mapping[str, str]) -> str | None:
    """The client's ``x-litellm-trace-id``, else its ``x-litellm-call-id``, when sane (printable, <= 128).

    Kept as the request's trace id (``litellm_trace_id``), a correlation value
    only: it never keys accounting.
    """
    for name in ("x-litellm-trace-id", "x-litellm-call-id"):
        value = headers.get(name)
        if value and len(value) <= MAX_CALL_ID and value.isprintable():
            return value
    return None


@dataclass(slots=True)
class Call:
    """One request on its way through the gateway."""

    id: str
    endpoint: Endpoint
    route: str
    headers: Mapping[str, str]
    policy: Policy
    """The hooks that run for this caller (before authentication: none)."""
    started: float = field(default_factory=time.time)
    auth: UserAPIKeyAuth | None = None
    model: str | None = None
    stream: bool = False
    deployment_id: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    """The request as hooks see it, once prepared (empty before); hooks that return a new dict replace it."""
    response_headers: dict[str, str] = field(default_factory=dict)
    tried: list[str] = field(default_factory=list)
    """The model group of every upstream attempt, in order (fallback groups included)."""
    trace: list[tuple[str, str, str, float]] = field(default_factory=list)
    """``(stage, callback, outcome, milliseconds)`` of every hook that ran."""
    trace_id: str | None = None
    """The client's correlation id (``x-litellm-trace-id``, else ``x-litellm-call-id``), if it sent one."""
    hide_usage: bool = False
    """The gateway asked the upstream for stream usage the client did not ask for: not relayed."""
    served: "Served | None" = None
    """The deployment that answered (its provider, model, price), once known."""
    cost: float | None = None
    """The answer's cost in USD (``x-litellm-response-cost``): 0 for errors; ``None`` until known (streams: at the end)."""
    _visible_headers: dict[str, str] | None = None

    def visible_headers(self) -> dict[str, str]:
        """The inbound headers as hooks may see them: credentials masked (made once per request)."""
        if self._visible_headers is None:
            self._visible_headers = hook_headers(self.headers)
        return self._visible_headers

    @property
    def label(self) -> str:
        """How log lines name the call: its id, and the client's trace id when it sent one."""
        return self.id if self.trace_id is None else f"{self.id} trace={self.trace_id}"

    @property
    def served_model(self) -> str | None:
        """The model group that answered (a fallback group after a fallback), else the one asked for."""
        return self.tried[-1] if self.tried else self.model

    def note(self, stage: str, label: str, outcome: str, started: float) -> None:
        self.trace.append((stage, label, outcome, round((time.perf_counter() - started) * 1000, 3)))

    def trace_text(self) -> str:
        return "; ".join(f"{stage}:{label}={outcome}({ms}ms)" for stage, label, outcome, ms in self.trace)


@dataclass(frozen=True, slots=True)
class Rejection:
    """A pre-call hook answered with a message instead of letting the call go on."""

    message: str
