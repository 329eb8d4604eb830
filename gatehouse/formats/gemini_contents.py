"""OpenAI ``messages`` → Gemini ``systemInstruction`` and ``contents`` (part of :mod:`.gemini`).

Media: a data URI → ``inlineData``; ``gs://`` URIs, Files API URIs and (on
Vertex) http(s) URLs whose media type is known → ``fileData``; any other
http(s) URL was downloaded by the provider and arrives in ``fetched`` →
``inlineData`` (what LiteLLM does). Tool call ids carry Gemini's thought
signatures after ``__thought__`` (LiteLLM's encoding), so a client that sends
its history back keeps Gemini 3's function calling working.
"""

from __future__ import annotations

import mimetypes
import re
from dataclasses import dataclass
from typing import Any, Mapping, Protocol

import orjson

from ..errors import BadRequestError

__all__ = ["Blob", "Messages", "media_urls", "media_type", "split_call_id", "THOUGHT_SEPARATOR", "DUMMY_SIGNATURE"]

#: A tool call id carries Gemini's thought signature after this separator (as LiteLLM encodes it).
THOUGHT_SEPARATOR = "__thought__"
#: Google's documented placeholder for a function call whose signature was lost (Gemini 3 requires one).
DUMMY_SIGNATURE = "skip_thought_signature_validator"

_MEDIA_TYPES = {
    "jpg": "image/jpeg", "jpeg": "image/jpeg", "png": "image/png", "webp": "image/webp", "gif": "image/gif",
    "heic": "image/heic", "heif": "image/heif", "pdf": "application/pdf", "txt": "text/plain",
    "mp3": "audio/mp3", "wav": "audio/wav", "flac": "audio/flac", "ogg": "audio/ogg", "aac": "audio/aac",
    "mp4": "video/mp4", "mov": "video/mov", "mpeg": "video/mpeg", "mpg": "video/mpeg", "avi": "video/avi",
    "wmv": "video/wmv", "flv": "video/flv", "webm": "video/webm",
}
_DATA_URI = re.compile(r"data:(?P<mime>[\w.+-]+/[\w.+-]+)?(?P<params>(?:;[^;,]*)*),(?P<data>.*)", re.S)
_FILES_API = "generativelanguage.googleapis.com/"


@dataclass(frozen=True, slots=True)
class Blob:
    """Media bytes, base64-encoded, as Gemini's ``inlineData`` wants them."""

    mime_type: str
    data: str


def split_call_id(call_id: Any) -> tuple[str, str | None]:
    """A tool call id → (the id, Gemini's thought signature carried in it or None)."""
    text = str(call_id or "")
    head, sep, signature = text.partition(THOUGHT_SEPARATOR)
    return head, (signature or None) if sep else None


def media_urls(body: Mapping[str, Any], *, vertex: bool) -> list[str]:
    """HTTP(S) URLs in ``messages`` that the provider must download and inline (as LiteLLM does).

    AI Studio takes no arbitrary URL, so every http(s) URL is fetched (Files API
    URIs excepted); Vertex fetches URLs itself when it knows the media type (from
    ``format`` or the file extension), so only the others are listed.
    """
    urls: list[str] = []
    for message in body.get("messages") or []:
        content = message.get("content") if isinstance(message, Mapping) else None
        for part in content if isinstance(content, list) else ():
            url, fmt = _part_url(part)
            if url and url.startswith(("http://", "https://")) and url not in urls and _FILES_API not in url:
                if not (vertex and (fmt or media_type(url))):
                    urls.append(url)
    return urls


class _Request(Protocol):
    model: str
    fetched: Mapping[str, Blob]

    def bad(self, message: str) -> BadRequestError: ...


