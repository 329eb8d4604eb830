"""An OpenAI chat request → an Anthropic Messages API request.

:func:`to_anthropic_request` builds the native body only from fields it knows
(see ``docs/providers/anthropic.md`` for the table). A field Anthropic cannot
take raises :class:`UnsupportedParamsError` (400, naming the fields), or is
dropped when ``drop_params`` is set — LiteLLM's setting and message.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Mapping

from ...errors import BadRequestError
from .content import convert_messages
from .models import DEFAULT_MAX_TOKENS, ModelTraits, model_traits

__all__ = ["AnthropicRequest", "to_anthropic_request", "UnsupportedParamsError", "JSON_TOOL_NAME",
           "THINKING_BUDGETS", "NATIVE", "is_request_field"]

#: The forced tool that carries ``response_format`` answers (LiteLLM's name).
JSON_TOOL_NAME = "json_tool_call"
#: ``reasoning_effort`` → ``thinking.budget_tokens`` (LiteLLM's budgets; Anthropic's minimum is 1024).
THINKING_BUDGETS = {"minimal": 1024, "low": 1024, "medium": 2048, "high": 4096, "xhigh": 8192, "max": 16384}
_ADAPTIVE_EFFORT = {"minimal": "low", "low": "low", "medium": "medium", "high": "high", "xhigh": "xhigh", "max": "max"}
_DUMMY_TOOL = {"name": "dummy_tool", "description": "Placeholder so that the tool calls in the history are accepted; "
               "never call it.", "input_schema": {"type": "object", "properties": {}}}
_SEARCH_USES = {"low": 1, "medium": 5, "high": 10}
_PRIVATE_USER = re.compile(r"^[^@\s]+@[^@\s]+$|^\+?[\d\s().-]{7,}$")

#: Fields translated below.
_TRANSLATED = frozenset({
    "model", "messages", "max_tokens", "max_completion_tokens", "temperature", "top_p", "stop", "stream",
    "tools", "tool_choice", "parallel_tool_calls", "user", "response_format", "reasoning_effort", "thinking",
    "web_search_options",
})
#: Anthropic-only fields a client may send (``extra_body``): passed as given.
NATIVE = frozenset({"top_k", "container", "mcp_servers", "context_management", "inference_geo", "speed",
                    "cache_control", "output_config"})
#: Read by the provider, or request options of LiteLLM's: never part of the native body.
_NOT_BODY = frozenset({"stream_options", "extra_headers", "drop_params", "additional_drop_params",
                       "allowed_openai_params", "timeout", "num_retries", "fallbacks", "context_window_fallbacks"})


class UnsupportedParamsError(BadRequestError):
    """Request fields the provider cannot take (400), unless ``drop_params`` drops them."""

    def __init__(self, provider: str, names: list[str], model: str) -> None:
        super().__init__(
            f"{provider} does not support parameters: {names}, for model={model}. To drop these, set "
            "drop_params: true in litellm_settings (or in the deployment's litellm_params)",
            param=names[0] if names else None)
        self.names = names


@dataclass(slots=True)
class AnthropicRequest:
    """The Messages API body, and what answering it needs to remember."""

    body: dict[str, Any]
    json_tool: bool = False
    """``response_format`` is answered through the ``json_tool_call`` tool: its input is the text."""
    betas: list[str] = field(default_factory=list)
    """``anthropic-beta`` values the body needs."""


def to_anthropic_request(
    body: Mapping[str, Any], *, model: str | None = None, traits: ModelTraits | None = None,
    drop_params: bool = False, provider: str = "anthropic",
) -> AnthropicRequest:
    """Translate an OpenAI chat body. ``model``: the upstream model (default ``body["model"]``);
    ``traits``: what the model accepts (default: looked up by name); ``provider`` names the
    provider in errors. ``body`` is not modified."""
    name = str(model or body.get("model") or "")
    traits = traits or model_traits(name)
    drop = drop_params or body.get("drop_params") is True
    extra = body.get("additional_drop_params")
    if isinstance(extra, list) and extra:
        body = {k: v for k, v in body.items() if k not in extra}
    _check_fields(body, provider, name, drop)
    conversation = convert_messages(body.get("messages"))
    out: dict[str, Any] = {"model": name}
    if conversation.system:
        out["system"] = conversation.system
    out["messages"] = conversation.turns
    request = AnthropicRequest(out, betas=conversation.betas)
    _sampling(body, out)
    _tools(body, out, traits, conversation.uses_tools)
    _user(body, out)
    _thinking(body, out, traits)
    out["max_tokens"] = _max_tokens(body, out, traits)
    _response_format(body, out, traits, request)
    for key in NATIVE:
        if body.get(key) is not None:
            mine = out.get(key)
            out[key] = {**body[key], **mine} if isinstance(mine, dict) and isinstance(body[key], dict) else body[key]
    for key in body.get("allowed_openai_params") or ():
        if isinstance(key, str) and key in body and key not in out:
            out[key] = body[key]
    if body.get("stream") is True:
        out["stream"] = True
    return request


def _check_fields(body: Mapping[str, Any], provider: str, model: str, drop: bool) -> None:
    allowed = body.get("allowed_openai_params") or ()
    unsupported = [key for key, value in body.items()
                   if value is not None and key not in allowed and not _accepted(key, value)]
    if unsupported and not drop:
        raise UnsupportedParamsError(provider, unsupported, model)


def is_request_field(key: str) -> bool:
    """Whether :func:`to_anthropic_request` reads ``key`` (for some value)."""
    return key in _TRANSLATED or key in NATIVE or key in _NOT_BODY or key in ("n", "logprobs", "store", "service_tier")


def _accepted(key: str, value: Any) -> bool:
    if key in _TRANSLATED or key in NATIVE or key in _NOT_BODY:
        return True
    if key == "n":
        return value == 1
    if key in ("logprobs", "store"):
        return value is False
    return key == "service_tier" and value in ("auto", "standard_only")


def _sampling(body: Mapping[str, Any], out: dict[str, Any]) -> None:
    for key in ("temperature", "top_p"):
        if body.get(key) is not None:
            out[key] = body[key]
    stop = body.get("stop")
    if isinstance(stop, str):
        out["stop_sequences"] = [stop]
    elif isinstance(stop, list) and all(isinstance(s, str) for s in stop):
        if stop:
            out["stop_sequences"] = stop
    elif stop is not None:
        raise BadRequestError("stop must be a string or a list of strings", param="stop")
    if body.get("service_tier") in ("auto", "standard_only"):
        out["service_tier"] = body["service_tier"]


def _max_tokens(body: Mapping[str, Any], out: dict[str, Any], traits: ModelTraits) -> int:
    value = body.get("max_completion_tokens", body.get("max_tokens"))
    if value is None:
        value = traits.max_output_tokens
        budget = (out.get("thinking") or {}).get("budget_tokens")
        if isinstance(budget, int) and value <= budget:
            value = budget + DEFAULT_MAX_TOKENS
        return int(value)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise BadRequestError("max_tokens must be a number", param="max_tokens")
    return max(1, round(value))


def _user(body: Mapping[str, Any], out: dict[str, Any]) -> None:
    user = body.get("user")
    if isinstance(user, str) and user and not _PRIVATE_USER.match(user):
        out["metadata"] = {"user_id": user}


def _tools(body: Mapping[str, Any], out: dict[str, Any], traits: ModelTraits, in_history: bool) -> None:
    tools = body.get("tools")
    if tools is not None and not isinstance(tools, list):
        raise BadRequestError("tools must be a list", param="tools")
    native = [_tool(tool, i, traits) for i, tool in enumerate(tools or [])]
    search = body.get("web_search_options")
    if isinstance(search, dict):
        native.append(_web_search(search))
    if native:
        out["tools"] = native
        choice = _tool_choice(body.get("tool_choice"))
        if body.get("parallel_tool_calls") is False:
            choice = choice or {"type": "auto"}
            if choice["type"] != "none":
                choice["disable_parallel_tool_use"] = True
        if choice is not None:
            out["tool_choice"] = choice
    elif in_history:
        out["tools"] = [dict(_DUMMY_TOOL)]


def _tool(tool: Any, i: int, traits: ModelTraits) -> dict[str, Any]:
    where = f"tools[{i}]"
    if not isinstance(tool, dict):
        raise BadRequestError(f"{where} must be an object", param=where)
    if tool.get("type") != "function":
        return tool  # Anthropic's own tool definitions (web_search_…, bash_…, ...) pass as given
    function = tool.get("function")
    if not isinstance(function, dict) or not isinstance(function.get("name"), str):
        raise BadRequestError(f"{where}.function.name is required", param=f"{where}.function.name")
    native: dict[str, Any] = {"name": function["name"],
                              "input_schema": function.get("parameters") or {"type": "object", "properties": {}}}
    if function.get("description"):
        native["description"] = function["description"]
    if function.get("strict") is True and traits.structured_outputs:
        native["strict"] = True
    control = tool.get("cache_control") or function.get("cache_control")
    if control:
        native["cache_control"] = control
    return native


def _web_search(options: dict[str, Any]) -> dict[str, Any]:
    tool: dict[str, Any] = {"type": "web_search_20250305", "name": "web_search",
                            "max_uses": _SEARCH_USES.get(options.get("search_context_size") or "medium", 5)}
    location = options.get("user_location")
    approximate = location.get("approximate") if isinstance(location, dict) else None
    if isinstance(approximate, dict):
        tool["user_location"] = {"type": "approximate", **approximate}
    return tool


def _tool_choice(choice: Any) -> dict[str, Any] | None:
    if choice is None:
        return None
    simple = {"auto": "auto", "required": "any", "any": "any", "none": "none"}
    if isinstance(choice, str) and choice in simple:
        return {"type": simple[choice]}
    if isinstance(choice, dict):
        function = choice.get("function")
        if choice.get("type") == "function" and isinstance(function, dict) and isinstance(function.get("name"), str):
            return {"type": "tool", "name": function["name"]}
        if choice.get("type") in ("auto", "any", "tool", "none"):
            return dict(choice)  # already Anthropic's shape
    raise BadRequestError("tool_choice must be auto, required, none or {type: function, function: {name}}",
                          param="tool_choice")


def _thinking(body: Mapping[str, Any], out: dict[str, Any], traits: ModelTraits) -> None:
    thinking = body.get("thinking")
    if thinking is not None:
        if not isinstance(thinking, dict):
            raise BadRequestError("thinking must be an object", param="thinking")
        out["thinking"] = thinking
        return
    effort = body.get("reasoning_effort")
    if effort is None or effort == "none":
        return
    if effort not in THINKING_BUDGETS:
        raise BadRequestError(f"reasoning_effort must be one of none, {', '.join(THINKING_BUDGETS)}",
                              param="reasoning_effort")
    if traits.adaptive_thinking:
        out["thinking"] = {"type": "adaptive"}
        out["output_config"] = {**out.get("output_config", {}), "effort": _ADAPTIVE_EFFORT[effort]}
    else:
        out["thinking"] = {"type": "enabled", "budget_tokens": THINKING_BUDGETS[effort]}


def _response_format(body: Mapping[str, Any], out: dict[str, Any], traits: ModelTraits,
                     request: AnthropicRequest) -> None:
    fmt = body.get("response_format")
    if fmt is None:
        return
    kind = fmt.get("type") if isinstance(fmt, dict) else None
    if kind == "text":
        return
    if kind == "json_object":
        schema: dict[str, Any] = {"type": "object"}
    elif kind == "json_schema" and isinstance(fmt.get("json_schema"), dict):
        spec = fmt["json_schema"]
        schema = spec.get("schema") if isinstance(spec.get("schema"), dict) else {"type": "object"}
        if spec.get("strict") is True and traits.structured_outputs:
            out["output_config"] = {**out.get("output_config", {}),
                                    "format": {"type": "json_schema", "schema": schema}}
            return
    else:
        raise BadRequestError("response_format must be {type: text | json_object | json_schema, ...}",
                              param="response_format")
    tool = {"name": JSON_TOOL_NAME, "description": "Answer with a JSON object that matches this schema.",
            "input_schema": schema}
    had_tools = [t for t in out.get("tools", []) if t.get("name") != _DUMMY_TOOL["name"]]
    out["tools"] = [*had_tools, tool]
    if not had_tools and not _thinks(out):
        out["tool_choice"] = {"type": "tool", "name": JSON_TOOL_NAME}
    request.json_tool = True


def _thinks(out: dict[str, Any]) -> bool:
    """Anthropic refuses a forced tool while thinking is on."""
    return (out.get("thinking") or {}).get("type") in ("enabled", "adaptive")
