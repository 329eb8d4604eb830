"""A fake AWS Bedrock Runtime (Converse, ConverseStream, InvokeModel embeddings) and a fake STS.

Every request's SigV4 signature is recomputed with botocore and compared (or a
Bedrock API key checked); a bad one gets AWS's 403. Streams are real AWS
event-stream frames. The official ``boto3`` ``bedrock-runtime`` and ``sts``
clients talk to it (``tests/providers/test_bedrock_fake.py`` proves it)::

    fake = FakeBedrock()
    fake.start_in_thread()                     # fake.url: http://127.0.0.1:<port>
    fake.queue(Reply(text="Hi"), Reply(status=429, error_type="ThrottlingException"))
    ...
    fake.requests[-1].body["messages"], fake.requests[-1].model_id, fake.requests[-1].signer

Routes: ``POST /model/{modelId}/converse``, ``…/converse-stream``, ``…/invoke``
(Titan / Cohere embeddings), ``POST /`` (STS ``AssumeRole`` and
``AssumeRoleWithWebIdentity``, form-encoded), ``GET /images/{name}`` (test images).
The default answer says ``"Hello! You said: <last user text>"``.

Run it alone: ``python -m gatehouse.testing.fake_bedrock --port 8002`` (keys
``AKIDFAKEBEDROCK`` / ``fake-bedrock-secret``, region ``us-east-1``).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import itertools
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, unquote

import orjson
from aiohttp import web

from .aws_wire import Key, SigV4Failure, sts_credentials_xml, verify_sigv4
from .fake_bedrock_answers import Reply, converse_answer, embeddings_answer, stream_frames
from .service import ThreadedService, serve_until_signal

__all__ = ["FakeBedrock", "Reply", "Recorded", "ACCESS_KEY", "SECRET_KEY", "PNG", "main"]

ACCESS_KEY, SECRET_KEY = "AKIDFAKEBEDROCK", "fake-bedrock-secret"
#: A 1×1 PNG, served at ``/images/pixel.png``.
PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082")


@dataclass
class Recorded:
    """One request the fake received (``signer``: the access key id that signed it, or ``bearer``)."""

    method: str
    path: str
    headers: dict[str, str]
    raw: bytes
    body: Any
    model_id: str | None = None
    action: str | None = None
    signer: str | None = None
    region: str | None = None
    issued: str | None = None
    """STS calls: the access key id of the credentials issued."""
    at: float = field(default_factory=time.time)


class FakeBedrock(ThreadedService):
    """The fake: script it with :meth:`queue` / :attr:`default`, read :attr:`requests` and :attr:`sts_calls`."""

    thread_name = "fake-bedrock"

    def __init__(self, *, regions: tuple[str, ...] = ("us-east-1",)) -> None:
        self.keys: dict[str, Key] = {ACCESS_KEY: Key(SECRET_KEY)}
        self.bearer_tokens: set[str] = set()
        self.web_identity_tokens: set[str] = set()
        self.regions: set[str] = set(regions)
        self.sts_lifetime = 3600.0
        self.images: dict[str, tuple[str, bytes]] = {"pixel.png": ("image/png", PNG)}
        self.default = Reply()
        self.requests: list[Recorded] = []
        self.sts_calls: list[Recorded] = []
        self._queue: list[Reply] = []
        self._lock = threading.Lock()
        self._issued = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self._url: str | None = None

    @property
    def url(self) -> str:
        if self._url is None:
            raise RuntimeError("FakeBedrock is not started")
        return self._url

    def queue(self, *replies: Reply) -> None:
        """Answers for the next requests, in order (then :attr:`default`)."""
        with self._lock:
            self._queue.extend(replies)

    def reset(self) -> None:
        with self._lock:
            self._queue.clear()
            self.requests.clear()
            self.sts_calls.clear()
            self.default = Reply()
            self.sts_lifetime = 3600.0

    def add_key(self, access_key: str, secret: str, token: str | None = None, expires: float | None = None) -> None:
        with self._lock:
            self.keys[access_key] = Key(secret, token, expires)

    def _next(self) -> Reply:
        with self._lock:
            return self._queue.pop(0) if self._queue else self.default

    # -- lifecycle ---------------------------------------------------------
    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_post("/model/{rest:.+}", self._model)
        app.router.add_post("/", self._sts)
        app.router.add_get("/images/{name}", self._image)
        self._runner = web.AppRunner(app, handler_cancellation=True, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, host, port).start()
        self._url = f"http://{host}:{self._runner.addresses[0][1]}"
        return self._url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # -- auth ----------------------------------------------------------------
    def _lookup(self, access_key: str) -> Key | None:
        with self._lock:
            return self.keys.get(access_key)

    def _authenticate(self, request: web.Request, raw: bytes, service: str) -> tuple[str, str | None]:
        auth = request.headers.get("Authorization", "")
        if auth.startswith("Bearer "):
            if auth[7:] not in self.bearer_tokens:
                raise SigV4Failure("UnrecognizedClientException", "Invalid API Key format", 403)
            return "bearer", None
        url = f"http://{request.host}{request.raw_path}"
        signer = verify_sigv4(request.method, url, request.headers, raw, service=service, regions=self.regions,
                              lookup=self._lookup, now=time.time())
        scope = auth.split("Credential=", 1)[1].split("/") if "Credential=" in auth else []
        return signer, scope[2] if len(scope) > 2 else None

    # -- Bedrock -------------------------------------------------------------
    async def _model(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        rest = request.raw_path.split("?", 1)[0][len("/model/"):]
        model, _, action = rest.rpartition("/")
        try:
            body = orjson.loads(raw) if raw else None
        except orjson.JSONDecodeError:
            body = None
        rec = Recorded(request.method, request.raw_path, dict(request.headers), raw, body, unquote(model), action)
        with self._lock:
            self.requests.append(rec)
        try:
            rec.signer, rec.region = self._authenticate(request, raw, "bedrock")
        except SigV4Failure as failure:
            return _aws_error(failure.status, failure.code, failure.message)
        if not isinstance(body, dict):
            return _aws_error(400, "ValidationException", "Malformed input request, please reformat your input")
        reply = self._next()
        if reply.status is not None:
            return _aws_error(reply.status, reply.error_type, reply.message, reply.headers)
        if reply.raw is not None:
            return web.Response(body=reply.raw, content_type=reply.content_type, headers=reply.headers)
        if action == "converse":
            return _json(converse_answer(body, reply), reply.headers)
        if action == "converse-stream":
            return await _stream(request, stream_frames(body, reply), reply)
        if action == "invoke":
            answer, tokens = embeddings_answer(rec.model_id or "", body, reply)
            return _json(answer, {"X-Amzn-Bedrock-Input-Token-Count": str(tokens), **reply.headers})
        return _aws_error(404, "UnknownOperationException", f"unknown action {action}")

    async def _image(self, request: web.Request) -> web.Response:
        found = self.images.get(request.match_info["name"])
        if found is None:
            return web.Response(status=404, text="no such image")
        return web.Response(body=found[1], content_type=found[0])

    # -- STS -------------------------------------------------------------------
    async def _sts(self, request: web.Request) -> web.Response:
        raw = await request.read()
        form = {k: v[0] for k, v in parse_qs(raw.decode()).items()}
        rec = Recorded(request.method, request.raw_path, dict(request.headers), raw, form, action=form.get("Action"))
        with self._lock:
            self.sts_calls.append(rec)
        try:
            if rec.action == "AssumeRoleWithWebIdentity":
                if form.get("WebIdentityToken") not in self.web_identity_tokens:
                    raise SigV4Failure("InvalidIdentityToken", "The web identity token is not valid", 400)
                rec.signer = "web-identity"
            elif rec.action == "AssumeRole":
                rec.signer, rec.region = self._authenticate(request, raw, "sts")
            else:
                return _sts_error(400, "InvalidAction", f"unknown action {rec.action}")
        except SigV4Failure as failure:
            return _sts_error(failure.status, failure.code, failure.message)
        n = next(self._issued)
        akid, secret, token = f"ASIAFAKE{n:08d}", secrets.token_hex(16), f"token-{n}-{secrets.token_hex(8)}"
        expires = time.time() + self.sts_lifetime
        self.add_key(akid, secret, token, expires)
        rec.issued = akid
        stamp = dt.datetime.fromtimestamp(expires, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        xml = sts_credentials_xml(rec.action, akid, secret, token, stamp, form.get("RoleArn", ""))
        return web.Response(body=xml, content_type="text/xml")


def _json(answer: Any, headers: dict[str, str]) -> web.Response:
    return web.Response(body=orjson.dumps(answer), content_type="application/json",
                        headers={"x-amzn-RequestId": secrets.token_hex(8), **headers})


def _aws_error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> web.Response:
    """Bedrock's REST-JSON error: ``x-amzn-ErrorType`` and ``{"message": …}``."""
    return web.Response(status=status, body=orjson.dumps({"message": message}), content_type="application/json",
                        headers={"x-amzn-ErrorType": f"{code}:http://internal.amazon.com/coral/com.amazon.bedrock/",
                                 **(headers or {})})


