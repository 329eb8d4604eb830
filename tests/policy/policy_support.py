"""Shared pieces of the policy-pipeline tests: the callback files a LiteLLM user
would write, the configs that load them, and helpers to read what the hooks
recorded.

The callbacks module (:data:`CALLBACKS_PY`) is written beside the config. Two
callbacks are loaded from it, in this order:

- ``custom_callbacks.first``: an instance of a plain class (no CustomLogger);
- ``custom_callbacks.second``: an instance of a leaf class that defines no hook
  itself; every hook comes from an intermediate base class.

Every hook appends one JSON line to ``events.jsonl`` beside the module
(``{"hook", "who", "call_id", ...}``), so a test can check which hook ran, in
which order and with which arguments. What a hook *does* is switched by marker
words in the request's text (last user message, ``prompt`` or ``input``):
``first:<action>`` or ``second:<action>``, e.g. ``first:reject``. Per-chunk
streaming hooks only see the streamed text, so their markers are in the
upstream's reply (the fake upstream's ``chunks``).
"""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Any, Callable

import httpx

MASTER_KEY = "sk-test"
REJECTION = "This is an invalid response"
RULE_MESSAGE = "This violates LiteLLM Proxy Rules. Response too short"
DEFAULT_RULE_MESSAGE = "LLM Response failed post-call-rule check"

