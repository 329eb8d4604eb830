"""What translating formats share: refusing (or dropping) request fields a provider cannot take.

LiteLLM's rule: an OpenAI parameter the provider cannot take is a 400
``UnsupportedParamsError`` naming it, unless ``drop_params`` is set, when it
is silently dropped. Pure functions, no I/O.
"""

from __future__ import annotations

from typing import Any, Iterable

from ..errors import BadRequestError

__all__ = ["unsupported", "check_fields", "text_of"]


def unsupported(provider: str, model: str, fields: Iterable[str]) -> BadRequestError:
    """The 400 a client gets for fields ``provider`` cannot take (as LiteLLM words it)."""
    names = sorted(set(fields))
    return BadRequestError(
        f"{provider} does not support parameters: {names}, for model={model}. To drop these, set "
        "`drop_params: true` (litellm_settings, or the deployment's litellm_params)",
        param=names[0] if names else None,
    )


def check_fields(body: dict[str, Any], known: frozenset[str], *, provider: str, model: str,
                 drop: bool) -> dict[str, Any]:
    """``body`` without the fields outside ``known``: dropped when ``drop``, else a 400 naming them."""
    extra = [name for name in body if name not in known]
    if not extra:
        return body
    if not drop:
        raise unsupported(provider, model, extra)
    return {k: v for k, v in body.items() if k in known}


def text_of(content: Any) -> str:
    """The text of an OpenAI message ``content``: the string, or its text parts joined."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(str(p.get("text") or "") for p in content
                       if isinstance(p, dict) and p.get("type") in ("text", "input_text"))
    return ""
