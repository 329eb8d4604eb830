"""JSON Schema (what OpenAI clients send) → the OpenAPI 3.0 subset Gemini's ``Schema`` accepts.

Gemini's ``functionDeclarations[].parameters`` and ``generationConfig.responseSchema``
take a subset of OpenAPI 3.0: no ``$ref``, no ``additionalProperties``, no
``$schema``, ``nullable`` instead of ``"type": [..., "null"]``. This module
inlines ``$ref`` (from ``$defs`` / ``definitions``), turns nullable type lists
and ``anyOf`` with ``{"type": "null"}`` into ``nullable: true``, ``const`` into a
one-value ``enum``, and keeps only the keys Gemini documents.
"""

from __future__ import annotations

from typing import Any, Mapping

__all__ = ["openapi_schema", "strip_strict"]

#: Keys of Gemini's ``Schema`` object (ai.google.dev/api/caching#Schema).
_KEPT = frozenset({
    "type", "format", "title", "description", "nullable", "enum", "maxItems", "minItems", "properties",
    "required", "minProperties", "maxProperties", "minLength", "maxLength", "pattern", "example", "anyOf",
    "propertyOrdering", "default", "items", "minimum", "maximum",
})
_MAX_DEPTH = 32


def openapi_schema(schema: Any) -> Any:
    """``schema`` rewritten for Gemini's ``Schema`` (the input is not changed)."""
    if not isinstance(schema, Mapping):
        return schema
    defs = {**dict(schema.get("definitions") or {}), **dict(schema.get("$defs") or {})}
    return _convert(schema, defs, 0)


def _convert(node: Mapping[str, Any], defs: Mapping[str, Any], depth: int) -> dict[str, Any]:
    if depth > _MAX_DEPTH:
        return {"type": "object"}
    ref = node.get("$ref")
    if isinstance(ref, str):
        target = defs.get(ref.rsplit("/", 1)[-1])
        merged = {**(target if isinstance(target, Mapping) else {}), **{k: v for k, v in node.items() if k != "$ref"}}
        return _convert(merged, defs, depth + 1)
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "const":
            out["enum"] = [value]
        elif key == "properties" and isinstance(value, Mapping):
            out[key] = {name: _convert(sub, defs, depth + 1) if isinstance(sub, Mapping) else sub
                        for name, sub in value.items()}
        elif key == "items" and isinstance(value, Mapping):
            out[key] = _convert(value, defs, depth + 1)
        elif key in ("anyOf", "oneOf") and isinstance(value, list):
            _any_of(out, value, defs, depth)
        elif key in _KEPT:
            out[key] = value
    _nullable_type(out)
    return out


def _any_of(out: dict[str, Any], options: list[Any], defs: Mapping[str, Any], depth: int) -> None:
    kept = [o for o in options if not (isinstance(o, Mapping) and o.get("type") == "null")]
    if len(kept) < len(options):
        out["nullable"] = True
    converted = [_convert(o, defs, depth + 1) for o in kept if isinstance(o, Mapping)]
    if len(converted) == 1:
        for key, value in converted[0].items():
            out.setdefault(key, value)
    elif converted:
        out["anyOf"] = converted


def _nullable_type(out: dict[str, Any]) -> None:
    kind = out.get("type")
    if isinstance(kind, list):
        real = [t for t in kind if t != "null"]
        if len(real) < len(kind):
            out["nullable"] = True
        if len(real) == 1:
            out["type"] = real[0]
        elif real:
            del out["type"]
            out["anyOf"] = [{"type": t} for t in real]
        else:
            out["type"] = "string"


def strip_strict(schema: Any) -> Any:
    """A JSON Schema without OpenAI's ``strict`` flags (for ``responseJsonSchema``)."""
    if isinstance(schema, Mapping):
        return {k: strip_strict(v) for k, v in schema.items() if k != "strict"}
    if isinstance(schema, list):
        return [strip_strict(v) for v in schema]
    return schema
