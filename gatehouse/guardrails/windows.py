"""Checked windows over a streamed response: no unchecked byte reaches the client.

:func:`guard_stream` wraps a stream of chunks (``ModelResponseStream`` views or
plain dicts) in the endpoint's wire format, whose
:class:`~gatehouse.formats.base.EventStream` says where a chunk's text is
and how to edit it. Every chunk is held back. Every ``sampling_rate`` chunks,
and at the end of the stream, the text not yet checked is checked (one text
per choice, in choice order), preceded by the last :data:`CONTEXT_CHARS`
characters already checked, so that a value split across two windows is seen
whole; on a pass the held chunks are released in the order they came,
role-only, ``finish_reason`` and usage chunks included. What was checked is
never sent again beyond that context, so the bytes sent to the guardrail grow
with the length of the answer, not with its square (LiteLLM re-sends the whole
text so far at every sample point). A sample point with no new text since the
last check releases without a call. With ``end_of_stream_only`` there is one
check, at the end, of the whole text.

The ``check`` callable returns ``None`` (pass: release as is) or the rewritten
texts (same count, validated by the caller) and raises to stop the stream
(BLOCKED, fail-closed). On a rewrite the client must receive the rewritten
text, but text already released cannot change: when the rewritten text of a
choice still starts with the released context it was sent with, its held content
is replaced by one synthetic delta chunk carrying the rest of the rewritten
text (the format's template fields copied from the stream); otherwise the
stream stops with :class:`GuardrailBlockedError` rather than leak.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, AsyncGenerator, AsyncIterator, Awaitable, Callable

from gatehouse.errors import GuardrailBlockedError
from gatehouse.formats.base import EventStream
from gatehouse.views import ModelResponseStream, unwrap

__all__ = ["CONTEXT_CHARS", "Check", "guard_stream"]

#: Characters of already-checked text sent again, before the new text, with each check of a choice.
CONTEXT_CHARS = 256

#: ``await check(texts, model)`` → ``None`` (pass) or the rewritten texts; raises to stop.
Check = Callable[[list[str], "str | None"], Awaitable["list[str] | None"]]


@dataclass(slots=True)
class _Window:
    guardrail_name: str
    events: EventStream
    held: list[Any] = field(default_factory=list)
    new: dict[int, list[str]] = field(default_factory=dict)      # unchecked text pieces per choice
    context: dict[int, str] = field(default_factory=dict)        # the tail of the checked text per choice
    dirty: bool = False
    template: dict[str, Any] | None = None

    def add(self, chunk: Any) -> None:
        self.held.append(chunk)
        data = unwrap(chunk)
        if not isinstance(data, dict):
            return
        if self.template is None:
            self.template = self.events.template(data)
        for index, text in self.events.texts(data):
            self.new.setdefault(index, []).append(text)
            self.dirty = True

    async def settle(self, check: Check) -> list[Any]:
        """Check the unchecked text (if any) and return the chunks to release."""
        held, self.held = self.held, []
        if not self.dirty:
            return held
        self.dirty = False
        sent = {i: self.context.get(i, "") + "".join(self.new.get(i, ())) for i in {*self.context, *self.new}}
        self.new = {}
        order = sorted(i for i, text in sent.items() if text)
        model = self.template.get("model") if self.template else None
        rewritten = await check([sent[i] for i in order], model)
        if rewritten is None:
            self.context = {i: sent[i][-CONTEXT_CHARS:] for i in order}
            return held
        return self._rewrite(held, sent, dict(zip(order, rewritten)))

    def _rewrite(self, held: list[Any], sent: dict[int, str], new: dict[int, str]) -> list[Any]:
        changed = {i: text for i, text in new.items() if text != sent[i]}
        for index, text in changed.items():
            if not text.startswith(self.context.get(index, "")):
                raise GuardrailBlockedError(
                    f"Guardrail '{self.guardrail_name}' rewrote part of the response that was already "
                    "streamed; the stream was stopped rather than leak the original text",
                    guardrail_name=self.guardrail_name,
                )
        rests = {i: t[len(self.context.get(i, "")):] for i, t in changed.items()}
        self.context = {i: new[i][-CONTEXT_CHARS:] for i in new}
        return _splice(held, set(changed), {i: rest for i, rest in rests.items() if rest}, self.events,
                       self.template or {})


def _splice(held: list[Any], indexes: set[int], rests: dict[int, str], events: EventStream,
            template: dict[str, Any]) -> list[Any]:
    """Held chunks with the rewritten choices' text removed and synthetic chunks carrying ``rests`` put in place.

    A synthetic chunk goes where its choice's first text was: before that chunk
    (so it precedes a ``finish_reason``), or after it when the chunk opens the
    message (``role``); a choice with no held text gets it before its
    ``finish_reason`` chunk, else at the end. A chunk that both opens and
    finishes a choice carries the text itself.
    """
    out: list[Any] = []
    pending = dict(rests)

    def synthetic(index: int) -> ModelResponseStream:
        return ModelResponseStream(events.text_event(template, index, pending.pop(index)))

    for chunk in held:
        data = unwrap(chunk)
        if not isinstance(data, dict):
            out.append(chunk)
            continue
        stripped, opens, keep = events.strip(data, indexes)
        finishing = [i for i in events.finishing(data) if i in pending]
        if opens:
            for i in finishing:
                events.put_text(data, i, pending.pop(i))
        else:
            out.extend(synthetic(i) for i in [*finishing, *stripped] if i in pending)
        if keep:
            out.append(chunk)
        out.extend(synthetic(i) for i in stripped if i in pending)
    out.extend(synthetic(i) for i in list(pending))
    return out


async def guard_stream(
    chunks: AsyncIterator[Any],
    check: Check,
    *,
    sampling_rate: int,
    end_of_stream_only: bool,
    guardrail_name: str,
    events: EventStream,
) -> AsyncGenerator[Any, None]:
    """Yield ``chunks`` in checked windows (see the module docstring); closes ``chunks`` when done."""
    window = _Window(guardrail_name, events)
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
