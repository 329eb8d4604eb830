"""Bedrock embeddings (InvokeModel) ⇄ the OpenAI embeddings API: Titan and Cohere bodies.

Titan (``amazon.titan-embed-text-v1``, ``-v2:0``, ``amazon.titan-embed-image-v1``) takes one text per
call: ``{"inputText": …}`` (v2 also ``dimensions``), answering ``{"embedding": […],
"inputTextTokenCount": n}``. Cohere (``cohere.embed-*``) takes them all at once:
``{"texts": […], "input_type": "search_document"}``, answering ``{"embeddings": [[…]]}`` (its
token count comes in the ``X-Amzn-Bedrock-Input-Token-Count`` header).
"""

from __future__ import annotations

import base64
import sys
from array import array
from typing import Any, Mapping, Sequence

from ..errors import BadRequestError, UpstreamError
from .bedrock_converse import model_family

__all__ = ["embedding_kind", "embedding_requests", "embedding_answer"]

_KNOWN = frozenset({"model", "input", "encoding_format", "dimensions", "user", "input_type", "drop_params",
                    "additional_drop_params", "truncate", "modify_params"})


def embedding_kind(model_id: str) -> str | None:
    """``titan`` or ``cohere`` for an embedding model id; None for a chat model."""
    family, name = model_family(model_id), model_id.rsplit("/", 1)[-1]
    if family == "amazon" and "embed" in name:
        return "titan"
    if family == "cohere" and "embed" in name:
        return "cohere"
    return None


def _texts(body: Mapping[str, Any]) -> list[str]:
    value = body.get("input")
    texts = [value] if isinstance(value, str) else value
    if not isinstance(texts, list) or not texts or not all(isinstance(t, str) for t in texts):
        raise BadRequestError("bedrock embeddings take `input` as a string or a list of strings "
                              "(token arrays are not supported)", param="input")
    return texts


def embedding_requests(body: Mapping[str, Any], model_id: str, drop_params: bool = False) -> list[dict[str, Any]]:
    """The InvokeModel bodies for an OpenAI embeddings request (one per text for Titan)."""
    kind = embedding_kind(model_id)
    texts = _texts(body)
    drop = drop_params or body.get("drop_params") is True
    dropped = set(body.get("additional_drop_params") or ())
    bad = [k for k in body if k not in _KNOWN and k not in dropped and not k.startswith("aws_")]
    v2 = "v2" in model_id
    if body.get("dimensions") is not None and not (kind == "titan" and v2):
        bad.append("dimensions")
    if bad and not drop:
        raise BadRequestError(f"bedrock does not support parameters: [{', '.join(map(repr, bad))}], for model="
                              f"{model_id}. To drop these, set `litellm_settings: drop_params: true`", param=bad[0])
    if kind == "cohere":
        return [{"texts": texts, "input_type": body.get("input_type") or "search_document",
                 **({"truncate": body["truncate"]} if body.get("truncate") else {})}]
    extra: dict[str, Any] = {}
    if v2 and body.get("dimensions") is not None:
        extra["dimensions"] = body["dimensions"]
    return [{"inputText": text, **extra} for text in texts]


def embedding_answer(kind: str, answers: Sequence[tuple[Any, int | None]], model: str,
                     encoding_format: str | None = None) -> dict[str, Any]:
    """The OpenAI ``list`` of embeddings from the InvokeModel answers (each with its header token count)."""
    vectors: list[list[float]] = []
    tokens = 0
    for answer, header_count in answers:
        if not isinstance(answer, dict):
            raise UpstreamError("Bedrock answered an embeddings call with JSON that is not an object", status=502)
        if kind == "cohere":
            found = answer.get("embeddings")
            found = found.get("float") if isinstance(found, dict) else found
            if not isinstance(found, list):
                raise UpstreamError("Bedrock's Cohere answer has no embeddings", status=502)
            vectors.extend(found)
            tokens += header_count or 0
        else:
            if not isinstance(answer.get("embedding"), list):
                raise UpstreamError("Bedrock's Titan answer has no embedding", status=502)
            vectors.append(answer["embedding"])
            tokens += int(answer.get("inputTextTokenCount") or header_count or 0)
    data = [{"object": "embedding", "index": i, "embedding": _encode(v, encoding_format)} for i, v in enumerate(vectors)]
    return {"object": "list", "data": data, "model": model,
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}


def _encode(vector: list[float], encoding_format: str | None) -> Any:
    if encoding_format != "base64":
        return vector
    packed = array("f", vector)  # float32, little-endian, as the OpenAI API sends it
    if sys.byteorder == "big":  # pragma: no cover
        packed.byteswap()
    return base64.b64encode(packed.tobytes()).decode()
