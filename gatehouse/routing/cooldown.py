"""Cooldown: keep failing deployments out of selection for a while.

A deployment that fails more than ``allowed_fails`` times within
``window`` seconds is cooled down for ``cooldown_time`` seconds: selection
skips it unless every candidate is cooling down, in which case all candidates
stay eligible (a request is never refused because of cooldowns). Entering a
cooldown forgets the failures counted so far, so a recovered deployment starts
afresh. State is per gateway process (LiteLLM can share it through Redis;
Gatehouse does not).
"""

from __future__ import annotations

from collections import deque
from typing import Callable, Sequence, TypeVar

from .deployment import Deployment

__all__ = ["Cooldown"]

D = TypeVar("D", bound=Deployment)


class Cooldown:
    """Failure counting and cooldown per deployment id, on an injectable clock."""

    __slots__ = ("_allowed", "_time", "_window", "_clock", "_enabled", "_fails", "_until")

    def __init__(
        self,
        *,
        allowed_fails: int,
        cooldown_time: float,
        clock: Callable[[], float],
        window: float = 60.0,
        enabled: bool = True,
    ) -> None:
        self._allowed = allowed_fails
        self._time = cooldown_time
        self._window = window
        self._clock = clock
        self._enabled = enabled and cooldown_time > 0
        self._fails: dict[str, deque[float]] = {}
        self._until: dict[str, float] = {}

    def record_failure(self, deployment_id: str) -> bool:
        """Count one failure; True when it puts the deployment in cooldown."""
        if not self._enabled:
            return False
        now = self._clock()
        fails = self._fails.get(deployment_id)
        if fails is None:
            fails = self._fails[deployment_id] = deque()
        fails.append(now)
        while fails and fails[0] <= now - self._window:
            fails.popleft()
        if len(fails) <= self._allowed:
            return False
        del self._fails[deployment_id]
        self._until[deployment_id] = now + self._time
        return True

    def cooling(self, deployment_id: str) -> bool:
        """Whether the deployment is cooling down now."""
        until = self._until.get(deployment_id)
        return until is not None and until > self._clock()

    def available(self, candidates: Sequence[D]) -> Sequence[D]:
        """``candidates`` without those cooling down; all of them if every one is cooling."""
        if not self._until:
            return candidates
        now = self._clock()
        for deployment_id, until in list(self._until.items()):
            if until <= now:
                del self._until[deployment_id]
        if not self._until:
            return candidates
        cooling = self._until
        warm = [d for d in candidates if d.id not in cooling]
        return warm if warm else candidates
