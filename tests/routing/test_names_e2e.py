"""Model names the way LiteLLM users write them, through the real server: ``model_group_alias``
(plain and hidden), wildcard groups, the client's model passed through, ``/v1/models``.

The ``openai`` SDK on chat completions (JSON and streams), the ``anthropic`` SDK on
``/v1/messages``; the fake upstream records which upstream model each request named.
"""

from __future__ import annotations

from typing import Any, Callable, Iterator

import anthropic
import httpx
import openai
import pytest

from gatehouse.testing import FakeUpstream, GatewayProcess, upstream_model_config
from gatehouse.testing.fake_anthropic import FakeAnthropic, anthropic_model_config

MASTER = "sk-names-master-0c4e"
HI = [{"role": "user", "content": "hi"}]


@pytest.fixture(scope="module")
def fake_anthropic() -> Iterator[FakeAnthropic]:
    server = FakeAnthropic()
    server.start_in_thread()
    yield server
    server.stop_thread()


@pytest.fixture
def gw(fake_upstream: FakeUpstream, fake_anthropic: FakeAnthropic,
       gateway: Callable[..., GatewayProcess]) -> GatewayProcess:
    fake_anthropic.reset()
    url = fake_upstream.url
    return gateway({
        "general_settings": {"master_key": MASTER},
        "model_list": [
            upstream_model_config(url, model_name="fake"),
            upstream_model_config(url, model_name="shadowed", model="openai/shadowed-model"),
            upstream_model_config(url, model_name="*", model="openai/*"),
            upstream_model_config(url, model_name="openai/*", model="openai/*"),
            upstream_model_config(url, model_name="team-*", model="openai/team-*"),
            anthropic_model_config(fake_anthropic.url, model_name="claude-*", model="claude-*"),
        ],
        "router_settings": {"num_retries": 0, "disable_cooldowns": True, "model_group_alias": {
            "gpt-4": "fake", "internal": {"model": "fake", "hidden": True}, "shadowed": "fake",
            "claude-sonnet-4-5": "fake"}},
    })


def upstream_model(fake_upstream: FakeUpstream) -> str:
    return str(fake_upstream.requests[-1].json["model"])


def models(gw: GatewayProcess, key: str = MASTER, **params: str) -> list[str]:
    listed = httpx.get(gw.base_url + "/v1/models", params=params, headers={"Authorization": f"Bearer {key}"})
    assert listed.status_code == 200, listed.text
    return [m["id"] for m in listed.json()["data"]]


def key(gw: GatewayProcess, **fields: Any) -> str:
    made = httpx.post(gw.base_url + "/key/generate", json=fields, headers={"Authorization": f"Bearer {MASTER}"})
    return str(made.json()["key"])


def test_an_alias_routes_to_its_group_and_answers_in_its_name(
        gw: GatewayProcess, fake_upstream: FakeUpstream, openai_client: Callable[..., openai.OpenAI]) -> None:
    client = openai_client(gw, api_key=MASTER)
    answer = client.chat.completions.create(model="gpt-4", messages=HI)
    assert upstream_model(fake_upstream) == "fake-model" and answer.model == "gpt-4"
    chunks = list(client.chat.completions.create(model="gpt-4", messages=HI, stream=True))
    assert {c.model for c in chunks} == {"gpt-4"}
    assert client.chat.completions.create(model="internal", messages=HI).model == "internal"  # hidden still routes
    client.chat.completions.create(model="shadowed", messages=HI)
    assert upstream_model(fake_upstream) == "fake-model"  # the alias shadows the group of that name


@pytest.mark.parametrize("sent, upstream", [
    ("my-local-llm", "my-local-llm"),  # model_name "*": passed through
    ("openai/gpt-4o-mini", "gpt-4o-mini"),  # "openai/*" before "*"; the provider prefix stripped
    ("team-alpha", "team-alpha"),
])
def test_wildcards_pass_the_clients_model_through(gw: GatewayProcess, fake_upstream: FakeUpstream,
                                                  openai_client: Callable[..., openai.OpenAI],
                                                  sent: str, upstream: str) -> None:
    client = openai_client(gw, api_key=MASTER)
    answer = client.chat.completions.create(model=sent, messages=HI)
    assert upstream_model(fake_upstream) == upstream and answer.model == sent
    chunks = list(client.chat.completions.create(model=sent, messages=HI, stream=True))
    assert upstream_model(fake_upstream) == upstream and {c.model for c in chunks} == {sent}
    assert client.embeddings.create(model=sent, input="x").model == sent
    assert upstream_model(fake_upstream) == upstream


