"""The request log's buffer on its own: bounded, ordered, woken readers, closing, what an entry omits.

The end-to-end behaviour (real requests, the console) is in tests/ui/.
"""

from __future__ import annotations

import asyncio
from typing import Any

from gatehouse.auth.identity import MASTER_KEY_TOKEN
from gatehouse.plugins.request_log import CONTENT_LIMIT, RequestLog


def _kwargs(n: int, *, token: str = "ab" * 32, messages: Any = None, status: str = "success") -> dict[str, Any]:
    return {"standard_logging_object": {
        "id": f"call-{n}", "status": status, "model": "m", "startTime": 100.0, "endTime": 100.5,
        "metadata": {"user_api_key_hash": token, "user_api_key_alias": "alias"},
        "messages": messages, "gatehouse_trace": [("pre_call", "hook", "ok", 0.5)],
        "error_information": {"error_code": "429", "error_class": "RateLimitError"} if status == "failure" else None,
        "error_str": "slow down" if status == "failure" else None,
    }}


async def test_bounded_and_ordered() -> None:
    log = RequestLog(size=3)
    for n in range(5):
        await log.async_log_success_event(_kwargs(n), None, None, None)
    assert [e["call_id"] for e in log.since(0)] == ["call-2", "call-3", "call-4"]
    assert [e["seq"] for e in log.since(3)] == [4, 5]
    assert [e["seq"] for e in log.since(0, limit=1)] == [5]


async def test_entry_has_the_trace_not_the_key_nor_text() -> None:
    log = RequestLog(size=5)
    entry = log.record(_kwargs(1, messages=[{"role": "user", "content": "secret words"}]))
    assert entry is not None
    assert entry["key"]["hash_prefix"] == "abababababab" and "ab" * 32 not in str(entry)
    assert "secret words" not in str(entry) and "content" not in entry
    assert entry["trace"] == [{"stage": "pre_call", "hook": "hook", "outcome": "ok", "ms": 0.5}]
    assert entry["duration_ms"] == 500.0
    master = log.record(_kwargs(2, token=MASTER_KEY_TOKEN))
    assert master is not None and master["key"] == {**master["key"], "alias": "master key", "hash_prefix": None}
    failed = log.record(_kwargs(3, status="failure"))
    assert failed is not None and failed["status_code"] == 429 and failed["error"]["message"] == "slow down"


async def test_content_is_kept_only_when_allowed_and_cut() -> None:
    log = RequestLog(size=5, include_content=True)
    entry = log.record(_kwargs(1, messages=[{"role": "user", "content": "x" * (CONTENT_LIMIT * 2)}]))
    assert entry is not None and len(entry["content"]["messages"]) == CONTENT_LIMIT + 1


async def test_readers_are_woken_and_released_at_close() -> None:
    log = RequestLog(size=5)
    assert await log.wait(0, 0.01) is False
    waiting = asyncio.ensure_future(log.wait(0, 10))
    await asyncio.sleep(0)
    log.record(_kwargs(1))
    assert await asyncio.wait_for(waiting, 5) is True
    closing = asyncio.ensure_future(log.wait(1, 10))
    await asyncio.sleep(0)
    log.close()
    assert await asyncio.wait_for(closing, 5) is False
    assert await log.wait(1, 10) is False  # closed: never waits


async def test_records_only_while_watched() -> None:
    log = RequestLog(size=5, watch_seconds=60)
    assert log.should_run_for(None) is False
    log.watched()
    assert log.should_run_for(None) is True
    assert RequestLog(size=5, always=True).should_run_for(None) is True
