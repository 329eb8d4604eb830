"""A fake Gemini server: AI Studio and Vertex AI URL shapes, and a fake Google OAuth token endpoint.

Routes (``{v}`` is ``v1``, ``v1beta``, ``v1beta1`` or ``v1alpha``)::

    POST /{v}/models/{model}:{method}                                  AI Studio (x-goog-api-key)
    POST /{v}/projects/{p}/locations/{l}/publishers/{pub}/models/{model}:{method}   Vertex AI (Bearer token)
    POST /token                                                        OAuth 2.0 JWT-bearer grant
    GET  /media/{name}                                                 files for media-URL tests

``method``: ``generateContent``, ``streamGenerateContent`` (SSE with
``?alt=sse``, else a JSON array), ``embedContent``, ``batchEmbedContents``,
``predict``; for ``publishers/anthropic`` (Claude on Vertex) ``rawPredict`` and
``streamRawPredict`` answer in the Anthropic Messages format (scripted with
:meth:`FakeGemini.queue_claude`, keys of ``fake_anthropic_answers.Script``),
requiring ``anthropic_version: vertex-2023-10-16`` and no ``model`` in the body.
:meth:`FakeGemini.service_account` makes a real service-account
JSON (fresh RSA key) whose ``token_uri`` is this server: google-auth's
JWT-bearer flow runs for real and the token endpoint verifies the
assertion's signature with the public key before issuing a token; Vertex
routes then accept only issued, unexpired tokens.

Script answers with :meth:`queue` / :meth:`set_default` (keys of
:class:`GeminiBehaviour`); every request is in :attr:`requests`.
"""

from __future__ import annotations

import asyncio
import re
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any

import orjson
from aiohttp import web

from .fake_gemini_answers import GeminiBehaviour, embeddings, error_body, generate, stream_events
from .service import ThreadedService

__all__ = ["FakeGemini", "GeminiRequest", "GeminiBehaviour", "error_body", "studio_model", "vertex_model"]

_PATH = re.compile(r"/(?P<version>v1[a-z0-9]*)/(?:projects/(?P<project>[^/]+)/locations/(?P<location>[^/]+)/"
                   r"publishers/(?P<publisher>[^/]+)/)?models/(?P<model>[^/:]+):(?P<method>\w+)")


#: The audience google-auth signs service-account assertions for, whatever the ``token_uri``.
GOOGLE_TOKEN_AUDIENCE = "https://oauth2.googleapis.com/token"