def _sts_error(status: int, code: str, message: str) -> web.Response:
    xml = (f'<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type>'
           f"<Code>{code}</Code><Message>{message}</Message></Error><RequestId>fake</RequestId></ErrorResponse>")
    return web.Response(status=status, body=xml.encode(), content_type="text/xml")


async def _stream(request: web.Request, frames: list[bytes], reply: Reply) -> web.StreamResponse:
    resp = web.StreamResponse(headers={"x-amzn-RequestId": secrets.token_hex(8), **reply.headers})
    resp.content_type = "application/vnd.amazon.eventstream"
    await resp.prepare(request)
    for i, frame in enumerate(frames):
        if reply.die_after is not None and i >= reply.die_after:
            if request.transport is not None:
                request.transport.close()
            return resp
        if reply.corrupt_at == i:
            frame = frame[:-1] + bytes([frame[-1] ^ 0xFF])
        await resp.write(frame)
    await resp.write_eof()
    return resp


def main(argv: list[str] | None = None) -> None:
    """``python -m gatehouse.testing.fake_bedrock --port N [--host H] [--region R ...]``."""
    parser = argparse.ArgumentParser(description="Fake AWS Bedrock Runtime and STS")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8002)
    parser.add_argument("--region", action="append", default=None, help="accepted signing region (repeatable)")
    args = parser.parse_args(argv)
    fake = FakeBedrock(regions=tuple(args.region or ["us-east-1"]))
    asyncio.run(serve_until_signal(fake, args.host, args.port, label="fake bedrock",
                                   suffix=f" (keys {ACCESS_KEY} / {SECRET_KEY})"))


if __name__ == "__main__":
    main()
