"""Guardrail config entries: defaults, validation with key paths, URL building."""

from __future__ import annotations

from typing import Any

import pytest

from gatehouse.config.errors import ConfigError
from gatehouse.guardrails import build_guardrails, parse_guardrails
from gatehouse.guardrails.config import guardrail_url
from gatehouse.metrics import Metrics


def entry(**params: Any) -> dict[str, Any]:
    base = {"guardrail": "generic_guardrail_api", "mode": "pre_call", "api_base": "http://g:1"}
    base.update(params)
    return {"guardrail_name": "g", "litellm_params": base}


def parse_one(**params: Any):
    (cfg,) = parse_guardrails([entry(**params)], source="cfg.yaml")
    return cfg


def test_defaults():
    cfg = parse_one()
    assert cfg.name == "g"
    assert cfg.modes == ("pre_call",)
    assert cfg.url == "http://g:1/beta/litellm_basic_guardrail_api"
    assert cfg.api_key is None and cfg.default_on is False
    assert cfg.timeout == 5.0 and cfg.unreachable_fallback == "fail_closed"
    assert cfg.fail_on_error is True and cfg.num_retries == 0
    assert cfg.streaming_sampling_rate == 5 and cfg.streaming_end_of_stream_only is False
    assert cfg.additional_params == {} and cfg.headers == {} and cfg.extra_headers == ()


def test_all_fields():
    cfg = parse_one(
        mode=["pre_call", "post_call"],
        api_key="k",
        default_on="true",
        additional_provider_specific_params={"threshold": 0.8},
        headers={"Authorization": "Bearer x", "X-N": 3},
        timeout="2.5",
        unreachable_fallback="fail_open",
        fail_on_error=False,
        num_retries="2",
        extra_headers=["X-Tenant"],
        streaming_sampling_rate=3,
        streaming_end_of_stream_only=True,
    )
    assert cfg.modes == ("pre_call", "post_call")
    assert cfg.api_key == "k" and cfg.default_on is True
    assert cfg.additional_params == {"threshold": 0.8}
    assert cfg.headers == {"Authorization": "Bearer x", "X-N": "3"}
    assert cfg.timeout == 2.5 and cfg.unreachable_fallback == "fail_open"
    assert cfg.fail_on_error is False and cfg.num_retries == 2
    assert cfg.extra_headers == ("x-tenant",)
    assert cfg.streaming_sampling_rate == 3 and cfg.streaming_end_of_stream_only is True


def test_optional_params_streaming_knobs_win():
    cfg = parse_one(streaming_sampling_rate=3, optional_params={"streaming_sampling_rate": 7})
    assert cfg.streaming_sampling_rate == 7


@pytest.mark.parametrize(
    ("base", "url"),
    [
        ("http://h:1", "http://h:1/beta/litellm_basic_guardrail_api"),
        ("http://h:1/", "http://h:1/beta/litellm_basic_guardrail_api"),
        ("https://h/v1", "https://h/v1/beta/litellm_basic_guardrail_api"),
        ("http://h:1/beta/litellm_basic_guardrail_api", "http://h:1/beta/litellm_basic_guardrail_api"),
        ("http://h:1/beta/litellm_basic_guardrail_api/", "http://h:1/beta/litellm_basic_guardrail_api"),
    ],
)
def test_url_building(base, url):
    assert guardrail_url(base) == url
    assert parse_one(api_base=base).url == url


