"""The built-in ``mock/…`` provider: deterministic answers, no network.

It answers every endpoint (speech: a short WAV of silence), for the embedded
default, the docs and hook development. ``litellm_params.mock_response`` fixes the reply text and
``mock_delay`` (seconds) makes it slow, as with LiteLLM.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from typing import Any, AsyncIterator

import orjson

from ..errors import GatewayTimeoutError
from ..formats.rerank import document_text
from ..routing.deployment import Deployment
from .base import UploadFile

__all__ = ["MockProvider", "MockTimeoutProvider"]


class MockProvider:
    def check(self, deployment: Deployment) -> None:
        return None

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def call(self, operation: str, body: dict[str, Any], deployment: Deployment, timeout: float) -> dict[str, Any]:
        await _delay(deployment, timeout)
        return ANSWERS[operation](body, deployment)

    async def stream(self, operation: str, body: dict[str, Any], deployment: Deployment,
                     timeout: float) -> "MockStream | MockAudio":
        await _delay(deployment, timeout)
        if operation == "speech":
            return MockAudio(body)
        return MockStream(operation, body, deployment)


class MockTimeoutProvider(MockProvider):
    """``litellm_params.mock_timeout: true`` (LiteLLM's test switch): every call times out after the
    deployment's timeout, without reaching the upstream."""

    async def call(self, operation: str, body: dict[str, Any], deployment: Deployment, timeout: float) -> dict[str, Any]:
        await asyncio.sleep(timeout)
        raise GatewayTimeoutError(f"Upstream request timed out after {timeout:g} s (mock_timeout)")

    async def stream(self, operation: str, body: dict[str, Any], deployment: Deployment, timeout: float) -> Any:
        return await self.call(operation, body, deployment, timeout)


class MockStream:
    def __init__(self, operation: str, body: dict[str, Any], deployment: Deployment) -> None:
        self._operation, self._body, self._deployment = operation, body, deployment
        self.upstream_model: str | None = None

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._chunks()

    async def _chunks(self) -> AsyncIterator[bytes]:
        text = _reply(self._body, self._deployment)
        chat = self._operation == "chat"
        base = {
            "id": _id("chatcmpl" if chat else "cmpl", text),
            "object": "chat.completion.chunk" if chat else "text_completion",
            "created": int(time.time()),
            "model": self._body.get("model"),
        }
        words = [w + " " for w in text.split(" ")]
        words[-1] = words[-1][:-1]
        if chat:
            yield orjson.dumps({**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}]})
        for word in words:
            choice = {"index": 0, "delta": {"content": word}} if chat else {"index": 0, "text": word}
            yield orjson.dumps({**base, "choices": [{**choice, "finish_reason": None}]})
            await asyncio.sleep(0)
        last = {"index": 0, "delta": {}} if chat else {"index": 0, "text": ""}
        yield orjson.dumps({**base, "choices": [{**last, "finish_reason": "stop"}]})
        if (self._body.get("stream_options") or {}).get("include_usage"):
            yield orjson.dumps({**base, "choices": [], "usage": _usage(self._body, text)})

    async def pieces(self) -> AsyncIterator[bytes]:
        async for chunk in self._chunks():
            yield b"data: " + chunk + b"\n\n"
        yield b"data: [DONE]\n\n"

    async def aclose(self) -> None:
        return None


async def _delay(deployment: Deployment, timeout: float) -> None:
    delay = deployment.params.get("mock_delay")
    if delay:
        await asyncio.sleep(min(float(delay), timeout))


def _last_user_text(body: dict[str, Any]) -> str:
    for message in reversed(body.get("messages") or []):
        if isinstance(message, dict) and message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, str):
                return content
            if isinstance(content, list):
                return " ".join(p.get("text", "") for p in content if isinstance(p, dict) and "text" in p)
    prompt = body.get("prompt")
    if isinstance(prompt, list):
        prompt = next((p for p in prompt if isinstance(p, str)), "")
    return prompt if isinstance(prompt, str) else ""


def _reply(body: dict[str, Any], deployment: Deployment) -> str:
    fixed = deployment.params.get("mock_response")
    if isinstance(fixed, str):
        return fixed
    said = _last_user_text(body).strip()
    return f"Hello from the Gatehouse mock model! You said: {said}" if said else "Hello from the Gatehouse mock model!"


def _words(text: str) -> int:
    return len(text.split())


def _usage(body: dict[str, Any], reply: str) -> dict[str, int]:
    prompt = _words(_last_user_text(body))
    completion = _words(reply)
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def _id(prefix: str, text: str) -> str:
    return f"{prefix}-mock-{hashlib.sha256(text.encode()).hexdigest()[:12]}"


def _chat(body: dict[str, Any], deployment: Deployment) -> dict[str, Any]:
    text = _reply(body, deployment)
    return {
        "id": _id("chatcmpl", text), "object": "chat.completion", "created": int(time.time()), "model": body.get("model"),
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        "usage": _usage(body, text),
    }


