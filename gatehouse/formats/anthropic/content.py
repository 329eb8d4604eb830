"""OpenAI chat ``messages`` → Anthropic ``system`` blocks and ``messages`` turns.

* ``system`` and ``developer`` messages (wherever they are) → top-level ``system`` text blocks;
* ``user`` → a user turn; text, ``image_url`` (data URI → base64 source, http(s) → url
  source), ``file`` (``file_data`` data URI → base64 document, ``file_id`` → file source)
  parts; parts already in Anthropic's shape (``image``, ``document``, ...) pass as given;
* ``assistant`` → ``thinking_blocks`` (LiteLLM's field) first, then text, then one
  ``tool_use`` block per ``tool_calls`` entry (arguments parsed to an object);
* ``tool`` → a ``tool_result`` block in a user turn;
* consecutive turns of the same role are merged into one (tool results first, as
  Anthropic requires after a ``tool_use``); empty text is dropped (Anthropic rejects it).

``cache_control`` on a content part stays on its block; on a message it goes on the
message's last block. Problems raise :class:`~gatehouse.errors.BadRequestError`
naming the field (``messages[2].content[1].image_url``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

from ...errors import BadRequestError

__all__ = ["Conversation", "convert_messages", "image_source"]

Content = str | list[dict[str, Any]]


@dataclass(slots=True)
class Conversation:
    """The translated ``system`` blocks and ``messages`` turns."""

    system: list[dict[str, Any]] = field(default_factory=list)
    turns: list[dict[str, Any]] = field(default_factory=list)
    uses_tools: bool = False
    """The history holds ``tool_use`` / ``tool_result`` blocks (Anthropic then requires ``tools``)."""
    betas: list[str] = field(default_factory=list)


def convert_messages(messages: Any) -> Conversation:
    """Translate an OpenAI ``messages`` list; raise ``BadRequestError`` on a malformed one."""
    if not isinstance(messages, list) or not messages:
        raise BadRequestError("messages must be a non-empty list", param="messages")
    out = Conversation()
    for i, message in enumerate(messages):
        where = f"messages[{i}]"
        if not isinstance(message, dict):
            raise BadRequestError(f"{where} must be an object", param=where)
        role = message.get("role")
        if role in ("system", "developer"):
            out.system.extend(_with_cache_control(_text_blocks(message.get("content"), where), message))
        elif role == "user":
            _append(out.turns, "user", _user_content(message, where, out))
        elif role == "assistant":
            _append(out.turns, "assistant", _assistant_content(message, where, out))
        elif role == "tool":
            out.uses_tools = True
            _append(out.turns, "user", [_tool_result(message, where, out)])
        else:
            raise BadRequestError(f"{where}.role '{role}' is not supported by anthropic "
                                  "(use system, developer, user, assistant or tool)", param=f"{where}.role")
    return out


def _append(turns: list[dict[str, Any]], role: str, content: Content) -> None:
    if not content:
        return
    if turns and turns[-1]["role"] == role:
        last = turns[-1]
        last["content"] = _blocks(last["content"]) + _blocks(content)
        return
    turns.append({"role": role, "content": content})


def _blocks(content: Content) -> list[dict[str, Any]]:
    return [{"type": "text", "text": content}] if isinstance(content, str) else content


def _with_cache_control(blocks: list[dict[str, Any]], message: dict[str, Any]) -> list[dict[str, Any]]:
    control = message.get("cache_control")
    if control and blocks:
        blocks[-1] = {**blocks[-1], "cache_control": control}
    return blocks


def _text_blocks(content: Any, where: str) -> list[dict[str, Any]]:
    if content is None:
        return []
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    if not isinstance(content, list):
        raise BadRequestError(f"{where}.content must be a string or a list of parts", param=f"{where}.content")
    blocks = []
    for j, part in enumerate(content):
        if not isinstance(part, dict) or part.get("type") != "text":
            raise BadRequestError(f"{where}.content[{j}]: only text parts are accepted here",
                                  param=f"{where}.content[{j}]")
        if part.get("text"):
            blocks.append(_text_part(part))
    return blocks


def _text_part(part: dict[str, Any]) -> dict[str, Any]:
    block: dict[str, Any] = {"type": "text", "text": part.get("text")}
    if part.get("cache_control"):
        block["cache_control"] = part["cache_control"]
    return block


def _user_content(message: dict[str, Any], where: str, out: Conversation) -> Content:
    content = message.get("content")
    if isinstance(content, str) and not message.get("cache_control"):
        return content
    return _with_cache_control(_parts(content, where, out), message)


def _parts(content: Any, where: str, out: Conversation) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    if content is None:
        return []
    if not isinstance(content, list):
        raise BadRequestError(f"{where}.content must be a string or a list of parts", param=f"{where}.content")
    blocks = []
    for j, part in enumerate(content):
        block = _part(part, f"{where}.content[{j}]", out)
        if block is not None:
            blocks.append(block)
    return blocks


def _part(part: Any, where: str, out: Conversation) -> dict[str, Any] | None:
    if not isinstance(part, dict):
        raise BadRequestError(f"{where} must be an object", param=where)
    kind = part.get("type")
    if kind == "text":
        return _text_part(part) if part.get("text") else None
    if kind == "image_url":
        image = part.get("image_url")
        url = image.get("url") if isinstance(image, dict) else image
        block: dict[str, Any] = {"type": "image", "source": image_source(url, f"{where}.image_url")}
    elif kind == "file":
        block = _document(part.get("file"), f"{where}.file", out)
    elif kind == "input_audio":
        raise BadRequestError(f"{where}: anthropic does not accept audio input", param=where)
    else:
        return part  # Anthropic's own block shapes (image, document, search_result, ...) pass as given
    if part.get("cache_control"):
        block["cache_control"] = part["cache_control"]
    return block


def image_source(url: Any, where: str) -> dict[str, Any]:
    """An ``image_url`` → Anthropic image ``source``: base64 for a data URI, url for http(s)."""
    if not isinstance(url, str) or not url:
        raise BadRequestError(f"{where} needs a url", param=where)
    if url.startswith("data:"):
        media_type, data = _data_uri(url, where)
        return {"type": "base64", "media_type": media_type, "data": data}
    if url.startswith(("https://", "http://")):
        return {"type": "url", "url": url}
    raise BadRequestError(f"{where}: the url must be a data: URI or an http(s) URL", param=where)


def _data_uri(url: str, where: str) -> tuple[str, str]:
    header, comma, data = url.partition(",")
    if not comma or not header.endswith(";base64"):
        raise BadRequestError(f"{where}: a data: URI must be base64 ('data:<type>;base64,<data>')", param=where)
    return header[5:-7] or "application/octet-stream", data


def _document(file: Any, where: str, out: Conversation) -> dict[str, Any]:
    if not isinstance(file, dict):
        raise BadRequestError(f"{where} must be an object", param=where)
    if isinstance(file.get("file_data"), str):
        media_type, data = _data_uri(file["file_data"], f"{where}.file_data")
        block: dict[str, Any] = {"type": "document", "source": {"type": "base64", "media_type": media_type, "data": data}}
    elif isinstance(file.get("file_id"), str):
        block = {"type": "document", "source": {"type": "file", "file_id": file["file_id"]}}
        out.betas.append("files-api-2025-04-14")
    else:
        raise BadRequestError(f"{where} needs file_data (a data: URI) or file_id", param=where)
    if isinstance(file.get("filename"), str):
        block["title"] = file["filename"]
    return block


def _assistant_content(message: dict[str, Any], where: str, out: Conversation) -> Content:
    content = message.get("content")
    calls = message.get("tool_calls")
    thinking = message.get("thinking_blocks")
    if isinstance(content, str) and not calls and not thinking and not message.get("cache_control"):
        return content
    blocks = _thinking(thinking, where) + _parts(content, where, out)
    if calls:
        if not isinstance(calls, list):
            raise BadRequestError(f"{where}.tool_calls must be a list", param=f"{where}.tool_calls")
        out.uses_tools = True
        blocks += [_tool_use(call, f"{where}.tool_calls[{j}]") for j, call in enumerate(calls)]
    return _with_cache_control(blocks, message)


def _thinking(blocks: Any, where: str) -> list[dict[str, Any]]:
    if not blocks:
        return []
    if not isinstance(blocks, list):
        raise BadRequestError(f"{where}.thinking_blocks must be a list", param=f"{where}.thinking_blocks")
    kept = []
    for block in blocks:
        if isinstance(block, dict) and block.get("type") == "thinking":
            kept.append({"type": "thinking", "thinking": block.get("thinking", ""), "signature": block.get("signature", "")})
        elif isinstance(block, dict) and block.get("type") == "redacted_thinking":
            kept.append({"type": "redacted_thinking", "data": block.get("data", "")})
    return kept


def _tool_use(call: Any, where: str) -> dict[str, Any]:
    function = call.get("function") if isinstance(call, dict) else None
    if not isinstance(function, dict) or not isinstance(function.get("name"), str):
        raise BadRequestError(f"{where} needs function.name", param=where)
    arguments = function.get("arguments") or "{}"
    try:
        parsed = orjson.loads(arguments) if isinstance(arguments, str) else arguments
    except orjson.JSONDecodeError:
        raise BadRequestError(f"{where}.function.arguments is not valid JSON",
                              param=f"{where}.function.arguments") from None
    if not isinstance(parsed, dict):
        raise BadRequestError(f"{where}.function.arguments must be a JSON object",
                              param=f"{where}.function.arguments")
    return {"type": "tool_use", "id": call.get("id") or "", "name": function["name"], "input": parsed}


def _tool_result(message: dict[str, Any], where: str, out: Conversation) -> dict[str, Any]:
    tool_use_id = message.get("tool_call_id")
    if not isinstance(tool_use_id, str) or not tool_use_id:
        raise BadRequestError(f"{where}.tool_call_id is required", param=f"{where}.tool_call_id")
    content = message.get("content")
    block: dict[str, Any] = {"type": "tool_result", "tool_use_id": tool_use_id,
                             "content": content if isinstance(content, str) else _parts(content, where, out)}
    if message.get("cache_control"):
        block["cache_control"] = message["cache_control"]
    return block
