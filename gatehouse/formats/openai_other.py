"""The other OpenAI endpoints: JSON in, JSON out, never streamed.

    endpoint                 guardrails see (request)                         (answer)
    /embeddings              input: a string or each string of a list         — (vectors)
    /images/generations      prompt                                           —
    /moderations             input: a string, strings, text/image_url parts   —
    /audio/transcriptions    — (audio)                                        text
    /audio/translations      — (audio)                                        text
    /audio/speech            input                                            — (audio bytes, streamed)

A pre-call hook's string is a 400 on all of them; post-call rules do not run.
Speech answers are audio bytes relayed as they arrive (:mod:`.opaque`); the
audio's content type follows ``response_format`` (:data:`AUDIO_TYPES`) unless
the upstream names an ``audio/*`` type itself.
"""

from __future__ import annotations

from typing import Any

from .base import EventStream, Extraction
from .opaque import NoText, OpaqueStream
from .openai_chat import extract_part
from .openai_common import OpenAIFormat
from .openai_text import extract_strings

__all__ = ["EMBEDDINGS", "IMAGES", "MODERATIONS", "TRANSCRIPTIONS", "TRANSLATIONS", "SPEECH", "AUDIO_TYPES",
           "audio_type"]

#: ``response_format`` of ``/audio/speech`` → the answer's content type (OpenAI's default is mp3).
AUDIO_TYPES = {"mp3": "audio/mpeg", "opus": "audio/opus", "aac": "audio/aac", "flac": "audio/flac",
               "wav": "audio/wav", "pcm": "audio/pcm"}


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


class Translations(Transcriptions):
    name = "openai_translations"


class Speech(OpenAIFormat):
    name = "openai_speech"
    stream: EventStream | None = OpaqueStream(lambda: NoText("audio.speech"))

    def extract_request(self, data: dict[str, Any]) -> Extraction:
        out = super().extract_request(data)
        if isinstance(data.get("input"), str):
            out.add_text(data, "input")
        return out

    def content_type(self, body: dict[str, Any], upstream: str | None) -> str:
        """The answer's ``Content-Type`` (see :func:`audio_type`)."""
        return audio_type(body.get("response_format"), upstream)


def audio_type(response_format: Any, upstream: str | None) -> str:
    """The content type of a speech answer: the upstream's ``audio/*`` type (or SSE: ``stream_format: sse``),
    else ``response_format``'s."""
    if upstream and (upstream.startswith("audio/") or upstream == "text/event-stream"):
        return upstream
    return AUDIO_TYPES.get(str(response_format or "mp3"), "application/octet-stream")


EMBEDDINGS = Embeddings()
IMAGES = Images()
MODERATIONS = Moderations()
TRANSCRIPTIONS = Transcriptions()
TRANSLATIONS = Translations()
SPEECH = Speech()