def test_wildcards_and_aliases_on_v1_messages(gw: GatewayProcess, fake_anthropic: FakeAnthropic,
                                              fake_upstream: FakeUpstream) -> None:
    with anthropic.Anthropic(base_url=gw.base_url, api_key=MASTER, max_retries=0) as client:
        message = client.messages.create(model="claude-opus-4-1", max_tokens=10, messages=HI)
        assert fake_anthropic.requests[-1].json["model"] == "claude-opus-4-1" and message.model == "claude-opus-4-1"
        with client.messages.stream(model="claude-haiku-4-5", max_tokens=10, messages=HI) as stream:
            assert stream.get_final_message().model == "claude-haiku-4-5"
        assert fake_anthropic.requests[-1].json["model"] == "claude-haiku-4-5"
        aliased = client.messages.create(model="claude-sonnet-4-5", max_tokens=10, messages=HI)  # alias to "fake"
        assert upstream_model(fake_upstream) == "fake-model" and aliased.model == "claude-sonnet-4-5"


def test_v1_models_lists_what_a_key_may_call(gw: GatewayProcess) -> None:
    listed = models(gw)  # groups in config order, then the aliases that are not hidden
    assert listed[:2] == ["fake", "shadowed"] and sorted(listed[2:]) == ["claude-sonnet-4-5", "gpt-4"]
    assert models(gw, return_wildcard_routes="true")[4:] == ["claude-*", "openai/*", "team-*", "*"]
    assert models(gw, key(gw, models=["gpt-4"])) == ["gpt-4"]
    assert models(gw, key(gw, models=["fake"])) == listed  # every alias of the group
    one = httpx.get(gw.base_url + "/v1/models/gpt-4", headers={"Authorization": f"Bearer {MASTER}"})
    assert one.status_code == 200 and one.json()["id"] == "gpt-4"
    missing = httpx.get(gw.base_url + "/v1/models/internal", headers={"Authorization": f"Bearer {MASTER}"})
    assert missing.status_code == 404 and missing.json()["error"]["type"] == "invalid_request_error"
    anthropic_shape = httpx.get(gw.base_url + "/v1/models", headers={"x-api-key": MASTER, "anthropic-version": "2023-06-01"})
    assert anthropic_shape.json()["data"][0] == {"type": "model", "id": "fake", "display_name": "fake",
                                                 "created_at": "2023-04-06T08:16:42Z"}
    assert anthropic_shape.json()["has_more"] is False


def test_the_openai_sdk_lists_and_retrieves_models(gw: GatewayProcess,
                                                   openai_client: Callable[..., openai.OpenAI]) -> None:
    client = openai_client(gw, api_key=MASTER)
    listed = [m.id for m in client.models.list()]
    assert "gpt-4" in listed and "internal" not in listed and "*" not in listed
    assert client.models.retrieve("gpt-4").id == "gpt-4"
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("internal")
    only_alias = openai_client(gw, api_key=key(gw, models=["gpt-4"]))
    assert [m.id for m in only_alias.models.list()] == ["gpt-4"]


def test_key_model_lists_allow_an_alias_or_its_group(gw: GatewayProcess, openai_client: Callable[..., openai.OpenAI]) -> None:
    by_alias = openai_client(gw, api_key=key(gw, models=["gpt-4"]))
    assert by_alias.chat.completions.create(model="gpt-4", messages=HI).model == "gpt-4"
    with pytest.raises(openai.PermissionDeniedError):
        by_alias.chat.completions.create(model="fake", messages=HI)
    by_group = openai_client(gw, api_key=key(gw, models=["fake"]))
    assert by_group.chat.completions.create(model="gpt-4", messages=HI).model == "gpt-4"
    wild = openai_client(gw, api_key=key(gw, models=["team-*"]))
    assert wild.chat.completions.create(model="team-beta", messages=HI).model == "team-beta"
    with pytest.raises(openai.PermissionDeniedError):
        wild.chat.completions.create(model="my-local-llm", messages=HI)


def test_an_alias_to_nothing_stops_start_up(gateway: Callable[..., GatewayProcess]) -> None:
    from gatehouse.testing.processes import ServerStartError

    with pytest.raises(ServerStartError, match="router_settings.model_group_alias.gpt-4"):
        gateway({"model_list": [{"model_name": "a", "litellm_params": {"model": "mock/a"}}],
                 "router_settings": {"model_group_alias": {"gpt-4": "nope"}}})
