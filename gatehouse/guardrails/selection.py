"""Which guardrails a request asks for (the ``guardrails`` request field).

A request names guardrails in its body, in ``metadata`` or in
``litellm_metadata`` (all three are read and merged)::

    "guardrails": ["pii-mask", {"toxicity": {"extra_body": {"threshold": 0.9}}}]
    "guardrails": {"toxicity": {"extra_body": {"threshold": 0.9}}}      (the dict form)

A guardrail that is not ``default_on`` runs only when named; a ``default_on``
guardrail always runs (a request cannot switch it off). ``extra_body`` may only
add to the guardrail's ``additional_provider_specific_params``, never change
what the admin set (:func:`request_params`), unless the guardrail's
``allowed_request_params`` lists the keys a request may set (then only those).
The gateway calls :func:`check_requested` once per request, before any hook:
an unknown name, a malformed value or a parameter the request may not set is
a 400, never silently ignored.
"""

from __future__ import annotations

from typing import AbstractSet, Any, Mapping

from gatehouse.errors import BadRequestError
from gatehouse.guardrails.config import GuardrailConfig

__all__ = ["requested", "check_requested", "request_params", "opted_out"]

_SOURCES = ((None, "guardrails"), ("metadata", "metadata.guardrails"), ("litellm_metadata", "litellm_metadata.guardrails"))
_SHAPE = 'a list of guardrail names or {"<name>": {"extra_body": {...}}} objects'


def requested(data: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Guardrail name → ``extra_body`` (``{}`` when none) for every guardrail the request names.

    Raises :class:`BadRequestError` (400) when a ``guardrails`` value is malformed.
    """
    out: dict[str, dict[str, Any]] = {}
    for container, param in _SOURCES:
        holder = data if container is None else data.get(container)
        if not isinstance(holder, Mapping):
            continue
        value = holder.get("guardrails")
        if value is not None:
            _parse_into(out, value, param)
    return out


def check_requested(
    data: Mapping[str, Any], known_names: AbstractSet[str], *, configs: Mapping[str, GuardrailConfig] | None = None
) -> None:
    """Raise 400 when the request names an unknown guardrail, has a malformed ``guardrails``,
    or (with ``configs``) sets a parameter its ``extra_body`` may not set."""
    named = requested(data)
    unknown = [name for name in named if name not in known_names]
    if unknown:
        configured = ", ".join(sorted(known_names)) or "(none)"
        raise BadRequestError(f"Unknown guardrail '{unknown[0]}'. Configured guardrails: {configured}", param="guardrails")
    for name, extra in named.items():
        config = configs.get(name) if configs is not None and extra else None
        if config is None:
            continue
        _, refused = request_params(config.additional_params, extra, config.allowed_request_params)
        if refused:
            keys, allowed = ", ".join(repr(k) for k in refused), config.allowed_request_params
            why = ("set by the admin" if allowed is None
                   else f"allowed_request_params: {', '.join(allowed) or 'none'}")
            raise BadRequestError(f"Guardrail '{name}': the request may not set {keys} in extra_body ({why})",
                                  param="guardrails")


def request_params(
    configured: Mapping[str, Any], extra: Mapping[str, Any] | None, allowed: tuple[str, ...] | None
) -> tuple[dict[str, Any], list[str]]:
    """The params of one check, and the ``extra_body`` keys left out.

    Without ``allowed``, a request adds keys the admin did not set and cannot
    change one the admin set (the same value is no change). With ``allowed``,
    a request sets exactly the keys listed, nothing else.
    """
    if not extra:
        return dict(configured), []
    merged, refused = dict(configured), []
    for key, value in extra.items():
        if allowed is not None:
            ok = key in allowed
        else:
            ok = key not in configured or configured[key] == value
        if ok:
            merged[key] = value
        else:
            refused.append(key)
    return merged, refused


def _parse_into(out: dict[str, dict[str, Any]], value: Any, param: str) -> None:
    if isinstance(value, Mapping):  # LiteLLM's other documented form: {"<name>": {"extra_body": {...}}}
        for name, options in value.items():
            out[str(name)] = {**out.get(str(name), {}), **_extra_body(options, f"{param}.{name}")}
        return
    if not isinstance(value, list):
        raise BadRequestError(f"`{param}` must be {_SHAPE} (got {type(value).__name__})", param=param)
    for i, entry in enumerate(value):
        if isinstance(entry, str):
            out.setdefault(entry, {})
        elif isinstance(entry, Mapping):
            for name, options in entry.items():
                out[str(name)] = {**out.get(str(name), {}), **_extra_body(options, f"{param}[{i}].{name}")}
        else:
            raise BadRequestError(
                f"`{param}[{i}]` must be a guardrail name or an object (got {type(entry).__name__})", param=param
            )


def _extra_body(options: Any, param: str) -> dict[str, Any]:
    if options is None:
        return {}
    if not isinstance(options, Mapping):
        raise BadRequestError(f'`{param}` must be an object like {{"extra_body": {{...}}}}', param=param)
    extra = options.get("extra_body")
    if extra is None:
        return {}
    if not isinstance(extra, Mapping):
        raise BadRequestError(f"`{param}.extra_body` must be an object", param=param)
    return dict(extra)


def opted_out(data: Mapping[str, Any], name: str) -> bool:
    """Whether an admin opted this key (or its team) out of default_on guardrail ``name``.

    ``disable_global_guardrails: true`` or ``opted_out_global_guardrails: [names]`` in the key's,
    then the team's, metadata — read from the ``user_api_key_*metadata`` fields the gateway fills
    from the key record, never from the request body.
    """
    metadata = data.get("metadata")
    if not isinstance(metadata, dict):
        return False
    for field in ("user_api_key_metadata", "user_api_key_team_metadata"):
        admin = metadata.get(field)
        if not isinstance(admin, dict):
            continue
        if admin.get("disable_global_guardrails") is True:
            return True
        names = admin.get("opted_out_global_guardrails")
        if isinstance(names, list) and name in names:
            return True
    return False
