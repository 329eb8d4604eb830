"""The retry budget: retries caused by a deployment are at most a share of its requests in flight.

Envoy's answer to retry storms (``retry_budget``: ``budget_percent``,
``min_retry_concurrency``): when a deployment fails every request (a 429
storm, an outage), retrying each failure multiplies the load on it, or on
whatever the retries go to. Here, per deployment:

* ``active``: client requests in flight whose first attempt went to it;
* ``retrying``: retries and fallback attempts in flight (backoff included)
  caused by its failures.

A retry after a failure of the deployment is made only while ``retrying`` is
below ``max(min_concurrent, ratio × active)`` (3, and 20 %); otherwise the
client gets the failure. So under a storm at most ~20 % more requests
reach upstreams, while a few failures among sequential requests are always
retried. The budget reads no clock: it depends only on what is in flight.
"""

from __future__ import annotations

__all__ = ["RetryBudget"]


class RetryBudget:
    """Per-deployment counts of requests and retries in flight (see the module docstring)."""

    __slots__ = ("ratio", "min_concurrent", "_active", "_retrying")

    def __init__(self, *, ratio: float = 0.2, min_concurrent: int = 3) -> None:
        self.ratio = ratio
        self.min_concurrent = min_concurrent
        self._active: dict[str, int] = {}
        self._retrying: dict[str, int] = {}

    def started(self, deployment_id: str) -> None:
        """A client request's first attempt goes to this deployment."""
        self._active[deployment_id] = self._active.get(deployment_id, 0) + 1

    def finished(self, deployment_id: str) -> None:
        """That client request is over (answered or failed)."""
        _down(self._active, deployment_id)

    def acquire(self, deployment_id: str) -> bool:
        """A retry after this deployment failed may start (and is counted until :meth:`release`)."""
        retrying = self._retrying.get(deployment_id, 0)
        if retrying >= max(self.min_concurrent, self.ratio * self._active.get(deployment_id, 0)):
            return False
        self._retrying[deployment_id] = retrying + 1
        return True

    def release(self, deployment_id: str) -> None:
        """The retry granted by :meth:`acquire` is over."""
        _down(self._retrying, deployment_id)

    def in_flight(self, deployment_id: str) -> tuple[int, int]:
        """``(active requests, retries)`` of a deployment (for tests and health pages)."""
        return self._active.get(deployment_id, 0), self._retrying.get(deployment_id, 0)


def _down(counts: dict[str, int], key: str) -> None:
    left = counts.get(key, 0) - 1
    if left > 0:
        counts[key] = left
    else:
        counts.pop(key, None)
