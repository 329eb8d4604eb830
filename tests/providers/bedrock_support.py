"""Shared pieces of the Bedrock tests: the fake (one per session), clients, configs.

Test modules import the fixtures from here (``tests/providers`` is put on
``sys.path`` by each module), so no ``conftest.py`` is shared with other providers.
"""

from __future__ import annotations

from typing import Any, Iterator

import pytest

from gatehouse.testing.fake_bedrock import ACCESS_KEY, SECRET_KEY, FakeBedrock

REGION = "us-east-1"
#: Environment for every gateway with a bedrock deployment: no instance-metadata lookups, no
#: shared AWS files or keys of the machine running the tests. (Empty values only for variables
#: botocore and Gatehouse treat as unset when empty: an empty AWS_PROFILE names a profile "".)
AWS_ENV = {
    "AWS_EC2_METADATA_DISABLED": "true", "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/credentials",
    "AWS_CONFIG_FILE": "/nonexistent/config", "AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "",
    "AWS_SESSION_TOKEN": "", "AWS_REGION": "", "AWS_DEFAULT_REGION": "", "AWS_REGION_NAME": "",
    "AWS_BEARER_TOKEN_BEDROCK": "", "AWS_BEDROCK_RUNTIME_ENDPOINT": "",
}
MODEL = "anthropic.claude-3-5-sonnet-20240620-v1:0"


@pytest.fixture(scope="session")
def bedrock_fake() -> Iterator[FakeBedrock]:
    fake = FakeBedrock(regions=(REGION, "eu-west-1", "us-west-2"))
    fake.start_in_thread()
    yield fake
    fake.stop_thread()


@pytest.fixture
def fake(bedrock_fake: FakeBedrock) -> FakeBedrock:
    """The session's fake, reset for this test."""
    bedrock_fake.reset()
    return bedrock_fake


def deployment(name: str, fake_url: str, model: str = MODEL, **params: Any) -> dict[str, Any]:
    """A ``model_list`` entry for ``bedrock/<model>`` at the fake, signed with the fake's static keys."""
    litellm_params: dict[str, Any] = {"model": f"bedrock/{model}", "aws_access_key_id": ACCESS_KEY,
                                      "aws_secret_access_key": SECRET_KEY, "aws_region_name": REGION,
                                      "aws_bedrock_runtime_endpoint": fake_url}
    litellm_params.update(params)
    return {"model_name": name, "litellm_params": {k: v for k, v in litellm_params.items() if v is not None}}
