"""AWS Bedrock: chat through Converse / ConverseStream, embeddings through InvokeModel (Titan, Cohere).

Requests are signed with SigV4 by ``botocore.auth.SigV4Auth`` (service ``bedrock``,
the deployment's region) with the credentials :mod:`.aws_credentials` resolves at
start-up and refreshes in the background; ``api_key`` (or ``AWS_BEARER_TOKEN_BEDROCK``
when no AWS credential is configured) is sent as a Bedrock API key
(``Authorization: Bearer``) instead. Translation lives in :mod:`gatehouse.formats`
(``bedrock_converse``, ``bedrock_converse_stream``, ``bedrock_embeddings``); the
event-stream framing is decoded by ``botocore.eventstream`` (:mod:`.bedrock_stream`).

botocore is the ``bedrock`` extra: without it, a bedrock deployment stops start-up
naming ``pip install 'gatehouse[bedrock]'``.
"""

from __future__ import annotations

import asyncio
import logging
import os
from typing import Any, Mapping

import aiohttp
import orjson

from ..errors import BadRequestError, UpstreamError
from ..formats.bedrock_converse import ConverseOptions, chat_answer, chat_request, error_from, image_urls
from ..formats.bedrock_converse_stream import StreamTranslator
from ..formats.bedrock_embeddings import embedding_answer, embedding_requests
from ..routing.deployment import Deployment
from .base import DeploymentProblem, map_provider_errors, scrub
from .bedrock_target import Target, build_target, truthy
from .image_fetch import fetch_images

__all__ = ["BedrockProvider", "INSTALL_HINT"]

log = logging.getLogger("gatehouse.providers.bedrock")

INSTALL_HINT = "the bedrock provider needs botocore: pip install 'gatehouse[bedrock]'"
_JSON = {"Content-Type": "application/json", "Accept": "application/json"}
_STREAM = {"Content-Type": "application/json", "Accept": "application/vnd.amazon.eventstream"}


def _aws() -> Any:
    """The AWS helper modules, or a start-up problem naming the extra to install."""
    try:
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest

        from . import aws_credentials, bedrock_stream
    except ImportError:
        raise DeploymentProblem(INSTALL_HINT, "model") from None
    return SigV4Auth, AWSRequest, aws_credentials, bedrock_stream


