"""What a wire format is, and the values every format hands the rest of the gateway.

An endpoint row (:mod:`gatehouse.endpoints`) names the :class:`Format` its
clients speak. The flow, the upstream layer, the stream relay, the
post-call rules, the guardrails and the error renderer ask that format
instead of knowing its shapes::

    Format                      one client-facing wire format (JSON side)
      extract_request/response  → Extraction: texts, images, tool calls, each with its position
      answer_text               the text post-call rules check
      restamp                   the client's model name written into an answer
      rejection                 a pre-call hook's string as an answer (None: a 400)
      error_body                the error body of this format
      to_provider/from_provider the provider's OpenAI shapes ⇄ this format (identity for OpenAI formats)
      stream                    EventStream, or None when the format never streams
    EventStream                 the same format's streamed answers
      frame / end / end_at      SSE framing of one event, the end of a stream (end_marker: what to look for)
      events                    relayed SSE bytes → events
      text / texts              what an event adds to the answer's text (per choice)
      summary                   StreamSummary: text, usage, the assembled answer for logging
      from_answer               a complete answer as events
      restamper                 the client's model name in relayed bytes and events
      template/text_event/strip/finishing/put_text   edits for guardrail windows
      translator                provider chunks → this format's events (None: they already are)

Providers always speak OpenAI (:mod:`gatehouse.providers.base`). A format
that is not OpenAI's (``/v1/messages``, ``/v1/responses``) translates in
``to_provider``/``from_provider``/``translator``; an OpenAI format returns
what it is given and its streams are relayed byte for byte.

Everything here is pure: no I/O, no awaiting.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterator, Protocol

import orjson

from ..errors import GatewayError

__all__ = [
    "Slot", "Extraction", "rewrite_problem", "apply_rewrite",
    "Format", "EventStream", "StreamSummary", "Restamper", "Translator", "render_error",
]

#: A position: ``container[key]`` holds the value.
Slot = tuple[Any, Any]


@dataclass(slots=True)
class Extraction:
    """Texts, images and tool calls of one body, each with its position."""

    texts: list[str] = field(default_factory=list)
    text_slots: list[Slot] = field(default_factory=list)
    images: list[str] = field(default_factory=list)
    image_slots: list[Slot] = field(default_factory=list)
    tool_calls: list[Any] = field(default_factory=list)
    tool_call_slots: list[Slot] = field(default_factory=list)
    tools: list[Any] | None = None
    structured_messages: list[Any] | None = None
    model: str | None = None

    @property
    def empty(self) -> bool:
        """Nothing a guardrail could scan: the service is not called."""
        return not (self.texts or self.images or self.tool_calls or self.tools)

    def add_text(self, container: Any, key: Any) -> None:
        self.texts.append(container[key])
        self.text_slots.append((container, key))

    def add_image(self, container: Any, key: Any) -> None:
        self.images.append(container[key])
        self.image_slots.append((container, key))

    def add_tool_call(self, container: Any, key: Any) -> None:
        self.tool_calls.append(container[key])
        self.tool_call_slots.append((container, key))


def rewrite_problem(
    ex: Extraction, *, texts: Any, images: Any, tool_calls: Any = None, guardrail_name: str, subject: str = "request",
) -> str | None:
    """Why this rewrite cannot be applied by position (``None`` when it can).

    An absent, ``null`` or empty list keeps the originals of that kind.
    """
    for kind, new, sent, item in (
        ("texts", texts, ex.texts, str),
        ("images", images, ex.images, str),
        ("tool_calls", tool_calls, ex.tool_calls, dict),
    ):
        if not new:
            continue
        if not isinstance(new, list) or not all(isinstance(v, item) for v in new):
            return f"Guardrail '{guardrail_name}' returned malformed {kind}; the {subject} was rejected"
        if len(new) != len(sent):
            return (
                f"Guardrail '{guardrail_name}' returned {len(new)} {kind} for {len(sent)} inputs; "
                f"the {subject} was rejected rather than sent half-rewritten"
            )
    return None


def apply_rewrite(ex: Extraction, *, texts: Any, images: Any, tool_calls: Any = None) -> int:
    """Write the rewrite back by position; return how many positions changed.

    Call only after :func:`rewrite_problem` returned ``None``.
    """
    changed = 0
    for new, old, slots in (
        (texts, ex.texts, ex.text_slots), (images, ex.images, ex.image_slots),
        (tool_calls, ex.tool_calls, ex.tool_call_slots),
    ):
        if new:
            for value, before, (container, key) in zip(new, old, slots):
                if value != before:
                    container[key] = value
                    changed += 1
    return changed


class StreamSummary(Protocol):
    """What a relay learnt about one stream (for post-call rules and logging hooks)."""

    def observe(self, event: dict[str, Any]) -> None: ...

    def text(self) -> str:
        """The answer's text so far (first choice)."""
        ...

    def response(self, model: str | None) -> dict[str, Any]:
        """The complete answer assembled from the events, as logging hooks receive it."""
        ...


