"""Cohere's v2 API ⇄ OpenAI: chat (``/v2/chat``), embed (``/v2/embed``), rerank (``/v2/rerank``).

Pure translation, no I/O. Requests go OpenAI → Cohere, answers and stream
events Cohere → OpenAI; :class:`ChatStream` turns the v2 stream events
(``message-start``, ``content-delta``, ``tool-call-*``, ``message-end``) into
``chat.completion.chunk`` dicts. The mapping tables are in
``docs/providers/cohere.md``.
"""

from __future__ import annotations

import time
from typing import Any

from ..errors import BadRequestError, UpstreamError
from .fields import check_fields, text_of, unsupported

__all__ = ["chat_request", "chat_answer", "ChatStream", "embed_request", "embed_answer",
           "rerank_request", "rerank_answer", "error_details", "FINISH_REASONS"]

PROVIDER = "cohere"

#: OpenAI chat fields translated, and Cohere's own fields passed as they are.
CHAT_FIELDS = frozenset({
    "model", "messages", "stream", "stream_options", "user", "temperature", "top_p", "top_k",
    "max_tokens", "max_completion_tokens", "stop", "seed", "frequency_penalty", "presence_penalty",
    "tools", "tool_choice", "parallel_tool_calls", "response_format", "n", "logprobs", "reasoning_effort",
    # Cohere's own names
    "k", "p", "documents", "citation_options", "safety_mode", "strict_tools", "thinking", "priority",
    "stop_sequences",
})
_RENAMED = {"top_p": "p", "top_k": "k", "stop": "stop_sequences"}
_SAME = ("temperature", "seed", "frequency_penalty", "presence_penalty", "logprobs", "k", "p", "documents",
         "citation_options", "safety_mode", "strict_tools", "thinking", "priority", "stop_sequences")
_EFFORT_BUDGET = {"low": 1024, "medium": 4096, "high": 16384}

#: Cohere ``finish_reason`` → OpenAI (``ERROR`` and ``TIMEOUT`` are failures, not reasons).
FINISH_REASONS = {"COMPLETE": "stop", "STOP_SEQUENCE": "stop", "MAX_TOKENS": "length", "TOOL_CALL": "tool_calls"}

EMBED_FIELDS = frozenset({"model", "input", "encoding_format", "dimensions", "user", "input_type", "truncate",
                          "embedding_types", "max_tokens"})


# -- chat: request -------------------------------------------------------------------
def chat_request(body: dict[str, Any], *, model: str, drop: bool) -> dict[str, Any]:
    """The ``/v2/chat`` body for an OpenAI chat request (400 for what Cohere cannot take)."""
    body = check_fields(body, CHAT_FIELDS, provider=PROVIDER, model=model, drop=drop)
    out: dict[str, Any] = {"model": model, "messages": _messages(body.get("messages"), model, drop)}
    for name in _SAME:
        if body.get(name) is not None:
            out[name] = body[name]
    for name, native in _RENAMED.items():
        if body.get(name) is not None:
            out[native] = body[name]
    if isinstance(out.get("stop_sequences"), str):
        out["stop_sequences"] = [out["stop_sequences"]]
    limit = body.get("max_completion_tokens", body.get("max_tokens"))
    if limit is not None:
        out["max_tokens"] = limit
    _options(body, out, model, drop)
    if body.get("stream") is True:
        out["stream"] = True
    return out


def _options(body: dict[str, Any], out: dict[str, Any], model: str, drop: bool) -> None:
    """Tools, tool choice, response format, reasoning and the fields Cohere has no room for."""
    if body.get("n") not in (None, 1) and not drop:
        raise unsupported(PROVIDER, model, ["n"])
    if body.get("parallel_tool_calls") is False and not drop:
        raise unsupported(PROVIDER, model, ["parallel_tool_calls"])
    tools = body.get("tools")
    if tools:
        out["tools"] = [_tool(t) for t in tools if isinstance(t, dict)]
        if any(isinstance(t, dict) and (t.get("function") or {}).get("strict") for t in tools):
            out.setdefault("strict_tools", True)
    _tool_choice(body.get("tool_choice"), out)
    fmt = _response_format(body.get("response_format"))
    if fmt is not None:
        out["response_format"] = fmt
    effort = body.get("reasoning_effort")
    if effort is not None and "thinking" not in out:
        out["thinking"] = ({"type": "disabled"} if effort in ("none", "minimal") else
                           {"type": "enabled", "token_budget": _EFFORT_BUDGET.get(str(effort), 4096)})


