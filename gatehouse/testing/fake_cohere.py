"""A fake Cohere API (v2): ``POST /v2/chat`` (JSON, or SSE events when ``stream``), ``/v2/embed``, ``/v2/rerank``.

Speaks the wire format the official ``cohere`` SDK parses (``cohere.ClientV2(base_url=fake.url)``,
proven in ``tests/providers/test_cohere_fake.py``). Default chat answer:
``"Hello! You said: <last user text>"``; streams one ``content-delta`` per word.
Script answers with :meth:`~.scripted.ScriptedFake.queue` (:class:`~.scripted.Script`):
text, chunks, tool calls, thinking, finish reason, usage, HTTP errors (Cohere's
``{"message": ...}`` body), raw bodies, exact events, a stream that dies.
``require_key``: answer 401 unless ``Authorization: Bearer <key>``.

Run it alone: ``python -m gatehouse.testing.fake_cohere --port 8002``.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import struct
from typing import Any

import orjson
from aiohttp import web

from .fake_answers import _vector, message_text
from .scripted import Recorded, Script, ScriptedFake, reply_words, send_json, send_stream
from .service import serve_until_signal

__all__ = ["FakeCohere"]


class FakeCohere(ScriptedFake):
    thread_name = "fake-cohere"

    def __init__(self, require_key: str | None = None) -> None:
        super().__init__()
        self.require_key = require_key

    def routes(self) -> list[tuple[str, str, Any]]:
        return [("POST", "/v2/chat", self._chat), ("POST", "/v2/embed", self._embed),
                ("POST", "/v2/rerank", self._rerank)]

    def _refused(self, rec: Recorded, script: Script) -> web.Response | None:
        scheme, _, given = (rec.headers.get("Authorization") or "").partition(" ")
        if self.require_key and (scheme.lower() != "bearer" or given != self.require_key):  # the scheme's case is free
            return web.Response(status=401, body=orjson.dumps({"id": "fake", "message": "invalid api token"}),
                                content_type="application/json")
        if script.status is not None:
            error = script.error if script.error is not None else {"id": "fake", "message": "fake cohere error"}
            return web.Response(status=script.status, body=orjson.dumps(error), content_type="application/json",
                                headers=script.headers)
        return None

    async def _chat(self, request: web.Request, rec: Recorded, script: Script) -> web.StreamResponse:
        refused = self._refused(rec, script)
        if refused is not None:
            return refused
        body = rec.json if isinstance(rec.json, dict) else {}
        messages = [m for m in body.get("messages") or [] if isinstance(m, dict)]
        last = next((message_text(m.get("content")) for m in reversed(messages) if m.get("role") == "user"), "")
        reply = "" if script.tool_calls else script.reply("Hello! You said: " + last)
        calls = [_call(i, c) for i, c in enumerate(script.tool_calls or [])]
        finish = script.finish or ("TOOL_CALL" if calls else "COMPLETE")
        prompt_words = sum(reply_words(message_text(m.get("content"))) for m in messages)
        usage = {"billed_units": {"input_tokens": prompt_words, "output_tokens": reply_words(reply)},
                 "tokens": {"input_tokens": prompt_words + 7, "output_tokens": reply_words(reply)},
                 **(script.usage or {})}
        rid = f"cohere-{len(self.requests)}"
        if not body.get("stream"):
            content = ([{"type": "thinking", "thinking": script.thinking}] if script.thinking else [])
            content += [{"type": "text", "text": reply}] if reply else []
            message: dict[str, Any] = {"role": "assistant", "content": content}
            if calls:
                message.update(tool_calls=calls, tool_plan="I will call the tools.")
            return await send_json(200, {"id": rid, "finish_reason": finish, "message": message, "usage": usage},
                                   script.headers)
        events = script.events if script.events is not None else _events(rid, reply, calls, finish, usage, script)
        frames = [_frame(e) for e in events]
        return await send_stream(request, frames, script, "text/event-stream")

    async def _embed(self, request: web.Request, rec: Recorded, script: Script) -> web.StreamResponse:
        refused = self._refused(rec, script)
        if refused is not None:
            return refused
        body = rec.json if isinstance(rec.json, dict) else {}
        texts = [str(t) for t in body.get("texts") or []]
        dims = int(body.get("output_dimension") or 8)
        embeddings: dict[str, Any] = {}
        for kind in body.get("embedding_types") or ["float"]:
            vectors = [_vector(t, dims) for t in texts]
            embeddings[kind] = vectors if kind == "float" else [
                base64.b64encode(struct.pack(f"<{dims}f", *v)).decode() for v in vectors]
        tokens = sum(reply_words(t) for t in texts)
        return await send_json(200, {"id": f"embed-{len(self.requests)}", "embeddings": embeddings, "texts": texts,
                                     "meta": {"api_version": {"version": "2"}, "billed_units": {"input_tokens": tokens}},
                                     "response_type": "embeddings_by_type"})

    async def _rerank(self, request: web.Request, rec: Recorded, script: Script) -> web.StreamResponse:
        refused = self._refused(rec, script)
        if refused is not None:
            return refused
        body = rec.json if isinstance(rec.json, dict) else {}
        query = set(str(body.get("query") or "").lower().split())
        docs = [str(d) for d in body.get("documents") or []]
        scored = sorted(((len(query & set(d.lower().split())) / (len(query) or 1), i) for i, d in enumerate(docs)),
                        reverse=True)[: body.get("top_n") or len(docs)]
        return await send_json(200, {"id": f"rerank-{len(self.requests)}", "meta": {"billed_units": {"search_units": 1}},
                                     "results": [{"index": i, "relevance_score": round(s, 4)} for s, i in scored]})


def _call(i: int, call: dict[str, Any]) -> dict[str, Any]:
    arguments = call.get("arguments", {})
    return {"id": call.get("id") or f"call_fake_{i}", "type": "function",
            "function": {"name": call["name"],
                         "arguments": arguments if isinstance(arguments, str) else orjson.dumps(arguments).decode()}}


def _frame(event: Any) -> bytes:
    if isinstance(event, str):
        return event.encode()
    return b"event: " + str(event.get("type")).encode() + b"\ndata: " + orjson.dumps(event) + b"\n\n"


def _events(rid: str, reply: str, calls: list[dict[str, Any]], finish: str, usage: dict[str, Any],
            script: Script) -> list[dict[str, Any]]:
    """The v2 stream: message-start, (thinking), text or tool calls, message-end."""
    events: list[dict[str, Any]] = [{"type": "message-start", "id": rid, "delta": {"message": {
        "role": "assistant", "content": [], "tool_plan": "", "tool_calls": [], "citations": []}}}]
    index = 0
    if script.thinking:
        events += _content(index, "thinking", [script.thinking])
        index += 1
    if calls:
        events.append({"type": "tool-plan-delta", "delta": {"message": {"tool_plan": "I will call the tools."}}})
        for i, call in enumerate(calls):
            arguments = call["function"]["arguments"]
            half = len(arguments) // 2
            events.append({"type": "tool-call-start", "index": i, "delta": {"message": {"tool_calls": {
                "id": call["id"], "type": "function", "function": {"name": call["function"]["name"], "arguments": ""}}}}})
            for piece in (arguments[:half], arguments[half:]):
                events.append({"type": "tool-call-delta", "index": i,
                               "delta": {"message": {"tool_calls": {"function": {"arguments": piece}}}}})
            events.append({"type": "tool-call-end", "index": i})
    else:
        events += _content(index, "text", script.pieces(reply))
    events.append({"type": "message-end", "delta": {"finish_reason": finish, "usage": usage}})
    return events


def _content(index: int, kind: str, pieces: list[str]) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = [{"type": "content-start", "index": index,
                                     "delta": {"message": {"content": {"type": kind, kind: ""}}}}]
    events += [{"type": "content-delta", "index": index, "delta": {"message": {"content": {kind: p}}}} for p in pieces]
    events.append({"type": "content-end", "index": index})
    return events


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Fake Cohere v2 API")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8002)
    parser.add_argument("--api-key", default=None, help="require this bearer key")
    args = parser.parse_args(argv)
    asyncio.run(serve_until_signal(FakeCohere(require_key=args.api_key), args.host, args.port, label="fake cohere"))


if __name__ == "__main__":
    main()
