"""A fake Azure OpenAI resource: deployment URLs, ``api-version``, ``api-key`` or Entra ID bearer tokens.

Serves, like a real ``https://<resource>.openai.azure.com``::

    POST /openai/deployments/{deployment}/{chat/completions|completions|embeddings|
         images/generations|audio/transcriptions|audio/translations|audio/speech}?api-version=...
    POST /openai/v1/{same paths}                                      (v1 API)

A classic call without ``api-version`` gets Azure's 404 ``Resource not
found``; an unknown deployment (when ``deployments`` is given) 404
``DeploymentNotFound``; a call without a valid ``api-key`` or bearer token
401 with Azure's APIM message. Answers are :class:`~.fake_upstream.FakeUpstream`'s
(scriptable the same way) with Azure's additions: ``prompt_filter_results``
and ``content_filter_results``, and a stream that opens with a
``choices: []`` event. The official SDK parses them: ``openai.AzureOpenAI``
(proven in ``tests/providers/test_azure_fake.py``).
"""

from __future__ import annotations

from typing import Any, Awaitable, Callable, Iterable

import orjson
from aiohttp import web

from .fake_answers import ROUTES, AnswerFn, Behaviour, RecordedRequest, _StreamPlan
from .fake_upstream import FakeUpstream, _read_request

__all__ = ["FakeAzure", "AZURE_401"]

AZURE_PATHS = ("chat/completions", "completions", "embeddings", "images/generations", "audio/transcriptions",
               "audio/translations", "audio/speech")
AZURE_401 = {"error": {"code": "401", "message": "Access denied due to invalid subscription key or wrong API "
                       "endpoint. Make sure to provide a valid key for an active subscription and use a correct "
                       "regional API endpoint for your resource."}}
_FILTERS = {c: {"filtered": False, "severity": "safe"} for c in ("hate", "self_harm", "sexual", "violence")}


class FakeAzure(FakeUpstream):
    """The fake resource. ``api_keys``: accepted ``api-key`` values; ``accept_token``: accepted bearer tokens."""

    thread_name = "fake-azure"

    def __init__(self, api_keys: Iterable[str] = ("azure-key",), accept_token: Callable[[str], bool] | None = None,
                 deployments: Iterable[str] | None = None) -> None:
        super().__init__()
        self.api_keys = set(api_keys)
        self.accept_token = accept_token or (lambda token: False)
        self.deployments = set(deployments) if deployments is not None else None

    @property
    def endpoint(self) -> str:
        """The resource's base, as ``api_base`` / ``azure_endpoint`` take it: ``http://host:port``."""
        return self.url.removesuffix("/v1")

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        for (method, path), answer in ROUTES.items():
            if path in AZURE_PATHS:
                app.router.add_route(method, "/openai/deployments/{deployment}/" + path, self._azure(answer, True))
                app.router.add_route(method, "/openai/v1/" + path, self._azure(answer, False))
        self._runner = web.AppRunner(app, handler_cancellation=True, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, host, port).start()
        self._url = f"http://{host}:{self._runner.addresses[0][1]}/v1"
        return self.endpoint

    def _authorized(self, request: web.Request) -> bool:
        if request.headers.get("api-key") in self.api_keys:
            return True
        auth = request.headers.get("Authorization", "")
        return auth.startswith("Bearer ") and self.accept_token(auth[7:])

    def _azure(self, answer: AnswerFn, classic: bool) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def handle(request: web.Request) -> web.StreamResponse:
            refusal = self._refusal(request, classic)
            if refusal is not None:
                self._record(await _read_request(request))
                return refusal
            return await self._handle(request, _with_filters(answer))
        return handle

    def _refusal(self, request: web.Request, classic: bool) -> web.Response | None:
        if classic and "api-version" not in request.query:
            return _error(404, {"error": {"code": "404", "message": "Resource not found"}})
        if not self._authorized(request):
            return _error(401, AZURE_401)
        deployment = request.match_info.get("deployment")
        if classic and self.deployments is not None and deployment not in self.deployments:
            return _error(404, {"error": {"code": "DeploymentNotFound", "message": (
                f"The API deployment for this resource does not exist: {deployment}")}})
        return None


def _error(status: int, body: dict[str, Any]) -> web.Response:
    return web.Response(status=status, body=orjson.dumps(body), content_type="application/json")


def _with_filters(answer: AnswerFn) -> AnswerFn:
    """Azure's content-filter annotations on chat answers; its opening ``choices: []`` stream event."""
    def azure_answer(rec: RecordedRequest, b: Behaviour, rid: str) -> Any:
        result = answer(rec, b, rid)
        prompt_filters = [{"prompt_index": 0, "content_filter_results": _FILTERS}]
        if isinstance(result, _StreamPlan) and rec.path.endswith("chat/completions"):
            result.head.insert(0, {"choices": [], "created": 0, "id": "", "model": "", "object": "",
                                   "prompt_filter_results": prompt_filters})
        elif isinstance(result, dict) and result.get("object") == "chat.completion":
            result["prompt_filter_results"] = prompt_filters
            for choice in result.get("choices") or []:
                choice["content_filter_results"] = _FILTERS
        return result
    return azure_answer