def _tool(tool: dict[str, Any]) -> dict[str, Any]:
    fn = tool.get("function") or {}
    spec = {"name": fn.get("name"), "parameters": fn.get("parameters") or {"type": "object", "properties": {}}}
    if fn.get("description"):
        spec["description"] = fn["description"]
    return {"type": "function", "function": spec}


def _tool_choice(choice: Any, out: dict[str, Any]) -> None:
    """``auto`` → omitted; ``required`` → REQUIRED; ``none`` → NONE; a named function → only that tool, REQUIRED."""
    if choice == "required":
        out["tool_choice"] = "REQUIRED"
    elif choice == "none":
        out["tool_choice"] = "NONE"
    elif isinstance(choice, dict):
        name = (choice.get("function") or {}).get("name")
        if out.get("tools") and name:
            out["tools"] = [t for t in out["tools"] if t["function"]["name"] == name] or out["tools"]
        out["tool_choice"] = "REQUIRED"


def _response_format(fmt: Any) -> dict[str, Any] | None:
    if not isinstance(fmt, dict):
        return None
    kind = fmt.get("type")
    if kind == "json_schema":
        schema = (fmt.get("json_schema") or {}).get("schema")
        return {"type": "json_object", **({"json_schema": schema} if schema else {})}
    if kind in ("json_object", "text"):
        return {"type": kind}
    return None


def _messages(messages: Any, model: str, drop: bool) -> list[dict[str, Any]]:
    if not isinstance(messages, list):
        raise BadRequestError("messages must be a list", param="messages")
    out = []
    for i, message in enumerate(messages):
        if not isinstance(message, dict):
            raise BadRequestError(f"messages[{i}] must be an object", param="messages")
        converted = _message(message, i, model, drop)
        if converted is not None:
            out.append(converted)
    return out


def _message(message: dict[str, Any], i: int, model: str, drop: bool) -> dict[str, Any] | None:
    role = message.get("role")
    content = message.get("content")
    if role in ("system", "developer"):
        return {"role": "system", "content": text_of(content)}
    if role == "user":
        return {"role": "user", "content": _user_content(content, i, model, drop)}
    if role == "assistant":
        out: dict[str, Any] = {"role": "assistant"}
        text = text_of(content)
        calls = message.get("tool_calls")
        if calls:  # text beside tool calls is Cohere's tool plan
            out["tool_calls"] = [_call_out(c) for c in calls if isinstance(c, dict)]
            if text:
                out["tool_plan"] = text
        else:
            out["content"] = text
        return out
    if role == "tool":
        return {"role": "tool", "tool_call_id": message.get("tool_call_id") or "",
                "content": content if isinstance(content, str) else text_of(content)}
    if drop:
        return None
    raise BadRequestError(f"cohere does not support messages with role '{role}' (messages[{i}])", param="messages")


def _user_content(content: Any, i: int, model: str, drop: bool) -> Any:
    if not isinstance(content, list):
        return content if isinstance(content, str) else ""
    parts: list[dict[str, Any]] = []
    for part in content:
        kind = part.get("type") if isinstance(part, dict) else None
        if kind in ("text", "input_text"):
            parts.append({"type": "text", "text": str(part.get("text") or "")})
        elif kind == "image_url":
            image = part.get("image_url")
            url = image.get("url") if isinstance(image, dict) else image
            entry: dict[str, Any] = {"url": url}
            if isinstance(image, dict) and image.get("detail"):
                entry["detail"] = image["detail"]
            parts.append({"type": "image_url", "image_url": entry})
        elif not drop:
            raise unsupported(PROVIDER, model, [f"messages[{i}].content.{kind}"])
    return parts


def _call_out(call: dict[str, Any]) -> dict[str, Any]:
    fn = call.get("function") or {}
    arguments = fn.get("arguments")
    return {"id": call.get("id"), "type": "function",
            "function": {"name": fn.get("name"), "arguments": arguments if isinstance(arguments, str) else "{}"}}


# -- chat: answer ----------------------------------------------------------------------
def chat_answer(native: dict[str, Any], *, model: str) -> dict[str, Any]:
    """A ``/v2/chat`` answer as a ``chat.completion``."""
    message = native.get("message")
    if not isinstance(message, dict):
        raise ValueError("the answer has no message")
    finish = _finish(native.get("finish_reason"), None)
    texts, thoughts = _content_texts(message.get("content"))
    out: dict[str, Any] = {"role": "assistant", "content": "".join(texts) if texts else None}
    if thoughts:
        out["reasoning_content"] = "".join(thoughts)
    calls = message.get("tool_calls")
    if calls:
        out["tool_calls"] = [_call_in(c) for c in calls if isinstance(c, dict)]
        if not texts:
            out["content"] = None
    elif out["content"] is None:
        out["content"] = ""
    return {
        "id": f"chatcmpl-{native.get('id') or ''}", "object": "chat.completion", "created": int(time.time()),
        "model": model, "choices": [{"index": 0, "message": out, "finish_reason": finish, "logprobs": None}],
        "usage": usage(native.get("usage")),
    }


