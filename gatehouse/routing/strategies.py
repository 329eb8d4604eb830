"""Routing strategies: which one of the eligible deployments serves a try.

A strategy is given the candidates (already filtered by tags and cooldown,
never empty, all of one model group) and returns one. Everything that does not
depend on the request is computed at construction.

* ``simple-shuffle`` (default): a random pick, weighted like LiteLLM: by
  ``weight`` if a deployment of the group sets it, else by ``rpm``, else by
  ``tpm``; deployments of a weighted group that lack the value weigh 0 (they
  serve only when nothing else is eligible). Unweighted groups: uniform.
* ``least-busy``: the deployment with the fewest requests in flight through
  this router (random among ties). The router calls :meth:`started` before a
  try and :meth:`finished` after it, when ``tracks_in_flight`` is true.
"""

from __future__ import annotations

import random
from typing import Protocol, Sequence

from .deployment import Deployment

__all__ = ["Strategy", "SimpleShuffle", "LeastBusy", "make_strategy", "shuffle_weights"]


class Strategy(Protocol):
    tracks_in_flight: bool

    def pick(self, candidates: Sequence[Deployment]) -> Deployment:
        """One of ``candidates`` (non-empty)."""

    def started(self, deployment: Deployment) -> None:
        """A try on ``deployment`` begins (only called when ``tracks_in_flight``)."""

    def finished(self, deployment: Deployment) -> None:
        """That try ended, however it ended."""


def shuffle_weights(deployments: Sequence[Deployment]) -> dict[str, float]:
    """Deployment id → weight, for the deployments of weighted groups only."""
    groups: dict[str, list[Deployment]] = {}
    for deployment in deployments:
        groups.setdefault(deployment.model_name, []).append(deployment)
    weights: dict[str, float] = {}
    for members in groups.values():
        basis = next((b for b in ("weight", "rpm", "tpm") if any(getattr(d, b) is not None for d in members)), None)
        if basis is not None:
            for d in members:
                weights[d.id] = float(getattr(d, basis) or 0)
    return weights


class SimpleShuffle:
    """Weighted random choice (LiteLLM's default ``simple-shuffle``)."""

    tracks_in_flight = False

    def __init__(self, deployments: Sequence[Deployment], rng: random.Random) -> None:
        self._rng = rng
        self._weights = shuffle_weights(deployments)

    def pick(self, candidates: Sequence[Deployment]) -> Deployment:
        if len(candidates) == 1:
            return candidates[0]
        weights = self._weights
        if candidates[0].id not in weights:
            return self._rng.choice(candidates)
        chosen = [weights[d.id] for d in candidates]
        if sum(chosen) <= 0:
            return self._rng.choice(candidates)
        return self._rng.choices(candidates, weights=chosen)[0]

    def started(self, deployment: Deployment) -> None:
        pass

    def finished(self, deployment: Deployment) -> None:
        pass


class LeastBusy:
    """Fewest in-flight requests wins; ties are broken at random."""

    tracks_in_flight = True

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self._in_flight: dict[str, int] = {}

    def in_flight(self, deployment: Deployment) -> int:
        return self._in_flight.get(deployment.id, 0)

    def pick(self, candidates: Sequence[Deployment]) -> Deployment:
        if len(candidates) == 1:
            return candidates[0]
        counts = self._in_flight
        least = min(counts.get(d.id, 0) for d in candidates)
        idle = [d for d in candidates if counts.get(d.id, 0) == least]
        return idle[0] if len(idle) == 1 else self._rng.choice(idle)

    def started(self, deployment: Deployment) -> None:
        self._in_flight[deployment.id] = self._in_flight.get(deployment.id, 0) + 1

    def finished(self, deployment: Deployment) -> None:
        left = self._in_flight.get(deployment.id, 0) - 1
        if left > 0:
            self._in_flight[deployment.id] = left
        else:
            self._in_flight.pop(deployment.id, None)


def make_strategy(name: str, deployments: Sequence[Deployment], rng: random.Random) -> Strategy:
    """The strategy for a ``RouterSettings.routing_strategy`` value (already validated)."""
    if name == "least-busy":
        return LeastBusy(rng)
    if name == "simple-shuffle":
        return SimpleShuffle(deployments, rng)
    raise ValueError(f"unknown routing strategy '{name}'")