class Messages:
    """``messages`` → (system parts, contents)."""

    def __init__(self, request: _Request, messages: list[Any]) -> None:
        self.request, self.messages = request, messages
        self.system: list[dict[str, Any]] = []
        self.contents: list[dict[str, Any]] = []
        self.call_names: dict[str, str] = {}
        self.last_kind = ""

    def convert(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        for index, message in enumerate(self.messages):
            if not isinstance(message, Mapping):
                raise self.request.bad(f"messages[{index}] is not an object")
            role = message.get("role")
            if role in ("system", "developer"):
                self.system += [p for p in self.parts(message.get("content"), index) if "text" in p]
            elif role == "user":
                self.add("user", "user", self.parts(message.get("content"), index))
            elif role == "assistant":
                self.add("model", "model", self.assistant(message, index))
            elif role in ("tool", "function"):
                self.add("user", "tool", [self.tool_result(message)])
            else:
                raise self.request.bad(f"messages[{index}].role '{role}' is not one of system, user, assistant, tool")
        return self.system, self.contents

    def add(self, role: str, kind: str, parts: list[dict[str, Any]]) -> None:
        if not parts:
            return
        if self.contents and self.last_kind == kind:
            self.contents[-1]["parts"].extend(parts)
        else:
            self.contents.append({"role": role, "parts": parts})
        self.last_kind = kind

    def parts(self, content: Any, index: int) -> list[dict[str, Any]]:
        if content is None:
            return []
        if isinstance(content, str):
            return [{"text": content}] if content else []
        if not isinstance(content, list):
            raise self.request.bad(f"messages[{index}].content must be a string or a list of parts")
        return [p for part in content if (p := self.part(part, index)) is not None]

    def part(self, part: Any, index: int) -> dict[str, Any] | None:
        kind = part.get("type") if isinstance(part, Mapping) else None
        if kind == "text":
            return {"text": part.get("text") or ""} if part.get("text") else None
        if kind in ("image_url", "file", "input_audio"):
            url, fmt = _part_url(part)
            if url:
                return self.media(url, fmt, index)
        raise self.request.bad(f"messages[{index}] has a content part of type '{kind}' that Gemini cannot take")

    def media(self, url: str, fmt: str | None, index: int) -> dict[str, Any]:
        if url.startswith("data:"):
            found = _DATA_URI.fullmatch(url)
            if found is None or ";base64" not in found["params"]:
                raise self.request.bad(f"messages[{index}]: a data URI must be base64-encoded (data:<type>;base64,...)")
            return {"inlineData": {"mimeType": fmt or found["mime"] or "application/octet-stream", "data": found["data"]}}
        blob = self.request.fetched.get(url)
        if blob is not None:
            return {"inlineData": {"mimeType": fmt or blob.mime_type, "data": blob.data}}
        if url.startswith(("gs://", "http://", "https://")):
            file_data = {"fileUri": url}
            mime = fmt or media_type(url)
            if mime:
                file_data["mimeType"] = mime
            elif url.startswith("gs://"):
                raise self.request.bad(f"messages[{index}]: cannot tell the media type of '{url}'; set its format")
            return {"fileData": file_data}
        if not fmt:  # raw base64 in input_audio.data
            raise self.request.bad(f"messages[{index}]: media must be a data URI, a gs:// URI or an http(s) URL")
        return {"inlineData": {"mimeType": fmt, "data": url}}

    def assistant(self, message: Mapping[str, Any], index: int) -> list[dict[str, Any]]:
        parts = self.parts(message.get("content"), index)
        calls = list(message.get("tool_calls") or [])
        if isinstance(message.get("function_call"), Mapping):
            calls.append({"id": "", "function": message["function_call"]})
        for call in calls:
            function = call.get("function") if isinstance(call, Mapping) else None
            if not isinstance(function, Mapping) or not isinstance(function.get("name"), str):
                raise self.request.bad(f"messages[{index}].tool_calls: each call needs function.name")
            call_id, signature = split_call_id(call.get("id"))
            self.call_names[call_id] = function["name"]
            part: dict[str, Any] = {"functionCall": {"name": function["name"], "args": self.arguments(function, index)}}
            signature = signature or (DUMMY_SIGNATURE if "gemini-3" in self.request.model else None)
            if signature:
                part["thoughtSignature"] = signature
            parts.append(part)
        return parts

    def arguments(self, function: Mapping[str, Any], index: int) -> Any:
        raw = function.get("arguments")
        if isinstance(raw, Mapping):
            return raw
        try:
            args = orjson.loads(raw) if raw else {}
        except (orjson.JSONDecodeError, TypeError):
            raise self.request.bad(f"messages[{index}].tool_calls: arguments are not valid JSON") from None
        return args if isinstance(args, dict) else {"value": args}

    def tool_result(self, message: Mapping[str, Any]) -> dict[str, Any]:
        call_id, _ = split_call_id(message.get("tool_call_id"))
        name = message.get("name") or self.call_names.get(call_id) or ""
        content = message.get("content")
        if isinstance(content, list):
            content = "".join(str(p.get("text", "")) for p in content if isinstance(p, Mapping))
        try:
            parsed = orjson.loads(content) if isinstance(content, str) and content[:1] in ("{", "[") else None
        except orjson.JSONDecodeError:
            parsed = None
        response = parsed if isinstance(parsed, dict) else {"content": content if content is not None else ""}
        return {"functionResponse": {"name": name, "response": response}}


def _part_url(part: Any) -> tuple[str | None, str | None]:
    """(URL or data, format) of an ``image_url`` / ``file`` / ``input_audio`` content part."""
    if not isinstance(part, Mapping):
        return None, None
    kind = part.get("type")
    if kind == "image_url":
        image = part.get("image_url")
        if isinstance(image, Mapping):
            return image.get("url"), image.get("format")
        return (image if isinstance(image, str) else None), None
    if kind == "file":
        file = part.get("file")
        file = file if isinstance(file, Mapping) else {}
        return file.get("file_data") or file.get("file_id"), file.get("format")
    if kind == "input_audio":
        audio = part.get("input_audio")
        audio = audio if isinstance(audio, Mapping) else {}
        fmt = audio.get("format")
        return audio.get("data"), (f"audio/{fmt}" if fmt and "/" not in fmt else fmt)
    return None, None


def media_type(url: str) -> str | None:
    """The media type a URL's file extension names (None when unknown)."""
    path = url.split("?", 1)[0].split("#", 1)[0]
    ext = path.rsplit(".", 1)[-1].lower() if "." in path.rsplit("/", 1)[-1] else ""
    return _MEDIA_TYPES.get(ext) or (mimetypes.types_map.get("." + ext) if ext else None)