def _content_texts(content: Any) -> tuple[list[str], list[str]]:
    texts: list[str] = []
    thoughts: list[str] = []
    for part in content or []:
        if not isinstance(part, dict):
            continue
        if part.get("type") == "thinking":
            thoughts.append(str(part.get("thinking") or ""))
        elif part.get("type") == "text":
            texts.append(str(part.get("text") or ""))
    return texts, thoughts


def _call_in(call: dict[str, Any]) -> dict[str, Any]:
    fn = call.get("function") or {}
    return {"id": call.get("id"), "type": "function",
            "function": {"name": fn.get("name"), "arguments": fn.get("arguments") or "{}"}}


def _finish(reason: Any, error: Any) -> str:
    if reason in ("ERROR", "TIMEOUT") or error:
        raise UpstreamError(f"Cohere ended the answer with {reason or 'an error'}: {error or 'no detail'}",
                            status=504 if reason == "TIMEOUT" else 502)
    return FINISH_REASONS.get(str(reason), "stop")


def usage(native: Any) -> dict[str, Any]:
    """Cohere ``usage`` (``tokens``, else ``billed_units``; ``cached_tokens``) → OpenAI usage."""
    native = native if isinstance(native, dict) else {}
    tokens = native.get("tokens") or native.get("billed_units") or {}
    prompt = int(tokens.get("input_tokens") or 0)
    completion = int(tokens.get("output_tokens") or 0)
    out: dict[str, Any] = {"prompt_tokens": prompt, "completion_tokens": completion,
                           "total_tokens": prompt + completion}
    if native.get("cached_tokens"):
        out["prompt_tokens_details"] = {"cached_tokens": int(native["cached_tokens"])}
    return out


