"""Ollama's native API ⇄ OpenAI: ``/api/chat``, ``/api/generate``, ``/api/embed``.

Pure translation, no I/O. ``ollama_chat/`` deployments speak ``/api/chat``
(messages, tools, images as base64). ``ollama/`` deployments speak
``/api/generate`` as LiteLLM does: a chat conversation is written into one
prompt with ``### User:`` / ``### System:`` / ``### Assistant:`` headers.
Streams are NDJSON lines, turned into ``chat.completion.chunk`` (or
``text_completion``) dicts by :class:`ChatStream` / :class:`GenerateStream`.
Image URLs must be fetched by the caller (:func:`image_urls` lists them) and
handed in as base64. Mapping tables: ``docs/providers/ollama.md``.
"""

from __future__ import annotations

import base64
import struct
import time
import uuid
from typing import Any, Mapping

import orjson

from ..errors import BadRequestError
from .fields import check_fields, text_of, unsupported

__all__ = ["chat_request", "generate_request", "chat_answer", "generate_answer", "ChatStream", "GenerateStream",
           "embed_request", "embed_answer", "image_urls", "error_details", "OPTIONS"]

#: Ollama's model options (``options`` of the request), read from the body by these names.
OPTIONS = frozenset({
    "num_ctx", "num_keep", "num_predict", "num_batch", "num_gpu", "num_gqa", "main_gpu", "num_thread", "mirostat",
    "mirostat_eta", "mirostat_tau", "repeat_last_n", "repeat_penalty", "tfs_z", "typical_p", "min_p",
    "penalize_newline", "numa", "low_vram", "use_mmap", "use_mlock", "top_k", "seed", "temperature", "top_p",
    "frequency_penalty", "presence_penalty",
})
_COMMON = frozenset({"model", "stream", "stream_options", "user", "max_tokens", "max_completion_tokens", "stop",
                     "response_format", "reasoning_effort", "n", "keep_alive", "format", "think"}) | OPTIONS
CHAT_FIELDS = _COMMON | {"messages", "tools", "tool_choice", "parallel_tool_calls"}
GENERATE_FIELDS = _COMMON | {"messages", "prompt", "suffix", "system", "template", "raw", "context", "images"}
EMBED_FIELDS = frozenset({"model", "input", "encoding_format", "dimensions", "user", "truncate", "keep_alive"})


# -- requests ------------------------------------------------------------------------
def chat_request(body: dict[str, Any], *, model: str, drop: bool, images: Mapping[str, str]) -> dict[str, Any]:
    """The ``/api/chat`` body for an OpenAI chat request."""
    body = check_fields(body, CHAT_FIELDS, provider="ollama_chat", model=model, drop=drop)
    out = _common(body, model, drop, "ollama_chat")
    names: dict[str, str] = {}
    out["messages"] = [_message(m, images, names) for m in _messages(body)]
    if body.get("tools") and body.get("tool_choice") != "none":
        out["tools"] = [t for t in body["tools"] if isinstance(t, dict)]
    if body.get("parallel_tool_calls") is False and not drop:
        raise unsupported("ollama_chat", model, ["parallel_tool_calls"])
    return out


def generate_request(body: dict[str, Any], *, model: str, drop: bool, images: Mapping[str, str]) -> dict[str, Any]:
    """The ``/api/generate`` body: a ``prompt`` (text completions), or chat messages written as one (LiteLLM's)."""
    body = check_fields(body, GENERATE_FIELDS, provider="ollama", model=model, drop=drop)
    out = _common(body, model, drop, "ollama")
    if "messages" in body:
        out["prompt"], found = flatten(_messages(body), images)
        if found:
            out["images"] = found
    else:
        out["prompt"] = _prompt(body.get("prompt"))
    for name in ("suffix", "system", "template", "raw", "context", "images"):
        if body.get(name) is not None:
            out[name] = body[name]
    return out


def _messages(body: dict[str, Any]) -> list[dict[str, Any]]:
    messages = body.get("messages")
    if not isinstance(messages, list) or not all(isinstance(m, dict) for m in messages):
        raise BadRequestError("messages must be a list of objects", param="messages")
    return messages


def _prompt(prompt: Any) -> str:
    if isinstance(prompt, list) and len(prompt) == 1:
        prompt = prompt[0]
    if not isinstance(prompt, str):
        raise BadRequestError("ollama text completions take one prompt string", param="prompt")
    return prompt


