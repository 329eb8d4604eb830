"""Which callbacks run for a caller: the policy variants of one gateway.

A callback may define ``should_run_for(self, user_api_key_dict) -> bool``.
When it returns ``False`` for the authenticated caller, none of that
callback's hooks run for the request (the built-in rate limiter uses this
for keys without limits). The predicate is called once per request, after
authentication; the resulting variant of the pipeline is built once and
cached, so a request whose callbacks all opt out takes the no-hooks path.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Callable, Sequence

from ..background import Background
from ..metrics import Metrics
from .logging_hooks import LoggingHooks
from .pipeline import Pipeline

__all__ = ["Policy", "PolicySet"]

log = logging.getLogger("gatehouse.policy")


@dataclass(frozen=True, slots=True)
class Policy:
    """The hooks that run for one kind of caller."""

    pipeline: Pipeline
    logging: LoggingHooks
    decorate: bool
    """Whether ``data`` gets LiteLLM's additions (metadata, call id, ...) for hooks."""


class PolicySet:
    def __init__(
        self, callbacks: Sequence[tuple[str, object]], *, cache: Any, hook_timeout: float, metrics: Metrics,
        background: Background, always_decorate: bool = False,
    ) -> None:
        self.callbacks = tuple(callbacks)
        self._build_args = dict(cache=cache, hook_timeout=hook_timeout, metrics=metrics)
        self._background = background
        self._always_decorate = always_decorate
        self._scoped: list[tuple[int, str, Callable[[Any], bool]]] = [
            (i, label, obj.should_run_for)  # type: ignore[attr-defined]
            for i, (label, obj) in enumerate(self.callbacks) if callable(getattr(obj, "should_run_for", None))
        ]
        self.full = self._build(frozenset())
        self.unauthenticated = self._build(frozenset(range(len(self.callbacks))))
        """No hooks at all: what runs for a request until its caller is known."""
        self._variants: dict[frozenset[int], Policy] = {frozenset(): self.full}

    def _build(self, skipped: frozenset[int]) -> Policy:
        callbacks = [cb for i, cb in enumerate(self.callbacks) if i not in skipped]
        pipeline = Pipeline(callbacks, **self._build_args)  # type: ignore[arg-type]
        logging_hooks = LoggingHooks(callbacks, background=self._background)
        decorate = pipeline.has_request_hooks or logging_hooks.active or self._always_decorate
        return Policy(pipeline, logging_hooks, decorate)

    def select(self, identity: Any) -> Policy:
        """The variant for this caller (the full one unless a callback opts out)."""
        if not self._scoped:
            return self.full
        skipped = frozenset(i for i, label, applies in self._scoped if not self._applies(label, applies, identity))
        variant = self._variants.get(skipped)
        if variant is None:
            variant = self._variants[skipped] = self._build(skipped)
        return variant

    @staticmethod
    def _applies(label: str, applies: Callable[[Any], bool], identity: Any) -> bool:
        try:
            return bool(applies(identity))
        except Exception as exc:  # a broken predicate must not switch a policy off
            log.warning("%s.should_run_for raised %s: %s; running its hooks", label, type(exc).__name__, exc)
            return True