CALLBACKS_PY = r'''
"""Policy-test callbacks, written as a LiteLLM user writes them."""
import asyncio
import json
import os
import threading
import time
from pathlib import Path
from typing import Any, AsyncGenerator, Literal, Optional

from fastapi import HTTPException

from gatehouse import CustomLogger, DualCache, UserAPIKeyAuth

EVENTS = Path(os.environ.get("POLICY_EVENTS") or Path(__file__).with_name("events.jsonl"))
_lock = threading.Lock()


def plain(value: Any) -> Any:
    """A JSON-able copy of a response object (views and pydantic models dumped)."""
    dump = getattr(value, "model_dump", None)
    if callable(dump):
        value = dump()
    try:
        return json.loads(json.dumps(value, default=str))
    except (TypeError, ValueError):
        return repr(value)


def record(hook: str, who: str, call_id: Any = None, **details: Any) -> None:
    line = json.dumps({"hook": hook, "who": who, "call_id": call_id, "t": time.time(), **details}, default=str)
    with _lock, open(EVENTS, "a") as f:
        f.write(line + "\n")


def text_of(data: Any) -> str:
    """Where the markers are: the last user message, else ``prompt``, else ``input``."""
    if not isinstance(data, dict):
        return ""
    messages = data.get("messages")
    if isinstance(messages, list):
        for message in reversed(messages):
            if isinstance(message, dict) and message.get("role") == "user":
                content = message.get("content")
                return content if isinstance(content, str) else json.dumps(content)
    for key in ("prompt", "input"):
        value = data.get(key)
        if isinstance(value, str):
            return value
        if isinstance(value, list):
            return " ".join(map(str, value))
    return ""


def cid(data: Any) -> Any:
    """The id a test chose (``with_id``): the client's x-litellm-call-id is kept as the trace id."""
    return data.get("litellm_trace_id") if isinstance(data, dict) else None


class PolicyHandler:
    """Every hook of the catalogue. A plain class: subclassing CustomLogger is optional."""

    def __init__(self, name: str) -> None:
        self.name = name

    def wants(self, data: Any, action: str) -> bool:
        return f"{self.name}:{action}" in text_of(data).split()

    def argument(self, data: Any, action: str) -> Optional[str]:
        prefix = f"{self.name}:{action}="
        for word in text_of(data).split():
            if word.startswith(prefix):
                return word[len(prefix):]
        return None

    # -- pre-call ---------------------------------------------------------------
    async def async_pre_call_hook(self, user_api_key_dict: UserAPIKeyAuth, cache: DualCache, data: dict,
                                  call_type: Literal["completion", "text_completion", "embeddings",
                                                     "image_generation", "moderation", "audio_transcription"]):
        metadata = data.get("metadata") if isinstance(data.get("metadata"), dict) else {}
        record("pre_call", self.name, cid(data), call_type=call_type, model=data.get("model"), text=text_of(data),
               auth_type=type(user_api_key_dict).__name__, api_key=getattr(user_api_key_dict, "api_key", None),
               end_user_id=getattr(user_api_key_dict, "end_user_id", None),
               cache_type=type(cache).__name__, tags=metadata.get("tags"), task=data.get("task"),
               keys=sorted(data))
        if self.wants(data, "mutate"):
            data["messages"][-1]["content"] += f" mutated-by-{self.name}"
            return None
        if self.wants(data, "replace"):
            new = {k: v for k, v in data.items() if k != "max_tokens"}
            new["messages"] = [{"role": "user", "content": f"replaced-by-{self.name}"}]
            new["temperature"] = 0.25
            return new
        if self.wants(data, "reroute"):
            return {**data, "model": "fake-b"}
        if self.wants(data, "reject"):
            return "This is an invalid response"
        if self.wants(data, "return-exc"):
            return ValueError("returned boom")
        if self.wants(data, "raise418"):
            raise HTTPException(status_code=418, detail="teapot")
        if self.wants(data, "raise403"):
            raise HTTPException(status_code=403, detail={"error": "forbidden-m"})
        if self.wants(data, "raise-dict"):
            raise HTTPException(status_code=400, detail={"reason": "bad", "n": 7})
        if self.wants(data, "raise-value"):
            raise ValueError("boom")
        if self.wants(data, "number"):
            return 42
        if self.wants(data, "list"):
            return [1, 2]
        if self.wants(data, "hang"):
            await asyncio.sleep(30)
        if self.wants(data, "corrupt"):
            del data["messages"]
        to_set = self.argument(data, "cacheset")
        if to_set is not None:
            key, _, value = to_set.partition("=")
            await cache.async_set_cache(key, value, ttl=120)
        to_get = self.argument(data, "cacheget")
        if to_get is not None:
            return f"cached={await cache.async_get_cache(to_get)}"
        return None

    # -- during the call ------------------------------------------------------------
    async def async_moderation_hook(self, data: dict, user_api_key_dict: UserAPIKeyAuth,
                                    call_type: Literal["completion", "embeddings", "image_generation",
                                                       "moderation", "audio_transcription"]):
        started = time.time()
        if self.wants(data, "mod-block"):
            record("moderation", self.name, cid(data), call_type=call_type, started=started)
            raise HTTPException(status_code=400, detail={"error": "Violated content safety policy"})
        if self.wants(data, "mod-slowblock"):
            await asyncio.sleep(0.3)
            record("moderation", self.name, cid(data), call_type=call_type, started=started)
            raise HTTPException(status_code=400, detail={"error": "Violated content safety policy"})
        if self.wants(data, "mod-slowpass"):
            await asyncio.sleep(0.3)
        record("moderation", self.name, cid(data), call_type=call_type, started=started, ended=time.time())

    # -- after a successful call ------------------------------------------------------
    async def async_post_call_success_hook(self, data: dict, user_api_key_dict: UserAPIKeyAuth, response):
        record("post_call", self.name, cid(data), response=plain(response),
               call_type=(data.get("metadata") or {}).get("call_type"))
        if self.wants(data, "post-dict"):
            return {"replaced": True, "by": self.name}
        if self.wants(data, "post-edit"):
            response.choices[0].message.content = f"edited-by-{self.name}"
            return response
        if self.wants(data, "post-append"):
            response["choices"][0]["message"]["content"] += f" +{self.name}"
            return response
        if self.wants(data, "post-raise422"):
            raise HTTPException(status_code=422, detail="post hook blocked")
        if self.wants(data, "post-raise-value"):
            raise RuntimeError("post boom")
        return None

    async def async_post_call_failure_hook(self, request_data: dict, original_exception: Exception,
                                           user_api_key_dict: UserAPIKeyAuth, traceback_str: Optional[str] = None):
        record("failure", self.name, cid(request_data), exc_type=type(original_exception).__name__,
               exc=str(original_exception), status=getattr(original_exception, "status_code", None),
               traceback=traceback_str, auth_type=type(user_api_key_dict).__name__,
               call_type=(request_data.get("metadata") or {}).get("call_type"),
               has_logging_obj="litellm_logging_obj" in request_data)
        if self.wants(request_data, "fail-return"):
            return HTTPException(status_code=400, detail=f"friendly from {self.name}")
        if self.wants(request_data, "fail-raise"):
            raise HTTPException(status_code=409, detail={"error": f"raised by {self.name}"})
        if self.wants(request_data, "fail-boom"):
            raise RuntimeError("failure hook exploded")
        return None

    # -- streams ------------------------------------------------------------------------
    async def async_post_call_streaming_iterator_hook(self, user_api_key_dict: UserAPIKeyAuth, response: Any,
                                                      request_data: dict) -> AsyncGenerator[Any, None]:
        if self.wants(request_data, "iter-raise0"):
            raise RuntimeError("iterator hook exploded before the first chunk")
        sent = 0
        async for chunk in response:
            if self.wants(request_data, "iter-record") and chunk.choices:
                record("iterator", self.name, cid(request_data), content=chunk.choices[0].delta.content)
            if self.wants(request_data, "iter-upper") and chunk.choices:  # attribute access
                delta = chunk.choices[0].delta
                if delta is not None and delta.content:
                    delta.content = delta.content.upper()
            if self.wants(request_data, "iter-suffix") and chunk["choices"]:  # item access
                delta = chunk["choices"][0]["delta"]
                if delta.get("content"):
                    delta["content"] = delta["content"] + "-x"
            yield chunk
            sent += 1
            if self.wants(request_data, "iter-raise") and sent == 3:
                raise RuntimeError("iterator hook exploded")

    async def async_post_call_streaming_hook(self, user_api_key_dict: UserAPIKeyAuth, response: str):
        record("stream_chunk", self.name, None, text=response, type=type(response).__name__)
        if self.name == "first" and "chunk-frame" in response:
            return 'data: {"error": {"message": "stream hook error", "code": "400"}}'
        if self.name == "first" and "chunk-raise" in response:
            raise ValueError("chunk hook exploded")
        return None

    # -- logging ------------------------------------------------------------------------
    def _log(self, hook: str, kwargs: dict, response_obj: Any, start_time: Any, end_time: Any) -> None:
        metadata = kwargs.get("metadata") or {}
        standard = kwargs.get("standard_logging_object") or {}
        record(hook, self.name, kwargs.get("litellm_trace_id"), model=kwargs.get("model"),
               messages=kwargs.get("messages"), stream=kwargs.get("stream"),
               user_api_key_fields={k: v for k, v in metadata.items() if k.startswith("user_api_key")},
               litellm_params_metadata=(kwargs.get("litellm_params") or {}).get("metadata") is not None,
               standard_logging_object=plain(standard), response=plain(response_obj),
               start_time=start_time, end_time=end_time, start_type=type(start_time).__name__,
               end_type=type(end_time).__name__, in_order=bool(start_time <= end_time),
               exception=str(kwargs.get("exception")) if kwargs.get("exception") else None,
               thread=threading.current_thread().name)

    def _misbehave(self, kwargs: dict) -> None:
        words = text_of({"messages": kwargs.get("messages")}).split()
        if f"{self.name}:logboom" in words:
            raise RuntimeError("logging hook exploded")

    async def async_log_pre_api_call(self, model, messages, kwargs):
        record("log_pre_api_call", self.name, kwargs.get("litellm_trace_id"), model=model, messages=messages)

    async def async_log_success_event(self, kwargs, response_obj, start_time, end_time):
        if f"{self.name}:slowlog" in text_of({"messages": kwargs.get("messages")}).split():
            await asyncio.sleep(2)
        self._misbehave(kwargs)
        self._log("log_success", kwargs, response_obj, start_time, end_time)

    async def async_log_failure_event(self, kwargs, response_obj, start_time, end_time):
        self._log("log_failure", kwargs, response_obj, start_time, end_time)

    async def async_log_stream_event(self, kwargs, response_obj, start_time, end_time):
        self._log("log_stream", kwargs, response_obj, start_time, end_time)

    def log_pre_api_call(self, model, messages, kwargs):
        record("sync_log_pre_api_call", self.name, kwargs.get("litellm_trace_id"), model=model)

    def log_success_event(self, kwargs, response_obj, start_time, end_time):
        self._misbehave(kwargs)
        self._log("sync_log_success", kwargs, response_obj, start_time, end_time)

    def log_failure_event(self, kwargs, response_obj, start_time, end_time):
        self._log("sync_log_failure", kwargs, response_obj, start_time, end_time)

    def log_stream_event(self, kwargs, response_obj, start_time, end_time):
        self._log("sync_log_stream", kwargs, response_obj, start_time, end_time)


class IntermediateBase(PolicyHandler, CustomLogger):
    """The hooks live here (and above), not in the leaf class."""


class SecondHandler(IntermediateBase):
    """Defines no hook itself: LiteLLM would skip its pre-call hook; Gatehouse calls it."""


first = PolicyHandler("first")
second = SecondHandler("second")
'''

