"""The hook catalogue: every extension point of the policy pipeline, declared once.

A callback is any object with some of these methods (subclassing
:class:`gatehouse.CustomLogger` is optional). A method defined anywhere in the
object's class hierarchy counts, except the no-op defaults of ``CustomLogger``
itself. Hooks are looked up once, at start-up, and dispatched from one place
(:mod:`gatehouse.policy.pipeline`). ``docs/hooks.md`` is generated from this
module (``python -m gatehouse.policy.catalogue > docs/hooks.md``) and a test
keeps the two in step.

Order: callbacks run in the order of ``litellm_settings.callbacks``, then the
guardrails of the config in their order. The built-in rate limiter, when
enabled, runs before all of them.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Hook", "HOOKS", "SELECTION", "LIFECYCLE", "BY_NAME", "CALL_TYPES", "render_markdown"]

#: The ``call_type`` values hooks receive (the seed's values, and LiteLLM's for the endpoints the seed does not
#: name), per endpoint; ``pass_through_endpoint`` for every pass-through route.
CALL_TYPES = (
    "completion",
    "text_completion",
    "embeddings",
    "image_generation",
    "moderation",
    "audio_transcription",
    "anthropic_messages",
    "audio_translation",
    "speech",
    "rerank",
    "pass_through_endpoint",
)


@dataclass(frozen=True)
class Hook:
    name: str
    signature: str
    stage: str
    when: str
    returns: str
    raises: str
    order: str


HOOKS: tuple[Hook, ...] = (
    Hook(
        name="async_pre_call_hook",
        signature="async_pre_call_hook(self, user_api_key_dict, cache, data, call_type)",
        stage="pre_call",
        when="After authentication and the rate limiter, before routing, on every endpoint.",
        returns=(
            "`None` keeps `data` (in-place changes persist). A `dict` replaces `data` for later "
            "hooks and the call, so changing `data['model']` reroutes. A returned `Exception` is "
            "raised. A `str` rejects the request with that message: a 200 `chat.completion` "
            "(or SSE stream) on chat, a 200 `text_completion` on completions, a 200 Anthropic `message` "
            "(or its event stream) on `/v1/messages`, a 400 elsewhere. "
            "Any other value is a hook error (500)."
        ),
        raises=(
            "An `HTTPException` (anything with `status_code` and `detail`) answers with its status; "
            "any other exception answers 500 with its message. The first hook that rejects stops the chain."
        ),
        order="Config order; each hook sees the previous hook's `data`.",
    ),
    Hook(
        name="async_moderation_hook",
        signature="async_moderation_hook(self, data, user_api_key_dict, call_type)",
        stage="during_call",
        when="Concurrently with the upstream call, on every endpoint.",
        returns="Ignored. Changes to `data` do not reach the provider (the request is already sent).",
        raises=(
            "The client gets that error at once and the upstream request is cancelled. "
            "A streamed response sends no byte before every moderation hook has passed."
        ),
        order="All run at once; the first to raise wins.",
    ),
    Hook(
        name="async_post_call_success_hook",
        signature="async_post_call_success_hook(self, data, user_api_key_dict, response)",
        stage="post_call",
        when=(
            "After a successful non-streaming response, before it is sent, on every endpoint. `response` "
            "is a `ModelResponse` view on OpenAI's endpoints, the plain Anthropic `message` dict on "
            "`/v1/messages`."
        ),
        returns=(
            "`None` keeps the response. Anything else replaces it (a `dict` is sent as the JSON body); "
            "the next hook sees the replacement."
        ),
        raises="That error is the client's answer (an `HTTPException` keeps its status).",
        order="Config order.",
    ),
    Hook(
        name="async_post_call_failure_hook",
        signature="async_post_call_failure_hook(self, request_data, original_exception, user_api_key_dict, traceback_str=None)",
        stage="failure",
        when=(
            "On every failure after authentication, on every endpoint: hook rejections, guardrail blocks, "
            "upstream errors, and errors in the middle of a stream."
        ),
        returns="The first `HTTPException` returned (or raised) by a failure hook becomes the client's error.",
        raises="An `HTTPException` counts as returned; anything else is logged with the hook's name and ignored.",
        order="Config order; every failure hook runs.",
    ),
    Hook(
        name="async_post_call_streaming_iterator_hook",
        signature="async_post_call_streaming_iterator_hook(self, user_api_key_dict, response, request_data)",
        stage="stream",
        when=(
            "Once per streamed response; `response` is an async iterator of chunk objects (on "
            "`/v1/messages`: Anthropic's stream events, as plain dicts)."
        ),
        returns="An async generator of chunks: what it yields is what the client receives.",
        raises=(
            "Before any chunk was sent: a normal JSON error. After: the stream ends with one "
            "`data: {\"error\": {...}}` event, then `data: [DONE]` (on `/v1/messages`: one "
            "`event: error` frame)."
        ),
        order="A later callback wraps an earlier one (the last is outermost).",
    ),
    Hook(
        name="async_post_call_streaming_hook",
        signature="async_post_call_streaming_hook(self, user_api_key_dict, response)",
        stage="stream",
        when="For every chunk of a streamed response; `response` is the text accumulated so far, including this chunk.",
        returns=(
            "`None` keeps the chunk; another value replaces it (a `dict` or chunk object is sent as the chunk; "
            "a string starting with `data: ` is sent verbatim and ends the stream)."
        ),
        raises="Ends the stream with one SSE error event, then `data: [DONE]`.",
        order="Config order; the last non-`None` replacement wins.",
    ),
    Hook(
        name="async_post_call_response_headers_hook",
        signature="async_post_call_response_headers_hook(self, data, user_api_key_dict, response, request_headers=None, litellm_call_info=None)",
        stage="headers",
        when="Before the response (success or error) is sent; `response` is `None` on errors.",
        returns="A `dict` of headers to add to the HTTP response, or `None`.",
        raises="Logged with the hook's name and ignored.",
        order="Config order; later hooks overwrite earlier headers of the same name.",
    ),
    Hook(
        name="async_log_pre_api_call",
        signature="async_log_pre_api_call(self, model, messages, kwargs)",
        stage="logging",
        when="Just before the upstream call, in the background.",
        returns="Ignored.",
        raises="Logged and ignored; never delays or fails the response.",
        order="Config order, off the hot path.",
    ),
    Hook(
        name="async_log_success_event",
        signature="async_log_success_event(self, kwargs, response_obj, start_time, end_time)",
        stage="logging",
        when="After a successful response (streams: after the last chunk), in the background.",
        returns="Ignored.",
        raises="Logged and ignored; never delays or fails the response.",
        order="Config order, off the hot path.",
    ),
    Hook(
        name="async_log_failure_event",
        signature="async_log_failure_event(self, kwargs, response_obj, start_time, end_time)",
        stage="logging",
        when="After a failed request, in the background.",
        returns="Ignored.",
        raises="Logged and ignored; never delays or fails the response.",
        order="Config order, off the hot path.",
    ),
    Hook(
        name="async_log_stream_event",
        signature="async_log_stream_event(self, kwargs, response_obj, start_time, end_time)",
        stage="logging",
        when="After a streamed response completed, with the assembled response, in the background.",
        returns="Ignored.",
        raises="Logged and ignored; never delays or fails the response.",
        order="Config order, off the hot path.",
    ),
    Hook(
        name="log_pre_api_call",
        signature="log_pre_api_call(self, model, messages, kwargs)",
        stage="logging",
        when="Sync twin of `async_log_pre_api_call`, run in a worker thread.",
        returns="Ignored.",
        raises="Logged and ignored.",
        order="Config order, off the hot path.",
    ),
    Hook(
        name="log_success_event",
        signature="log_success_event(self, kwargs, response_obj, start_time, end_time)",
        stage="logging",
        when="Sync twin of `async_log_success_event`, run in a worker thread.",
        returns="Ignored.",
        raises="Logged and ignored.",
        order="Config order, off the hot path.",
    ),
    Hook(
        name="log_failure_event",
        signature="log_failure_event(self, kwargs, response_obj, start_time, end_time)",
        stage="logging",
        when="Sync twin of `async_log_failure_event`, run in a worker thread.",
        returns="Ignored.",
        raises="Logged and ignored.",
        order="Config order, off the hot path.",
    ),
    Hook(
        name="log_stream_event",
        signature="log_stream_event(self, kwargs, response_obj, start_time, end_time)",
        stage="logging",
        when="Sync twin of `async_log_stream_event`, run in a worker thread.",
        returns="Ignored.",
        raises="Logged and ignored.",
        order="Config order, off the hot path.",
    ),
)

#: Per-caller selection (a Gatehouse extension): which callbacks a request runs at all.
SELECTION: tuple[Hook, ...] = (
    Hook(
        name="should_run_for",
        signature="should_run_for(self, user_api_key_dict) -> bool",
        stage="selection",
        when="Once per request, after authentication (a Gatehouse extension).",
        returns="`False` leaves every hook of this callback out of the request; `True` keeps them.",
        raises="Logged; the callback's hooks run (a broken predicate never switches a policy off).",
        order="Evaluated for every callback that defines it; the resulting pipeline variant is cached.",
    ),
)

#: Lifecycle methods a plugin may define (awaited once per process; not request hooks).
LIFECYCLE: tuple[Hook, ...] = (
    Hook(
        name="startup",
        signature="async startup(self)",
        stage="lifecycle",
        when="Once, after the event loop started and before the first request (open client sessions here).",
        returns="Ignored.",
        raises="Start-up fails.",
        order="Callback order.",
    ),
    Hook(
        name="shutdown",
        signature="async shutdown(self)",
        stage="lifecycle",
        when="Once, when the gateway stops, after in-flight background work drained.",
        returns="Ignored.",
        raises="Logged and ignored.",
        order="Callback order.",
    ),
)

BY_NAME: dict[str, Hook] = {h.name: h for h in HOOKS}


def render_markdown() -> str:
    """The hook reference page (``docs/hooks.md``)."""
    lines = [
        "# Hook reference",
        "",
        "<!-- generated by `python -m gatehouse.policy.catalogue`; do not edit by hand -->",
        "",
        (__doc__ or "").split("\n\n", 1)[1].strip(),
        "",
        "`call_type` is one of: " + ", ".join(f"`{c}`" for c in CALL_TYPES) + ".",
        "",
    ]
    for hook in HOOKS + SELECTION + LIFECYCLE:
        lines += [
            f"## `{hook.name}`",
            "",
            "```python",
            hook.signature,
            "```",
            "",
            f"- **Stage:** {hook.stage}",
            f"- **When:** {hook.when}",
            f"- **Returns:** {hook.returns}",
            f"- **Raises:** {hook.raises}",
            f"- **Order:** {hook.order}",
            "",
        ]
    return "\n".join(lines)


if __name__ == "__main__":  # pragma: no cover
    print(render_markdown())
