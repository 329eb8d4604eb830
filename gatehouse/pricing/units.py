"""What an answer is billed by: its token usage, plus the units some endpoints are priced in.

:func:`billable_usage` reads one answer (as logging hooks receive it) and the
request, and returns OpenAI-style usage that :meth:`Price.cost` prices:

    key               from
    prompt_tokens …   the answer's ``usage`` (OpenAI shape)
    search_units      rerank: ``meta.billed_units.search_units`` (Cohere)
    prompt_tokens     rerank: ``meta.billed_units.input_tokens`` when there is no ``usage``
    characters        speech: the length of the request's ``input`` text
"""

from __future__ import annotations

from typing import Any, Mapping

__all__ = ["billable_usage"]


def billable_usage(call_type: str | None, response: Any, request: Mapping[str, Any]) -> dict[str, Any]:
    """The usage to price for one answer of ``call_type`` (empty when nothing is known)."""
    found = response.get("usage") if isinstance(response, dict) else None
    out: dict[str, Any] = dict(found) if isinstance(found, dict) else {}
    meta = response.get("meta") if isinstance(response, dict) else None
    billed = meta.get("billed_units") if isinstance(meta, dict) else None
    if isinstance(billed, dict):
        if _whole(billed.get("search_units")):
            out["search_units"] = _whole(billed["search_units"])
        if _whole(billed.get("input_tokens")) and not out.get("prompt_tokens"):
            out["prompt_tokens"] = _whole(billed["input_tokens"])
    spoken = request.get("input")
    if call_type == "speech" and isinstance(spoken, str):
        out["characters"] = len(spoken)
    return out


def _whole(value: Any) -> int:
    if isinstance(value, bool):
        return 0
    if isinstance(value, (int, float)) and value > 0:
        return int(value)
    return 0