@dataclass
class GeminiRequest:
    """One request as the fake received it."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    json: Any
    route: dict[str, str | None]  # version, project, location, publisher, model, method (empty for /token, /media)


class FakeGemini(ThreadedService):
    thread_name = "fake-gemini"

    def __init__(self, api_key: str | None = None, *, token_lifetime: int = 3600) -> None:
        """``api_key``: AI Studio routes require it in ``x-goog-api-key``."""
        self.api_key = api_key
        self.token_lifetime = token_lifetime
        self.requests: list[GeminiRequest] = []
        self.media: dict[str, tuple[bytes, str]] = {}
        self.token_requests = 0
        self.issued: dict[str, float] = {}
        self._public_keys: dict[str, str] = {}
        self._queue: list[dict[str, Any]] = []
        self._claude_queue: list[dict[str, Any]] = []
        self._default: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._runner: web.AppRunner | None = None
        self._url: str | None = None

    @property
    def url(self) -> str:
        """``http://host:port`` (no version: clients add it)."""
        if self._url is None:
            raise RuntimeError("FakeGemini is not started")
        return self._url

    # -- scripting -------------------------------------------------------------------------
    def queue(self, **behaviour: Any) -> None:
        GeminiBehaviour.from_dict(behaviour)
        with self._lock:
            self._queue.append(behaviour)

    def queue_claude(self, **script: Any) -> None:
        """Append a Claude-on-Vertex answer script (``fake_anthropic_answers.Script`` keys)."""
        from .fake_anthropic_answers import Script

        Script.from_dict(script)
        with self._lock:
            self._claude_queue.append(script)

    def set_default(self, **behaviour: Any) -> None:
        GeminiBehaviour.from_dict(behaviour)
        with self._lock:
            self._default = behaviour

    def reset(self) -> None:
        with self._lock:
            self._queue.clear()
            self._claude_queue.clear()
            self._default = {}
            self.requests.clear()
            self.media.clear()
            self.token_requests = 0

    def calls(self, method: str | None = None) -> list[GeminiRequest]:
        """Recorded model calls (not token or media requests), optionally of one ``method``."""
        return [r for r in self.requests if r.route.get("method") and (method is None or r.route["method"] == method)]

    def service_account(self, project_id: str = "fake-project") -> dict[str, Any]:
        """A service-account key (new RSA key pair) whose ``token_uri`` is this server."""
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import rsa

        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption()).decode()
        public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                               serialization.PublicFormat.SubjectPublicKeyInfo).decode()
        key_id = secrets.token_hex(20)
        with self._lock:
            self._public_keys[key_id] = public
        email = f"gatehouse-test@{project_id}.iam.gserviceaccount.com"
        return {"type": "service_account", "project_id": project_id, "private_key_id": key_id,
                "private_key": private, "client_email": email, "client_id": "1234567890",
                "auth_uri": f"{self.url}/auth", "token_uri": f"{self.url}/token"}

    def _behaviour(self) -> GeminiBehaviour:
        with self._lock:
            queued = self._queue.pop(0) if self._queue else {}
            return GeminiBehaviour.from_dict({**self._default, **queued})

    # -- lifecycle -------------------------------------------------------------------------
    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_post("/token", self._token)
        app.router.add_get("/media/{name}", self._media)
        app.router.add_post("/{tail:.+}", self._model_call)
        self._runner = web.AppRunner(app, handler_cancellation=True, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, host, port).start()
        self._url = f"http://{host}:{self._runner.addresses[0][1]}"
        return self._url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # -- the token endpoint ------------------------------------------------------------------
    async def _token(self, request: web.Request) -> web.Response:
        form = dict(await request.post())
        self._record(request, None, {})
        with self._lock:
            self.token_requests += 1
        if form.get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer":
            return web.json_response({"error": "unsupported_grant_type"}, status=400)
        from google.auth import jwt

        try:
            jwt.decode(str(form.get("assertion", "")), certs=dict(self._public_keys), audience=GOOGLE_TOKEN_AUDIENCE)
        except ValueError as exc:
            return web.json_response({"error": "invalid_grant", "error_description": f"Invalid JWT: {exc}"}, status=400)
        token = f"ya29.fake-{secrets.token_urlsafe(24)}"
        with self._lock:
            self.issued[token] = time.time() + self.token_lifetime
        return web.json_response({"access_token": token, "expires_in": self.token_lifetime, "token_type": "Bearer"})

    def token_valid(self, header: str | None) -> bool:
        token = (header or "").removeprefix("Bearer ")
        with self._lock:
            return self.issued.get(token, 0) > time.time()

    async def _media(self, request: web.Request) -> web.Response:
        self._record(request, None, {})
        found = self.media.get(request.match_info["name"])
        if found is None:
            return web.Response(status=404, text="not found")
        return web.Response(body=found[0], content_type=found[1])

    # -- model calls ---------------------------------------------------------------------------
    def _record(self, request: web.Request, body: Any, route: dict[str, str | None]) -> int:
        rec = GeminiRequest(request.method, request.path, dict(request.query), dict(request.headers), body, route)
        with self._lock:
            self.requests.append(rec)
            return len(self.requests)

    async def _model_call(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        try:
            body = orjson.loads(raw) if raw else None
        except orjson.JSONDecodeError:
            body = None
        found = _PATH.fullmatch(request.path)
        route = found.groupdict() if found else {}
        number = self._record(request, body, route)
        if found is None:
            return _json(404, error_body(404, f"no such route {request.path}", "NOT_FOUND"))
        refused = self._refuse(request, route)
        if refused is not None:
            return refused
        if not isinstance(body, dict):
            return _json(400, error_body(400, "Invalid JSON payload received.", "INVALID_ARGUMENT"))
        if route.get("publisher") == "anthropic":
            return await self._claude(request, route, body, f"msg_fake_{number}")
        b = self._behaviour()
        if b.delay:
            await asyncio.sleep(b.delay)
        if b.status is not None:
            error = {"error": b.error} if b.error else error_body(b.status, "fake Gemini error", "INTERNAL")
            return _json(b.status, error, b.headers)
        if b.raw is not None:
            return web.Response(status=200, body=b.raw.encode(), content_type=b.content_type, headers=b.headers)
        return await self._answer(request, route, body, b, f"fake-{number}")

    def _refuse(self, request: web.Request, route: dict[str, str | None]) -> web.Response | None:
        if route.get("project"):
            if not self.token_valid(request.headers.get("Authorization")):
                return _json(401, error_body(401, "Request had invalid authentication credentials.", "UNAUTHENTICATED"))
            return None
        if self.api_key is None:
            return None
        given = request.headers.get("x-goog-api-key")
        if given is None:
            return _json(403, error_body(403, "Method doesn't allow unregistered callers.", "PERMISSION_DENIED"))
        if given != self.api_key:
            details = [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID",
                        "domain": "googleapis.com"}]
            return _json(400, error_body(400, "API key not valid. Please pass a valid API key.", "INVALID_ARGUMENT",
                                         details))
        return None

    async def _claude(self, request: web.Request, route: dict[str, str | None], body: dict[str, Any],
                      rid: str) -> web.StreamResponse:
        from .fake_anthropic_answers import Script, message, stream_events, validate
        from .fake_anthropic_answers import error_body as anthropic_error

        with self._lock:
            script = Script.from_dict(self._claude_queue.pop(0) if self._claude_queue else {})
        problem = None
        if body.get("anthropic_version") != "vertex-2023-10-16":
            problem = "anthropic_version: must be vertex-2023-10-16"
        elif "model" in body:
            problem = "model: Extra inputs are not permitted (the URL names the model)"
        full = {**{k: v for k, v in body.items() if k != "anthropic_version"}, "model": route["model"]}
        problem = problem or validate(full)
        if problem is not None:
            return web.Response(status=400, body=anthropic_error("invalid_request_error", problem),
                                content_type="application/json")
        if script.status is not None:
            return web.Response(status=script.status, body=anthropic_error(script.error_type, script.error_message),
                                content_type="application/json", headers=script.headers)
        if route["method"] == "rawPredict":
            return _json(200, message(full, script, rid))
        resp = web.StreamResponse()
        resp.content_type = "text/event-stream"
        await resp.prepare(request)
        for event in stream_events(full, script, rid):
            data = event.encode() if isinstance(event, str) else (
                b"event: " + str(event.get("type")).encode() + b"\ndata: " + orjson.dumps(event) + b"\n\n")
            await resp.write(data)
        await resp.write_eof()
        return resp

    async def _answer(self, request: web.Request, route: dict[str, str | None], body: dict[str, Any],
                      b: GeminiBehaviour, rid: str) -> web.StreamResponse:
        method, model = route["method"] or "", route["model"] or ""
        if method == "generateContent":
            return _json(200, generate(body, b, model, rid), b.headers)
        if method in ("embedContent", "batchEmbedContents", "predict"):
            return _json(200, embeddings(method, body, b), b.headers)
        if method != "streamGenerateContent":
            return _json(404, error_body(404, f"unknown method {method}", "NOT_FOUND"))
        events = stream_events(body, b, model, rid)
        if request.query.get("alt") != "sse":
            return _json(200, events, b.headers)
        return await _sse(request, events, b)


