"""The per-request state every stage of the flow shares (:class:`Call`)."""

from __future__ import annotations

import os
import random
import time
from dataclasses import dataclass, field
from typing import Any, Mapping

from .auth.identity import UserAPIKeyAuth
from .endpoints import Endpoint

__all__ = ["Call", "Rejection", "new_call_id"]

MAX_CALL_ID = 128


_random = random.Random(int.from_bytes(os.urandom(16), "big"))


def new_call_id(inbound: str | None) -> str:
    """The client's ``x-litellm-call-id`` when sane, else a fresh UUID (version 4 layout).

    Call ids identify, they do not authenticate: they come from a per-process
    generator seeded from ``os.urandom`` rather than a system call per request.
    """
    if inbound and len(inbound) <= MAX_CALL_ID and inbound.isprintable():
        return inbound
    h = "%032x" % _random.getrandbits(128)
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) & 3]}{h[17:20]}-{h[20:]}"


@dataclass(slots=True)
class Call:
    """One request on its way through the gateway."""

    id: str
    endpoint: Endpoint
    route: str
    headers: Mapping[str, str]
    started: float = field(default_factory=time.time)
    auth: UserAPIKeyAuth | None = None
    model: str | None = None
    stream: bool = False
    deployment_id: str | None = None
    data: dict[str, Any] | None = None
    """The request as hooks see it, once prepared."""
    policy: Any = None
    """The :class:`gatehouse.policy.variants.Policy` chosen for this caller."""
    response_headers: dict[str, str] = field(default_factory=dict)
    tried: list[str] = field(default_factory=list)
    """The model group of every upstream attempt, in order (fallback groups included)."""
    trace: list[tuple[str, str, str, float]] = field(default_factory=list)
    """``(stage, callback, outcome, milliseconds)`` of every hook that ran."""

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
