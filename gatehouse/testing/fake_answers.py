"""What the fake upstream answers: request records, behaviours and the answer builders.

Pure functions of a recorded request and a :class:`Behaviour`; the server
around them is :mod:`gatehouse.testing.fake_upstream`.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import re
import struct
import time
from dataclasses import dataclass, field
from typing import Any, Callable

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
    ignore_stream: bool = False  # answer JSON even when the request asked for a stream
    die_after_chunks: int | None = None  # close the connection after N content chunks
    omit_done: bool = False  # end the stream cleanly but without ``data: [DONE]``
    tool_calls: list[dict[str, Any]] | None = None  # reply with these tool calls
    model: str | None = None  # the response's ``model``
    no_usage: bool = False  # never send usage in a stream, even when ``stream_options.include_usage`` asks
    hold_after_chunks: int | None = None  # binary answers: stop after N pieces until ``FakeUpstream.release`` is set

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
    query: dict[str, str] = field(default_factory=dict)  # the URL's query parameters


@dataclass
class _StreamPlan:
    """An SSE answer: frames before, per content chunk, and after the content."""

    head: list[dict[str, Any]]
    content: list[dict[str, Any]]
    tail: list[dict[str, Any]]


@dataclass
class _BytesPlan:
    """A binary answer written piece by piece (``/audio/speech``)."""

    content_type: str
    parts: list[bytes]


Answer = dict[str, Any] | list[Any] | _StreamPlan | _BytesPlan | str
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
    if not body.get("stream") or b.ignore_stream:
        message: dict[str, Any] = {"role": "assistant",
                                   "content": None if b.tool_calls else reply}
        if b.tool_calls:
            message["tool_calls"] = b.tool_calls
        return {**base, "object": "chat.completion", "usage": usage, "choices": [
            {"index": 0, "message": message, "logprobs": None, "finish_reason": finish}]}
    base["object"] = "chat.completion.chunk"
    body = {**body, "stream_options": None} if b.no_usage else body
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
    if not body.get("stream") or b.ignore_stream:
        return {**base, "usage": usage, "choices": [
            {"text": reply, "index": 0, "logprobs": None, "finish_reason": "stop"}]}
    body = {**body, "stream_options": None} if b.no_usage else body
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


def answer_translation(rec: RecordedRequest, b: Behaviour, rid: str) -> Answer:
    form = rec.form or {}
    upload: dict[str, Any] = form["file"] if isinstance(form.get("file"), dict) else {}
    text = b.content or f"translated {upload.get('filename')} ({upload.get('size', 0)} bytes)"
    return text if form.get("response_format") == "text" else {"text": text}


SPEECH_TYPES = {"mp3": "audio/mpeg", "opus": "audio/opus", "aac": "audio/aac", "flac": "audio/flac",
                "wav": "audio/wav", "pcm": "audio/pcm"}


def speech_bytes(text: str, pieces: int = 4) -> list[bytes]:
    """The fake audio of ``text``: a header and ``pieces`` parts derived from it (joined: the whole "file")."""
    body = hashlib.sha256(text.encode()).digest() * 64
    return [b"FAKEAUDIO:" + text.encode()] + [body[i::pieces] for i in range(pieces)]


def answer_speech(rec: RecordedRequest, b: Behaviour, rid: str) -> Answer:
    """Audio bytes in pieces (``chunk_delay`` before each, ``die_after_chunks`` cuts it)."""
    body = rec.json or {}
    kind = SPEECH_TYPES.get(str(body.get("response_format") or "mp3"), "application/octet-stream")
    return _BytesPlan(kind, speech_bytes(str(body.get("input") or ""), len(b.chunks) if b.chunks else 4))


def answer_rerank(rec: RecordedRequest, b: Behaviour, rid: str) -> Answer:
    """Documents scored by the share of query words they hold: vLLM/Jina's shape, or TEI's (a list) for ``texts``."""
    body = rec.json or {}
    query = set(str(body.get("query") or "").lower().split())
    tei = "texts" in body
    raw = body.get("texts") if tei else body.get("documents")
    docs = [d.get("text", "") if isinstance(d, dict) else str(d) for d in raw or []]
    scored = sorted(((round(len(query & set(d.lower().split())) / (len(query) or 1), 4), i)
                     for i, d in enumerate(docs)), key=lambda p: (-p[0], p[1]))
    if tei:
        return [{"index": i, "score": s, **({"text": docs[i]} if body.get("return_text") else {})} for s, i in scored]
    top = body.get("top_n")
    results = [{"index": i, "document": {"text": docs[i]}, "relevance_score": s}
               for s, i in scored[: top if isinstance(top, int) else None]]
    tokens = count_words(" ".join([str(body.get("query") or ""), *docs]))
    return {"id": "rerank-" + rid, "model": b.model or body.get("model"), "usage": {"total_tokens": tokens},
            "results": results}


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
    ("POST", "audio/translations"): answer_translation,
    ("POST", "audio/speech"): answer_speech,
    ("POST", "rerank"): answer_rerank,
    ("GET", "models"): answer_models,
}
