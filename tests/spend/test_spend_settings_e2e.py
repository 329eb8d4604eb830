"""general_settings for spend logs: disable_spend_logs, store_prompts_in_spend_logs, the retention period."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Iterator

import pytest
import yaml

from gatehouse.testing import FakeUpstream, GatewayProcess

from spend_support import MASTER, by_request, get, spend_config

HI = [{"role": "user", "content": "hi"}]


@pytest.fixture
def started(fake_upstream: FakeUpstream) -> Iterator[Any]:
    running: list[GatewayProcess] = []

    def start(**general: Any) -> GatewayProcess:
        running.append(GatewayProcess(spend_config(fake_upstream.url, None, **general)).start())
        return running[-1]

    yield start
    for gw in running:
        gw.stop()


def test_disable_spend_logs_writes_no_rows(started: Any, openai_client: Any) -> None:
    gw = started(disable_spend_logs=True)
    raw = openai_client(gw, api_key=MASTER).chat.completions.with_raw_response.create(model="priced", messages=HI)
    assert float(raw.headers["x-litellm-response-cost"]) > 0  # the answer is still priced
    time.sleep(1.0)  # five batch intervals
    assert get(gw, "/spend/logs").json() == []


def test_prompts_and_answers_are_stored_only_when_asked(started: Any, openai_client: Any) -> None:
    gw = started(store_prompts_in_spend_logs=True)
    raw = openai_client(gw, api_key=MASTER).chat.completions.with_raw_response.create(model="priced", messages=HI)
    row = by_request(gw, raw.headers["x-litellm-call-id"])
    assert row["messages"] == HI
    assert row["response"]["choices"][0]["message"]["content"] == raw.parse().choices[0].message.content


def test_rows_older_than_the_retention_period_are_deleted(started: Any, openai_client: Any) -> None:
    gw = started(maximum_spend_logs_retention_period="2s", maximum_spend_logs_retention_interval="1s")
    raw = openai_client(gw, api_key=MASTER).chat.completions.with_raw_response.create(model="priced", messages=HI)
    call_id = raw.headers["x-litellm-call-id"]
    by_request(gw, call_id)
    deadline = time.monotonic() + 15
    while get(gw, "/spend/logs", request_id=call_id).json() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert get(gw, "/spend/logs", request_id=call_id).json() == []


@pytest.mark.parametrize(("key", "value"), [
    ("maximum_spend_logs_retention_period", "forever"),
    ("maximum_spend_logs_retention_interval", "0d"),
    ("store_prompts_in_spend_logs", "sometimes"),
    ("disable_spend_logs", 3),
])
def test_a_bad_setting_stops_start_up_naming_it(tmp_path: Path, key: str, value: Any) -> None:
    (tmp_path / "config.yaml").write_text(yaml.safe_dump({"general_settings": {"master_key": MASTER, key: value}}))
    result = subprocess.run([sys.executable, "-m", "gatehouse", "check-config", "config.yaml"], cwd=tmp_path,
                            capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert result.returncode == 2, result.stdout + result.stderr
    assert f"general_settings.{key}" in result.stderr
