"""Rerank (``/v1/rerank``, ``/rerank``, ``/v2/rerank``): Cohere's request and answer, as LiteLLM serves them.

    request   {"model", "query": str, "documents": [str | {"text", ...}], "top_n"?,
               "return_documents"? (default true), "rank_fields"?, "max_tokens_per_doc"?}
    answer    {"id", "results": [{"index", "relevance_score", "document"?: {"text"}}],
               "meta": {"billed_units": {"search_units"?, "input_tokens"?}, "tokens"?: {...}}}

What guardrails see: the query and every document's text (a string, or an
object's ``text``; an object without ``text`` is scanned field by field); a
rewrite is written back in place. In the answer: each returned document's
text. A pre-call hook's string is a 400; post-call rules do not run.

Providers take this request as it is (it is the "OpenAI shape" of the
``rerank`` operation): ``cohere/`` sends it to ``/v2/rerank``; OpenAI-compatible
rerank servers get :func:`server_request` and answer through
:func:`server_answer` (vLLM, Jina and other Cohere-style servers:
``documents``; Hugging Face text-embeddings-inference: ``texts``, a list back).
"""

from __future__ import annotations

import uuid
from typing import Any

from ..errors import BadRequestError
from .base import Extraction
from .openai_common import OpenAIFormat

__all__ = ["RERANK", "Rerank", "document_text", "check_documents", "server_request", "server_answer"]


def document_text(document: Any) -> str:
    """A document as the text a reranker scores (an object's ``text``, else its fields as ``key: value`` lines)."""
    if isinstance(document, str):
        return document
    if isinstance(document, dict):
        if isinstance(document.get("text"), str):
            return document["text"]
        return "\n".join(f"{k}: {v}" for k, v in document.items())
    return str(document)


def check_documents(documents: Any) -> list[Any]:
    """The documents, or a 400 naming what is wrong with them."""
    if not isinstance(documents, list) or not documents:
        raise BadRequestError("/rerank: 'documents' must be a non-empty list of strings or objects.",
                              param="documents")
    for i, document in enumerate(documents):
        if not isinstance(document, (str, dict)):
            raise BadRequestError(f"/rerank: documents[{i}] must be a string or an object.", param="documents")
    return documents


class Rerank(OpenAIFormat):
    name = "cohere_rerank"

    def extract_request(self, data: dict[str, Any]) -> Extraction:
        out = super().extract_request(data)
        if isinstance(data.get("query"), str):
            out.add_text(data, "query")
        documents = data.get("documents")
        for i, document in enumerate(documents if isinstance(documents, list) else ()):
            if isinstance(document, str):
                out.add_text(documents, i)
            elif isinstance(document, dict):
                keys = ["text"] if isinstance(document.get("text"), str) else list(document)
                for key in keys:
                    if isinstance(document.get(key), str):
                        out.add_text(document, key)
        return out

    def extract_response(self, answer: dict[str, Any]) -> Extraction:
        out = super().extract_response(answer)
        results = answer.get("results")
        for result in results if isinstance(results, list) else ():
            document = result.get("document") if isinstance(result, dict) else None
            if isinstance(document, dict) and isinstance(document.get("text"), str):
                out.add_text(document, "text")
        return out

    def to_provider(self, body: dict[str, Any]) -> dict[str, Any]:
        check_documents(body.get("documents"))
        return body


RERANK = Rerank()


# -- OpenAI-compatible rerank servers ---------------------------------------------------------
def server_request(body: dict[str, Any], *, model: str, tei: bool) -> dict[str, Any]:
    """The body a rerank server takes: Cohere/Jina/vLLM style (``documents``), or TEI's (``texts``)."""
    texts = [document_text(d) for d in body.get("documents") or []]
    if tei:
        out: dict[str, Any] = {"query": body.get("query") or "", "texts": texts, "raw_scores": False,
                               "return_text": body.get("return_documents") is not False}
        if body.get("top_n") is not None:  # TEI answers every text; top_n is applied here too
            out["top_n"] = body["top_n"]
        return out
    out = {"model": model, "query": body.get("query") or "", "documents": texts}
    for name in ("top_n", "return_documents", "max_tokens_per_doc"):
        if body.get(name) is not None:
            out[name] = body[name]
    return out


def server_answer(native: Any, *, documents: list[Any], return_documents: bool,
                  top_n: int | None) -> dict[str, Any]:
    """A rerank server's answer (``{"results": [...], "usage"?}`` or TEI's list) in Cohere's shape.

    Scores are ``relevance_score`` (Cohere, Jina, vLLM) or ``score`` (TEI);
    results are ordered best first and cut to ``top_n``; token usage becomes
    ``meta.billed_units.input_tokens`` and ``meta.tokens``.
    """
    items = native if isinstance(native, list) else native.get("results") if isinstance(native, dict) else None
    if not isinstance(items, list):
        raise ValueError("the answer has no results")
    results = []
    for item in items:
        index = int(item["index"])
        score = item.get("relevance_score", item.get("score"))
        result: dict[str, Any] = {"index": index, "relevance_score": float(score)}
        if return_documents and 0 <= index < len(documents):
            result["document"] = {"text": document_text(documents[index])}
        results.append(result)
    results.sort(key=lambda r: r["relevance_score"], reverse=True)
    if top_n is not None:
        results = results[:top_n]
    meta: dict[str, Any] = {}
    usage = native.get("usage") if isinstance(native, dict) else None
    tokens = usage.get("total_tokens") or usage.get("prompt_tokens") if isinstance(usage, dict) else None
    if isinstance(tokens, int) and tokens > 0:
        meta = {"billed_units": {"input_tokens": tokens}, "tokens": {"input_tokens": tokens, "output_tokens": 0}}
    given = native.get("id") if isinstance(native, dict) else None
    return {"id": str(given) if given else str(uuid.uuid4()), "results": results, "meta": meta}
