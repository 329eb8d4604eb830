"""OpenAI chat messages → Converse ``system`` and ``messages`` (pure; part of :mod:`.bedrock_converse`).

System and developer messages become ``system`` blocks; user, assistant and tool
messages become alternating user/assistant turns of content blocks (text, image,
document, toolUse, toolResult, reasoningContent, cachePoint).
"""

from __future__ import annotations

import base64
from typing import Any, Mapping

import orjson

from ..errors import BadRequestError

__all__ = ["converse_messages", "image_urls", "IMAGE_FORMATS", "DOCUMENT_FORMATS"]

#: Media types Converse takes for images, and its name for each.
IMAGE_FORMATS = {"image/png": "png", "image/jpeg": "jpeg", "image/jpg": "jpeg", "image/gif": "gif",
                 "image/webp": "webp"}
DOCUMENT_FORMATS = {"application/pdf": "pdf", "text/csv": "csv", "application/msword": "doc",
                    "text/html": "html", "text/plain": "txt", "text/markdown": "md",
                    "application/vnd.ms-excel": "xls",
                    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "docx",
                    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "xlsx"}


def converse_messages(messages: list[Any], images: Mapping[str, tuple[str, bytes]], *, modify_params: bool,
                      has_tools: bool) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(``system`` blocks, ``messages`` turns); ``images``: image URLs already fetched (URL → (format, bytes))."""
    system: list[dict[str, Any]] = []
    turns: list[dict[str, Any]] = []
    for i, message in enumerate(messages):
        if not isinstance(message, dict):
            raise BadRequestError(f"messages[{i}] must be an object", param=f"messages[{i}]")
        role = message.get("role")
        if role in ("system", "developer"):
            system.extend(_system_blocks(message.get("content"), i))
            continue
        if role == "user":
            role, blocks = "user", _content_blocks(message.get("content"), i, images)
        elif role == "assistant":
            role, blocks = "assistant", _assistant_blocks(message, i, has_tools)
        elif role in ("tool", "function"):
            role, blocks = "user", [_tool_result(message, i, images, has_tools)]
        else:
            raise BadRequestError(f"messages[{i}].role '{role}' is not supported by bedrock", param=f"messages[{i}]")
        if not blocks:
            continue
        if turns and turns[-1]["role"] == role:  # Converse needs alternating roles: merge
            turns[-1]["content"].extend(blocks)
        else:
            turns.append({"role": role, "content": blocks})
    if turns and turns[0]["role"] == "assistant" and modify_params:
        turns.insert(0, {"role": "user", "content": [{"text": "."}]})
    return system, turns


def _system_blocks(content: Any, i: int) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"text": content}] if content else []
    blocks: list[dict[str, Any]] = []
    for part in _parts(content, i):
        if part.get("type") == "text" and part.get("text"):
            blocks.append({"text": part["text"]})
            if part.get("cache_control"):
                blocks.append({"cachePoint": {"type": "default"}})
    return blocks


def _parts(content: Any, i: int) -> list[dict[str, Any]]:
    if content is None:
        return []
    if not isinstance(content, list) or not all(isinstance(p, dict) for p in content):
        raise BadRequestError(f"messages[{i}].content must be a string or a list of parts", param=f"messages[{i}]")
    return content


def _content_blocks(content: Any, i: int, images: Mapping[str, tuple[str, bytes]]) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"text": content}]
    blocks: list[dict[str, Any]] = []
    for part in _parts(content, i):
        kind = part.get("type")
        if kind == "text":
            if part.get("text"):
                blocks.append({"text": part["text"]})
        elif kind == "image_url":
            blocks.append(_image(part.get("image_url"), i, images))
        elif kind == "file":
            blocks.append(_document(part.get("file"), i, len(blocks)))
        else:
            raise BadRequestError(f"messages[{i}]: content part type '{kind}' is not supported by bedrock",
                                  param=f"messages[{i}].content")
        if part.get("cache_control"):
            blocks.append({"cachePoint": {"type": "default"}})
    return blocks


def image_urls(body: Mapping[str, Any]) -> list[str]:
    """The ``http(s)`` image URLs in ``body``'s messages (the provider fetches them)."""
    urls: list[str] = []
    for message in body.get("messages") or ():
        content = message.get("content") if isinstance(message, dict) else None
        if not isinstance(content, list):
            continue
        for part in content:
            if isinstance(part, dict) and part.get("type") == "image_url":
                url = _url_of(part.get("image_url"))
                if url.startswith(("http://", "https://")) and url not in urls:
                    urls.append(url)
    return urls


def _url_of(value: Any) -> str:
    if isinstance(value, dict):
        value = value.get("url")
    return value if isinstance(value, str) else ""


