"""Checked windows over a streamed response: no unchecked byte reaches the client.

:func:`guard_stream` wraps a stream of chunks (``ModelResponseStream`` views or
plain dicts; chat chunks carry ``choices[i].delta.content``, completion chunks
``choices[i].text``). Every chunk is held back. Every ``sampling_rate`` chunks,
and at the end of the stream, the text accumulated so far (one text per
choice, in choice order) is checked; on a pass the held chunks are released in
the order they came, role-only, ``finish_reason`` and usage chunks included.
A sample point with no new text since the last check releases without a call.
With ``end_of_stream_only`` there is one check, at the end.

The ``check`` callable returns ``None`` (pass: release as is) or the rewritten
texts (same count, validated by the caller) and raises to stop the stream
(BLOCKED, fail-closed). On a rewrite the client must receive the rewritten
text, but text already released cannot change: when the rewritten text of a
choice still starts with what that choice already released, its held content
is replaced by one synthetic delta chunk carrying the rest of the rewritten
text (``id``/``model``/``created`` copied from the stream); otherwise the
stream stops with :class:`GuardrailBlockedError` rather than leak.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, AsyncGenerator, AsyncIterator, Awaitable, Callable

from gatehouse.errors import GuardrailBlockedError
from gatehouse.views import ModelResponseStream, unwrap

__all__ = ["Check", "guard_stream", "chunk_texts"]

#: ``await check(texts, model)`` → ``None`` (pass) or the rewritten texts; raises to stop.
Check = Callable[[list[str], "str | None"], Awaitable["list[str] | None"]]
_TEMPLATE_KEYS = ("id", "object", "created", "model", "system_fingerprint")


def chunk_texts(chunk: dict[str, Any]) -> list[tuple[int, str]]:
    """``(choice index, text)`` for every choice of a chunk that carries text."""
    out: list[tuple[int, str]] = []
    choices = chunk.get("choices")
    if not isinstance(choices, list):
        return out
    for choice in choices:
        if not isinstance(choice, dict):
            continue
        delta = choice.get("delta")
        text = delta.get("content") if isinstance(delta, dict) else choice.get("text")
        if isinstance(text, str) and text:
            out.append((choice.get("index", 0), text))
    return out


@dataclass(slots=True)
class _Window:
    guardrail_name: str
    held: list[Any] = field(default_factory=list)
    acc: dict[int, str] = field(default_factory=dict)
    released: dict[int, str] = field(default_factory=dict)
    dirty: bool = False
    template: dict[str, Any] | None = None

    def add(self, chunk: Any) -> None:
        self.held.append(chunk)
        data = unwrap(chunk)
        if not isinstance(data, dict):
            return
        if self.template is None and data.get("choices"):
            self.template = {k: data[k] for k in _TEMPLATE_KEYS if k in data}
        for index, text in chunk_texts(data):
            self.acc[index] = self.acc.get(index, "") + text
            self.dirty = True

    async def settle(self, check: Check) -> list[Any]:
        """Check the unchecked text (if any) and return the chunks to release."""
        held, self.held = self.held, []
        if not self.dirty:
            return held
        self.dirty = False
        order = sorted(i for i, text in self.acc.items() if text)
        model = self.template.get("model") if self.template else None
        rewritten = await check([self.acc[i] for i in order], model)
        if rewritten is None:
            self.released = dict(self.acc)
            return held
        return self._rewrite(held, dict(zip(order, rewritten)))

    def _rewrite(self, held: list[Any], new: dict[int, str]) -> list[Any]:
        changed = {i: text for i, text in new.items() if text != self.acc[i]}
        for index, text in changed.items():
            if not text.startswith(self.released.get(index, "")):
                raise GuardrailBlockedError(
                    f"Guardrail '{self.guardrail_name}' rewrote part of the response that was already "
                    "streamed; the stream was stopped rather than leak the original text",
                    guardrail_name=self.guardrail_name,
                )
        rests = {i: t[len(self.released.get(i, "")):] for i, t in changed.items()}
        synthetic = {i: self._synthetic(i, rest) for i, rest in rests.items() if rest}
        self.acc.update(changed)
        self.released = dict(self.acc)
        return _splice(held, set(changed), synthetic)

    def _synthetic(self, index: int, text: str) -> ModelResponseStream:
        template = dict(self.template or {})
        if template.get("object") == "text_completion":
            choice: dict[str, Any] = {"index": index, "text": text, "finish_reason": None, "logprobs": None}
        else:
            template.setdefault("object", "chat.completion.chunk")
            choice = {"index": index, "delta": {"content": text}, "finish_reason": None}
        return ModelResponseStream({**template, "choices": [choice]})


def _splice(held: list[Any], indexes: set[int], synthetic: dict[int, ModelResponseStream]) -> list[Any]:
    """Held chunks with the rewritten choices' text removed and the synthetic chunks put in place.

    A synthetic chunk goes where its choice's first text was: before that chunk
    (so it precedes a ``finish_reason``), or after it when the chunk opens the
    message (``role``); a choice with no held text gets it before its
    ``finish_reason`` chunk, else at the end. A chunk that both opens and
    finishes a choice carries the text itself.
    """
    out: list[Any] = []
    pending = dict(synthetic)
    for chunk in held:
        data = unwrap(chunk)
        stripped, has_role, keep = _strip(data, indexes)
        finishing = [i for i in _finishing(data) if i in pending]
        if has_role:
            for i in finishing:
                _put_text(data, i, pending.pop(i))
        else:
            out.extend(pending.pop(i) for i in [*finishing, *stripped] if i in pending)
        if keep:
            out.append(chunk)
        out.extend(pending.pop(i) for i in stripped if i in pending)
    out.extend(pending.values())
    return out


def _put_text(data: dict[str, Any], index: int, synthetic: ModelResponseStream) -> None:
    """Move a synthetic chunk's text into the choice ``index`` of ``data``."""
    (source,) = unwrap(synthetic)["choices"]
    for choice in data["choices"]:
        if isinstance(choice, dict) and choice.get("index", 0) == index:
            if "delta" in source:
                choice.setdefault("delta", {})["content"] = source["delta"]["content"]
            else:
                choice["text"] = source["text"]


