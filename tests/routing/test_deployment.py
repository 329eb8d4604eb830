"""model_list and router settings parsing: values, ids, and errors that name the key."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from gatehouse.config.errors import ConfigError
from gatehouse.routing import Deployment, RouterSettings, deployments_from_config

SOURCE = "config.yaml"


def parse(*entries: dict[str, Any]) -> list[Deployment]:
    return deployments_from_config(list(entries), source=SOURCE)


def entry(model_name: str = "gpt", **litellm_params: Any) -> dict[str, Any]:
    litellm_params.setdefault("model", "openai/gpt-4o")
    return {"model_name": model_name, "litellm_params": litellm_params}


def config_error(model_list: Any) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        deployments_from_config(model_list, source=SOURCE)
    return caught.value


# -- values -------------------------------------------------------------------


def test_provider_and_upstream_model_split_at_the_first_slash() -> None:
    (d,) = parse(entry(model="openrouter/meta-llama/llama-3-70b"))
    assert (d.provider, d.upstream_model, d.model_name) == ("openrouter", "meta-llama/llama-3-70b", "gpt")


def test_model_without_provider_is_openai() -> None:
    (d,) = parse(entry(model="gpt-4o-mini"))
    assert (d.provider, d.upstream_model) == ("openai", "gpt-4o-mini")


def test_custom_llm_provider_keeps_the_whole_model_name() -> None:
    (d,) = parse(entry(model="org/model", custom_llm_provider="hosted_vllm"))
    assert (d.provider, d.upstream_model) == ("hosted_vllm", "org/model")
    assert "custom_llm_provider" not in d.params


def test_routing_fields_are_read() -> None:
    (d,) = parse(entry(
        model="azure/gpt4-deploy", api_base="https://x.example", api_key="sk-secret", timeout=12,
        stream_timeout="30", tags=["a", "b"], rpm="100", tpm=5000, weight=2,
    ))
    assert d.api_base == "https://x.example"
    assert d.api_key == "sk-secret"
    assert (d.timeout, d.stream_timeout) == (12.0, 30.0)
    assert d.tags == ("a", "b")
    assert (d.rpm, d.tpm, d.weight) == (100, 5000, 2.0)


def test_params_keep_upstream_options_and_drop_routing_keys_and_credentials() -> None:
    (d,) = parse(entry(
        temperature=0.2, max_tokens=100, api_version="2024-06-01", organization="org-1",
        extra_headers={"x-a": "1"}, api_key="sk-secret", rpm=1, tags=["t"], timeout=3,
        aws_secret_access_key="aws", client_secret="cs", vertex_credentials="{}", mock_response="hi",
    ))
    assert dict(d.params) == {
        "temperature": 0.2, "max_tokens": 100, "api_version": "2024-06-01", "organization": "org-1",
        "extra_headers": {"x-a": "1"}, "mock_response": "hi",
    }


def test_api_key_never_shown_in_repr() -> None:
    (d,) = parse(entry(api_key="sk-very-secret", extra_headers={"Authorization": "Bearer sk-h"}))
    assert "sk-very-secret" not in repr(d)
    assert "sk-h" not in repr(d)


def test_base_url_is_an_alias_of_api_base() -> None:
    (d,) = parse(entry(base_url="http://localhost:8000/v1"))
    assert d.api_base == "http://localhost:8000/v1"


def test_model_info_id_is_the_id_and_model_info_is_kept() -> None:
    (d,) = parse({**entry(), "model_info": {"id": "dep-1", "mode": "chat"}})
    assert d.id == "dep-1"
    assert d.model_info["mode"] == "chat"


def test_hashed_id_is_stable_and_distinct_per_entry() -> None:
    first = parse(entry(api_base="http://a"), entry(api_base="http://b"))
    again = parse(entry(api_base="http://a"), entry(api_base="http://b"))
    assert [d.id for d in first] == [d.id for d in again]
    assert first[0].id != first[1].id


def test_identical_entries_get_distinct_ids() -> None:
    a, b, c = parse(entry(), entry(), entry())
    assert len({a.id, b.id, c.id}) == 3
    assert b.id == f"{a.id}-2" and c.id == f"{a.id}-3"


def test_empty_model_list_is_fine() -> None:
    assert deployments_from_config(None, source=SOURCE) == []
    assert deployments_from_config([], source=SOURCE) == []


# -- errors name the key ------------------------------------------------------


@pytest.mark.parametrize(
    ("model_list", "key", "words"),
    [
        ({"model_name": "x"}, "model_list", "must be a list"),
        (["gpt"], "model_list[0]", "must be a mapping"),
        ([{"litellm_params": {"model": "x"}}], "model_list[0].model_name", "is required"),
        ([{"model_name": "x"}], "model_list[0].litellm_params", "is required"),
        ([{"model_name": "x", "litellm_params": "openai/x"}], "model_list[0].litellm_params", "must be a mapping"),
        ([entry(), {"model_name": "x", "litellm_params": {}}], "model_list[1].litellm_params.model", "is required"),
        ([entry(model="")], "model_list[0].litellm_params.model", "must not be empty"),
        ([entry(model="openai/")], "model_list[0].litellm_params.model", "<provider>/<model>"),
        ([entry(model=["a"])], "model_list[0].litellm_params.model", "must be a string"),
        ([{"model_name": ["x"], "litellm_params": {"model": "x"}}], "model_list[0].model_name", "must be a string"),
        ([entry(tags="teamA")], "model_list[0].litellm_params.tags", "list of strings"),
        ([entry(tags=["a", 1])], "model_list[0].litellm_params.tags", "list of strings"),
        ([entry(rpm="lots")], "model_list[0].litellm_params.rpm", "must be an integer"),
        ([entry(rpm=1.5)], "model_list[0].litellm_params.rpm", "must be an integer"),
        ([entry(weight=-1)], "model_list[0].litellm_params.weight", "at least 0"),
        ([entry(timeout=True)], "model_list[0].litellm_params.timeout", "must be a number"),
        ([entry(timeout=0)], "model_list[0].litellm_params.timeout", "at least"),
        ([{**entry(), "model_info": []}], "model_list[0].model_info", "must be a mapping"),
    ],
)
def test_config_errors_name_the_key(model_list: Any, key: str, words: str) -> None:
    err = config_error(model_list)
    assert err.key == key
    assert err.source == SOURCE
    assert words in err.problem
    assert str(err).startswith(f"{SOURCE}: {key}: ")


def test_duplicate_explicit_ids_are_an_error() -> None:
    err = config_error([{**entry(), "model_info": {"id": "x"}}, {**entry("other"), "model_info": {"id": "x"}}])
    assert err.key == "model_list[1].model_info.id"
    assert "duplicate" in err.problem


# -- router settings ----------------------------------------------------------


def test_router_settings_defaults() -> None:
    s = RouterSettings.from_config({}, {}, source=SOURCE)
    assert s == RouterSettings()
    assert (s.routing_strategy, s.num_retries, s.allowed_fails, s.cooldown_time) == ("simple-shuffle", 2, 3, 5.0)
    assert (s.enable_tag_filtering, s.tag_filtering_match_any, s.timeout) == (False, True, 600.0)
    assert (s.backoff_base, s.backoff_max, s.retry_after_cap, s.retry_after) == (0.05, 2.0, 10.0, 0.0)
    assert RouterSettings.from_config(None, None, source=SOURCE) == RouterSettings()


def test_router_settings_values_and_string_coercion() -> None:
    s = RouterSettings.from_config(
        {
            "routing_strategy": "least-busy", "num_retries": "4", "retry_after": 1, "timeout": 30,
            "stream_timeout": 60, "allowed_fails": 1, "cooldown_time": "10", "enable_tag_filtering": "true",
            "tag_filtering_match_any": False, "disable_cooldowns": "no", "backoff_base": 0.2,
        },
        {},
        source=SOURCE,
    )
    assert (s.routing_strategy, s.num_retries, s.retry_after, s.timeout, s.stream_timeout) == (
        "least-busy", 4, 1.0, 30.0, 60.0,
    )
    assert (s.allowed_fails, s.cooldown_time) == (1, 10.0)
    assert (s.enable_tag_filtering, s.tag_filtering_match_any) == (True, False)
    assert (s.disable_cooldowns, s.backoff_base) == (False, 0.2)


def test_router_settings_win_over_litellm_settings() -> None:
    both = RouterSettings.from_config(
        {"num_retries": 5, "timeout": 10, "fallbacks": [{"a": ["b"]}]},
        {"num_retries": 1, "request_timeout": 99, "fallbacks": [{"a": ["c"]}]},
        source=SOURCE,
    )
    assert (both.num_retries, both.timeout, dict(both.fallbacks)) == (5, 10.0, {"a": ("b",)})
    only_litellm = RouterSettings.from_config(
        {}, {"num_retries": 0, "request_timeout": 99, "context_window_fallbacks": [{"a": ["big"]}]}, source=SOURCE
    )
    assert (only_litellm.num_retries, only_litellm.timeout) == (0, 99.0)
    assert dict(only_litellm.context_window_fallbacks) == {"a": ("big",)}


def test_fallbacks_are_parsed_in_order_first_entry_wins() -> None:
    s = RouterSettings.from_config(
        {"fallbacks": [{"gpt-4": ["gpt-4o", "claude"]}, {"gpt-4": ["other"], "*": ["cheap"]}],
         "content_policy_fallbacks": [{"gpt-4": "safe"}]},
        {},
        source=SOURCE,
    )
    assert dict(s.fallbacks) == {"gpt-4": ("gpt-4o", "claude"), "*": ("cheap",)}
    assert dict(s.content_policy_fallbacks) == {"gpt-4": ("safe",)}


@pytest.mark.parametrize("name", ["usage-based-routing", "latency-based-routing", "usage-based-routing-v2"])
def test_unimplemented_strategies_map_to_simple_shuffle_with_a_warning(
    name: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="gatehouse.routing"):
        s = RouterSettings.from_config({"routing_strategy": name}, {}, source=SOURCE)
    assert s.routing_strategy == "simple-shuffle"
    assert sum(name in r.getMessage() for r in caplog.records) == 1


@pytest.mark.parametrize(
    ("router_settings", "litellm_settings", "key", "words"),
    [
        ({"routing_strategy": "fastest"}, {}, "router_settings.routing_strategy", "unknown strategy"),
        ({"num_retries": -1}, {}, "router_settings.num_retries", "at least 0"),
        ({"num_retries": "two"}, {}, "router_settings.num_retries", "must be an integer"),
        ({}, {"num_retries": 1.5}, "litellm_settings.num_retries", "must be an integer"),
        ({}, {"request_timeout": "soon"}, "litellm_settings.request_timeout", "must be a number"),
        ({"allowed_fails": "x"}, {}, "router_settings.allowed_fails", "must be an integer"),
        ({"enable_tag_filtering": "maybe"}, {}, "router_settings.enable_tag_filtering", "true or false"),
        ({"fallbacks": {"a": ["b"]}}, {}, "router_settings.fallbacks", "must be a list"),
        ({"fallbacks": ["a"]}, {}, "router_settings.fallbacks[0]", "must be a mapping"),
        ({"fallbacks": [{"a": [1]}]}, {}, "router_settings.fallbacks[0].a", "list of model group names"),
        ({}, {"fallbacks": [{"a": None}]}, "litellm_settings.fallbacks[0].a", "list of model group names"),
    ],
)
def test_router_settings_errors_name_the_key(
    router_settings: dict[str, Any], litellm_settings: dict[str, Any], key: str, words: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        RouterSettings.from_config(router_settings, litellm_settings, source=SOURCE)
    assert caught.value.key == key
    assert caught.value.source == SOURCE
    assert words in caught.value.problem


def test_litellm_settings_drop_params_is_every_deployments_default() -> None:
    entries = [{"model_name": "a", "litellm_params": {"model": "cohere/x"}},
               {"model_name": "b", "litellm_params": {"model": "cohere/x", "drop_params": False}}]
    plain = deployments_from_config(entries, source="t")
    dropping = deployments_from_config(entries, source="t", drop_params=True)
    assert "drop_params" not in plain[0].litellm_params
    assert dropping[0].litellm_params["drop_params"] is True and dropping[1].litellm_params["drop_params"] is False
    assert [d.id for d in plain] == [d.id for d in dropping]  # ids do not depend on the setting
    assert "drop_params" not in dropping[0].params