def _image(value: Any, i: int, images: Mapping[str, tuple[str, bytes]]) -> dict[str, Any]:
    url = _url_of(value)
    if url.startswith("data:"):
        media, _, data = url[5:].partition(",")
        media_type = media.split(";", 1)[0].lower()
        if media_type not in IMAGE_FORMATS or not media.endswith(";base64"):
            raise BadRequestError(f"messages[{i}]: image data URI must be base64 png, jpeg, gif or webp",
                                  param=f"messages[{i}].content")
        return {"image": {"format": IMAGE_FORMATS[media_type], "source": {"bytes": data}}}
    if url.startswith("s3://"):
        fmt = IMAGE_FORMATS.get("image/" + url.rsplit(".", 1)[-1].lower(), "png")
        return {"image": {"format": fmt, "source": {"s3Location": {"uri": url}}}}
    fetched = images.get(url)
    if fetched is None:
        raise BadRequestError(f"messages[{i}]: image_url must be a data URI, an http(s) URL or an s3:// URI",
                              param=f"messages[{i}].content")
    return {"image": {"format": fetched[0], "source": {"bytes": base64.b64encode(fetched[1]).decode()}}}


def _document(value: Any, i: int, n: int) -> dict[str, Any]:
    data = value.get("file_data") if isinstance(value, dict) else None
    if not isinstance(data, str) or not data.startswith("data:"):
        raise BadRequestError(f"messages[{i}]: file parts need file_data as a base64 data URI",
                              param=f"messages[{i}].content")
    media, _, payload = data[5:].partition(",")
    fmt = DOCUMENT_FORMATS.get(media.split(";", 1)[0].lower())
    if fmt is None:
        raise BadRequestError(f"messages[{i}]: file type '{media}' is not supported by bedrock",
                              param=f"messages[{i}].content")
    name = str(value.get("filename") or f"document-{i}-{n}").rsplit(".", 1)[0]  # type: ignore[union-attr]
    name = "".join(c if c.isalnum() or c in " -()[]" else "-" for c in name)[:200] or "document"
    return {"document": {"format": fmt, "name": name, "source": {"bytes": payload}}}


def _assistant_blocks(message: dict[str, Any], i: int, has_tools: bool) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    for block in message.get("thinking_blocks") or ():
        if isinstance(block, dict) and block.get("type") == "thinking" and block.get("signature"):
            blocks.append({"reasoningContent": {"reasoningText": {"text": block.get("thinking", ""),
                                                                  "signature": block["signature"]}}})
        elif isinstance(block, dict) and block.get("type") == "redacted_thinking":
            blocks.append({"reasoningContent": {"redactedContent": block.get("data", "")}})
    content = message.get("content")
    if isinstance(content, str):
        if content:
            blocks.append({"text": content})
    else:
        blocks.extend({"text": p["text"]} for p in _parts(content, i) if p.get("type") == "text" and p.get("text"))
    for call in message.get("tool_calls") or ():
        fn = call.get("function") if isinstance(call, dict) else None
        if not isinstance(fn, dict):
            raise BadRequestError(f"messages[{i}].tool_calls must be function calls", param=f"messages[{i}]")
        arguments = fn.get("arguments") or "{}"
        if has_tools:
            blocks.append({"toolUse": {"toolUseId": call.get("id"), "name": fn.get("name"),
                                       "input": _arguments(arguments, i)}})
        else:  # Converse refuses tool blocks without toolConfig: the history becomes text (as LiteLLM)
            blocks.append({"text": f"[tool call {call.get('id')}: {fn.get('name')}({arguments})]"})
    return blocks


def _arguments(arguments: Any, i: int) -> Any:
    if isinstance(arguments, dict):
        return arguments
    try:
        value = orjson.loads(arguments)
    except (orjson.JSONDecodeError, TypeError):
        raise BadRequestError(f"messages[{i}]: tool call arguments are not JSON", param=f"messages[{i}]") from None
    return value if isinstance(value, dict) else {"value": value}


def _tool_result(message: dict[str, Any], i: int, images: Mapping[str, tuple[str, bytes]], has_tools: bool) -> dict[str, Any]:
    content = message.get("content")
    if isinstance(content, str) or content is None:
        parts: list[dict[str, Any]] = [{"text": content or "."}]
    else:
        parts = [b for b in _content_blocks(content, i, images) if "cachePoint" not in b] or [{"text": "."}]
    call_id = message.get("tool_call_id") or message.get("name")
    if not has_tools:
        text = " ".join(p.get("text", "") for p in parts if "text" in p)
        return {"text": f"[tool result for {call_id}: {text}]"}
    return {"toolResult": {"toolUseId": call_id, "content": parts}}