def _finishing(data: Any) -> list[int]:
    """Indexes of the choices this chunk finishes."""
    choices = data.get("choices") if isinstance(data, dict) else None
    if not isinstance(choices, list):
        return []
    return [c.get("index", 0) for c in choices if isinstance(c, dict) and c.get("finish_reason") is not None]


def _strip(data: Any, indexes: set[int]) -> tuple[list[int], bool, bool]:
    """Remove the text of the given choices in place → (stripped indexes, has role, still worth sending)."""
    choices = data.get("choices") if isinstance(data, dict) else None
    if not isinstance(choices, list) or not indexes:
        return [], False, True
    stripped: list[int] = []
    kept: list[Any] = []
    has_role = False
    for choice in choices:
        if not isinstance(choice, dict) or choice.get("index", 0) not in indexes:
            kept.append(choice)
            continue
        delta = choice.get("delta")
        if isinstance(delta, dict):
            has_role = has_role or bool(delta.get("role"))
            had_text = bool(delta.pop("content", None))
            meaningful = any(v is not None for v in delta.values())
        else:
            had_text = bool(choice.get("text"))
            choice["text"] = ""
            meaningful = False
        if had_text:
            stripped.append(choice.get("index", 0))
        if meaningful or choice.get("finish_reason") is not None or not had_text:
            kept.append(choice)
    if len(kept) != len(choices):
        choices[:] = kept
    keep = bool(kept) or data.get("usage") is not None or not stripped
    return stripped, has_role, keep


async def guard_stream(
    chunks: AsyncIterator[Any],
    check: Check,
    *,
    sampling_rate: int,
    end_of_stream_only: bool,
    guardrail_name: str,
) -> AsyncGenerator[Any, None]:
    """Yield ``chunks`` in checked windows (see the module docstring); closes ``chunks`` when done."""
    window = _Window(guardrail_name)
    count = 0
    try:
        async for chunk in chunks:
            window.add(chunk)
            count += 1
            if not end_of_stream_only and count % sampling_rate == 0:
                for released in await window.settle(check):
                    yield released
        for released in await window.settle(check):
            yield released
    finally:
        aclose = getattr(chunks, "aclose", None)
        if aclose is not None:
            await aclose()
