"""The bench's Bedrock scenarios: its fake upstream speaks Converse, and a gateway answers through it."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Iterator

import boto3
import pytest

BENCH_DIR = Path(__file__).resolve().parents[2] / "bench"
sys.path.insert(0, str(BENCH_DIR))

from fakes import Fakes  # noqa: E402
from scenarios import SCENARIOS, render_config, verify_response  # noqa: E402

from gatehouse.testing import GatewayProcess  # noqa: E402


@pytest.fixture(scope="module")
def fakes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fakes]:
    f = Fakes(sys.executable, tmp_path_factory.mktemp("bench-logs"))
    f.start()
    yield f
    f.stop()


def test_bench_upstream_speaks_converse(fakes: Fakes) -> None:
    client = boto3.client("bedrock-runtime", region_name="us-east-1", endpoint_url=fakes.upstream_base,
                          aws_access_key_id="AKIDBENCH", aws_secret_access_key="x")
    messages = [{"role": "user", "content": [{"text": "hi"}]}]
    answer = client.converse(modelId="anthropic.claude-3-5-sonnet-20240620-v1:0", messages=messages)
    assert answer["output"]["message"]["content"][0]["text"]
    events = list(client.converse_stream(modelId="anthropic.claude-3-5-sonnet-20240620-v1:0",
                                         messages=messages)["stream"])
    assert len([e for e in events if "contentBlockDelta" in e]) == 20


def test_a_gateway_answers_the_bedrock_scenarios(fakes: Fakes, tmp_path: Path) -> None:
    config = render_config(SCENARIOS["bedrock"], tmp_path, fakes.upstream_base, fakes.guardrail_base)
    with GatewayProcess(config, env={"AWS_EC2_METADATA_DISABLED": "true"}) as gw:
        url = gw.api_base + "/chat/completions"
        before = fakes.upstream_calls()
        assert verify_response(url, SCENARIOS["bedrock"]) is None
        assert verify_response(url, SCENARIOS["bedrock-stream"]) is None
        assert fakes.upstream_calls() == before + 2
