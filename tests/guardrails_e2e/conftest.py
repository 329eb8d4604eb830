"""Guardrails end to end: the real gateway process, the official SDK, real guardrail services.

Services the tests start (session-scoped, each in a thread of its own):

- ``guards``: one :class:`FakeGuardrail` per configured guardrail name, reset
  before every test that uses them (records cleared, queue emptied, default NONE);
- ``reference_guard``: the reference guardrail service with its default policy.

Gateways (started once per session through the root ``gateway`` factory):

- ``main``: master key, the fake upstream as ``fake``, a logging callback
  (``guard_log.recorder``) writing what logging hooks receive to ``logged.jsonl``,
  and one guardrail per behaviour under test, none ``default_on`` — a test
  selects the ones it needs with ``guardrails: [...]``. :data:`MAIN_GUARDRAILS`
  says what each one is.
- ``always``: two guardrails, ``always`` (default_on, ``[pre_call, post_call]``) and
  ``named`` (pre_call, only when named).
- ``ref``: the reference service as a default_on ``[pre_call, post_call]`` guardrail
  (end-of-stream checks on streams).
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterator

import httpx
import openai
import pytest

from gatehouse.reference_guardrail import GuardrailService, load_policy
from gatehouse.testing import FakeGuardrail, FakeUpstream, GatewayProcess, free_port, upstream_model_config

MASTER_KEY = "sk-guard-e2e-master-4c1f"
GUARD_KEY = "guard-api-key-77aa"  # reaches `pre` through api_key: os.environ/GUARD_KEY
TIMEOUT = 30.0
ENDPOINT_PATH = "/beta/litellm_basic_guardrail_api"

#: name → (fake service, litellm_params besides guardrail/api_base, where it is configured)
MAIN_GUARDRAILS: dict[str, tuple[dict[str, Any], str]] = {
    # top-level `guardrails:`
    "pre": ({"mode": "pre_call", "api_key": "os.environ/GUARD_KEY", "headers": {"X-Guard-Tenant": "acme"},
             "additional_provider_specific_params": {"threshold": 0.8, "lang": "en"},
             "extra_headers": ["x-tenant"]}, "top"),
    "pre2": ({"mode": ["pre_call"]}, "top"),  # api_base already ends with the endpoint path
    "during": ({"mode": "during_call"}, "top"),
    "post": ({"mode": "post_call"}, "top"),  # streams: default sampling rate 5
    # `litellm_settings.guardrails:`
    "both": ({"mode": ["pre_call", "post_call"]}, "settings"),
    "stream1": ({"mode": "post_call", "streaming_sampling_rate": 1}, "settings"),
    "stream_eos": ({"mode": "post_call", "streaming_end_of_stream_only": True}, "settings"),
    "stream_opt": ({"mode": "post_call", "streaming_sampling_rate": 10,
                    "optional_params": {"streaming_sampling_rate": 3}}, "settings"),
    "flaky": ({"mode": "pre_call", "unreachable_fallback": "fail_open", "timeout": 0.3}, "settings"),
    "lenient": ({"mode": "pre_call", "fail_on_error": False, "timeout": 0.3}, "settings"),
    "strict": ({"mode": "pre_call", "timeout": 0.3}, "settings"),
    "retry": ({"mode": "pre_call", "num_retries": 1, "timeout": 2}, "settings"),
    "post_lenient": ({"mode": "post_call", "fail_on_error": False}, "settings"),
    "audit": ({"mode": "logging_only"}, "settings"),
    "tunable": ({"mode": "pre_call", "additional_provider_specific_params": {"threshold": 0.8, "lang": "en"},
                 "allowed_request_params": ["threshold"]}, "settings"),
}
#: Guardrails of ``main`` on a closed port (no fake service).
DOWN_GUARDRAILS: dict[str, dict[str, Any]] = {
    "down": {"mode": "pre_call"},
    "down_open": {"mode": "pre_call", "unreachable_fallback": "fail_open"},
    "down_post": {"mode": "post_call"},
    "down_post_open": {"mode": "post_call", "unreachable_fallback": "fail_open"},
}
ALWAYS_GUARDRAILS = ("always", "named")

GUARD_LOG_PY = r'''
"""What logging hooks receive, one JSON line per event in logged.jsonl."""
import json
from pathlib import Path

from gatehouse import CustomLogger

OUT = Path(__file__).with_name("logged.jsonl")


class Recorder(CustomLogger):
    async def async_log_success_event(self, kwargs, response_obj, start_time, end_time):
        self._write("success", kwargs)

    async def async_log_failure_event(self, kwargs, response_obj, start_time, end_time):
        self._write("failure", kwargs)

    def _write(self, event, kwargs):
        standard = kwargs.get("standard_logging_object") or {}
        metadata = kwargs.get("metadata") or {}
        line = {
            "event": event,
            "call_id": kwargs.get("litellm_call_id"),
            "guardrail_information": standard.get("guardrail_information"),
            "applied_guardrails": metadata.get("applied_guardrails"),
        }
        with open(OUT, "a") as f:
            f.write(json.dumps(line, default=str) + "\n")


recorder = Recorder()
'''


# -- services --------------------------------------------------------------------


@pytest.fixture(scope="session")
def guards() -> Iterator[dict[str, FakeGuardrail]]:
    """One fake guardrail service per configured guardrail name."""
    services: dict[str, FakeGuardrail] = {}
    try:
        for name in [*MAIN_GUARDRAILS, *ALWAYS_GUARDRAILS]:
            services[name] = FakeGuardrail()
            services[name].start_in_thread()
        yield services
    finally:
        for service in services.values():
            service.stop_thread()


@pytest.fixture(autouse=True)
def _reset_guards(request: pytest.FixtureRequest) -> None:
    if "guards" in request.fixturenames:
        for service in request.getfixturevalue("guards").values():
            service.reset()


@pytest.fixture(scope="session")
def closed_port() -> int:
    """A port nothing listens on."""
    return free_port()


class ThreadedService:
    """The reference guardrail service on its own event loop in a daemon thread."""

    def __init__(self) -> None:
        self.service = GuardrailService(load_policy(), port=0)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True, name="reference-guardrail")

    def start(self) -> str:
        self.thread.start()
        return asyncio.run_coroutine_threadsafe(self.service.start(), self.loop).result(10)

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.service.stop(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


@pytest.fixture(scope="session")
def reference_guard() -> Iterator[GuardrailService]:
    runner = ThreadedService()
    runner.start()
    yield runner.service
    runner.stop()


# -- the gateways ----------------------------------------------------------------


def _entry(name: str, api_base: str, params: dict[str, Any]) -> dict[str, Any]:
    return {"guardrail_name": name,
            "litellm_params": {"guardrail": "generic_guardrail_api", "api_base": api_base, **params}}


def main_config(upstream: FakeUpstream, guards: dict[str, FakeGuardrail], closed_port: int) -> dict[str, Any]:
    top: list[dict[str, Any]] = []
    settings: list[dict[str, Any]] = []
    for name, (params, where) in MAIN_GUARDRAILS.items():
        if name == "pre":
            api_base = "os.environ/GUARD_PRE_BASE"
        elif name == "pre2":
            api_base = guards[name].base + ENDPOINT_PATH + "/"
        else:
            api_base = guards[name].base
        (top if where == "top" else settings).append(_entry(name, api_base, params))
    for name, params in DOWN_GUARDRAILS.items():
        settings.append(_entry(name, f"http://127.0.0.1:{closed_port}", params))
    return {
        "model_list": [upstream_model_config(upstream.url)],
        "general_settings": {"master_key": MASTER_KEY},
        "router_settings": {"num_retries": 0, "disable_cooldowns": True},
        "litellm_settings": {"callbacks": "guard_log.recorder", "guardrails": settings},
        "guardrails": top,
    }


def always_config(upstream: FakeUpstream, guards: dict[str, FakeGuardrail]) -> dict[str, Any]:
    return {
        "model_list": [upstream_model_config(upstream.url)],
        "general_settings": {"master_key": MASTER_KEY},
        "router_settings": {"num_retries": 0, "disable_cooldowns": True},
        "guardrails": [
            _entry("always", guards["always"].base, {"mode": ["pre_call", "post_call"], "default_on": True}),
            _entry("named", guards["named"].base, {"mode": "pre_call"}),
        ],
    }


def ref_config(upstream: FakeUpstream, service: GuardrailService) -> dict[str, Any]:
    return {
        "model_list": [upstream_model_config(upstream.url)],
        "general_settings": {"master_key": MASTER_KEY},
        "router_settings": {"num_retries": 0, "disable_cooldowns": True},
        "guardrails": [_entry("ref", service.url, {"mode": ["pre_call", "post_call"], "default_on": "true",
                                                   "streaming_end_of_stream_only": True})],
    }


@dataclass
class Gw:
    """A running gateway with the fakes it talks to, and ways to call it."""

    process: GatewayProcess
    upstream: FakeUpstream
    guards: dict[str, FakeGuardrail]

    @property
    def base_url(self) -> str:
        return self.process.base_url

    def client(self, api_key: str = MASTER_KEY, **kw: Any) -> openai.OpenAI:
        return openai.OpenAI(base_url=self.process.api_base, api_key=api_key, max_retries=0, timeout=TIMEOUT, **kw)

    def async_client(self, api_key: str = MASTER_KEY, **kw: Any) -> openai.AsyncOpenAI:
        return openai.AsyncOpenAI(base_url=self.process.api_base, api_key=api_key, max_retries=0, timeout=TIMEOUT,
                                  **kw)

    def post(self, path: str, json: Any, *, headers: dict[str, str] | None = None) -> httpx.Response:
        sent = {"Authorization": f"Bearer {MASTER_KEY}", **(headers or {})}
        return httpx.post(self.base_url + path, json=json, headers=sent, timeout=TIMEOUT)

    def stream(self, path: str, json: Any) -> Any:
        """``with gw.stream(path, body) as response:`` — raw SSE over httpx."""
        return httpx.stream("POST", self.base_url + path, json=json, timeout=TIMEOUT,
                            headers={"Authorization": f"Bearer {MASTER_KEY}"})

    def metric(self, name: str, **labels: str) -> float:
        """The current value of one Prometheus sample (0 when absent)."""
        text = httpx.get(self.base_url + "/metrics", timeout=TIMEOUT).text
        for line in text.splitlines():
            match = re.fullmatch(r"([a-zA-Z_:]+)(?:\{(.*)\})? (\S+)", line)
            if not match or match.group(1) != name:
                continue
            found = dict(re.findall(r'(\w+)="([^"]*)"', match.group(2) or ""))
            if found == labels:
                return float(match.group(3))
        return 0.0

    def logged(self, call_id: str, event: str = "success", timeout: float = 5.0) -> dict[str, Any]:
        """What the logging callback received for ``call_id`` (waits for the background event)."""
        path = self.process.dir / "logged.jsonl"
        deadline = time.monotonic() + timeout
        while True:
            if path.exists():
                for line in path.read_text().splitlines():
                    entry = json.loads(line)
                    if entry["call_id"] == call_id and entry["event"] == event:
                        return entry
            if time.monotonic() > deadline:
                raise AssertionError(f"no {event} event logged for call {call_id}")
            time.sleep(0.02)

    def logs_when(self, needle: str, timeout: float = 5.0) -> str:
        """The gateway log, once it contains ``needle`` (else fail)."""
        deadline = time.monotonic() + timeout
        while needle not in self.process.logs():
            if time.monotonic() > deadline:
                raise AssertionError(f"{needle!r} not in the gateway log:\n{self.process.tail(30)}")
            time.sleep(0.02)
        return self.process.logs()


@pytest.fixture
def main(gateway: Callable[..., GatewayProcess], fake_upstream: FakeUpstream, guards: dict[str, FakeGuardrail],
         closed_port: int) -> Gw:
    env = {"GUARD_KEY": GUARD_KEY, "GUARD_PRE_BASE": guards["pre"].base}
    process = gateway(main_config(fake_upstream, guards, closed_port), env=env,
                      files={"guard_log.py": GUARD_LOG_PY})
    return Gw(process, fake_upstream, guards)


@pytest.fixture
def always(gateway: Callable[..., GatewayProcess], fake_upstream: FakeUpstream,
           guards: dict[str, FakeGuardrail]) -> Gw:
    return Gw(gateway(always_config(fake_upstream, guards)), fake_upstream, guards)


@pytest.fixture
def ref(gateway: Callable[..., GatewayProcess], fake_upstream: FakeUpstream,
        reference_guard: GuardrailService) -> Gw:
    return Gw(gateway(ref_config(fake_upstream, reference_guard)), fake_upstream, {})
