"""The fake Bedrock speaks Bedrock: boto3's own bedrock-runtime and sts clients talk to it.

Also: the event-stream encoder round-trips through botocore's decoder, and the
server-side SigV4 check refuses what AWS would refuse.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.eventstream import ChecksumMismatch, EventStreamBuffer
from botocore.exceptions import ClientError, EventStreamError

sys.path.insert(0, str(Path(__file__).parent))

from bedrock_support import MODEL, REGION, bedrock_fake, fake  # noqa: E402,F401

from gatehouse.testing.aws_wire import encode_message, event, exception  # noqa: E402
from gatehouse.testing.fake_bedrock import ACCESS_KEY, SECRET_KEY, FakeBedrock, Reply  # noqa: E402


def runtime(fake: FakeBedrock, secret: str = SECRET_KEY, region: str = REGION) -> Any:
    return boto3.client("bedrock-runtime", region_name=region, endpoint_url=fake.url, aws_access_key_id=ACCESS_KEY,
                        aws_secret_access_key=secret, config=Config(retries={"total_max_attempts": 1}))


def test_encoder_round_trips_through_botocore() -> None:
    frames = event("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": "héllo"}}) + exception(
        "throttlingException", "slow down") + encode_message({":message-type": "event", ":event-type": "x"}, b"")
    buffer = EventStreamBuffer()
    buffer.add_data(frames)
    messages = list(buffer)
    assert [m.headers[":message-type"] for m in messages] == ["event", "exception", "event"]
    assert messages[0].headers[":event-type"] == "contentBlockDelta"
    assert messages[0].payload == '{"contentBlockIndex":0,"delta":{"text":"héllo"}}'.encode()
    assert messages[1].headers[":exception-type"] == "throttlingException"
    assert messages[2].payload == b""


def test_a_flipped_crc_is_refused_by_botocore() -> None:
    frame = bytearray(event("messageStart", {"role": "assistant"}))
    frame[-1] ^= 0xFF
    buffer = EventStreamBuffer()
    buffer.add_data(bytes(frame))
    with pytest.raises(ChecksumMismatch):
        list(buffer)


def test_boto3_converse_text(fake: FakeBedrock) -> None:
    answer = runtime(fake).converse(modelId=MODEL, system=[{"text": "Be brief."}],
                                    messages=[{"role": "user", "content": [{"text": "ping"}]}],
                                    inferenceConfig={"maxTokens": 50, "temperature": 0.2})
    assert answer["output"]["message"]["content"][0]["text"] == "Hello! You said: ping"
    assert answer["stopReason"] == "end_turn"
    assert answer["usage"]["inputTokens"] == 1
    seen = fake.requests[-1]
    assert seen.model_id == MODEL and seen.action == "converse" and seen.signer == ACCESS_KEY
    assert seen.body["system"] == [{"text": "Be brief."}]
    assert seen.body["inferenceConfig"] == {"maxTokens": 50, "temperature": 0.2}


def test_boto3_converse_stream_text(fake: FakeBedrock) -> None:
    answer = runtime(fake).converse_stream(modelId=MODEL, messages=[{"role": "user", "content": [{"text": "a b c"}]}])
    events = list(answer["stream"])
    texts = [e["contentBlockDelta"]["delta"]["text"] for e in events if "contentBlockDelta" in e]
    assert "".join(texts) == "Hello! You said: a b c"
    assert len(texts) == 6
    assert events[0] == {"messageStart": {"role": "assistant"}}
    assert {"messageStop": {"stopReason": "end_turn"}} in events
    assert events[-1]["metadata"]["usage"]["outputTokens"] == 6


def test_boto3_tool_use_json_and_stream(fake: FakeBedrock) -> None:
    call = {"name": "get_weather", "input": {"city": "Paris", "unit": "c"}, "id": "tooluse_1"}
    fake.queue(Reply(text="", tool_calls=[call]), Reply(text="Let me check.", tool_calls=[call]))
    tools = {"tools": [{"toolSpec": {"name": "get_weather", "inputSchema": {"json": {"type": "object"}}}}]}
    client = runtime(fake)
    messages = [{"role": "user", "content": [{"text": "weather?"}]}]
    answer = client.converse(modelId=MODEL, messages=messages, toolConfig=tools)
    assert answer["stopReason"] == "tool_use"
    assert answer["output"]["message"]["content"] == [{"toolUse": {"toolUseId": "tooluse_1", "name": "get_weather",
                                                                   "input": {"city": "Paris", "unit": "c"}}}]
    events = list(client.converse_stream(modelId=MODEL, messages=messages, toolConfig=tools)["stream"])
    start = next(e["contentBlockStart"] for e in events if "contentBlockStart" in e)
    assert start["start"]["toolUse"] == {"toolUseId": "tooluse_1", "name": "get_weather"}
    pieces = [e["contentBlockDelta"]["delta"]["toolUse"]["input"] for e in events
              if "toolUse" in e.get("contentBlockDelta", {}).get("delta", {})]
    assert len(pieces) == 2 and "".join(pieces) == '{"city":"Paris","unit":"c"}'
    assert {"messageStop": {"stopReason": "tool_use"}} in events


def test_boto3_sees_scripted_errors(fake: FakeBedrock) -> None:
    fake.queue(Reply(status=429, error_type="ThrottlingException", message="Too many requests"))
    with pytest.raises(ClientError) as caught:
        runtime(fake).converse(modelId=MODEL, messages=[{"role": "user", "content": [{"text": "x"}]}])
    assert caught.value.response["Error"]["Code"] == "ThrottlingException"
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 429


def test_boto3_sees_a_mid_stream_exception(fake: FakeBedrock) -> None:
    fake.queue(Reply(frames=[event("messageStart", {"role": "assistant"}), exception("throttlingException", "slow")]))
    stream = runtime(fake).converse_stream(modelId=MODEL, messages=[{"role": "user", "content": [{"text": "x"}]}])
    with pytest.raises(EventStreamError) as caught:
        list(stream["stream"])
    assert caught.value.response["Error"]["Code"] == "throttlingException"


def test_a_wrong_secret_or_region_is_refused(fake: FakeBedrock) -> None:
    for client, code in ((runtime(fake, secret="wrong"), "InvalidSignatureException"),
                         (runtime(fake, region="ap-south-1"), "InvalidSignatureException")):
        with pytest.raises(ClientError) as caught:
            client.converse(modelId=MODEL, messages=[{"role": "user", "content": [{"text": "x"}]}])
        assert caught.value.response["Error"]["Code"] == code
    unknown = boto3.client("bedrock-runtime", region_name=REGION, endpoint_url=fake.url, aws_access_key_id="AKIDNOPE",
                           aws_secret_access_key="x", config=Config(retries={"total_max_attempts": 1}))
    with pytest.raises(ClientError) as caught:
        unknown.converse(modelId=MODEL, messages=[{"role": "user", "content": [{"text": "x"}]}])
    assert caught.value.response["Error"]["Code"] == "UnrecognizedClientException"


def test_boto3_sts_assume_role_then_sign_with_the_session(fake: FakeBedrock) -> None:
    sts = boto3.client("sts", region_name=REGION, endpoint_url=fake.url, aws_access_key_id=ACCESS_KEY,
                       aws_secret_access_key=SECRET_KEY)
    creds = sts.assume_role(RoleArn="arn:aws:iam::123456789012:role/bedrock", RoleSessionName="s1")["Credentials"]
    assert creds["AccessKeyId"].startswith("ASIAFAKE") and creds["SessionToken"]
    assert fake.sts_calls[-1].body["RoleSessionName"] == "s1" and fake.sts_calls[-1].signer == ACCESS_KEY
    session = boto3.client("bedrock-runtime", region_name=REGION, endpoint_url=fake.url,
                           aws_access_key_id=creds["AccessKeyId"], aws_secret_access_key=creds["SecretAccessKey"],
                           aws_session_token=creds["SessionToken"])
    session.converse(modelId=MODEL, messages=[{"role": "user", "content": [{"text": "x"}]}])
    assert fake.requests[-1].signer == creds["AccessKeyId"]
    tokenless = boto3.client("bedrock-runtime", region_name=REGION, endpoint_url=fake.url,
                             aws_access_key_id=creds["AccessKeyId"], aws_secret_access_key=creds["SecretAccessKey"],
                             config=Config(retries={"total_max_attempts": 1}))
    with pytest.raises(ClientError):
        tokenless.converse(modelId=MODEL, messages=[{"role": "user", "content": [{"text": "x"}]}])


def test_boto3_titan_and_cohere_embeddings(fake: FakeBedrock) -> None:
    import json

    client = runtime(fake)
    titan = json.loads(client.invoke_model(modelId="amazon.titan-embed-text-v2:0",
                                           body=json.dumps({"inputText": "hi there", "dimensions": 4}))["body"].read())
    assert len(titan["embedding"]) == 4 and titan["inputTextTokenCount"] == 2
    cohere = client.invoke_model(modelId="cohere.embed-english-v3",
                                 body=json.dumps({"texts": ["a", "b c"], "input_type": "search_document"}))
    assert len(json.loads(cohere["body"].read())["embeddings"]) == 2
    assert cohere["ResponseMetadata"]["HTTPHeaders"]["x-amzn-bedrock-input-token-count"] == "3"
