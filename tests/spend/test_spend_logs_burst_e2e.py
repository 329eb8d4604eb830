"""A burst of requests by one virtual key on SQLite: every row is written, and the key's spend (written by the
spend tracker to the same file, at the same time) is exact, with no "database is locked" on the way."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import openai
import pytest

from gatehouse.testing import FakeUpstream, GatewayProcess

from spend_support import CHAT_COST, admin, new_key, spend_config, wait_for_rows

REQUESTS, CONCURRENCY = 400, 32


def test_a_burst_is_logged_and_charged_exactly(fake_upstream: FakeUpstream) -> None:
    gw = GatewayProcess(spend_config(fake_upstream.url, None, proxy_batch_write_at=0.05)).start()
    try:
        key = new_key(gw)

        async def burst() -> None:
            client = openai.AsyncOpenAI(base_url=gw.api_base, api_key=key, max_retries=0, timeout=60)
            gate = asyncio.Semaphore(CONCURRENCY)

            async def one() -> None:
                async with gate:
                    await client.chat.completions.create(model="priced", messages=[{"role": "user", "content": "hi"}])

            await asyncio.gather(*(one() for _ in range(REQUESTS)))
            await client.close()

        asyncio.run(burst())
        assert len(wait_for_rows(gw, REQUESTS, api_key=key)) == REQUESTS
        deadline, spend = time.monotonic() + 15, 0.0
        while time.monotonic() < deadline:
            spend = httpx.get(f"{gw.base_url}/key/info", params={"key": key}, headers=admin()).json()["info"]["spend"]
            if spend >= REQUESTS * CHAT_COST - 1e-9:
                break
            time.sleep(0.2)
        assert spend == pytest.approx(REQUESTS * CHAT_COST)
    finally:
        gw.stop()
    assert "database is locked" not in gw.logs()
