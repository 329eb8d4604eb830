"""Pass-through targets that mint or sign their credential: Vertex AI (a Google token) and Bedrock (SigV4).

``/vertex_ai/v1/projects/{project}/locations/{location}/...`` goes to the
location's host with ``Authorization: Bearer <token>`` from the credentials of
the ``use_in_pass_through`` deployment with that project and location, else
the default (``default_vertex_config`` or ``DEFAULT_VERTEXAI_PROJECT`` /
``DEFAULT_VERTEXAI_LOCATION`` / ``DEFAULT_GOOGLE_APPLICATION_CREDENTIALS``,
or the first such deployment). Tokens come from
:mod:`gatehouse.providers.google_credentials` (refreshed in the background).

``/bedrock/...`` is re-signed: the client's own signature (made with whatever
AWS keys its SDK had) is dropped, and the request is signed again with SigV4
(service ``bedrock``) by ``botocore`` with the gateway's keys
(:mod:`gatehouse.providers.aws_credentials`), or sent with a Bedrock API key.
Agent, knowledge-base and flow routes go to ``bedrock-agent-runtime``.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field
from typing import Any, Mapping
from urllib.parse import urlsplit

from ..errors import NotFoundError
from ..providers.bedrock_target import host_header
from ..providers.vertex import vertex_host
from .targets import Outbound, join, with_query

__all__ = ["VertexTarget", "BedrockTarget", "AGENT_ROUTES"]

_SCOPE = re.compile(r"/projects/(?P<project>[^/]+)/locations/(?P<location>[^/:]+)")
#: Paths served by ``bedrock-agent-runtime`` (as LiteLLM routes them).
AGENT_ROUTES = ("/agents/", "/knowledgebases/", "/flows/", "/retrieveAndGenerate", "/rerank", "/generateQuery",
                "/optimize-prompt")


@dataclass(slots=True)
class VertexCredential:
    project: str
    location: str
    tokens: Any
    """A :class:`~gatehouse.providers.google_credentials.TokenSource`."""
    base: str | None = None
    """A host replacing Google's (the deployment's ``api_base``)."""


@dataclass(slots=True)
class VertexTarget:
    label: str
    credentials: dict[tuple[str, str], VertexCredential]
    default: VertexCredential | None
    provider: str | None = "vertex_ai"

    def _for(self, tail: str) -> VertexCredential:
        found = _SCOPE.search(tail)
        if found is not None:
            match = self.credentials.get((found["project"], found["location"]))
            if match is not None:
                return match
        if self.default is None:
            raise NotFoundError(f"The pass-through route {self.label} has no Google credentials for this project "
                                "and location: add a vertex_ai/ deployment with use_in_pass_through: true, or set "
                                "default_vertex_config")
        return self.default

    async def outbound(self, method: str, tail: str, query: str, headers: dict[str, str], body: bytes) -> Outbound:
        credential = self._for(tail)
        found = _SCOPE.search(tail)
        location = found["location"] if found is not None else credential.location
        token = await credential.tokens.token()
        url = with_query(join(credential.base or vertex_host(location), tail), query)
        return Outbound(url, {**headers, "Authorization": f"Bearer {token}"}, (token,))

    async def start(self) -> None:
        for source in {id(c.tokens): c.tokens for c in self._all()}.values():
            source.start()

    async def close(self) -> None:
        for source in {id(c.tokens): c.tokens for c in self._all()}.values():
            await source.close()

    def _all(self) -> list[VertexCredential]:
        return list(self.credentials.values()) + ([self.default] if self.default is not None else [])


@dataclass(slots=True)
class BedrockTarget:
    label: str
    region: str
    endpoint: str
    agent_endpoint: str
    keys: Any = field(default=None, repr=False)
    """:class:`~gatehouse.providers.aws_credentials.SigningKeys`, or ``None`` with ``bearer``."""
    bearer: str | None = field(default=None, repr=False)
    provider: str | None = "bedrock"
    _signer: Any = None
    _request_cls: Any = None
    _task: asyncio.Task[None] | None = None

    def __post_init__(self) -> None:
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest

        self._signer, self._request_cls = SigV4Auth, AWSRequest

    async def outbound(self, method: str, tail: str, query: str, headers: dict[str, str], body: bytes) -> Outbound:
        agent = tail.startswith(AGENT_ROUTES)
        url = with_query(join(self.agent_endpoint if agent else self.endpoint, tail), query)
        if self.bearer is not None:
            return Outbound(url, {**headers, "Authorization": f"Bearer {self.bearer}"}, (self.bearer,))
        signed = {"Host": host_header(url)}
        for name in ("Content-Type", "Accept"):
            value = _get(headers, name)
            if value is not None:
                signed[name] = value
        request = self._request_cls(method=method, url=url, data=body, headers=signed)
        credentials = self.keys.current
        self._signer(credentials, "bedrock", self.region).add_auth(request)
        out = {k: v for k, v in headers.items() if k.lower() not in ("content-type", "accept")}
        out.update(signed)
        out["X-Amz-Date"], out["Authorization"] = request.headers["X-Amz-Date"], request.headers["Authorization"]
        if credentials.token:
            out["X-Amz-Security-Token"] = credentials.token
        return Outbound(url, out, self.keys.secrets())

    async def start(self) -> None:
        if self.keys is not None and self._task is None:
            self._task = asyncio.get_running_loop().create_task(self.keys.keep_fresh(), name="aws-credentials pass-through")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None


def _get(headers: Mapping[str, str], name: str) -> str | None:
    low = name.lower()
    return next((v for k, v in headers.items() if k.lower() == low), None)


def agent_endpoint(endpoint: str, region: str) -> str:
    """``bedrock-agent-runtime`` beside a runtime endpoint (a custom endpoint serves both)."""
    host = urlsplit(endpoint).hostname or ""
    if host == f"bedrock-runtime.{region}.amazonaws.com":
        return f"https://bedrock-agent-runtime.{region}.amazonaws.com"
    return endpoint


