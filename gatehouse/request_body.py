"""Reading a client's body within limits: size, time, JSON depth, multipart shape.

Every limit is checked while the body is read, never after: a body is
counted chunk by chunk, a multipart form part by part, and the whole read
has one deadline. Breaking a limit is a clean client error:

    too many bytes (whole body, or one form field)    413 invalid_request_error
    too many form parts, malformed form or JSON       400 invalid_request_error
    JSON nested deeper than MAX_JSON_DEPTH            400 invalid_request_error
    body not received within read_timeout seconds     408 invalid_request_error

Form field names must be printable ASCII, file names and part content types
free of control characters: what is accepted here can be sent upstream.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from typing import Any, AsyncIterator, Callable

import orjson
from aiohttp import BodyPartReader, MultipartReader, web
from aiohttp.http_exceptions import HttpProcessingError

from .errors import BadRequestError, InvalidJSONError, PayloadTooLargeError, RequestTimeoutError
from .providers.base import UploadFile

__all__ = ["BodyLimits", "MAX_JSON_DEPTH", "parse_json_object", "check_json_depth", "read_body", "read_form",
           "FieldCheck"]

#: Deepest JSON nesting accepted in a request (orjson reads 1024 levels but writes only 255).
MAX_JSON_DEPTH = 100
_CHUNK = 64 * 1024
_FIELD_NAME = re.compile(r"[\x21-\x7e]{1,256}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_CONTENT_TYPE = re.compile(r"[\x20-\x7e]{1,256}")
#: Form fields that are always files, with or without a file name.
FILE_FIELDS = frozenset({"file"})
_MALFORMED = (ValueError, AssertionError, LookupError, UnicodeError, HttpProcessingError)

#: Called with each text field as soon as it is read (``check("model", "gpt-4o")``); raises to refuse.
FieldCheck = Callable[[str, Any], None]


@dataclass(frozen=True, slots=True)
class BodyLimits:
    """How much of what a client may send (``general_settings``, see docs/config.md)."""

    max_bytes: int = 16 * 1024 * 1024
    read_timeout: float = 30.0
    """Seconds to receive the whole body, however it trickles in."""
    max_parts: int = 100
    max_field_bytes: int = 64 * 1024
    """Bytes of one text field of a form (files are bounded by ``max_bytes`` only)."""

    def too_large(self) -> PayloadTooLargeError:
        return PayloadTooLargeError(f"Request body too large: the limit is {self.max_bytes} bytes")

    def too_slow(self) -> RequestTimeoutError:
        return RequestTimeoutError(f"The request body was not received within {self.read_timeout:g} s",
                                   headers={"Connection": "close"})


def check_json_depth(value: Any, limit: int = MAX_JSON_DEPTH) -> None:
    """400 when ``value`` nests lists and objects more than ``limit`` levels deep."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item
        for child in children:
            if isinstance(child, (dict, list)):
                if depth + 1 > limit:
                    raise InvalidJSONError(f"nested more than {limit} levels deep")
                stack.append((child, depth + 1))


def parse_json_object(raw: bytes, *, limit: int = MAX_JSON_DEPTH) -> dict[str, Any]:
    """A request body as a JSON object (400 for anything else)."""
    if not raw.strip():
        raise InvalidJSONError("the request body is empty; send a JSON object")
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidJSONError(str(exc)) from None
    if not isinstance(body, dict):
        raise InvalidJSONError("expected an object")
    if raw.count(b"[") + raw.count(b"{") > limit:  # only then can it be too deep: walk it
        check_json_depth(body, limit)
    return body


async def read_body(request: web.Request, limits: BodyLimits) -> bytes:
    """The raw body, counted while read, within the deadline."""
    length = request.content_length
    if length is not None and length > limits.max_bytes:
        raise limits.too_large()
    try:
        async with asyncio.timeout(limits.read_timeout):
            # aiohttp counts while it reads (the application's client_max_size is max_bytes) and keeps
            # the bytes, so a custom_auth function that read the body first leaves it readable here
            return await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise limits.too_large() from None
    except TimeoutError:
        raise limits.too_slow() from None