@pytest.mark.parametrize(
    ("params", "key", "words"),
    [
        ({"mode": "pre_mcp_call"}, "guardrails[0].litellm_params.mode", "unknown mode 'pre_mcp_call'"),
        ({"mode": ["pre_call", "bogus"]}, "guardrails[0].litellm_params.mode", "unknown mode 'bogus'"),
        ({"mode": None}, "guardrails[0].litellm_params.mode", "is required"),
        ({"mode": []}, "guardrails[0].litellm_params.mode", "is required"),
        ({"mode": {"tags": {"a": "pre_call"}}}, "guardrails[0].litellm_params.mode", "tag-dependent modes"),
        ({"guardrail": "bedrock"}, "guardrails[0].litellm_params.guardrail", "unsupported guardrail type 'bedrock'"),
        ({"api_base": None}, "guardrails[0].litellm_params.api_base", "is required"),
        ({"api_base": "guard:8080"}, "guardrails[0].litellm_params.api_base", "http://"),
        ({"api_key": 12}, "guardrails[0].litellm_params.api_key", "must be a string"),
        ({"default_on": "maybe"}, "guardrails[0].litellm_params.default_on", "true or false"),
        ({"timeout": "soon"}, "guardrails[0].litellm_params.timeout", "must be a number"),
        ({"timeout": 0}, "guardrails[0].litellm_params.timeout", "greater than 0"),
        ({"timeout": True}, "guardrails[0].litellm_params.timeout", "must be a number"),
        ({"unreachable_fallback": "open"}, "guardrails[0].litellm_params.unreachable_fallback", "fail_closed or fail_open"),
        ({"fail_on_error": 3}, "guardrails[0].litellm_params.fail_on_error", "true or false"),
        ({"num_retries": 6}, "guardrails[0].litellm_params.num_retries", "between 0 and 5"),
        ({"num_retries": 1.5}, "guardrails[0].litellm_params.num_retries", "whole number"),
        ({"extra_headers": "x-a"}, "guardrails[0].litellm_params.extra_headers", "list of header names"),
        ({"headers": ["a"]}, "guardrails[0].litellm_params.headers", "mapping"),
        ({"headers": {"a": None}}, "guardrails[0].litellm_params.headers.a", "header value"),
        ({"additional_provider_specific_params": [1]}, "guardrails[0].litellm_params.additional_provider_specific_params", "mapping"),
        ({"additional_provider_specific_params": {"x": object()}}, "guardrails[0].litellm_params.additional_provider_specific_params", "JSON"),
        ({"streaming_sampling_rate": 0}, "guardrails[0].litellm_params.streaming_sampling_rate", "at least 1"),
        ({"optional_params": {"streaming_sampling_rate": 0}}, "guardrails[0].litellm_params.optional_params.streaming_sampling_rate", "at least 1"),
        ({"streaming_end_of_stream_only": "x"}, "guardrails[0].litellm_params.streaming_end_of_stream_only", "true or false"),
    ],
)
def test_invalid_values_name_the_key(params, key, words):
    with pytest.raises(ConfigError) as info:
        parse_one(**params)
    err = info.value
    assert err.key == key and err.source == "cfg.yaml"
    assert words in err.problem
    assert str(err).startswith(f"cfg.yaml: {key}: ")


def test_entry_shape_errors():
    with pytest.raises(ConfigError, match=r"guardrails\[0\]: must be a mapping"):
        parse_guardrails(["g"], source="c")
    with pytest.raises(ConfigError, match="legacy v1"):
        parse_guardrails([{"g": {"callbacks": ["x"]}}], source="c")
    with pytest.raises(ConfigError, match=r"guardrails\[0\].guardrail_name: must be a non-empty string"):
        parse_guardrails([{"guardrail_name": "", "litellm_params": {}}], source="c")
    with pytest.raises(ConfigError, match=r"guardrails\[0\].litellm_params: must be a mapping"):
        parse_guardrails([{"guardrail_name": "g"}], source="c")
    with pytest.raises(ConfigError, match="must be a list"):
        parse_guardrails({"g": 1}, source="c")  # type: ignore[arg-type]


def test_key_prefix_and_duplicates():
    with pytest.raises(ConfigError) as info:
        parse_guardrails([entry(), entry()], source="c", key_prefix="litellm_settings.guardrails")
    assert info.value.key == "litellm_settings.guardrails[1].guardrail_name"
    assert "duplicate guardrail_name 'g'" in info.value.problem


def test_unknown_litellm_params_are_accepted_with_a_warning(caplog):
    caplog.set_level("WARNING", logger="gatehouse.guardrails")
    cfg = parse_one(forward_messages_as_sent=True)
    assert cfg.name == "g"
    assert "forward_messages_as_sent" in caplog.text


def test_build_guardrails_makes_one_plugin_per_entry_in_order():
    configs = parse_guardrails(
        [entry(), {"guardrail_name": "h", "litellm_params": entry()["litellm_params"]}], source="c"
    )
    plugins = build_guardrails(configs, metrics=Metrics())
    assert [p.guardrail_name for p in plugins] == ["g", "h"]
    with pytest.raises(ConfigError, match="duplicate"):
        build_guardrails(configs + configs[:1], metrics=Metrics())