def _common(body: dict[str, Any], model: str, drop: bool, provider: str) -> dict[str, Any]:
    """Options, format, think, keep_alive: what ``/api/chat`` and ``/api/generate`` share."""
    if body.get("n") not in (None, 1) and not drop:
        raise unsupported(provider, model, ["n"])
    options = {name: body[name] for name in OPTIONS if body.get(name) is not None}
    limit = body.get("max_completion_tokens", body.get("max_tokens"))
    if limit is not None:
        options["num_predict"] = limit
    stop = body.get("stop")
    if stop is not None:
        options["stop"] = [stop] if isinstance(stop, str) else stop
    out: dict[str, Any] = {"model": model, "stream": body.get("stream") is True}
    if options:
        out["options"] = options
    fmt = body.get("format", _format(body.get("response_format")))
    if fmt is not None:
        out["format"] = fmt
    think = body.get("think", _think(body.get("reasoning_effort"), model))
    if think is not None:
        out["think"] = think
    if body.get("keep_alive") is not None:
        out["keep_alive"] = body["keep_alive"]
    return out


def _format(fmt: Any) -> Any:
    if not isinstance(fmt, dict):
        return None
    if fmt.get("type") == "json_object":
        return "json"
    if fmt.get("type") == "json_schema":
        return (fmt.get("json_schema") or {}).get("schema") or "json"
    return None


def _think(effort: Any, model: str) -> Any:
    if effort is None:
        return None
    if model.startswith("gpt-oss"):
        return effort  # gpt-oss takes the level itself
    return effort in ("low", "medium", "high")


def _message(message: dict[str, Any], images: Mapping[str, str], names: dict[str, str]) -> dict[str, Any]:
    role = message.get("role")
    role = "system" if role == "developer" else role
    out: dict[str, Any] = {"role": role, "content": text_of(message.get("content"))}
    found = _images(message.get("content"), images)
    if found:
        out["images"] = found
    calls = message.get("tool_calls")
    if role == "assistant" and calls:
        out["tool_calls"] = [_call_out(c, names) for c in calls if isinstance(c, dict)]
    if message.get("reasoning_content"):
        out["thinking"] = message["reasoning_content"]
    if role == "tool" and names.get(str(message.get("tool_call_id"))):
        out["tool_name"] = names[str(message.get("tool_call_id"))]
    return out


def _call_out(call: dict[str, Any], names: dict[str, str]) -> dict[str, Any]:
    fn = call.get("function") or {}
    names[str(call.get("id"))] = str(fn.get("name") or "")
    raw = fn.get("arguments")
    try:
        arguments = orjson.loads(raw) if isinstance(raw, str) and raw.strip() else (raw or {})
    except orjson.JSONDecodeError:
        raise BadRequestError("an assistant tool call's arguments are not JSON", param="messages") from None
    return {"function": {"name": fn.get("name"), "arguments": arguments}}


def image_urls(body: dict[str, Any]) -> list[str]:
    """The ``http(s)`` image URLs in the messages (Ollama takes base64 only: fetch them first)."""
    found = []
    for message in body.get("messages") or []:
        content = message.get("content") if isinstance(message, dict) else None
        for part in content if isinstance(content, list) else []:
            url = _image_url(part)
            if url and url.startswith(("http://", "https://")):
                found.append(url)
    return found


def _image_url(part: Any) -> str | None:
    if not isinstance(part, dict) or part.get("type") != "image_url":
        return None
    image = part.get("image_url")
    url = image.get("url") if isinstance(image, dict) else image
    return url if isinstance(url, str) else None


def _images(content: Any, fetched: Mapping[str, str]) -> list[str]:
    images = []
    for part in content if isinstance(content, list) else []:
        url = _image_url(part)
        if url is None:
            continue
        if url.startswith("data:"):
            images.append(url.partition(",")[2])
        elif url in fetched:
            images.append(fetched[url])
        else:
            raise BadRequestError("ollama takes images as data: URIs or http(s) URLs", param="messages")
    return images


