"""A fake OpenAI-compatible upstream: deterministic answers, scriptable failures.

Used by the test suite, the benchmarks and hook authors. Every route is served
with and without the ``/v1`` prefix::

    POST chat/completions  completions  embeddings  images/generations
         moderations  audio/transcriptions (multipart)        GET models

Default answers: chat says ``"Hello! You said: <last user text>"``, completions
say ``"Hello! You said: <prompt>"``; token counts are whitespace-separated
words. Streams are SSE frames ``data: <compact json>\\n\\n`` ending with
``data: [DONE]``; one content chunk per word of the reply.

Behaviour (keys of :class:`Behaviour`) comes from three layers, later wins:
``set_default(...)``, the request body's ``fake_upstream: {...}`` field, and
``queue(...)`` (FIFO, one entry consumed per request). Every request is
recorded in :attr:`FakeUpstream.requests`; :attr:`FakeUpstream.cancelled`
counts requests whose client left before the answer was complete, and
:attr:`FakeUpstream.completed` those answered in full.

Run it alone: ``python -m gatehouse.testing.fake_upstream --port 8001``.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import dataclasses
import hashlib
import re
import signal
import struct
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable

import orjson
from aiohttp import web

__all__ = ["Behaviour", "RecordedRequest", "FakeUpstream", "main"]

DEFAULT_ERROR: dict[str, Any] = {
    "message": "fake upstream error", "type": "server_error", "param": None, "code": None,
}
AUTH_ERROR: dict[str, Any] = {
    "message": "Incorrect API key provided", "type": "invalid_request_error",
    "param": None, "code": "invalid_api_key",
}
IMAGE_URL = "https://fake-upstream.invalid/image.png"
MODERATION_CATEGORIES = (
    "harassment", "harassment/threatening", "hate", "hate/threatening", "illicit",
    "illicit/violent", "self-harm", "self-harm/instructions", "self-harm/intent",
    "sexual", "sexual/minors", "violence", "violence/graphic",
)


@dataclass(frozen=True)
class Behaviour:
    """How to answer one request; every field defaults to "behave normally"."""

    status: int | None = None  # answer this HTTP status with ``{"error": error}``
    error: dict[str, Any] | None = None  # the OpenAI error object (DEFAULT_ERROR if None)
    headers: dict[str, str] = field(default_factory=dict)  # extra response headers
    delay: float = 0.0  # seconds to wait before answering
    content: str | None = None  # replaces the reply text
    chunks: list[str] | None = None  # the streamed deltas, exactly
    chunk_delay: float = 0.0  # seconds before each streamed content chunk
    die_after_chunks: int | None = None  # close the connection after N content chunks
    tool_calls: list[dict[str, Any]] | None = None  # reply with these tool calls
    model: str | None = None  # the response's ``model``

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> Behaviour:
        """Build from keyword values; unknown keys raise ``ValueError``."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown fake_upstream behaviour keys: {unknown}")
        return cls(**values)

    def reply(self, default: str) -> str:
        """The reply text: ``chunks`` joined, else ``content``, else ``default``."""
        if self.chunks is not None:
            return "".join(self.chunks)
        return default if self.content is None else self.content

    def pieces(self, reply: str) -> list[str]:
        """The streamed deltas: ``chunks``, else the words of ``reply``."""
        return list(self.chunks) if self.chunks is not None else split_words(reply)


@dataclass
class RecordedRequest:
    """One request as the fake upstream received it."""

    method: str
    path: str
    headers: dict[str, str]  # names as sent
    json: Any | None  # parsed JSON body, or None
    form: dict[str, Any] | None  # multipart fields; files as {"filename", "size"}
    time: float  # UNIX seconds when received


@dataclass
class _StreamPlan:
    """An SSE answer: frames before, per content chunk, and after the content."""

    head: list[dict[str, Any]]
    content: list[dict[str, Any]]
    tail: list[dict[str, Any]]


Answer = dict[str, Any] | _StreamPlan | str
AnswerFn = Callable[[RecordedRequest, Behaviour, str], Answer]


def split_words(text: str) -> list[str]:
    """Words keeping their following whitespace; joining them gives ``text``."""
    return re.findall(r"^\s+|\S+\s*", text)


def count_words(text: str) -> int:
    return len(text.split())


