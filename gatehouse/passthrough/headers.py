"""Headers on a pass-through route: the caller's key, what goes upstream, what comes back.

* :func:`presented_key` — the Gatehouse key the client sent, wherever its SDK
  puts it: ``x-litellm-api-key`` (with or without ``Bearer``), the route's
  own header (``litellm_user_api_key``), ``Authorization: Bearer``, ``x-api-key``,
  ``api-key``, ``x-goog-api-key`` or a ``key`` query parameter (Gemini's SDKs);
  an ``Authorization: AWS4-HMAC-SHA256 …`` is the client SDK's own signature,
  never a key.
* :func:`upstream_headers` — the client's headers as forwarded: never a
  credential (``Authorization``, ``x-api-key``, cookies, anything named like a
  key or token), hop-by-hop headers, ``Host``, ``Content-Length``, encodings,
  or the client's AWS signing headers; ``x-pass-<name>`` arrives as ``<name>``
  (still never a credential). Without ``forward_headers`` only
  ``Content-Type`` and ``Accept`` go.
* :func:`client_headers` — the upstream's answer headers the client gets
  (``Content-Type``, request ids, rate-limit headers, ``retry-after`` …;
  never ``Set-Cookie``, framing or encoding headers).
"""

from __future__ import annotations

from typing import Iterable, Mapping

from ..untrusted import is_credential_header

__all__ = ["presented_key", "upstream_headers", "client_headers"]

_HOP = frozenset({"connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer", "upgrade",
                  "host", "content-length", "accept-encoding", "expect"})
_AWS = frozenset({"x-amz-date", "x-amz-security-token", "x-amz-content-sha256", "amz-sdk-invocation-id",
                  "amz-sdk-request", "x-amz-user-agent"})
_BACK_DROPPED = frozenset({"connection", "keep-alive", "transfer-encoding", "content-length", "content-encoding",
                           "set-cookie", "server", "date", "trailer", "upgrade", "proxy-authenticate",
                           "www-authenticate", "alt-svc"})
_KEY_HEADERS = ("x-api-key", "api-key", "x-goog-api-key")


def _bearer(value: str) -> str:
    scheme, _, rest = value.strip().partition(" ")
    return rest.strip() if scheme.lower() == "bearer" and rest.strip() else value.strip()


def presented_key(headers: Mapping[str, str], query: Mapping[str, str], key_header: str | None = None) -> str | None:
    """The Gatehouse key in a pass-through request, if any (see the module docstring)."""
    for name in ("x-litellm-api-key", key_header):
        value = headers.get(name) if name else None
        if value and value.strip():
            return _bearer(value)
    auth = headers.get("Authorization")
    if auth:
        scheme, _, rest = auth.strip().partition(" ")
        if scheme.lower() == "bearer" and rest.strip():
            return rest.strip()
    for name in _KEY_HEADERS:
        value = headers.get(name)
        if value and value.strip():
            return _bearer(value)
    key = query.get("key")
    return key.strip() if key and key.strip() else None


def upstream_headers(headers: Iterable[tuple[str, str]], *, forward: bool, key_header: str | None = None
                     ) -> dict[str, str]:
    """The client's headers that go upstream (see the module docstring)."""
    out: dict[str, str] = {}
    own = key_header.lower() if key_header else None
    for name, value in headers:
        low = name.lower()
        if low.startswith("x-pass-"):
            name, low = name[len("x-pass-"):], low[len("x-pass-"):]
        elif not forward and low not in ("content-type", "accept"):
            continue
        if low in _HOP or low in _AWS or low == own or is_credential_header(low) or low.startswith("x-litellm-"):
            continue
        out[name] = value
    return out


def client_headers(headers: Iterable[tuple[str, str]]) -> dict[str, str]:
    """The upstream answer's headers the client gets (``Content-Type`` under that exact name)."""
    out: dict[str, str] = {}
    for name, value in headers:
        low = name.lower()
        if low in _BACK_DROPPED or low.startswith("x-litellm-"):
            continue
        out["Content-Type" if low == "content-type" else name] = value
    return out
