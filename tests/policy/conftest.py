"""Fixtures of the policy-pipeline tests: the shared gateway and its recordings.

Helpers and the callback files live in ``policy_support.py`` (this directory
is put on ``sys.path`` so test modules can import it).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Callable

import openai
import pytest

sys.path.insert(0, str(Path(__file__).parent))

from policy_support import MAIN_FILES, MASTER_KEY, Events, main_config  # noqa: E402

from gatehouse.testing import GatewayProcess  # noqa: E402


@pytest.fixture
def main_gw(gateway: Callable[..., GatewayProcess], fake_upstream: Any) -> GatewayProcess:
    """One gateway for most tests: callbacks [first, second], rule ``rules.my_rule``, hook_timeout 0.5 s."""
    return gateway(main_config(fake_upstream.url), files=MAIN_FILES)


@pytest.fixture
def events(main_gw: GatewayProcess) -> Events:
    return Events(main_gw.dir / "events.jsonl")


@pytest.fixture
def client(main_gw: GatewayProcess, openai_client: Callable[..., openai.OpenAI]) -> openai.OpenAI:
    return openai_client(main_gw, api_key=MASTER_KEY)


@pytest.fixture
def aclient(main_gw: GatewayProcess, async_openai_client: Callable[..., openai.AsyncOpenAI]) -> openai.AsyncOpenAI:
    return async_openai_client(main_gw, api_key=MASTER_KEY)
