"""Spend tracking and key budgets, written with the public hook API.

Every answer to a virtual key is priced from the deployment that served it
(its own prices, else Gatehouse's price map: :mod:`gatehouse.pricing`) and
the token counts in its ``usage`` (cached prompt tokens at the cached price),
rerank search units and speech input characters (:func:`gatehouse.pricing.served.billable_usage`);
an answer no deployment served (a pass-through route) costs its ``response_cost``.
The amounts are added to the key's ``spend`` in the key store in batches (every ``flush_interval`` seconds and at shutdown), and a key whose
``spend`` has reached its ``max_budget`` is refused before any other hook
runs. Deployments the price map does not know and that set no price cost 0. The master key is not tracked.

Across replicas each process adds its own amounts to the shared store; a
replica sees the others' spend when its cached key record refreshes
(``general_settings.key_cache_ttl``).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Callable, Mapping

from ..auth.identity import MASTER_KEY_TOKEN
from ..auth.keys import KeyStoreError
from ..errors import GatewayError
from ..policy.custom_logger import CustomLogger
from ..pricing import Price
from ..pricing.served import billable_usage

__all__ = ["SpendTracker", "BudgetExceededError"]

log = logging.getLogger("gatehouse.plugins.spend")


class BudgetExceededError(GatewayError):
    status = 422
    type = "budget_exceeded"
    default_message = "Budget has been exceeded"


class SpendTracker(CustomLogger):
    def __init__(
        self, *, prices: Mapping[str, Price], store: Any,
        on_flush: Callable[[str], None] | None = None, flush_interval: float = 2.0,
    ) -> None:
        """``prices``: deployment id → its :class:`~gatehouse.pricing.Price`."""
        super().__init__()
        self._prices = dict(prices)
        self._store = store
        self._on_flush = on_flush
        self._interval = flush_interval
        self._pending: dict[str, float] = {}
        self._task: asyncio.Task[None] | None = None

    def should_run_for(self, user_api_key_dict: Any) -> bool:
        """Virtual keys only (the master key and open mode have no key record to charge)."""
        token = getattr(user_api_key_dict, "api_key", None)
        return bool(token) and token != MASTER_KEY_TOKEN

    def pending(self, token: str) -> float:
        """Spend of ``token`` not written to the key store yet."""
        return self._pending.get(token, 0.0)

    async def async_pre_call_hook(self, user_api_key_dict: Any, cache: Any, data: dict, call_type: str) -> None:
        """Refuse a key whose spend has reached its ``max_budget``."""
        budget = getattr(user_api_key_dict, "max_budget", None)
        if budget is None:
            return None
        token = user_api_key_dict.api_key
        spent = float(getattr(user_api_key_dict, "spend", 0.0) or 0.0) + self.pending(token)
        if spent >= budget:  # LiteLLM's wording, which clients match on
            who = getattr(user_api_key_dict, "key_alias", None) or "key"
            name = getattr(user_api_key_dict, "key_name", None)
            raise BudgetExceededError(f"Budget has been exceeded! Key={who}{f' ({name})' if name else ''} "
                                      f"Current cost: {spent}, Max budget: {budget}")
        return None

    async def async_log_success_event(self, kwargs: dict, response_obj: Any, start_time: Any, end_time: Any) -> None:
        """Price the answer and add it to the key's pending spend."""
        standard = kwargs.get("standard_logging_object") or {}
        metadata = (kwargs.get("litellm_params") or {}).get("metadata") or kwargs.get("metadata") or {}
        token = metadata.get("user_api_key_hash")
        price = self._prices.get(standard.get("model_id") or "")
        if not token:
            return
        if price is None:  # no deployment priced it: the gateway's own price (pass-through routes), if any
            cost = float(standard.get("response_cost") or 0.0)
        else:
            usage = (standard.get("metadata") or {}).get("usage_object")  # in OpenAI's terms, whatever the endpoint
            if not isinstance(usage, dict) or not usage:
                usage = billable_usage(standard.get("response"))
            if not usage:
                usage = {"prompt_tokens": standard.get("prompt_tokens", 0),
                         "completion_tokens": standard.get("completion_tokens", 0)}
            cost = price.cost(usage)
        if cost > 0:
            self._pending[token] = self._pending.get(token, 0.0) + cost

    async def flush(self) -> None:
        """Write the pending amounts to the key store (kept for the next try if it is down)."""
        if not self._pending:
            return
        amounts, self._pending = self._pending, {}
        try:
            await self._store.add_spend(amounts)
        except KeyStoreError as exc:
            log.warning("could not record spend (%d keys), will retry: %s", len(amounts), exc)
            for token, amount in amounts.items():
                self._pending[token] = self._pending.get(token, 0.0) + amount
            return
        if self._on_flush is not None:
            for token in amounts:
                self._on_flush(token)  # the next request reads the key's new spend

    async def _flusher(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            await self.flush()

    async def startup(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._flusher())

    async def shutdown(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None
        await self.flush()