async def read_form(request: web.Request, limits: BodyLimits, check: FieldCheck | None = None) -> dict[str, Any]:
    """A ``multipart/form-data`` body: text fields (JSON text decoded), files as :class:`UploadFile`."""
    length = request.content_length
    if length is not None and length > limits.max_bytes:
        raise limits.too_large()
    if not request.content_type.startswith("multipart/"):
        raise BadRequestError("this endpoint takes a multipart/form-data body", param="request_body")
    try:
        async with asyncio.timeout(limits.read_timeout):
            return await _Form(limits, check).read(await request.multipart())
    except TimeoutError:
        raise limits.too_slow() from None
    except _MALFORMED as exc:
        raise BadRequestError(f"Invalid multipart body: {_reason(exc)}", param="request_body") from None


class _Form:
    """One form being read: fields so far, bytes so far."""

    def __init__(self, limits: BodyLimits, check: FieldCheck | None) -> None:
        self.limits, self.check = limits, check
        self.fields: dict[str, Any] = {}
        self.size = 0

    async def read(self, reader: MultipartReader) -> dict[str, Any]:
        parts = 0
        while (part := await reader.next()) is not None:
            parts += 1
            if parts > self.limits.max_parts:
                raise BadRequestError(f"Invalid multipart body: more than {self.limits.max_parts} parts",
                                      param="request_body")
            if not isinstance(part, BodyPartReader):
                raise BadRequestError("Invalid multipart body: nested multipart parts are not accepted",
                                      param="request_body")
            await self._part(part)
        return self.fields

    async def _part(self, part: BodyPartReader) -> None:
        name = part.name or ""
        if not _FIELD_NAME.fullmatch(name) or '"' in name:
            raise BadRequestError("Invalid multipart body: a field name must be printable ASCII",
                                  param="request_body")
        filename = part.filename
        if filename is None and name in FILE_FIELDS:  # some clients send the file without a file name
            filename = name
        if filename is not None:
            await self._file(part, name, filename)
            return
        data = await self._collect(part, self.limits.max_field_bytes, name)
        value = _form_value(data.decode("utf-8", "replace"))
        if name.endswith("[]"):  # form arrays (`guardrails[]`, `timestamp_granularities[]`): a list
            self.fields.setdefault(name[:-2], []).append(value)
            return
        if self.check is not None:
            self.check(name, value)
        self.fields[name] = value

    async def _file(self, part: BodyPartReader, name: str, filename: str) -> None:
        if not filename or _CONTROL.search(filename) or len(filename) > 1024:
            raise BadRequestError("Invalid multipart body: a file name must not be empty or hold control characters",
                                  param=name)
        ctype = part.headers.get("Content-Type", "application/octet-stream")
        if not _CONTENT_TYPE.fullmatch(ctype):
            raise BadRequestError("Invalid multipart body: a part's Content-Type must be printable ASCII", param=name)
        data = await self._collect(part, None, name)
        self.fields[name] = UploadFile(filename, ctype, data)

    async def _collect(self, part: BodyPartReader, field_limit: int | None, name: str) -> bytes:
        data = bytearray()
        async for chunk in _chunks(part):
            data += chunk
            self.size += len(chunk)
            if self.size > self.limits.max_bytes:
                raise self.limits.too_large()
            if field_limit is not None and len(data) > field_limit:
                raise PayloadTooLargeError(f"Form field '{name}' too large: the limit is {field_limit} bytes",
                                           param=name)
        return bytes(data)


async def _chunks(part: BodyPartReader) -> AsyncIterator[bytes]:
    while chunk := await part.read_chunk(_CHUNK):
        yield chunk


def _form_value(text: str) -> Any:
    """Form fields are strings; JSON objects and lists (``metadata``) are decoded."""
    if text[:1] in ("{", "["):
        try:
            value = orjson.loads(text)
        except orjson.JSONDecodeError:
            return text
        check_json_depth(value)
        return value
    return text


def _reason(exc: BaseException) -> str:
    """A short, clean reason (no reprs, no internals)."""
    if isinstance(exc, HttpProcessingError):
        return "a part's headers are malformed"
    text = _CONTROL.sub(" ", str(exc)).strip()[:200]
    return text or "malformed"
