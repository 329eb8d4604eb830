"""OpenAI text completions (``/v1/completions``): requests, answers, chunks.

    request   {"model", "prompt": str | [str] | [tokens], "stream"?}
    answer    {"id", "object": "text_completion", "created", "model",
               "choices": [{"index", "text", "finish_reason", "logprobs"}], "usage"}
    chunk     the same object, each choice's ``text`` a piece of the answer

What guardrails see: the prompt (a string, or each string of a list; token
lists are skipped) and each choice's ``text``. A pre-call hook's string is
answered as a ``text_completion``. Providers speak this format.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from .base import Extraction
from .openai_common import OpenAIEvents, OpenAIFormat, OpenAISummary, choices

__all__ = ["TEXT", "TextCompletions", "TextChunks", "extract_strings"]


def extract_strings(data: dict[str, Any], key: str, out: Extraction) -> None:
    """A string field, or a list whose string items are scanned (token lists skipped)."""
    value = data.get(key)
    if isinstance(value, str):
        out.add_text(data, key)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            if isinstance(item, str):
                out.add_text(value, i)


class TextChunks(OpenAIEvents):
    """``text_completion`` chunks: text in ``choices[i].text``."""

    def choice_text(self, choice: dict[str, Any]) -> Any:
        return choice.get("text")

    def strip_choice(self, choice: dict[str, Any]) -> tuple[bool, bool, bool]:
        had_text = bool(choice.get("text"))
        choice["text"] = ""
        return had_text, False, False

    def put_text(self, event: dict[str, Any], index: int, text: str) -> None:
        for choice in choices(event):
            if choice.get("index", 0) == index:
                choice["text"] = text

    def text_event(self, template: dict[str, Any], index: int, text: str) -> dict[str, Any]:
        head = dict(template)
        head.setdefault("object", "text_completion")
        return {**head, "choices": [{"index": index, "text": text, "finish_reason": None, "logprobs": None}]}

    def summary(self) -> "TextSummary":
        return TextSummary(self)

    def from_answer(self, answer: dict[str, Any]) -> list[dict[str, Any]]:
        """Each choice's text as one chunk, then one chunk with every finish reason (and the usage)."""
        base = {k: answer.get(k) for k in ("id", "created", "model")}
        base["object"] = "text_completion"
        chunks, finishes = [], []
        for choice in choices(answer):
            index = choice.get("index", 0)
            chunks.append({**base, "choices": [{"index": index, "text": choice.get("text", ""), "finish_reason": None}]})
            finishes.append({"index": index, "text": "", "finish_reason": choice.get("finish_reason")})
        chunks.append({**base, "choices": finishes, **({"usage": answer["usage"]} if answer.get("usage") else {})})
        return chunks


class TextSummary(OpenAISummary):
    __slots__ = ()

    def response(self, model: str | None) -> dict[str, Any]:
        choice = {"index": 0, "finish_reason": self.finish_reason, "text": self.text()}
        return {**self.head(model, "text_completion"), "choices": [choice], "usage": self.usage}


class TextCompletions(OpenAIFormat):
    name = "openai_text"
    stream: TextChunks

    def __init__(self) -> None:
        self.stream = TextChunks()

    def extract_request(self, data: dict[str, Any]) -> Extraction:
        out = super().extract_request(data)
        extract_strings(data, "prompt", out)
        return out

    def extract_response(self, answer: dict[str, Any]) -> Extraction:
        out = super().extract_response(answer)
        for choice in choices(answer):
            if isinstance(choice.get("text"), str):
                out.add_text(choice, "text")
        return out

    def rejection(self, message: str, model: str | None) -> dict[str, Any]:
        return {
            "id": f"cmpl-{uuid.uuid4()}", "object": "text_completion", "created": int(time.time()), "model": model,
            "choices": [{"index": 0, "text": message, "finish_reason": "stop", "logprobs": None}],
            "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
        }


TEXT = TextCompletions()