def _completion(body: dict[str, Any], deployment: Deployment) -> dict[str, Any]:
    text = _reply(body, deployment)
    return {
        "id": _id("cmpl", text), "object": "text_completion", "created": int(time.time()), "model": body.get("model"),
        "choices": [{"index": 0, "text": text, "finish_reason": "stop", "logprobs": None}],
        "usage": _usage(body, text),
    }


def _vector(text: str, dimensions: int) -> list[float]:
    digest = hashlib.sha256(text.encode()).digest()
    return [round((digest[i % 32] - 128) / 128, 6) for i in range(dimensions)]


def _embedding(body: dict[str, Any], deployment: Deployment) -> dict[str, Any]:
    inputs = body.get("input")
    items = inputs if isinstance(inputs, list) else [inputs]
    wanted = body.get("dimensions")
    dims = min(wanted, 4096) if isinstance(wanted, int) and wanted > 0 else 8
    data = [{"object": "embedding", "index": i, "embedding": _vector(str(item), dims)} for i, item in enumerate(items)]
    tokens = sum(_words(str(i)) for i in items)
    return {"object": "list", "data": data, "model": body.get("model"), "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}


# A 1×1 transparent PNG.
_PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII="


def _image(body: dict[str, Any], deployment: Deployment) -> dict[str, Any]:
    wanted = body.get("n")
    n = min(wanted, 10) if isinstance(wanted, int) else 1
    item = {"b64_json": _PNG, "revised_prompt": body.get("prompt")}
    return {"created": int(time.time()), "data": [dict(item) for _ in range(max(1, n))]}


def _moderation(body: dict[str, Any], deployment: Deployment) -> dict[str, Any]:
    inputs = body.get("input")
    items = inputs if isinstance(inputs, list) else [inputs]
    results = []
    for item in items:
        flagged = "flag" in str(item).lower()
        results.append({
            "flagged": flagged,
            "categories": {"harassment": flagged, "violence": False},
            "category_scores": {"harassment": 0.99 if flagged else 0.001, "violence": 0.001},
        })
    return {"id": _id("modr", str(items)), "model": body.get("model"), "results": results}


def _transcription(body: dict[str, Any], deployment: Deployment) -> dict[str, Any]:
    upload = body.get("file")
    fixed = deployment.params.get("mock_response")
    if isinstance(fixed, str):
        return {"text": fixed}
    if isinstance(upload, UploadFile):
        return {"text": f"Mock transcription of {upload.filename} ({len(upload.data)} bytes)."}
    return {"text": "Mock transcription."}


def _rerank(body: dict[str, Any], deployment: Deployment) -> dict[str, Any]:
    """Documents scored by the share of the query's words they contain, best first."""
    query = set(str(body.get("query") or "").lower().split())
    documents = [document_text(d) for d in body.get("documents") or []]
    scored = sorted(((len(query & set(d.lower().split())) / (len(query) or 1), i) for i, d in enumerate(documents)),
                    key=lambda pair: (-pair[0], pair[1]))
    top = body.get("top_n")
    wanted = body.get("return_documents") is not False
    results = [{"index": i, "relevance_score": round(score, 4), **({"document": {"text": documents[i]}} if wanted else {})}
               for score, i in scored[: top if isinstance(top, int) and top > 0 else None]]
    return {"id": _id("rerank", str(documents)), "results": results, "meta": {"billed_units": {"search_units": 1}}}


ANSWERS = {
    "chat": _chat,
    "completion": _completion,
    "embedding": _embedding,
    "image": _image,
    "moderation": _moderation,
    "transcription": _transcription,
    "translation": _transcription,
    "rerank": _rerank,
}


class MockAudio:
    """``/audio/speech``: a short WAV of silence, as the bytes of a stream (``pieces``)."""

    media_type = "audio/wav"

    def __init__(self, body: dict[str, Any]) -> None:
        seconds = max(1, len(str(body.get("input") or "")) // 15)
        samples = 8000 * seconds
        header = (b"RIFF" + (36 + samples).to_bytes(4, "little") + b"WAVEfmt " + (16).to_bytes(4, "little")
                  + (1).to_bytes(2, "little") + (1).to_bytes(2, "little") + (8000).to_bytes(4, "little")
                  + (8000).to_bytes(4, "little") + (1).to_bytes(2, "little") + (8).to_bytes(2, "little")
                  + b"data" + samples.to_bytes(4, "little"))
        self._parts = [header] + [b"\x80" * 8000] * seconds
        self.upstream_model: str | None = None

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self.pieces()

    async def pieces(self) -> AsyncIterator[bytes]:
        for part in self._parts:
            yield part
            await asyncio.sleep(0)

    async def aclose(self) -> None:
        return None