def flatten(messages: list[dict[str, Any]], fetched: Mapping[str, str]) -> tuple[str, list[str]]:
    """A conversation as one ``/api/generate`` prompt, in LiteLLM's layout (and its images)."""
    prompt, images, i = "", [], 0
    while i < len(messages):
        start = i
        section = ""
        while i < len(messages) and messages[i].get("role") in ("user", "tool", "function"):
            section += text_of(messages[i].get("content"))
            images += _images(messages[i].get("content"), fetched)
            i += 1
        prompt += f"### User:\n{section}\n\n" if section else ""
        section = ""
        while i < len(messages) and messages[i].get("role") in ("system", "developer"):
            section += text_of(messages[i].get("content"))
            i += 1
        prompt += f"### System:\n{section}\n\n" if section else ""
        section = ""
        while i < len(messages) and messages[i].get("role") == "assistant":
            section += text_of(messages[i].get("content")) + _calls_text(messages[i].get("tool_calls"))
            i += 1
        prompt += f"### Assistant:\n{section}\n\n" if section else ""
        if i == start:
            raise BadRequestError(f"ollama cannot take a message with role '{messages[i].get('role')}'",
                                  param="messages")
    return prompt, images


def _calls_text(calls: Any) -> str:
    if not calls:
        return ""
    listed = [{"id": c.get("id"), "type": "function", "function": _call_out(c, {})["function"]}
              for c in calls if isinstance(c, dict)]
    return "Tool Calls: " + orjson.dumps(listed, option=orjson.OPT_INDENT_2).decode()


# -- answers ---------------------------------------------------------------------------
def _usage(native: dict[str, Any]) -> dict[str, int]:
    prompt = int(native.get("prompt_eval_count") or 0)
    completion = int(native.get("eval_count") or 0)
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def _finish(native: dict[str, Any], tools: bool) -> str:
    if tools:
        return "tool_calls"
    return "length" if native.get("done_reason") == "length" else "stop"


def split_thinking(text: str) -> tuple[str | None, str]:
    """``<think>…</think>`` at the start of a reply → (reasoning, the rest), as LiteLLM parses it."""
    if text.startswith("<think>") and "</think>" in text:
        thought, _, rest = text[len("<think>"):].partition("</think>")
        return thought, rest.lstrip("\n")
    return None, text


def _call_in(call: dict[str, Any]) -> dict[str, Any]:
    fn = call.get("function") or {}
    arguments = fn.get("arguments")
    return {"id": call.get("id") or f"call_{uuid.uuid4().hex[:24]}", "type": "function",
            "function": {"name": fn.get("name"),
                         "arguments": arguments if isinstance(arguments, str) else orjson.dumps(arguments or {}).decode()}}


def chat_answer(native: dict[str, Any], *, model: str) -> dict[str, Any]:
    """An ``/api/chat`` answer as a ``chat.completion``."""
    message = native.get("message")
    if not isinstance(message, dict):
        raise ValueError("the answer has no message")
    thinking, content = message.get("thinking"), str(message.get("content") or "")
    if not thinking:
        thinking, content = split_thinking(content)
    out: dict[str, Any] = {"role": "assistant", "content": content}
    if thinking:
        out["reasoning_content"] = thinking
    calls = [_call_in(c) for c in message.get("tool_calls") or [] if isinstance(c, dict)]
    if calls:
        out["tool_calls"] = calls
        out["content"] = content or None
    return _completion(native, model, out, _finish(native, bool(calls)))


def generate_answer(native: dict[str, Any], *, model: str, chat: bool) -> dict[str, Any]:
    """An ``/api/generate`` answer as a ``chat.completion`` (chat) or ``text_completion``."""
    text = native.get("response")
    if not isinstance(text, str):
        raise ValueError("the answer has no response")
    thinking = native.get("thinking")
    if not thinking:
        thinking, text = split_thinking(text)
    finish = _finish(native, False)
    if not chat:
        return {"id": f"cmpl-{uuid.uuid4().hex}", "object": "text_completion", "created": int(time.time()),
                "model": model, "choices": [{"index": 0, "text": text, "finish_reason": finish, "logprobs": None}],
                "usage": _usage(native)}
    message: dict[str, Any] = {"role": "assistant", "content": text}
    if thinking:
        message["reasoning_content"] = thinking
    return _completion(native, model, message, finish)


def _completion(native: dict[str, Any], model: str, message: dict[str, Any], finish: str) -> dict[str, Any]:
    return {"id": f"chatcmpl-{uuid.uuid4().hex}", "object": "chat.completion", "created": int(time.time()),
            "model": model, "choices": [{"index": 0, "message": message, "finish_reason": finish, "logprobs": None}],
            "usage": _usage(native)}


