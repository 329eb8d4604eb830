"""The other OpenAI endpoints: JSON in, JSON out, never streamed.

    endpoint                 guardrails see (request)                         (answer)
    /embeddings              input: a string or each string of a list         — (vectors)
    /images/generations      prompt                                           —
    /moderations             input: a string, strings, text/image_url parts   —
    /audio/transcriptions    — (audio)                                        text

A pre-call hook's string is a 400 on all of them; post-call rules do not run.
"""

from __future__ import annotations

from typing import Any

from .base import Extraction
from .openai_chat import extract_part
from .openai_common import OpenAIFormat
from .openai_text import extract_strings

__all__ = ["EMBEDDINGS", "IMAGES", "MODERATIONS", "TRANSCRIPTIONS"]


class Embeddings(OpenAIFormat):
    name = "openai_embeddings"

    def extract_request(self, data: dict[str, Any]) -> Extraction:
        out = super().extract_request(data)
        extract_strings(data, "input", out)
        return out


class Images(OpenAIFormat):
    name = "openai_images"

    def extract_request(self, data: dict[str, Any]) -> Extraction:
        out = super().extract_request(data)
        if isinstance(data.get("prompt"), str):
            out.add_text(data, "prompt")
        return out


class Moderations(OpenAIFormat):
    name = "openai_moderations"

    def extract_request(self, data: dict[str, Any]) -> Extraction:
        out = super().extract_request(data)
        value = data.get("input")
        if isinstance(value, str):
            out.add_text(data, "input")
        elif isinstance(value, list):
            for i, item in enumerate(value):
                if isinstance(item, str):
                    out.add_text(value, i)
                elif isinstance(item, dict):
                    extract_part(item, out)
        return out


class Transcriptions(OpenAIFormat):
    name = "openai_transcriptions"

    def extract_response(self, answer: dict[str, Any]) -> Extraction:
        out = super().extract_response(answer)
        if isinstance(answer.get("text"), str):
            out.add_text(answer, "text")
        return out


EMBEDDINGS = Embeddings()
IMAGES = Images()
MODERATIONS = Moderations()
TRANSCRIPTIONS = Transcriptions()
