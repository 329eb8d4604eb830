"""Answers relayed as opaque bytes: audio (``/v1/audio/speech``) and pass-through routes.

An :class:`OpaqueStream` is an :class:`~.base.EventStream` whose bytes are
never parsed on the way: the relay forwards them as they arrive (never in
"transform" mode, never kept whole), stream hooks and streaming guardrails
do not apply, and nothing is framed. An error after the first byte cannot
be written into such an answer: the ending breaks the connection instead
(``opaque = True``), so the client sees an incomplete answer rather than a
complete-looking one.
"""

from __future__ import annotations

from typing import Any, Callable, Iterator

from .base import StreamSummary, Translator

__all__ = ["OpaqueStream", "NoText", "Unchanged"]


class NoText:
    """What is learnt of opaque bytes: nothing but the model name."""

    def __init__(self, kind: str) -> None:
        self.kind = kind

    def observe(self, event: dict[str, Any]) -> None:
        return None

    def text(self) -> str:
        return ""

    def response(self, model: str | None) -> dict[str, Any]:
        return {"object": self.kind, "model": model, "usage": None}


class Unchanged:
    """A restamper that leaves bytes and events as they are."""

    def bytes(self, piece: bytes) -> bytes:
        return piece

    def event(self, event: dict[str, Any]) -> None:
        return None


class OpaqueStream:
    """Bytes relayed as they come; see the module docstring."""

    end = b""
    end_marker = b""
    opaque = True

    def __init__(self, summary: Callable[[], StreamSummary]) -> None:
        self._summary = summary

    def frame(self, event: Any) -> bytes:
        return bytes(event) if isinstance(event, (bytes, bytearray)) else b""

    def end_at(self, piece: bytes) -> int:
        return -1

    def events(self, raw: bytes) -> Iterator[dict[str, Any]]:
        return iter(())

    def text(self, event: dict[str, Any]) -> str:
        return ""

    def texts(self, event: dict[str, Any]) -> list[tuple[int, str]]:
        return []

    def summary(self) -> StreamSummary:
        return self._summary()

    def from_answer(self, answer: dict[str, Any]) -> list[dict[str, Any]]:
        return []

    def restamper(self, upstream_model: str | None, model: str | None) -> Unchanged:
        return Unchanged()

    def translator(self) -> Translator | None:
        return None

    def template(self, event: dict[str, Any]) -> dict[str, Any] | None:
        return None

    def text_event(self, template: dict[str, Any], index: int, text: str) -> dict[str, Any]:
        return dict(template)

    def strip(self, event: dict[str, Any], indexes: set[int]) -> tuple[list[int], bool, bool]:
        return [], False, True

    def finishing(self, event: dict[str, Any]) -> list[int]:
        return []

    def put_text(self, event: dict[str, Any], index: int, text: str) -> None:
        return None
