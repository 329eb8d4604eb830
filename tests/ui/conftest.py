"""A gateway for the admin console's tests: master key, a hook, a guardrail, the live log.

- ``guard``: a :class:`FakeGuardrail` (session) that blocks any text containing
  ``forbidden`` (reset to that before every test that uses it).
- ``console_gw``: master key, the mock provider as ``mock``, the callback
  ``console_hooks.audit`` (a pre-call hook and a post-call success hook), the
  guardrail ``screen`` (pre_call, default_on) on ``guard``, and the request log
  keeping prompt text (``ui_request_log_content``).
- ``browser``: Debian's Chromium driven by the ``playwright`` package
  (never ``playwright install``); screenshots go to ``test-artifacts/``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from gatehouse.testing import FakeGuardrail, GatewayProcess
from gatehouse.testing.fake_guardrail import block_on

MASTER = "sk-console-master-3e9a"
CHROMIUM = Path("/usr/bin/chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"

HOOKS_PY = '''
from gatehouse import CustomLogger


class Audit(CustomLogger):
    async def async_pre_call_hook(self, user_api_key_dict, cache, data, call_type):
        return None

    async def async_post_call_success_hook(self, data, user_api_key_dict, response):
        return None


audit = Audit()
'''


@pytest.fixture(scope="session")
def guard() -> Iterator[FakeGuardrail]:
    service = FakeGuardrail()
    service.start_in_thread()
    yield service
    service.stop_thread()


@pytest.fixture
def blocking_guard(guard: FakeGuardrail) -> FakeGuardrail:
    guard.reset()
    guard.default = block_on("forbidden", reason="forbidden topic")
    return guard


def console_config(guard: FakeGuardrail, **general: Any) -> dict[str, Any]:
    return {
        "model_list": [{"model_name": "mock", "litellm_params": {
            "model": "mock/anything", "input_cost_per_token": 0.001, "output_cost_per_token": 0.002}}],
        "general_settings": {"master_key": MASTER, "ui_request_log_content": True, **general},
        "litellm_settings": {"callbacks": ["console_hooks.audit"]},
        "guardrails": [{"guardrail_name": "screen", "litellm_params": {
            "guardrail": "generic_guardrail_api", "api_base": guard.base, "mode": "pre_call", "default_on": True}}],
    }


@pytest.fixture
def console_gw(gateway: Callable[..., GatewayProcess], blocking_guard: FakeGuardrail) -> GatewayProcess:
    return gateway(console_config(blocking_guard), files={"console_hooks.py": HOOKS_PY})


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run scripts/services.sh (it installs Debian's chromium)", pytrace=False)
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS, headless=True)
        try:
            yield chromium
        finally:
            chromium.close()