class Restamper(Protocol):
    """Writes the client's model name where the upstream wrote its own."""

    def bytes(self, piece: bytes) -> bytes: ...

    def event(self, event: dict[str, Any]) -> None: ...


class Translator(Protocol):
    """Provider (OpenAI) chunks → one format's events; one per stream, stateful."""

    def feed(self, chunk: dict[str, Any]) -> list[dict[str, Any]]: ...

    def close(self) -> list[dict[str, Any]]:
        """Events owed at the end of the stream."""
        ...


class EventStream(Protocol):
    """How one format's streamed answer looks."""

    end: bytes
    """The frame that ends every stream (``b""`` when the last event says so itself)."""
    end_marker: bytes
    """Bytes every end frame contains (``b""``: none), so relayed pieces without them are not searched."""

    def frame(self, event: Any) -> bytes:
        """One SSE frame for an event (a dict, or a payload already serialised as bytes)."""
        ...

    def end_at(self, piece: bytes) -> int:
        """Where the upstream's end-of-stream frame starts in relayed bytes (-1: not in ``piece``)."""
        ...

    def events(self, raw: bytes) -> Iterator[dict[str, Any]]:
        """The events of relayed SSE bytes (whatever is not a JSON object is skipped)."""
        ...

    def text(self, event: dict[str, Any]) -> str:
        """The text this event adds to the first choice."""
        ...

    def texts(self, event: dict[str, Any]) -> list[tuple[int, str]]:
        """``(choice index, text)`` for every choice of the event that carries text."""
        ...

    def summary(self) -> StreamSummary: ...

    def from_answer(self, answer: dict[str, Any]) -> list[dict[str, Any]]:
        """A complete answer as the events of a stream (without the end frame)."""
        ...

    def restamper(self, upstream_model: str | None, model: str | None) -> Restamper: ...

    def translator(self) -> Translator | None:
        """A translator from provider chunks, or ``None`` when they already are this format's events."""
        ...

    # -- edits for guardrail windows (gatehouse.guardrails.windows) --------------------------
    def template(self, event: dict[str, Any]) -> dict[str, Any] | None:
        """The fields a synthetic event copies from this one (``None``: not an event to copy)."""
        ...

    def text_event(self, template: dict[str, Any], index: int, text: str) -> dict[str, Any]:
        """A synthetic event carrying ``text`` for choice ``index``."""
        ...

    def strip(self, event: dict[str, Any], indexes: set[int]) -> tuple[list[int], bool, bool]:
        """Remove the text of the given choices in place → (stripped indexes, opens a message, still worth sending)."""
        ...

    def finishing(self, event: dict[str, Any]) -> list[int]:
        """Indexes of the choices this event finishes."""
        ...

    def put_text(self, event: dict[str, Any], index: int, text: str) -> None:
        """Put ``text`` into choice ``index`` of ``event``."""
        ...


class Format(Protocol):
    """One client-facing wire format: what an endpoint row names."""

    name: str

    @property
    def stream(self) -> EventStream | None:
        """How its streamed answers look; ``None`` when the endpoint never streams."""
        ...

    def extract_request(self, data: dict[str, Any]) -> Extraction:
        """What a guardrail scans of a request body, each item with its position."""
        ...

    def extract_response(self, answer: dict[str, Any]) -> Extraction:
        """What a guardrail scans of a (plain-dict) answer."""
        ...

    def answer_text(self, answer: dict[str, Any]) -> str | None:
        """The text post-call rules check (``None``: rules do not run)."""
        ...

    def restamp(self, answer: dict[str, Any], model: str) -> None:
        """Write the client's model name into ``answer`` where the format has one."""
        ...

    def rejection(self, message: str, model: str | None) -> dict[str, Any] | None:
        """A pre-call hook's string as a complete answer; ``None``: this format answers it with a 400."""
        ...

    def error_body(self, error: GatewayError, call_id: str | None = None) -> dict[str, Any]:
        """The body of an error answer (``call_id`` only when it is to be shown)."""
        ...

    def to_provider(self, body: dict[str, Any]) -> dict[str, Any]:
        """The request as providers take it (OpenAI's shape for the endpoint's operation)."""
        ...

    def from_provider(self, answer: dict[str, Any]) -> dict[str, Any]:
        """A provider's (OpenAI) answer in this format."""
        ...


def render_error(fmt: Format, error: GatewayError, *, call_id: str | None = None) -> tuple[int, bytes, dict[str, str]]:
    """Status, JSON body and headers for ``error`` in ``fmt`` — the one renderer."""
    return error.status, orjson.dumps(fmt.error_body(error, call_id)), error.headers
