"""The retry budget: retries caused by a deployment are at most a share of its requests.

Envoy's and gRPC's answer to retry storms: when a deployment fails every
request (a 429 storm, an outage), retrying each failure multiplies the load
on it, or on whatever the retries go to. Here each deployment has a token
bucket:

* a request whose first attempt goes to the deployment adds ``ratio``
  tokens (0.2), up to ``min_retries`` tokens (10);
* a retry or fallback attempt after a failure of the deployment costs one
  token, and is not made when there is none left: the client gets the error.

So retries are at most ``ratio`` of recent requests plus a small burst of
``min_retries``, whatever the traffic. The bucket starts full and does not
depend on the clock: an idle deployment keeps its allowance.
"""

from __future__ import annotations

__all__ = ["RetryBudget"]


class RetryBudget:
    """Per-deployment retry tokens (see the module docstring)."""

    __slots__ = ("ratio", "capacity", "_tokens")

    def __init__(self, *, ratio: float = 0.2, min_retries: int = 10) -> None:
        self.ratio = ratio
        self.capacity = float(min_retries)
        self._tokens: dict[str, float] = {}

    def requested(self, deployment_id: str) -> None:
        """A client request started on this deployment."""
        tokens = self._tokens.get(deployment_id, self.capacity)
        if tokens < self.capacity:
            self._tokens[deployment_id] = min(self.capacity, tokens + self.ratio)

    def spend(self, deployment_id: str) -> bool:
        """Take one token for a retry after this deployment failed; False when none is left."""
        tokens = self._tokens.get(deployment_id, self.capacity)
        if tokens < 1.0:
            return False
        self._tokens[deployment_id] = tokens - 1.0
        return True

    def refund(self, deployment_id: str) -> None:
        """Give back a token taken for an attempt that was not made."""
        self._tokens[deployment_id] = min(self.capacity, self._tokens.get(deployment_id, self.capacity) + 1.0)

    def tokens(self, deployment_id: str) -> float:
        return self._tokens.get(deployment_id, self.capacity)