RULES_PY = r'''
"""Post-call rules, as in the LiteLLM docs (seed 000)."""
import json
import os
import threading
from pathlib import Path

LOG = Path(os.environ.get("POLICY_RULES_LOG") or Path(__file__).with_name("rules.jsonl"))
_lock = threading.Lock()


def _record(rule, text):
    with _lock, open(LOG, "a") as f:
        f.write(json.dumps({"rule": rule, "input": text}) + "\n")


def my_rule(input):  # receives the model response
    _record("my_rule", input)
    if "rulefail" in input:
        return {"decision": False, "message": "This violates LiteLLM Proxy Rules. Response too short"}
    if "rulefalse" in input:
        return False
    return {"decision": True}


def audit_rule(input):
    _record("audit_rule", input)
    return True
'''


def model_entry(upstream_url: str, name: str, upstream_model: str, **params: Any) -> dict[str, Any]:
    return {
        "model_name": name,
        "litellm_params": {"model": f"openai/{upstream_model}", "api_base": upstream_url, "api_key": "sk-upstream",
                           **params},
    }


def standard_models(upstream_url: str) -> list[dict[str, Any]]:
    """One model group per endpoint, all on the fake upstream."""
    return [
        model_entry(upstream_url, "fake", "fake-model"),
        model_entry(upstream_url, "fake-b", "fake-model-b"),
        model_entry(upstream_url, "embed", "fake-embed"),
        model_entry(upstream_url, "image", "fake-image"),
        model_entry(upstream_url, "moderation", "fake-moderation"),
        model_entry(upstream_url, "whisper", "fake-whisper"),
    ]


