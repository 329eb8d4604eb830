"""OpenAI chat request → Gemini ``generateContent`` request (AI Studio and Vertex AI alike).

Pure translation, no I/O: a media URL the provider has to download first is
listed by :func:`media_urls` and handed back, fetched, in ``fetched``.

=====================================  ============================================================
OpenAI                                 Gemini
=====================================  ============================================================
``system`` / ``developer`` messages    ``systemInstruction.parts[].text`` (all of them, in order)
``user`` / ``assistant``               ``contents[].role`` ``user`` / ``model`` (consecutive turns merged)
text / ``image_url`` / ``input_audio``  ``text`` / ``inlineData`` (data URIs, fetched URLs) or
/ ``file`` parts                       ``fileData`` (``gs://``, Files API URIs, Vertex media URLs)
assistant ``tool_calls``               ``functionCall`` parts (``thoughtSignature`` from the call id)
``tool`` messages                      ``functionResponse`` parts in one ``user`` turn
``tools`` / ``functions``              ``tools[0].functionDeclarations`` (schema cleaned for Gemini)
``tool_choice``                        ``toolConfig.functionCallingConfig`` (AUTO / ANY / NONE / names)
``max_completion_tokens``/``max_tokens``  ``generationConfig.maxOutputTokens`` (no default: Gemini needs none)
``temperature`` ``top_p`` ``top_k``     ``temperature`` ``topP`` ``topK``
``stop`` ``n`` ``seed``                 ``stopSequences`` ``candidateCount`` ``seed``
penalties, ``logprobs``/``top_logprobs``  ``presencePenalty`` ``frequencyPenalty`` ``responseLogprobs``/``logprobs``
``response_format``                    ``responseMimeType`` + ``responseJsonSchema`` (``responseSchema`` for 1.x)
``reasoning_effort`` / ``thinking``     ``thinkingConfig`` (budget, or level for Gemini 3)
=====================================  ============================================================
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping

from ..errors import BadRequestError
from .gemini_contents import THOUGHT_SEPARATOR, Blob, Messages, media_type, media_urls, split_call_id
from .gemini_schema import openapi_schema, strip_strict

__all__ = ["Blob", "chat_request", "media_urls", "media_type", "unsupported_error", "THOUGHT_SEPARATOR",
           "split_call_id"]

_GENERATION = {
    "temperature": "temperature", "top_p": "topP", "top_k": "topK", "seed": "seed", "n": "candidateCount",
    "presence_penalty": "presencePenalty", "frequency_penalty": "frequencyPenalty",
    "logprobs": "responseLogprobs", "top_logprobs": "logprobs",
}
_HANDLED = frozenset({
    *_GENERATION, "model", "messages", "stream", "stream_options", "max_tokens", "max_completion_tokens", "stop",
    "response_format", "tools", "tool_choice", "functions", "function_call", "parallel_tool_calls",
    "reasoning_effort", "thinking", "safety_settings", "cached_content", "user", "drop_params",
    "additional_drop_params",
})
#: Budgets LiteLLM sends for ``reasoning_effort`` (Gemini 2.x); Gemini 3 takes a level instead.
_BUDGETS = {"minimal": 128, "low": 1024, "medium": 2048, "high": 4096, "disable": 0, "none": 0}
_LEVELS = {"minimal": "low", "low": "low", "medium": "high", "high": "high", "disable": "low", "none": "low"}


def unsupported_error(provider: str, names: Iterable[str]) -> BadRequestError:
    listed = sorted(set(names))
    return BadRequestError(
        f"{provider} does not support parameters: {listed}. To drop them, set drop_params: true "
        "(litellm_settings or the deployment's litellm_params) or send drop_params: true in the request",
        param=listed[0] if listed else None,
    )


def chat_request(
    body: Mapping[str, Any], *, model: str, provider: str, fetched: Mapping[str, Blob],
    drop_params: bool = False, ignored: Iterable[str] = (),
) -> dict[str, Any]:
    """The Gemini request for OpenAI ``body``.

    ``ignored``: keys that came from the deployment's config rather than the
    client (read by the provider, never sent). A client field Gemini cannot take
    raises a 400 naming it, unless ``drop_params`` (then it is left out).
    """
    return _Translation(body, model, provider, fetched, drop_params, frozenset(ignored)).run()


class _Translation:
    def __init__(self, body: Mapping[str, Any], model: str, provider: str, fetched: Mapping[str, Blob],
                 drop: bool, ignored: frozenset[str]) -> None:
        self.body, self.model, self.provider, self.fetched = body, model, provider, fetched
        self.drop = drop or body.get("drop_params") is True
        extra = body.get("additional_drop_params")
        self.dropped = frozenset(extra if isinstance(extra, list) else ())
        self.ignored = ignored
        self.refused: list[str] = []

    def refuse(self, name: str) -> None:
        if not self.drop:
            self.refused.append(name)

    def run(self) -> dict[str, Any]:
        body = {k: v for k, v in self.body.items() if v is not None and k not in self.dropped}
        for name in body:
            if name not in _HANDLED and name not in self.ignored:
                self.refuse(name)
        out: dict[str, Any] = {}
        system, contents = Messages(self, body.get("messages") or []).convert()
        out["contents"] = contents
        if system:
            out["systemInstruction"] = {"parts": system}
        tools = self.tools(body)
        if tools:
            out["tools"] = tools
        tool_config = self.tool_config(body)
        if tool_config:
            out["toolConfig"] = tool_config
        config = self.generation_config(body)
        if config:
            out["generationConfig"] = config
        if "safety_settings" in body:
            out["safetySettings"] = body["safety_settings"]
        if "cached_content" in body:
            out["cachedContent"] = body["cached_content"]
        if self.refused:
            raise unsupported_error(self.provider, self.refused)
        return out

    # -- generationConfig ------------------------------------------------------------
    def generation_config(self, body: Mapping[str, Any]) -> dict[str, Any]:
        config = {native: body[name] for name, native in _GENERATION.items() if name in body}
        tokens = body.get("max_completion_tokens", body.get("max_tokens"))
        if tokens is not None:
            config["maxOutputTokens"] = tokens
        stop = body.get("stop")
        if stop is not None:
            config["stopSequences"] = [stop] if isinstance(stop, str) else list(stop)
        if "response_format" in body:
            self.response_format(body["response_format"], config)
        thinking = self.thinking(body)
        if thinking:
            config["thinkingConfig"] = thinking
        return config

    def response_format(self, value: Any, config: dict[str, Any]) -> None:
        kind = value.get("type") if isinstance(value, Mapping) else None
        if kind == "text":
            return
        if kind == "json_object":
            config["responseMimeType"] = "application/json"
            return
        schema = (value.get("json_schema") or {}).get("schema") if kind == "json_schema" else None
        if kind != "json_schema" or not isinstance(schema, Mapping):
            self.refuse("response_format")
            return
        config["responseMimeType"] = "application/json"
        if _is_gemini_1(self.model):
            config["responseSchema"] = openapi_schema(schema)
        else:
            config["responseJsonSchema"] = strip_strict(schema)

    def thinking(self, body: Mapping[str, Any]) -> dict[str, Any] | None:
        effort = body.get("reasoning_effort")
        if isinstance(effort, Mapping):  # the Agents SDK's {"effort": ..., "summary": ...}
            effort = effort.get("effort")
        if effort is not None:
            if effort not in _BUDGETS:
                self.refuse("reasoning_effort")
                return None
            show = effort not in ("disable", "none")
            if "gemini-3" in self.model:
                return {"thinkingLevel": _LEVELS[effort], "includeThoughts": show}
            return {"thinkingBudget": _BUDGETS[effort], "includeThoughts": show}
        thinking = body.get("thinking")
        if thinking is None:
            return None
        if not isinstance(thinking, Mapping):
            self.refuse("thinking")
            return None
        budget = thinking.get("budget_tokens")
        out: dict[str, Any] = {"includeThoughts": thinking.get("type") == "enabled" and budget != 0}
        if isinstance(budget, int) and "gemini-3" not in self.model:
            out["thinkingBudget"] = budget
        return out

    # -- tools -------------------------------------------------------------------------
    def tools(self, body: Mapping[str, Any]) -> list[dict[str, Any]]:
        declared: list[dict[str, Any]] = []
        native: list[dict[str, Any]] = []
        entries = list(body.get("tools") or []) + [{"type": "function", "function": f} for f in body.get("functions") or []]
        for tool in entries:
            function = tool.get("function") if isinstance(tool, Mapping) and tool.get("type") == "function" else None
            if isinstance(function, Mapping) and isinstance(function.get("name"), str):
                declared.append(_declaration(function))
            elif isinstance(tool, Mapping) and len(tool) == 1 and next(iter(tool)) in _NATIVE_TOOLS:
                key = next(iter(tool))
                native.append({_NATIVE_TOOLS[key]: tool[key] or {}})
            else:
                self.refuse("tools")
        if body.get("parallel_tool_calls") is False and len(declared) > 1:
            self.refuse("parallel_tool_calls")  # Gemini cannot be told to call one function at a time
        return ([{"functionDeclarations": declared}] if declared else []) + native

    def tool_config(self, body: Mapping[str, Any]) -> dict[str, Any] | None:
        choice = body.get("tool_choice", body.get("function_call"))
        if choice is None:
            return None
        modes = {"auto": "AUTO", "required": "ANY", "any": "ANY", "none": "NONE"}
        if isinstance(choice, str) and choice in modes:
            return {"functionCallingConfig": {"mode": modes[choice]}}
        named = choice.get("function", choice) if isinstance(choice, Mapping) else None
        name = named.get("name") if isinstance(named, Mapping) else None
        if isinstance(name, str) and name:
            return {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": [name]}}
        self.refuse("tool_choice")
        return None

    def bad(self, message: str) -> BadRequestError:
        return BadRequestError(f"{self.provider}: {message}", param="messages")


_NATIVE_TOOLS = {
    "googleSearch": "googleSearch", "google_search": "googleSearch", "codeExecution": "codeExecution",
    "code_execution": "codeExecution", "urlContext": "urlContext", "url_context": "urlContext",
    "googleSearchRetrieval": "googleSearchRetrieval", "google_search_retrieval": "googleSearchRetrieval",
}


def _declaration(function: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"name": function["name"]}
    if function.get("description"):
        out["description"] = function["description"]
    parameters = function.get("parameters")
    if isinstance(parameters, Mapping) and (parameters.get("properties") or parameters.get("type") != "object"):
        out["parameters"] = openapi_schema(parameters)
    return out


def _is_gemini_1(model: str) -> bool:
    return "gemini-1" in model or model in ("gemini-pro", "gemini-pro-vision")