class BedrockProvider:
    """One per gateway process: one connection pool, one set of signing keys per distinct credential spec."""

    def __init__(self, *, connect_timeout: float = 10.0, environ: Mapping[str, str] | None = None) -> None:
        self._session: aiohttp.ClientSession | None = None
        self._connect_timeout = connect_timeout
        self._env = os.environ if environ is None else environ
        self._targets: dict[str, Target] = {}
        self._keys: dict[str, Any] = {}  # deployment id → SigningKeys
        self._shared: dict[Any, Any] = {}  # CredentialSpec → SigningKeys
        self._tasks: list[asyncio.Task[None]] = []
        self._sigv4: Any = None
        self._request_cls: Any = None
        self._stream_mod: Any = None

    # -- lifecycle -------------------------------------------------------------
    def check(self, deployment: Deployment) -> None:
        self._sigv4, self._request_cls, credentials, self._stream_mod = _aws()
        lp = deployment.litellm_params
        profile_region = None
        if lp.get("aws_profile_name"):
            import botocore.session

            try:
                scoped = botocore.session.Session(profile=str(lp["aws_profile_name"])).get_scoped_config()
                profile_region = scoped.get("region")
            except Exception as exc:
                raise DeploymentProblem(f"AWS profile '{lp['aws_profile_name']}': {exc}", "aws_profile_name") from None
        target = build_target(deployment, global_env=self._env, profile_region=profile_region)
        target.bearer = self._bearer(deployment)
        if target.bearer is None:
            spec = credentials.CredentialSpec.from_params(lp, target.region)
            keys = self._shared.get(spec)
            if keys is None:
                keys = self._shared[spec] = credentials.keys_for(spec, deployment.model_name)
            self._keys[deployment.id] = keys
        self._targets[deployment.id] = target

    def _bearer(self, deployment: Deployment) -> str | None:
        if deployment.api_key:
            return deployment.api_key
        lp = deployment.litellm_params
        explicit = any(lp.get(k) for k in ("aws_access_key_id", "aws_profile_name", "aws_role_name"))
        token = self._env.get("AWS_BEARER_TOKEN_BEDROCK")
        return token if token and not explicit else None

    async def start(self) -> None:
        for keys in self._shared.values():
            self._tasks.append(asyncio.create_task(keys.keep_fresh(), name=f"aws-credentials {keys.label}"))

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None:
            connector = aiohttp.TCPConnector(limit=0, keepalive_timeout=60, ttl_dns_cache=300)
            self._session = aiohttp.ClientSession(connector=connector, skip_auto_headers=("User-Agent",))
        return self._session

    # -- signing ---------------------------------------------------------------
    def _signed(self, deployment_id: str, target: Target, url: str, data: bytes,
                headers: Mapping[str, str]) -> dict[str, str]:
        if target.extra_headers:
            headers = {**headers, **target.extra_headers}
        if target.bearer is not None:
            return {**headers, "Authorization": f"Bearer {target.bearer}"}
        headers = {**headers, "Host": target.host}  # given, so botocore need not parse it out of the URL
        request = self._request_cls(method="POST", url=url, data=data, headers=headers)
        credentials = self._keys[deployment_id].current
        self._sigv4(credentials, "bedrock", target.region).add_auth(request)
        signed = request.headers
        headers["X-Amz-Date"], headers["Authorization"] = signed["X-Amz-Date"], signed["Authorization"]
        if credentials.token:
            headers["X-Amz-Security-Token"] = credentials.token
        return headers

    def _secrets(self, deployment_id: str, target: Target) -> tuple[str | None, ...]:
        keys = self._keys.get(deployment_id)
        return (target.bearer,) + (keys.secrets() if keys is not None else ())

    # -- calls -----------------------------------------------------------------
    def _target(self, deployment: Deployment, operation: str) -> Target:
        target = self._targets[deployment.id]
        wanted = "embedding" if target.embedding else "chat"
        if operation != wanted:
            raise BadRequestError(f"bedrock deployment '{target.name}' serves {wanted}, not {operation}")
        return target

    async def _converse_body(self, body: dict[str, Any], target: Target) -> tuple[bytes, bool]:
        for key in target.ignored:
            body.pop(key, None)
        urls = image_urls(body)
        images = await fetch_images(self._client(), urls) if urls else {}
        options = ConverseOptions(family=target.family, drop_params=target.drop_params,
                                  modify_params=target.modify_params or truthy(body.get("modify_params")),
                                  images=images)
        native, json_tool = chat_request(body, options)
        return orjson.dumps(native), json_tool

    async def call(self, operation: str, body: dict[str, Any], deployment: Deployment, timeout: float) -> dict[str, Any]:
        target = self._target(deployment, operation)
        if target.embedding:
            return await self._embed(body, deployment.id, target, timeout)
        data, json_tool = await self._converse_body(body, target)
        raw, _ = await self._post(deployment.id, target, "converse", data, timeout)
        try:
            return chat_answer(_json(raw, target), target.model_id, json_tool)
        except UpstreamError as exc:
            raise UpstreamError(f"Bedrock deployment '{target.name}': {exc.message}", status=exc.status) from None

    async def _post(self, deployment_id: str, target: Target, action: str, data: bytes,
                    timeout: float) -> tuple[bytes, Mapping[str, str]]:
        url, encoded = target.url(action)
        headers = self._signed(deployment_id, target, url, data, _JSON)
        with map_provider_errors(timeout, self._secrets(deployment_id, target)):
            async with self._client().post(encoded, data=data, headers=headers, timeout=target.timeout(
                    timeout, stream=False, connect=self._connect_timeout)) as resp:
                raw = await resp.read()
                if resp.status >= 400:
                    raise self._error(resp.status, resp.headers, raw, deployment_id, target)
                return raw, resp.headers

    async def stream(self, operation: str, body: dict[str, Any], deployment: Deployment, timeout: float) -> Any:
        target = self._target(deployment, operation)
        data, json_tool = await self._converse_body(body, target)
        url, encoded = target.url("converse-stream")
        headers = self._signed(deployment.id, target, url, data, _STREAM)
        with map_provider_errors(timeout, self._secrets(deployment.id, target)):
            resp = await self._client().post(encoded, data=data, headers=headers, timeout=target.timeout(
                timeout, stream=True, connect=self._connect_timeout))
        if resp.status >= 400 or "eventstream" not in resp.content_type:
            try:
                with map_provider_errors(timeout, self._secrets(deployment.id, target)):
                    raw = await resp.read()
            finally:
                resp.release()
            if resp.status < 400:
                raise UpstreamError(f"Bedrock deployment '{target.name}': the stream answer is "
                                    f"'{resp.content_type}', not an AWS event stream", status=502)
            raise self._error(resp.status, resp.headers, raw, deployment.id, target)
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        # chunks carry the deployment's model string: the relay re-stamps exactly that to the client's model name
        translator = StreamTranslator(deployment.upstream_model, include_usage=include_usage, json_tool=json_tool)
        return self._stream_mod.ConverseEvents(resp, translator, timeout, target.name)

    async def _embed(self, body: dict[str, Any], deployment_id: str, target: Target, timeout: float) -> dict[str, Any]:
        for key in target.ignored:
            body.pop(key, None)
        requests = embedding_requests(body, target.model_id, target.drop_params)

        async def one(request: dict[str, Any]) -> tuple[Any, int | None]:
            raw, headers = await self._post(deployment_id, target, "invoke", orjson.dumps(request), timeout)
            count = headers.get("X-Amzn-Bedrock-Input-Token-Count")
            return _json(raw, target), int(count) if count and count.isdigit() else None

        answers = await asyncio.gather(*(one(r) for r in requests))
        try:
            return embedding_answer(target.embedding or "titan", answers, target.model_id, body.get("encoding_format"))
        except UpstreamError as exc:
            raise UpstreamError(f"Bedrock deployment '{target.name}': {exc.message}", status=exc.status) from None

    def _error(self, status: int, headers: Mapping[str, str], raw: bytes, deployment_id: str,
               target: Target) -> UpstreamError:
        mapped, etype, message = error_from(status, headers.get("x-amzn-ErrorType"), raw)
        kept = {"retry-after": headers["retry-after"]} if "retry-after" in headers else {}
        text = scrub(f"Bedrock deployment '{target.name}': {message}", self._secrets(deployment_id, target))
        return UpstreamError(text, status=mapped, type=etype, headers=kept)


def _json(raw: bytes, target: Target) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise UpstreamError(f"Bedrock deployment '{target.name}': the answer is not JSON", status=502) from None