def message_text(content: Any) -> str:
    """Text of a message ``content``: a string, or its text parts joined by a space."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(p.get("text", "") for p in content
                        if isinstance(p, dict) and p.get("type") == "text")
    return ""


def _usage(prompt: int, completion: int) -> dict[str, int]:
    return {"prompt_tokens": prompt, "completion_tokens": completion,
            "total_tokens": prompt + completion}


def _vector(text: str, dims: int) -> list[float]:
    """A deterministic vector in [-1, 1] derived from sha256 of ``text``."""
    values: list[float] = []
    block = 0
    while len(values) < dims:
        digest = hashlib.sha256(f"{block}:{text}".encode()).digest()
        values.extend(round(b / 127.5 - 1.0, 6) for b in digest)
        block += 1
    return values[:dims]


def _input_texts(value: Any) -> list[str]:
    """Items of an ``input`` field: a string, token list, or list of either."""
    if isinstance(value, str) or (isinstance(value, list) and value
                                  and isinstance(value[0], int)):
        value = [value]
    items = value if isinstance(value, list) else [value]
    texts = []
    for item in items:
        if isinstance(item, dict):
            texts.append(str(item.get("text", "")))
        else:
            texts.append(item if isinstance(item, str) else " ".join(map(str, item or [])))
    return texts


def _stream_frames(base: dict[str, Any], choice: Callable[..., dict[str, Any]],
                   body: dict[str, Any]) -> Callable[..., dict[str, Any]]:
    """A frame builder over ``base``; adds ``usage: null`` when usage is requested."""
    with_usage = bool((body.get("stream_options") or {}).get("include_usage"))

    def frame(*args: Any, **kwargs: Any) -> dict[str, Any]:
        out = {**base, "choices": [choice(*args, **kwargs)]}
        return {**out, "usage": None} if with_usage else out
    return frame


def _usage_tail(base: dict[str, Any], body: dict[str, Any],
                usage: dict[str, int]) -> list[dict[str, Any]]:
    if (body.get("stream_options") or {}).get("include_usage"):
        return [{**base, "choices": [], "usage": usage}]
    return []


def answer_chat(rec: RecordedRequest, b: Behaviour, rid: str) -> Answer:
    """The chat.completion (or its stream) for one request."""
    body = rec.json or {}
    messages = body.get("messages") or []
    texts = [message_text(m.get("content")) for m in messages if isinstance(m, dict)]
    last_user = next((message_text(m.get("content")) for m in reversed(messages)
                      if isinstance(m, dict) and m.get("role") == "user"), "")
    reply = "" if b.tool_calls else b.reply("Hello! You said: " + last_user)
    usage = _usage(sum(count_words(t) for t in texts), count_words(reply))
    finish = "tool_calls" if b.tool_calls else "stop"
    model = b.model or body.get("model") or "fake-model"
    base = {"id": "chatcmpl-" + rid, "created": int(time.time()), "model": model,
            "system_fingerprint": None}
    if not body.get("stream"):
        message: dict[str, Any] = {"role": "assistant",
                                   "content": None if b.tool_calls else reply}
        if b.tool_calls:
            message["tool_calls"] = b.tool_calls
        return {**base, "object": "chat.completion", "usage": usage, "choices": [
            {"index": 0, "message": message, "logprobs": None, "finish_reason": finish}]}
    base["object"] = "chat.completion.chunk"
    frame = _stream_frames(base, lambda delta, fin=None: {
        "index": 0, "delta": delta, "logprobs": None, "finish_reason": fin}, body)
    deltas = ([{"tool_calls": [{"index": i, **c}]} for i, c in enumerate(b.tool_calls)]
              if b.tool_calls else [{"content": p} for p in b.pieces(reply)])
    return _StreamPlan(head=[frame({"role": "assistant", "content": ""})],
                       content=[frame(d) for d in deltas],
                       tail=[frame({}, finish), *_usage_tail(base, body, usage)])


def answer_completion(rec: RecordedRequest, b: Behaviour, rid: str) -> Answer:
    """The text_completion (or its stream) for one request."""
    body = rec.json or {}
    prompts = _input_texts(body.get("prompt", ""))
    reply = b.reply("Hello! You said: " + (prompts[0] if prompts else ""))
    usage = _usage(sum(count_words(p) for p in prompts), count_words(reply))
    base = {"id": "cmpl-" + rid, "object": "text_completion", "created": int(time.time()),
            "model": b.model or body.get("model") or "fake-model"}
    if not body.get("stream"):
        return {**base, "usage": usage, "choices": [
            {"text": reply, "index": 0, "logprobs": None, "finish_reason": "stop"}]}
    frame = _stream_frames(base, lambda text, fin=None: {
        "text": text, "index": 0, "logprobs": None, "finish_reason": fin}, body)
    return _StreamPlan(head=[], content=[frame(p) for p in b.pieces(reply)],
                       tail=[frame("", "stop"), *_usage_tail(base, body, usage)])


def answer_embeddings(rec: RecordedRequest, b: Behaviour, rid: str) -> Answer:
    """One vector per input item (float list, or base64 float32 if asked)."""
    body = rec.json or {}
    texts = _input_texts(body.get("input", ""))
    dims = int(body.get("dimensions") or 8)
    data = []
    for i, text in enumerate(texts):
        vec: Any = _vector(text, dims)
        if body.get("encoding_format") == "base64":
            vec = base64.b64encode(struct.pack(f"<{dims}f", *vec)).decode()
        data.append({"object": "embedding", "index": i, "embedding": vec})
    tokens = sum(count_words(t) for t in texts)
    return {"object": "list", "data": data, "model": b.model or body.get("model"),
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}


def answer_images(rec: RecordedRequest, b: Behaviour, rid: str) -> Answer:
    body = rec.json or {}
    item = {"url": IMAGE_URL, "revised_prompt": body.get("prompt")}
    return {"created": int(time.time()), "data": [item] * int(body.get("n") or 1)}


def answer_moderations(rec: RecordedRequest, b: Behaviour, rid: str) -> Answer:
    """One result per input; flagged when the text contains "flag"."""
    body = rec.json or {}
    results = []
    for text in _input_texts(body.get("input", "")):
        flagged = "flag" in text.lower()
        cats = {c: flagged and c == "harassment" for c in MODERATION_CATEGORIES}
        results.append({"flagged": flagged, "categories": cats,
                        "category_scores": {c: 0.99 if v else 0.0 for c, v in cats.items()}})
    model = b.model or body.get("model") or "omni-moderation-latest"
    return {"id": "modr-" + rid, "model": model, "results": results}


def answer_transcription(rec: RecordedRequest, b: Behaviour, rid: str) -> Answer:
    form = rec.form or {}
    upload: dict[str, Any] = form["file"] if isinstance(form.get("file"), dict) else {}
    text = b.content or f"transcribed {upload.get('filename')} ({upload.get('size', 0)} bytes)"
    return text if form.get("response_format") == "text" else {"text": text}


def answer_models(rec: RecordedRequest, b: Behaviour, rid: str) -> Answer:
    return {"object": "list", "data": [
        {"id": "fake-model", "object": "model", "created": 0, "owned_by": "fake-upstream"}]}


ROUTES: dict[tuple[str, str], AnswerFn] = {
    ("POST", "chat/completions"): answer_chat,
    ("POST", "completions"): answer_completion,
    ("POST", "embeddings"): answer_embeddings,
    ("POST", "images/generations"): answer_images,
    ("POST", "moderations"): answer_moderations,
    ("POST", "audio/transcriptions"): answer_transcription,
    ("GET", "models"): answer_models,
}


async def _read_request(request: web.Request) -> RecordedRequest:
    """Record a request: JSON body, or multipart fields with file name and size."""
    body: Any = None
    form: dict[str, Any] | None = None
    if request.content_type.startswith("multipart/"):
        form = {}
        for key, value in (await request.post()).items():
            if isinstance(value, web.FileField):
                form[key] = {"filename": value.filename, "size": len(value.file.read())}
            else:
                form[key] = value
    elif request.can_read_body:
        raw = await request.read()
        try:
            body = orjson.loads(raw) if raw else None
        except orjson.JSONDecodeError:
            body = None
    return RecordedRequest(request.method, request.path, dict(request.headers),
                           body, form, time.time())


def _directive(rec: RecordedRequest) -> dict[str, Any]:
    """The ``fake_upstream`` field of a JSON body, or of a multipart form (JSON text)."""
    if isinstance(rec.json, dict) and isinstance(rec.json.get("fake_upstream"), dict):
        return dict(rec.json["fake_upstream"])
    raw = (rec.form or {}).get("fake_upstream")
    return dict(orjson.loads(raw)) if isinstance(raw, str) else {}


def _sse(frame: dict[str, Any] | str) -> bytes:
    data = frame.encode() if isinstance(frame, str) else orjson.dumps(frame)
    return b"data: " + data + b"\n\n"


def _error_body(error: dict[str, Any]) -> bytes:
    return orjson.dumps({"error": error})


def _bad_request(message: str) -> bytes:
    return _error_body({**DEFAULT_ERROR, "message": message, "type": "invalid_request_error"})


class FakeUpstream:
    """The fake OpenAI API server: start it, script it, inspect what it received.

    Thread-safe: the Python API may be used from another thread than the one
    serving (see :meth:`start_in_thread`). ``completed`` and ``cancelled`` are
    counted after the answer is written, so they may trail the client by a
    moment: wait with :meth:`wait_until` / :meth:`until`. After :meth:`reset`,
    late outcomes of earlier requests are not counted.
    """

    def __init__(self, require_api_key: str | None = None) -> None:
        """``require_api_key``: answer 401 unless ``Authorization: Bearer <key>``."""
        self.require_api_key = require_api_key
        self.requests: list[RecordedRequest] = []
        self.cancelled = 0
        self.completed = 0
        self._queue: list[dict[str, Any]] = []
        self._default: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._generation = 0  # bumped by reset(): late outcomes of older requests are not counted
        self._runner: web.AppRunner | None = None
        self._url: str | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def url(self) -> str:
        """The base URL clients use, ``http://host:port/v1``."""
        if self._url is None:
            raise RuntimeError("FakeUpstream is not started")
        return self._url

    # -- scripting ---------------------------------------------------------
    def queue(self, **behaviour: Any) -> None:
        """Append a behaviour consumed by the next request (FIFO)."""
        Behaviour.from_dict(behaviour)
        with self._lock:
            self._queue.append(behaviour)

    def set_default(self, **behaviour: Any) -> None:
        """Replace the behaviour used under body directives and queued ones."""
        Behaviour.from_dict(behaviour)
        with self._lock:
            self._default = behaviour

    def reset(self) -> None:
        """Clear the queue, the default behaviour, the records and the counters."""
        with self._lock:
            self._queue.clear()
            self._default = {}
            self.requests.clear()
            self.cancelled = self.completed = 0
            self._generation += 1

    def _record(self, rec: RecordedRequest) -> tuple[int, int]:
        """Append ``rec`` to :attr:`requests`; return its 1-based number and generation."""
        with self._lock:
            self.requests.append(rec)
            return len(self.requests), self._generation

    def _behaviour(self, rec: RecordedRequest) -> Behaviour:
        """Merge default < body directive < next queued entry (consumed)."""
        with self._lock:
            queued = self._queue.pop(0) if self._queue else {}
            return Behaviour.from_dict({**self._default, **_directive(rec), **queued})

    def _count(self, counter: str, generation: int) -> None:
        with self._lock:
            if generation == self._generation:
                setattr(self, counter, getattr(self, counter) + 1)

    # -- waiting -----------------------------------------------------------
    def wait_until(self, predicate: Callable[[], bool], timeout: float = 5.0) -> bool:
        """Poll ``predicate`` (blocking) until true or ``timeout``; return its last value."""
        deadline = time.monotonic() + timeout
        while not predicate() and time.monotonic() < deadline:
            time.sleep(0.01)
        return predicate()

    async def until(self, predicate: Callable[[], bool], timeout: float = 5.0) -> bool:
        """:meth:`wait_until` for coroutines: polls without blocking the loop."""
        deadline = time.monotonic() + timeout
        while not predicate() and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        return predicate()

    # -- lifecycle ---------------------------------------------------------
    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Listen on ``host:port`` (0 = any free port); return :attr:`url`."""
        app = web.Application(client_max_size=64 * 1024 * 1024)
        for (method, path), answer in ROUTES.items():
            handler = self._handler(answer)
            app.router.add_route(method, "/v1/" + path, handler)
            app.router.add_route(method, "/" + path, handler)
        self._runner = web.AppRunner(app, handler_cancellation=True, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        bound = self._runner.addresses[0][1]
        shown = f"[{host}]" if ":" in host else host
        self._url = f"http://{shown}:{bound}/v1"
        return self._url

    async def stop(self) -> None:
        """Stop listening; open connections are closed."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeUpstream:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def start_in_thread(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve on a new event loop in a daemon thread; return :attr:`url`."""
        loop = asyncio.new_event_loop()
        self._loop = loop
        self._thread = threading.Thread(target=loop.run_forever, daemon=True,
                                        name="fake-upstream")
        self._thread.start()
        return asyncio.run_coroutine_threadsafe(self.start(host, port), loop).result(10)

    def stop_thread(self) -> None:
        """Stop a server started by :meth:`start_in_thread` and join its thread."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        asyncio.run_coroutine_threadsafe(self.stop(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()
        self._loop = self._thread = None

    # -- serving -----------------------------------------------------------
    def _handler(self, answer: AnswerFn) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def handle(request: web.Request) -> web.StreamResponse:
            return await self._handle(request, answer)
        return handle

    async def _handle(self, request: web.Request, answer: AnswerFn) -> web.StreamResponse:
        """Record, authenticate, pick the behaviour, answer; count the outcome."""
        rec = await _read_request(request)
        number, generation = self._record(rec)
        rid = f"fake-{number}"
        expected = f"Bearer {self.require_api_key}"
        if self.require_api_key and request.headers.get("Authorization") != expected:
            return await _send(request, 401, _error_body(AUTH_ERROR), "application/json", {})
        try:
            b = self._behaviour(rec)
        except ValueError as exc:
            return await _send(request, 400, _bad_request(str(exc)), "application/json", {})
        try:
            if b.delay:
                await asyncio.sleep(b.delay)
            resp, finished = await self._respond(request, rec, b, lambda: answer(rec, b, rid))
        except asyncio.CancelledError:
            self._count("cancelled", generation)
            raise
        except ConnectionError:
            self._count("cancelled", generation)
            return web.Response(status=499)
        if finished:
            self._count("completed", generation)
        return resp

    async def _respond(self, request: web.Request, rec: RecordedRequest, b: Behaviour,
                       make: Callable[[], Answer]) -> tuple[web.StreamResponse, bool]:
        """Send the error, the stream or the body; True when sent in full."""
        if b.status is not None:
            body = _error_body(b.error if b.error is not None else DEFAULT_ERROR)
            return await _send(request, b.status, body, "application/json", b.headers), True
        if rec.method == "POST" and rec.form is None and not isinstance(rec.json, dict):
            body = _bad_request("fake upstream: body is not a JSON object")
            return await _send(request, 400, body, "application/json", {}), True
        result = make()
        if isinstance(result, _StreamPlan):
            return await _stream(request, result, b)
        if isinstance(result, str):
            return await _send(request, 200, result.encode(), "text/plain", b.headers), True
        body = orjson.dumps(result)
        return await _send(request, 200, body, "application/json", b.headers), True


async def _send(request: web.Request, status: int, body: bytes, content_type: str,
                headers: dict[str, str]) -> web.StreamResponse:
    """Write a whole answer now, so a failed write is seen by the handler."""
    resp = web.Response(status=status, body=body, content_type=content_type,
                        headers=headers)
    await resp.prepare(request)
    await resp.write_eof()
    return resp


async def _stream(request: web.Request, plan: _StreamPlan,
                  b: Behaviour) -> tuple[web.StreamResponse, bool]:
    """Write an SSE answer; with ``die_after_chunks`` close the connection midway."""
    resp = web.StreamResponse(headers={"Cache-Control": "no-cache", **b.headers})
    resp.content_type = "text/event-stream"
    await resp.prepare(request)
    for frame in plan.head:
        await resp.write(_sse(frame))
    for sent, frame in enumerate(plan.content):
        if b.die_after_chunks is not None and sent >= b.die_after_chunks:
            break
        if b.chunk_delay:
            await asyncio.sleep(b.chunk_delay)
        await resp.write(_sse(frame))
    if b.die_after_chunks is not None:
        if request.transport is not None:
            request.transport.close()
        return resp, False
    for frame in plan.tail:
        await resp.write(_sse(frame))
    await resp.write(_sse("[DONE]"))
    await resp.write_eof()
    return resp, True


async def _serve(host: str, port: int, api_key: str | None) -> None:
    """Serve until SIGTERM or SIGINT."""
    upstream = FakeUpstream(require_api_key=api_key)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    print(f"fake upstream listening on {await upstream.start(host, port)}", flush=True)
    await stop.wait()
    await upstream.stop()


def main(argv: list[str] | None = None) -> None:
    """``python -m gatehouse.testing.fake_upstream --port N [--host H] [--api-key K]``."""
    parser = argparse.ArgumentParser(description="Fake OpenAI-compatible upstream")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    parser.add_argument("--api-key", default=None, help="require this bearer key")
    args = parser.parse_args(argv)
    asyncio.run(_serve(args.host, args.port, args.api_key))


if __name__ == "__main__":
    main()
