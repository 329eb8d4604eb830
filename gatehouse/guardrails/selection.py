"""Which guardrails a request asks for (the ``guardrails`` request field).

A request names guardrails in its body, in ``metadata`` or in
``litellm_metadata`` (all three are read and merged)::

    "guardrails": ["pii-mask", {"toxicity": {"extra_body": {"threshold": 0.9}}}]
    "guardrails": {"toxicity": {"extra_body": {"threshold": 0.9}}}      (the dict form)

A guardrail that is not ``default_on`` runs only when named; a ``default_on``
guardrail always runs (a request cannot switch it off). ``extra_body`` is
merged over the guardrail's ``additional_provider_specific_params`` for that
call. The gateway calls :func:`check_requested` once per request, before any
hook: an unknown name or a malformed value is a 400, never silently ignored.
"""

from __future__ import annotations

from typing import AbstractSet, Any, Mapping

from gatehouse.errors import BadRequestError

__all__ = ["requested", "check_requested", "opted_out"]

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


def check_requested(data: Mapping[str, Any], known_names: AbstractSet[str]) -> None:
    """Raise 400 when the request names an unknown guardrail or has a malformed ``guardrails``."""
    unknown = [name for name in requested(data) if name not in known_names]
    if unknown:
        configured = ", ".join(sorted(known_names)) or "(none)"
        raise BadRequestError(f"Unknown guardrail '{unknown[0]}'. Configured guardrails: {configured}", param="guardrails")


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