# -- chat: stream ----------------------------------------------------------------------
class ChatStream:
    """Cohere v2 stream events → ``chat.completion.chunk`` dicts (one translator per stream)."""

    def __init__(self, model: str, *, include_usage: bool) -> None:
        self.model = model
        self.include_usage = include_usage
        self.id = "chatcmpl-"
        self.created = int(time.time())
        self.calls: dict[int, int] = {}
        self.ended = False

    def _chunk(self, delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {"id": self.id, "object": "chat.completion.chunk", "created": self.created, "model": self.model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}

    def feed(self, event: dict[str, Any]) -> list[dict[str, Any]]:
        kind = event.get("type")
        delta: dict[str, Any] = _dict(event.get("delta"))
        message: dict[str, Any] = _dict(delta.get("message"))
        if kind == "message-start":
            self.id = f"chatcmpl-{event.get('id') or ''}"
            return [self._chunk({"role": "assistant", "content": ""})]
        if kind in ("content-start", "content-delta"):
            return self._content(message.get("content"))
        if kind == "tool-call-start":
            return self._call_start(event.get("index"), message.get("tool_calls"))
        if kind == "tool-call-delta":
            return self._call_delta(event.get("index"), message.get("tool_calls"))
        if kind == "message-end":
            return self._end(delta)
        if kind in _SILENT:
            return []
        raise ValueError(f"unknown event type {kind!r}")

    def _content(self, content: Any) -> list[dict[str, Any]]:
        content = content if isinstance(content, dict) else {}
        if content.get("thinking"):
            return [self._chunk({"reasoning_content": str(content["thinking"])})]
        if content.get("text"):
            return [self._chunk({"content": str(content["text"])})]
        return []

    def _call_start(self, index: Any, call: Any) -> list[dict[str, Any]]:
        call = call if isinstance(call, dict) else {}
        position = self.calls[int(index or 0)] = len(self.calls)
        fn = call.get("function") or {}
        return [self._chunk({"tool_calls": [{
            "index": position, "id": call.get("id"), "type": "function",
            "function": {"name": fn.get("name"), "arguments": fn.get("arguments") or ""}}]})]

    def _call_delta(self, index: Any, call: Any) -> list[dict[str, Any]]:
        fn = (call if isinstance(call, dict) else {}).get("function") or {}
        if not fn.get("arguments"):
            return []
        position = self.calls.get(int(index or 0), 0)
        return [self._chunk({"tool_calls": [{"index": position, "function": {"arguments": fn["arguments"]}}]})]

    def _end(self, delta: dict[str, Any]) -> list[dict[str, Any]]:
        self.ended = True
        finish = _finish(delta.get("finish_reason"), delta.get("error"))
        chunks = [self._chunk({}, finish)]
        if self.include_usage:
            chunks.append({"id": self.id, "object": "chat.completion.chunk", "created": self.created,
                           "model": self.model, "choices": [], "usage": usage(delta.get("usage"))})
        return chunks

    def end(self) -> list[dict[str, Any]]:
        """At the end of the bytes: a stream without ``message-end`` was cut short."""
        if not self.ended:
            raise ValueError("the stream ended before message-end")
        return []


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


_SILENT = frozenset({"content-end", "tool-call-end", "tool-plan-delta", "citation-start", "citation-end", "debug"})


# -- embed -----------------------------------------------------------------------------
def embed_request(body: dict[str, Any], *, model: str, drop: bool) -> dict[str, Any]:
    """The ``/v2/embed`` body: texts, ``input_type`` (default ``search_document``), float or base64."""
    body = check_fields(body, EMBED_FIELDS, provider=PROVIDER, model=model, drop=drop)
    raw = body.get("input")
    texts = [raw] if isinstance(raw, str) else raw
    if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
        if not drop:
            raise BadRequestError("cohere embeddings take text input (a string or a list of strings)", param="input")
        texts = [t for t in texts if isinstance(t, str)] if isinstance(texts, list) else []
    out: dict[str, Any] = {
        "model": model, "texts": texts, "input_type": body.get("input_type") or "search_document",
        "embedding_types": ["base64" if body.get("encoding_format") == "base64" else "float"],
    }
    if body.get("dimensions") is not None:
        out["output_dimension"] = body["dimensions"]
    for name in ("truncate", "max_tokens"):
        if body.get(name) is not None:
            out[name] = body[name]
    return out


def embed_answer(native: dict[str, Any], *, model: str, encoding: str | None) -> dict[str, Any]:
    """A ``/v2/embed`` answer as an OpenAI embeddings list."""
    embeddings = native.get("embeddings")
    if isinstance(embeddings, dict):
        vectors = embeddings.get("base64" if encoding == "base64" else "float")
    else:  # the older ``embeddings_floats`` shape: a plain list
        vectors = embeddings
    if not isinstance(vectors, list):
        raise ValueError("the answer has no embeddings")
    billed = ((native.get("meta") or {}).get("billed_units") or {})
    tokens = int(billed.get("input_tokens") or 0)
    return {"object": "list", "model": model,
            "data": [{"object": "embedding", "index": i, "embedding": v} for i, v in enumerate(vectors)],
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}


# -- rerank (served by the rerank endpoint) --------------------------------------------------
def rerank_request(body: dict[str, Any], *, model: str) -> dict[str, Any]:
    """A LiteLLM/Cohere ``/rerank`` request as the ``/v2/rerank`` body (documents as strings)."""
    documents = [_document_text(d) for d in body.get("documents") or []]
    out: dict[str, Any] = {"model": model, "query": body.get("query") or "", "documents": documents}
    if body.get("top_n") is not None:
        out["top_n"] = body["top_n"]
    if body.get("max_tokens_per_doc") is not None:
        out["max_tokens_per_doc"] = body["max_tokens_per_doc"]
    return out


def _document_text(document: Any) -> str:
    if isinstance(document, str):
        return document
    if isinstance(document, dict):
        if isinstance(document.get("text"), str):
            return document["text"]
        return "\n".join(f"{k}: {v}" for k, v in document.items())
    return str(document)


def rerank_answer(native: dict[str, Any], *, documents: list[Any], return_documents: bool) -> dict[str, Any]:
    """A ``/v2/rerank`` answer in LiteLLM's rerank shape (``document.text`` when asked for)."""
    results = []
    for item in native.get("results") or []:
        index = int(item.get("index", 0))
        result: dict[str, Any] = {"index": index, "relevance_score": item.get("relevance_score")}
        if return_documents and 0 <= index < len(documents):
            result["document"] = {"text": _document_text(documents[index])}
        results.append(result)
    return {"id": native.get("id"), "results": results, "meta": native.get("meta") or {}}


# -- errors ----------------------------------------------------------------------------------
_STATUS = {422: 400, 498: 401, 499: 500}


def error_details(status: int, body: Any) -> tuple[int, str]:
    """Cohere's HTTP error → (status for the client, message). ``{"message": ...}`` bodies."""
    message = body.get("message") if isinstance(body, dict) else None
    if not isinstance(message, str) or not message:
        message = f"Cohere answered HTTP {status}"
    return _STATUS.get(status, status), message