def _json(status: int, body: Any, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(status=status, body=orjson.dumps(body), content_type="application/json", headers=headers)


async def _sse(request: web.Request, events: list[dict[str, Any]], b: GeminiBehaviour) -> web.StreamResponse:
    resp = web.StreamResponse(headers=b.headers)
    resp.content_type = "text/event-stream"
    await resp.prepare(request)
    frames = [f.encode() for f in b.raw_events] if b.raw_events is not None else [
        b"data: " + orjson.dumps(e) + b"\r\n\r\n" for e in events]
    for sent, frame in enumerate(frames):
        if b.die_after is not None and sent >= b.die_after:
            if request.transport is not None:
                request.transport.close()
            return resp
        if b.error_after is not None and sent >= b.error_after:
            error = {"error": b.error or error_body(500, "fake stream error", "INTERNAL")["error"]}
            await resp.write(b"data: " + orjson.dumps(error) + b"\r\n\r\n")
            break
        await resp.write(frame)
    await resp.write_eof()
    return resp


def studio_model(url: str, *, name: str = "gemini", model: str = "gemini-2.5-flash", api_key: str | None = "fake-key",
                 **params: Any) -> dict[str, Any]:
    """A ``model_list`` entry for the fake's AI Studio routes (``gemini/<model>``)."""
    litellm_params: dict[str, Any] = {"model": f"gemini/{model}", "api_base": url, **params}
    if api_key is not None:
        litellm_params["api_key"] = api_key
    return {"model_name": name, "litellm_params": litellm_params}


def vertex_model(url: str, credentials: Any, *, name: str = "vertex", model: str = "gemini-2.5-flash",
                 project: str | None = "fake-project", location: str | None = "us-central1",
                 **params: Any) -> dict[str, Any]:
    """A ``model_list`` entry for the fake's Vertex AI routes (``vertex_ai/<model>``)."""
    litellm_params: dict[str, Any] = {"model": f"vertex_ai/{model}", "api_base": url, **params}
    for key, value in (("vertex_credentials", credentials), ("vertex_project", project),
                       ("vertex_location", location)):
        if value is not None:
            litellm_params[key] = value
    return {"model_name": name, "litellm_params": litellm_params}
