"""What a guardrail sees of a request or response, and the body sent to the guardrail service.

The request's wire format (:mod:`gatehouse.formats`, named by the endpoint
row of its ``call_type``) says where the texts, images and tool calls are:
extraction walks the body once and records the position each came from (a
``(container, key)`` pair); a rewrite is written back by position, so
nothing is re-serialised and every other byte of the body stays as sent.
Write-back is all-or-nothing: :func:`rewrite_problem` says why a rewrite
does not fit (wrong count, wrong types) before :func:`apply_rewrite` changes
anything. A call type no endpoint serves yields an empty extraction.

:func:`build_body` turns an extraction plus the request's metadata into the
JSON body of the wire contract, serialised once with orjson.
"""

from __future__ import annotations

from typing import Any, Mapping

import orjson

from gatehouse.endpoints import format_for, normalise_call_type
from gatehouse.formats.base import Extraction, Slot, apply_rewrite, rewrite_problem
from gatehouse.untrusted import is_credential_header, valid_utf8

__all__ = [
    "Slot",
    "Extraction",
    "normalise_call_type",
    "extract_request",
    "extract_response",
    "rewrite_problem",
    "apply_rewrite",
    "REQUEST_DATA_KEYS",
    "FORWARDED_HEADERS",
    "sanitise_headers",
    "build_body",
]

#: The caller fields of ``data["metadata"]`` sent as ``request_data`` (non-null ones only).
REQUEST_DATA_KEYS = (
    "user_api_key_hash",
    "user_api_key_alias",
    "user_api_key_user_id",
    "user_api_key_user_email",
    "user_api_key_team_id",
    "user_api_key_team_alias",
    "user_api_key_end_user_id",
    "user_api_key_org_id",
)
#: Inbound headers whose values are forwarded in ``request_headers`` (plus ``x-stainless-*``,
#: ``x-litellm-*`` and the guardrail's ``extra_headers``); every other header is ``[present]``.
FORWARDED_HEADERS = frozenset(
    {"host", "accept-encoding", "connection", "accept", "content-type", "user-agent", "content-length"}
)
_FORWARDED_PREFIXES = ("x-stainless-", "x-litellm-")
#: Credentials are never forwarded by prefix (only when named in ``extra_headers``).
_CREDENTIAL_HEADERS = frozenset({"x-litellm-api-key"})


def extract_request(call_type: str | None, data: dict[str, Any]) -> Extraction:
    """What the guardrail scans of a request body (``data``) of this call type."""
    fmt = format_for(call_type)
    if fmt is None:
        model = data.get("model")
        return Extraction(model=model if isinstance(model, str) else None)
    return fmt.extract_request(data)


def extract_response(call_type: str | None, response: dict[str, Any]) -> Extraction:
    """What the guardrail scans of a (plain-dict) response of this call type."""
    fmt = format_for(call_type)
    if fmt is None:
        model = response.get("model")
        return Extraction(model=model if isinstance(model, str) else None)
    return fmt.extract_response(response)


# -- the outbound body ---------------------------------------------------------


def sanitise_headers(headers: Any, allowed: frozenset[str]) -> dict[str, str] | None:
    """Inbound headers with values only for allowed names, ``[present]`` for the rest.

    Names and values are made valid UTF-8 (a byte that is not is written
    ``\\xNN``), so a client's header can never make the check unbuildable.
    A credential is never forwarded by prefix (only when named in ``extra_headers``).
    """
    if not isinstance(headers, Mapping) or not headers:
        return None
    out: dict[str, str] = {}
    for name, value in headers.items():
        low = valid_utf8(str(name).lower())
        forward = low in allowed or (low.startswith(_FORWARDED_PREFIXES) and low not in _CREDENTIAL_HEADERS
                                     and not is_credential_header(low))
        out[low] = valid_utf8(str(value)) if forward else "[present]"
    return out


def build_body(
    ex: Extraction,
    *,
    data: Mapping[str, Any],
    metadata: Mapping[str, Any],
    input_type: str,
    params: Mapping[str, Any],
    allowed_headers: frozenset[str],
    version: str,
) -> bytes:
    """The JSON body of one check: every key present, absent values ``null``.

    Raises ``TypeError`` when something in the body cannot be serialised.
    """
    headers = metadata.get("headers")
    if headers is None:
        server_request = data.get("proxy_server_request")
        headers = server_request.get("headers") if isinstance(server_request, Mapping) else None
    return orjson.dumps(
        {
            "input_type": input_type,
            "litellm_call_id": data.get("litellm_call_id"),
            "litellm_trace_id": data.get("litellm_trace_id"),
            "structured_messages": ex.structured_messages if input_type == "request" else None,
            "images": ex.images or None,
            "tools": ex.tools if input_type == "request" else None,
            "texts": ex.texts,
            "request_data": {k: v for k in REQUEST_DATA_KEYS if (v := metadata.get(k)) is not None},
            "request_headers": sanitise_headers(headers, allowed_headers),
            "litellm_version": version,
            "additional_provider_specific_params": params,
            "tool_calls": ex.tool_calls or None,
            "model": ex.model,
        }
    )
