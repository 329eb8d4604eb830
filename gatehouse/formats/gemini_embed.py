"""OpenAI embeddings ⇄ Gemini embeddings: AI Studio ``embedContent`` / ``batchEmbedContents``
and Vertex AI ``:predict`` (text-embedding and gemini-embedding models). Pure translation.

=======================  ====================================  ==============================
OpenAI                   AI Studio                             Vertex ``:predict``
=======================  ====================================  ==============================
``input`` (str / list)   ``content.parts[].text`` per request  ``instances[].content``
``dimensions``           ``outputDimensionality``              ``parameters.outputDimensionality``
``task_type``            ``taskType``                          ``instances[].task_type``
``encoding_format``      answered as floats or base64 float32  same
=======================  ====================================  ==============================
"""

from __future__ import annotations

import base64
import struct
from typing import Any, Mapping

from ..errors import BadRequestError, UpstreamError
from .gemini import unsupported_error

__all__ = ["texts", "studio_request", "studio_answer", "vertex_request", "vertex_answer"]

_HANDLED = frozenset({"model", "input", "dimensions", "encoding_format", "task_type", "user", "drop_params",
                      "additional_drop_params"})


def texts(body: Mapping[str, Any], provider: str, *, drop_params: bool = False,
          ignored: frozenset[str] = frozenset()) -> list[str]:
    """The input texts; a field Gemini cannot take → 400 naming it (unless dropped)."""
    refused = [k for k, v in body.items() if v is not None and k not in _HANDLED and k not in ignored]
    if refused and not (drop_params or body.get("drop_params") is True):
        raise unsupported_error(provider, refused)
    value = body.get("input")
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not items or not all(isinstance(i, str) for i in items):
        raise BadRequestError(f"{provider}: input must be a string or a list of strings (token arrays are not "
                              "supported)", param="input")
    return items


def _dimensions(body: Mapping[str, Any]) -> dict[str, Any]:
    return {"outputDimensionality": body["dimensions"]} if body.get("dimensions") is not None else {}


def studio_request(body: Mapping[str, Any], model: str, items: list[str]) -> tuple[str, dict[str, Any]]:
    """(method, request): ``embedContent`` for one text, ``batchEmbedContents`` for several."""
    extra = _dimensions(body)
    if body.get("task_type"):
        extra["taskType"] = body["task_type"]
    if len(items) == 1:
        return "embedContent", {"content": {"parts": [{"text": items[0]}]}, **extra}
    requests = [{"model": f"models/{model}", "content": {"parts": [{"text": t}]}, **extra} for t in items]
    return "batchEmbedContents", {"requests": requests}


def vertex_request(body: Mapping[str, Any], items: list[str]) -> dict[str, Any]:
    task = {"task_type": body["task_type"]} if body.get("task_type") else {}
    out: dict[str, Any] = {"instances": [{"content": t, **task} for t in items]}
    if body.get("dimensions") is not None:
        out["parameters"] = _dimensions(body)
    return out


def _vectors_error(label: str, what: str) -> UpstreamError:
    return UpstreamError(f"{label}: the provider answered embeddings without {what}", status=502)


def studio_answer(native: Mapping[str, Any], body: Mapping[str, Any], model: str, count: int,
                  label: str = "gemini") -> dict[str, Any]:
    found = native.get("embeddings") if "embeddings" in native else [native.get("embedding")]
    vectors = [e.get("values") if isinstance(e, Mapping) else None for e in found or []]
    if len(vectors) != count or not all(isinstance(v, list) for v in vectors):
        raise _vectors_error(label, f"{count} vectors")
    meta = native.get("usageMetadata")
    meta = meta if isinstance(meta, Mapping) else {}
    return _answer(vectors, body, model, int(meta.get("promptTokenCount") or 0))


def vertex_answer(native: Mapping[str, Any], body: Mapping[str, Any], model: str, count: int,
                  label: str = "vertex_ai") -> dict[str, Any]:
    predictions = native.get("predictions")
    if not isinstance(predictions, list) or len(predictions) != count:
        raise _vectors_error(label, f"{count} predictions")
    vectors, tokens = [], 0
    for prediction in predictions:
        embeddings = prediction.get("embeddings") if isinstance(prediction, Mapping) else None
        if not isinstance(embeddings, Mapping) or not isinstance(embeddings.get("values"), list):
            raise _vectors_error(label, "embeddings.values")
        vectors.append(embeddings["values"])
        tokens += int((embeddings.get("statistics") or {}).get("token_count") or 0)
    return _answer(vectors, body, model, tokens)


def _answer(vectors: list[Any], body: Mapping[str, Any], model: str, tokens: int) -> dict[str, Any]:
    as_base64 = body.get("encoding_format") == "base64"
    data = [{"object": "embedding", "index": i, "embedding": _base64(v) if as_base64 else v}
            for i, v in enumerate(vectors)]
    return {"object": "list", "data": data, "model": model,
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}


def _base64(values: list[float]) -> str:
    """Little-endian float32, base64-encoded (what OpenAI answers for ``encoding_format: base64``)."""
    return base64.b64encode(struct.pack(f"<{len(values)}f", *values)).decode()
