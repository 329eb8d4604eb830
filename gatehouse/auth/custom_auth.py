"""``general_settings.custom_auth``: the operator's own authentication function.

As LiteLLM documents it::

    # custom_auth.py, beside config.yaml
    from gatehouse import UserAPIKeyAuth        # was: from litellm.proxy._types import UserAPIKeyAuth
    from fastapi import Request

    async def user_api_key_auth(request: Request, api_key: str) -> UserAPIKeyAuth:
        if api_key == "sk-my-secret":
            return UserAPIKeyAuth(api_key=api_key, models=["gpt-4o"], rpm_limit=10)
        raise Exception("unknown key")

    general_settings:
      custom_auth: custom_auth.user_api_key_auth

``request`` is an :class:`AuthRequest`: the parts of Starlette's ``Request``
such functions read (``headers``, ``url``, ``method``, ``query_params``,
``client``, ``cookies``, ``await request.body()``, ``await request.json()``).
``api_key`` is the presented key (``Authorization: Bearer …`` or the key
headers), or ``""`` when none was sent.

* Raising an ``HTTPException`` answers with its status (type ``auth_error``);
  raising anything else answers 401 ``Authentication Error, <message>``.
* Returning a ``UserAPIKeyAuth`` (or a mapping of its fields) makes that the
  caller's identity, enforced as a virtual key's: ``blocked``, ``expires``,
  ``models``, ``rpm_limit``, ``tpm_limit``, ``max_parallel_requests``,
  ``max_budget``/``spend``; ``user_role: proxy_admin`` may manage keys.
  ``api_key`` is stored hashed (as LiteLLM does); when the function leaves it
  out, the hash of the presented key is used, so limits apply per key.
* Returning anything else is refused (401) and logged as a bug in the function.
"""

from __future__ import annotations

import dataclasses
import inspect
import logging
from http.cookies import SimpleCookie
from types import SimpleNamespace
from typing import Any, Awaitable, Callable, Mapping, NamedTuple

import orjson

from ..errors import AuthenticationError, GatewayError, is_http_exception
from .identity import UserAPIKeyAuth
from .keys import hash_key, is_key_hash

__all__ = ["AuthRequest", "CustomAuth", "URL"]

log = logging.getLogger("gatehouse.auth")

_FIELDS = frozenset(f.name for f in dataclasses.fields(UserAPIKeyAuth))


class Address(NamedTuple):
    host: str
    port: int


class URL:
    """Starlette's ``URL``, the parts hooks read: ``path``, ``query``, ``scheme``, ``hostname``, ``port``."""

    def __init__(self, *, scheme: str, host: str, path: str, query: str) -> None:
        self.scheme, self.path, self.query = scheme, path, query
        self.netloc = host
        name, _, port = host.rpartition(":") if host.count(":") == 1 else (host, "", "")
        self.hostname = name or host
        self.port = int(port) if port.isdigit() else None

    def __str__(self) -> str:
        return f"{self.scheme}://{self.netloc}{self.path}" + (f"?{self.query}" if self.query else "")

    __repr__ = __str__


class AuthRequest:
    """What a ``custom_auth`` function receives as ``request`` (enough of Starlette's ``Request``)."""

    def __init__(self, *, method: str, url: URL, headers: Mapping[str, str], query_params: Mapping[str, str],
                 client: Address | None, read_body: Callable[[], Awaitable[bytes]]) -> None:
        self.method = method
        self.url = url
        self.headers = headers
        self.query_params = query_params
        self.client = client
        self.path_params: dict[str, str] = {}
        self.state = SimpleNamespace()
        self._read_body = read_body
        cookie = SimpleCookie()
        try:
            cookie.load(headers.get("cookie", ""))
        except Exception:  # a malformed Cookie header is simply no cookies
            pass
        self.cookies = {name: morsel.value for name, morsel in cookie.items()}
        self.scope = {"type": "http", "method": method, "path": url.path, "query_string": url.query.encode()}

    async def body(self) -> bytes:
        return await self._read_body()

    async def json(self) -> Any:
        return orjson.loads(await self.body())

    @classmethod
    def from_aiohttp(cls, request: Any) -> "AuthRequest":
        """From an ``aiohttp.web.Request`` (its body is read once and kept, so the gateway reads it again)."""
        peer = request.transport.get_extra_info("peername") if request.transport is not None else None
        client = Address(str(peer[0]), int(peer[1])) if isinstance(peer, tuple) and len(peer) >= 2 else None
        url = URL(scheme=request.scheme, host=request.host, path=request.path, query=request.query_string)
        return cls(method=request.method, url=url, headers=request.headers, query_params=request.query,
                   client=client, read_body=request.read)


class CustomAuth:
    """The loaded function, called the way LiteLLM calls it."""

    def __init__(self, fn: Callable[..., Any], label: str) -> None:
        self.fn = fn
        self.label = label
        self._warned: set[str] = set()

    async def authenticate(self, request: AuthRequest, api_key: str) -> UserAPIKeyAuth:
        try:
            result = self.fn(request=request, api_key=api_key)
            if inspect.isawaitable(result):
                result = await result
        except GatewayError:
            raise
        except Exception as exc:
            raise _refusal(exc) from None
        return self._identity(result, api_key)

    def _identity(self, result: Any, api_key: str) -> UserAPIKeyAuth:
        if isinstance(result, UserAPIKeyAuth):
            identity = dataclasses.replace(result)
        elif isinstance(result, Mapping):
            unknown = sorted(str(k) for k in result if k not in _FIELDS and k not in self._warned)
            if unknown:
                self._warned.update(unknown)
                log.warning("custom_auth %s returned field(s) Gatehouse does not use: %s", self.label,
                            ", ".join(unknown))
            identity = UserAPIKeyAuth(**{k: v for k, v in result.items() if k in _FIELDS})
        else:
            log.error("custom_auth %s returned %s; it must return a UserAPIKeyAuth or raise", self.label,
                      type(result).__name__)
            raise AuthenticationError("Authentication Error, the custom auth function returned no identity")
        presented = identity.api_key or api_key
        if presented:
            identity.api_key = presented if is_key_hash(presented) else hash_key(presented)
            identity.token = identity.api_key
        return identity


def _refusal(exc: BaseException) -> GatewayError:
    if is_http_exception(exc):
        detail = getattr(exc, "detail", None)
        message = detail if isinstance(detail, str) and detail else f"Authentication Error, {exc}"
        status = getattr(exc, "status_code", 401)
        return GatewayError(message, status=status if isinstance(status, int) and 400 <= status <= 599 else 401,
                            type="auth_error")
    return AuthenticationError(f"Authentication Error, {exc}" if str(exc) else "Authentication Error")