# -- streams ---------------------------------------------------------------------------
class _Stream:
    def __init__(self, model: str, *, include_usage: bool, chat: bool = True) -> None:
        self.model = model
        self.include_usage = include_usage
        self.chat = chat
        self.id = ("chatcmpl-" if chat else "cmpl-") + uuid.uuid4().hex
        self.created = int(time.time())
        self.started = self.ended = False
        self.calls = 0

    def _chunk(self, delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        if not self.chat:
            return {"id": self.id, "object": "text_completion", "created": self.created, "model": self.model,
                    "choices": [{"index": 0, "text": delta.get("content", ""), "finish_reason": finish,
                                 "logprobs": None}]}
        return {"id": self.id, "object": "chat.completion.chunk", "created": self.created, "model": self.model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}

    def _open(self) -> list[dict[str, Any]]:
        if self.started or not self.chat:
            self.started = True
            return []
        self.started = True
        return [self._chunk({"role": "assistant", "content": ""})]

    def _close(self, native: dict[str, Any]) -> list[dict[str, Any]]:
        self.ended = True
        chunks = [self._chunk({}, _finish(native, self.calls > 0))]
        if self.include_usage:
            chunks.append({"id": self.id, "object": chunks[0]["object"], "created": self.created,
                           "model": self.model, "choices": [], "usage": _usage(native)})
        return chunks

    def _error(self, native: dict[str, Any]) -> None:
        if "error" in native:
            raise ValueError(f"the stream carried an error: {native['error']}")

    def end(self) -> list[dict[str, Any]]:
        if not self.ended:
            raise ValueError("the stream ended before its done line")
        return []


class ChatStream(_Stream):
    """``/api/chat`` NDJSON lines → ``chat.completion.chunk`` dicts (tool calls arrive whole)."""

    def feed(self, event: dict[str, Any]) -> list[dict[str, Any]]:
        self._error(event)
        chunks = self._open()
        found = event.get("message")
        message: dict[str, Any] = found if isinstance(found, dict) else {}
        if message.get("thinking"):
            chunks.append(self._chunk({"reasoning_content": str(message["thinking"])}))
        if message.get("content"):
            chunks.append(self._chunk({"content": str(message["content"])}))
        for call in message.get("tool_calls") or []:
            if isinstance(call, dict):
                chunks.append(self._chunk({"tool_calls": [{"index": self.calls, **_call_in(call)}]}))
                self.calls += 1
        if event.get("done") is True:
            chunks += self._close(event)
        return chunks


class GenerateStream(_Stream):
    """``/api/generate`` NDJSON lines → chat chunks (``ollama/`` chat) or ``text_completion`` chunks."""

    def feed(self, event: dict[str, Any]) -> list[dict[str, Any]]:
        self._error(event)
        chunks = self._open()
        if event.get("thinking") and self.chat:
            chunks.append(self._chunk({"reasoning_content": str(event["thinking"])}))
        if event.get("response"):
            chunks.append(self._chunk({"content": str(event["response"])}))
        if event.get("done") is True:
            chunks += self._close(event)
        return chunks


# -- embeddings and errors ---------------------------------------------------------------
def embed_request(body: dict[str, Any], *, model: str, drop: bool) -> dict[str, Any]:
    body = check_fields(body, EMBED_FIELDS, provider="ollama", model=model, drop=drop)
    out: dict[str, Any] = {"model": model, "input": body.get("input")}
    for name in ("truncate", "keep_alive", "dimensions"):
        if body.get(name) is not None:
            out[name] = body[name]
    return out


def embed_answer(native: dict[str, Any], *, model: str, encoding: str | None) -> dict[str, Any]:
    vectors = native.get("embeddings")
    if not isinstance(vectors, list):
        raise ValueError("the answer has no embeddings")
    data = []
    for i, vector in enumerate(vectors):
        value: Any = vector
        if encoding == "base64":  # what the openai SDK asks for by default: float32, little-endian
            value = base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()
        data.append({"object": "embedding", "index": i, "embedding": value})
    tokens = int(native.get("prompt_eval_count") or 0)
    return {"object": "list", "model": model, "data": data,
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}


def error_details(status: int, body: Any) -> tuple[int, str]:
    """Ollama's HTTP error (``{"error": "..."}``) → (status for the client, message)."""
    message = body.get("error") if isinstance(body, dict) else None
    if not isinstance(message, str) or not message:
        message = f"Ollama answered HTTP {status}"
    return status, message
