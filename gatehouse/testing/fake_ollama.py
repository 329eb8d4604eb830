"""A fake Ollama server (native API): ``/api/chat``, ``/api/generate``, ``/api/embed``, ``/api/tags``, ``/api/version``.

Speaks the wire format the official ``ollama`` client parses
(``ollama.Client(host=fake.url)``, proven in ``tests/providers/test_ollama_fake.py``):
JSON answers, or NDJSON lines when ``stream`` is true (the default of
Ollama's API). Default replies: chat ``"Hello! You said: <last user text>"``,
generate ``"Hello! You said: <prompt>"``. Script answers with
:meth:`~.scripted.ScriptedFake.queue` (:class:`~.scripted.Script`). It also
serves ``GET /images/{name}`` (a small PNG) for image-URL tests.

Run it alone: ``python -m gatehouse.testing.fake_ollama --port 11434``.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import time
from typing import Any

import orjson
from aiohttp import web

from .fake_answers import _vector, message_text
from .scripted import Recorded, Script, ScriptedFake, reply_words, send_json, send_stream
from .service import serve_until_signal

__all__ = ["FakeOllama", "PNG"]

#: A 1×1 PNG, served at ``/images/{name}``.
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==")


class FakeOllama(ScriptedFake):
    thread_name = "fake-ollama"

    def routes(self) -> list[tuple[str, str, Any]]:
        return [("POST", "/api/chat", self._chat), ("POST", "/api/generate", self._generate),
                ("POST", "/api/embed", self._embed), ("GET", "/api/tags", self._tags),
                ("GET", "/api/version", self._version), ("GET", "/images/{name}", self._image)]

    def _refused(self, script: Script) -> web.Response | None:
        if script.status is None:
            return None
        error = script.error if script.error is not None else {"error": "fake ollama error"}
        return web.Response(status=script.status, body=orjson.dumps(error), content_type="application/json",
                            headers=script.headers)

    async def _chat(self, request: web.Request, rec: Recorded, script: Script) -> web.StreamResponse:
        refused = self._refused(script)
        if refused is not None:
            return refused
        body = rec.json if isinstance(rec.json, dict) else {}
        if not body.get("model"):
            return await send_json(400, {"error": "model is required"})
        messages = [m for m in body.get("messages") or [] if isinstance(m, dict)]
        last = next((message_text(m.get("content")) for m in reversed(messages) if m.get("role") == "user"), "")
        reply = "" if script.tool_calls else script.reply("Hello! You said: " + last)
        prompt = sum(reply_words(str(m.get("content") or "")) for m in messages)
        calls = [{"function": {"name": c["name"], "arguments": c.get("arguments", {})}} for c in script.tool_calls or []]
        final = _final(body, script, prompt, reply)
        if body.get("stream") is False:
            message: dict[str, Any] = {"role": "assistant", "content": reply}
            if script.thinking:
                message["thinking"] = script.thinking
            if calls:
                message["tool_calls"] = calls
            return await send_json(200, {**final, "message": message}, script.headers)
        lines: list[Any] = []
        if script.thinking:
            lines.append(_line(body, message={"role": "assistant", "content": "", "thinking": script.thinking}))
        if calls:
            lines.append(_line(body, message={"role": "assistant", "content": "", "tool_calls": calls}))
        lines += [_line(body, message={"role": "assistant", "content": p}) for p in ([] if calls else script.pieces(reply))]
        lines.append({**final, "message": {"role": "assistant", "content": ""}})
        return await self._ndjson(request, script, lines)

    async def _generate(self, request: web.Request, rec: Recorded, script: Script) -> web.StreamResponse:
        refused = self._refused(script)
        if refused is not None:
            return refused
        body = rec.json if isinstance(rec.json, dict) else {}
        prompt = str(body.get("prompt") or "")
        reply = script.reply("Hello! You said: " + prompt)
        final = _final(body, script, reply_words(prompt), reply)
        if body.get("stream") is False:
            extra = {"thinking": script.thinking} if script.thinking else {}
            return await send_json(200, {**final, "response": reply, "context": [1, 2, 3], **extra}, script.headers)
        lines: list[Any] = [_line(body, response="", thinking=script.thinking)] if script.thinking else []
        lines += [_line(body, response=p) for p in script.pieces(reply)]
        lines.append({**final, "response": "", "context": [1, 2, 3]})
        return await self._ndjson(request, script, lines)

    async def _ndjson(self, request: web.Request, script: Script, lines: list[Any]) -> web.StreamResponse:
        chosen = script.events if script.events is not None else lines
        frames = [(e if isinstance(e, str) else orjson.dumps(e).decode() + "\n").encode() for e in chosen]
        return await send_stream(request, frames, script, "application/x-ndjson")

    async def _embed(self, request: web.Request, rec: Recorded, script: Script) -> web.StreamResponse:
        refused = self._refused(script)
        if refused is not None:
            return refused
        body = rec.json if isinstance(rec.json, dict) else {}
        raw = body.get("input")
        texts = [raw] if isinstance(raw, str) else [str(t) for t in raw or []]
        dims = int(body.get("dimensions") or 8)
        return await send_json(200, {"model": body.get("model"), "embeddings": [_vector(t, dims) for t in texts],
                                     "total_duration": 1000, "load_duration": 10,
                                     "prompt_eval_count": sum(reply_words(t) for t in texts)})

    async def _tags(self, request: web.Request, rec: Recorded, script: Script) -> web.StreamResponse:
        return await send_json(200, {"models": [{"name": "llama3:latest", "model": "llama3:latest", "size": 1}]})

    async def _version(self, request: web.Request, rec: Recorded, script: Script) -> web.StreamResponse:
        return await send_json(200, {"version": "0.12.0"})

    async def _image(self, request: web.Request, rec: Recorded, script: Script) -> web.StreamResponse:
        return web.Response(body=PNG, content_type="image/png")


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S.000000Z", time.gmtime())


def _line(body: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {"model": body.get("model"), "created_at": _now(), **fields, "done": False}


def _final(body: dict[str, Any], script: Script, prompt: int, reply: str) -> dict[str, Any]:
    counts = {"prompt_eval_count": prompt, "eval_count": reply_words(reply), **(script.usage or {})}
    return {"model": body.get("model"), "created_at": _now(), "done": True, "done_reason": script.finish or "stop",
            "total_duration": 5000, "load_duration": 100, "prompt_eval_duration": 1000, "eval_duration": 2000,
            **counts}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Fake Ollama API")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=11434)
    args = parser.parse_args(argv)
    asyncio.run(serve_until_signal(FakeOllama(), args.host, args.port, label="fake ollama"))


if __name__ == "__main__":
    main()