def main_config(upstream_url: str) -> dict[str, Any]:
    """The shared gateway: two callbacks in order, a post-call rule, a short hook timeout."""
    return {
        "model_list": standard_models(upstream_url),
        "litellm_settings": {
            "callbacks": ["custom_callbacks.first", "custom_callbacks.second"],
            "post_call_rules": "rules.my_rule",
        },
        "general_settings": {"master_key": MASTER_KEY, "hook_timeout": 0.5},
    }


MAIN_FILES = {"custom_callbacks.py": CALLBACKS_PY, "rules.py": RULES_PY}


def new_id() -> str:
    return f"call-{uuid.uuid4().hex}"


def with_id(call_id: str) -> dict[str, str]:
    """Request headers that tag a request with an id of the test's choosing.

    The gateway makes its own call id for every request; the client's
    ``x-litellm-call-id`` is kept as the trace id (``litellm_trace_id``), which
    is what the recording hooks write as ``call_id``.
    """
    return {"x-litellm-call-id": call_id}


class Events:
    """What the hooks of one gateway recorded (``events.jsonl``)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def all(self) -> list[dict[str, Any]]:
        try:
            text = self.path.read_text()
        except FileNotFoundError:
            return []
        complete = text[: text.rfind("\n") + 1]  # a line still being written is not read yet
        return [json.loads(line) for line in complete.splitlines() if line.strip()]

    def of(self, call_id: str | None = None, hook: str | None = None, who: str | None = None) -> list[dict[str, Any]]:
        return [e for e in self.all()
                if (call_id is None or e.get("call_id") == call_id)
                and (hook is None or e["hook"] == hook) and (who is None or e["who"] == who)]

    def order(self, call_id: str, hook: str) -> list[str]:
        return [e["who"] for e in self.of(call_id, hook)]

    def wait(self, predicate: Callable[[], Any], timeout: float = 5.0) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value or time.monotonic() > deadline:
                return value
            time.sleep(0.02)

    def wait_for(self, call_id: str, hook: str, count: int = 1, who: str | None = None,
                 timeout: float = 5.0) -> list[dict[str, Any]]:
        self.wait(lambda: len(self.of(call_id, hook, who)) >= count, timeout)
        return self.of(call_id, hook, who)


def sse_events(response: httpx.Response) -> list[Any]:
    """Every ``data:`` payload of an SSE body, parsed (``"[DONE]"`` kept as text)."""
    out: list[Any] = []
    for frame in response.text.split("\n\n"):
        frame = frame.strip()
        if not frame:
            continue
        assert frame.startswith("data: "), f"not an SSE data frame: {frame!r}"
        payload = frame[len("data: "):]
        out.append(payload if payload == "[DONE]" else json.loads(payload))
    return out


def stream_text(events: list[Any]) -> str:
    return "".join((e["choices"][0]["delta"].get("content") or "") for e in events
                   if isinstance(e, dict) and e.get("choices"))


def post(base_url: str, path: str, body: dict[str, Any], *, key: str = MASTER_KEY,
         headers: dict[str, str] | None = None, timeout: float = 30.0) -> httpx.Response:
    return httpx.post(base_url + path, json=body, timeout=timeout,
                      headers={"Authorization": f"Bearer {key}", **(headers or {})})


def log_lines(gw: Any, needle: str, timeout: float = 3.0) -> list[str]:
    """Lines of the gateway log containing ``needle`` (waits until there is one)."""
    deadline = time.monotonic() + timeout
    while True:
        lines = [line for line in gw.logs().splitlines() if needle in line]
        if lines or time.monotonic() > deadline:
            return lines
        time.sleep(0.05)


def chat_body(text: str, **extra: Any) -> dict[str, Any]:
    return {"model": "fake", "messages": [{"role": "user", "content": text}], **extra}


#: Endpoint → the ``call_type`` hooks receive there.
CALL_TYPES = {
    "chat": "completion",
    "completions": "text_completion",
    "embeddings": "embeddings",
    "images": "image_generation",
    "moderations": "moderation",
    "transcriptions": "audio_transcription",
}
ENDPOINTS = tuple(CALL_TYPES)


def call_endpoint(client: Any, endpoint: str, text: str, call_id: str, **extra: Any) -> Any:
    """One request with the official SDK; ``text`` is where the markers go."""
    headers = with_id(call_id)
    if endpoint == "chat":
        return client.chat.completions.create(model="fake", messages=[{"role": "user", "content": text}],
                                              extra_headers=headers, **extra)
    if endpoint == "completions":
        return client.completions.create(model="fake", prompt=text, extra_headers=headers, **extra)
    if endpoint == "embeddings":
        return client.embeddings.create(model="embed", input=text, extra_headers=headers, **extra)
    if endpoint == "images":
        return client.images.generate(model="image", prompt=text, extra_headers=headers, **extra)
    if endpoint == "moderations":
        return client.moderations.create(model="moderation", input=text, extra_headers=headers, **extra)
    if endpoint == "transcriptions":
        return client.audio.transcriptions.create(model="whisper", file=("a.wav", b"RIFF\x00\x00WAVEfmt ", "audio/wav"),
                                                  prompt=text, extra_headers=headers, **extra)
    raise ValueError(endpoint)


def hold_rules_config(upstream_url: str) -> dict[str, Any]:
    """Two post-call rules (a list), streams held until they pass, one retry."""
    return {
        "model_list": [model_entry(upstream_url, "fake", "fake-model")],
        "litellm_settings": {"post_call_rules": ["rules.my_rule", "rules.audit_rule"],
                             "post_call_rules_streaming": "hold"},
        "router_settings": {"num_retries": 1},
        "general_settings": {"master_key": MASTER_KEY},
    }


def rule_calls(gw: Any, needle: str | None = None) -> list[dict[str, Any]]:
    """What the rules of ``rules.py`` were called with (``rules.jsonl``)."""
    try:
        text = (gw.dir / "rules.jsonl").read_text()
    except FileNotFoundError:
        return []
    complete = text[: text.rfind("\n") + 1]  # a line still being written is not read yet
    calls = [json.loads(line) for line in complete.splitlines() if line.strip()]
    return [c for c in calls if needle is None or needle in c["input"]]
