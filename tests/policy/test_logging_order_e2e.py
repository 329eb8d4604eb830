"""Logging hooks run in config order, one after the other, for each event (as LiteLLM runs its callbacks):
a slow first hook finishes before the second starts."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from gatehouse.testing import FakeUpstream, GatewayProcess, upstream_model_config

HOOKS = r'''
import asyncio, os
from gatehouse import CustomLogger

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "order.txt")

def note(text):
    with open(OUT, "a") as f:
        f.write(text + "\n")

class Slow(CustomLogger):
    async def async_log_success_event(self, kwargs, response_obj, start_time, end_time):
        note("slow starts")
        await asyncio.sleep(0.3)
        note("slow ends")

class Quick(CustomLogger):
    async def async_log_success_event(self, kwargs, response_obj, start_time, end_time):
        note("quick")

slow = Slow()
quick = Quick()
'''


def test_logging_hooks_run_one_after_the_other_in_config_order(fake_upstream: FakeUpstream, openai_client: Any) -> None:
    config = {"model_list": [upstream_model_config(fake_upstream.url)],
              "litellm_settings": {"callbacks": ["order_hooks.slow", "order_hooks.quick"]}}
    gw = GatewayProcess(config, files={"order_hooks.py": HOOKS}).start()
    try:
        openai_client(gw).chat.completions.create(model="fake", messages=[{"role": "user", "content": "hi"}])
        out = Path(gw.dir) / "order.txt"
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and (not out.exists() or out.read_text().count("\n") < 3):
            time.sleep(0.05)
        assert out.read_text().splitlines() == ["slow starts", "slow ends", "quick"]
    finally:
        gw.stop()
