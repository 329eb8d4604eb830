"""What the gateway knows about the deployment that answered a request, and what the answer cost.

:class:`Served` is built once per deployment (:func:`served_table`); the flow
attaches the one that answered to the request (``Call.served``) and prices the
answer with :func:`answer_cost`. Logging hooks read both through the
``standard_logging_object`` (``response_cost``, ``custom_llm_provider``,
``api_base``, ``hidden_params``), as in LiteLLM.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Mapping

from .prices import Price, PriceMap

__all__ = ["Served", "served_table", "answer_cost", "billable_usage", "cost_text", "openai_usage"]


@dataclass(frozen=True, slots=True)
class Served:
    """One deployment, as logs and spend reports name it."""

    id: str
    model_group: str
    provider: str
    model: str
    """The upstream model (``gpt-4o`` for ``openai/gpt-4o``): LiteLLM's spend-log ``model``."""
    api_base: str | None
    price: Price


def served_table(deployments: Iterable[Any], prices: PriceMap | Mapping[str, Price]) -> dict[str, Served]:
    """Deployment id → :class:`Served`; ``prices`` is a price map or deployment id → price."""
    out: dict[str, Served] = {}
    for d in deployments:
        price = prices.for_deployment(d) if isinstance(prices, PriceMap) else prices.get(d.id, Price())
        out[d.id] = Served(d.id, d.model_name, d.provider, d.upstream_model, d.api_base, price)
    return out


def answer_cost(served: Served | None, response: Any) -> float:
    """USD for an answer: its billable usage at the deployment's price (0 without a deployment: a cache hit)."""
    if served is None or not isinstance(response, dict):
        return 0.0
    usage = billable_usage(response)
    return served.price.cost(usage) if usage else 0.0


def billable_usage(response: Any) -> dict[str, Any]:
    """What an answer is billed by, as :meth:`Price.cost` reads it (empty when nothing is known)::

        prompt_tokens …   the answer's ``usage`` (OpenAI's shape, or Anthropic's / Responses', converted)
        characters        speech: in its ``usage`` (the input's length)
        search_units      rerank: ``meta.billed_units.search_units`` (Cohere)
        prompt_tokens     rerank: ``meta.billed_units.input_tokens`` when there is no ``usage``
    """
    if not isinstance(response, dict):
        return {}
    found = response.get("usage")
    out: dict[str, Any] = dict(openai_usage(found)) if isinstance(found, dict) else {}
    meta = response.get("meta")
    billed = meta.get("billed_units") if isinstance(meta, dict) else None
    if isinstance(billed, dict):
        units = _count(billed.get("search_units"))
        if units:
            out["search_units"] = units
        if _count(billed.get("input_tokens")) and not out.get("prompt_tokens"):
            out["prompt_tokens"] = _count(billed["input_tokens"])
    return out


def openai_usage(usage: dict[str, Any]) -> dict[str, Any]:
    """``usage`` in OpenAI's chat shape, also from an answer in Anthropic's Messages shape (``input_tokens``
    without the cache reads and writes) or OpenAI's Responses shape (``input_tokens`` with cached ones)."""
    if "prompt_tokens" in usage or "input_tokens" not in usage:
        return usage
    given, completion = _count(usage.get("input_tokens")), _count(usage.get("output_tokens"))
    details = usage.get("input_tokens_details")
    if isinstance(details, dict):  # Responses: cached tokens are part of input_tokens
        return {"prompt_tokens": given, "completion_tokens": completion, "total_tokens": given + completion,
                "prompt_tokens_details": {"cached_tokens": _count(details.get("cached_tokens"))}}
    read, written = _count(usage.get("cache_read_input_tokens")), _count(usage.get("cache_creation_input_tokens"))
    prompt = given + read + written
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion,
            "prompt_tokens_details": {"cached_tokens": read}, "cache_creation_input_tokens": written}


def _count(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def cost_text(cost: float) -> str:
    """The ``x-litellm-response-cost`` value: Python's ``str`` of the float, as LiteLLM sends it."""
    return str(float(cost))
