"""Which guardrails run for a request: `guardrails` in the body, metadata, default_on.

docs/guardrails.md *Selection*; checklist items 88–91 (Gatehouse: extra_body is forwarded,
unknown names are a 400).
"""

from __future__ import annotations

import openai
import pytest

CONFIG_PARAMS = {"threshold": 0.8, "lang": "en"}
HELLO = [{"role": "user", "content": "hello"}]


def _chat(gw, extra_body=None, **kw):
    return gw.client().chat.completions.create(model="fake", messages=HELLO, extra_body=extra_body, **kw)


def _called(gw) -> dict[str, int]:
    return {name: guard.count for name, guard in gw.guards.items() if guard.count}


def test_named_in_the_body_runs_only_that_guardrail(main):
    _chat(main, {"guardrails": ["pre"]})
    assert _called(main) == {"pre": 1}


def test_not_named_means_not_run(main):
    completion = _chat(main)
    assert completion.choices[0].message.content == "Hello! You said: hello"
    assert _called(main) == {}


def test_extra_body_is_added_to_the_params_of_that_call_only(main):
    _chat(main, {"guardrails": [{"pre": {"extra_body": {"k": 1, "threshold": 0.8}}}]})  # the admin's value: no change
    _chat(main, {"guardrails": ["pre"]})
    first, second = main.guards["pre"].bodies
    assert first["additional_provider_specific_params"] == {"threshold": 0.8, "lang": "en", "k": 1}
    assert second["additional_provider_specific_params"] == CONFIG_PARAMS


def test_the_dict_form_names_guardrails(main):
    """LiteLLM's documented type also accepts {"<name>": {"extra_body": {...}}} (a 400 before)."""
    _chat(main, {"guardrails": {"pre": {"extra_body": {"k": 2}}}})
    assert _called(main) == {"pre": 1}
    assert main.guards["pre"].bodies[0]["additional_provider_specific_params"] == {**CONFIG_PARAMS, "k": 2}


def test_mixed_names_and_objects(main):
    _chat(main, {"guardrails": ["pre2", {"pre": {"extra_body": {"k": 2}}}, {"both": {}}]})
    assert _called(main) == {"pre": 1, "pre2": 1, "both": 2}
    assert main.guards["pre"].bodies[0]["additional_provider_specific_params"] == {**CONFIG_PARAMS, "k": 2}
    assert main.guards["pre2"].bodies[0]["additional_provider_specific_params"] == {}


@pytest.mark.parametrize("holder", ["metadata", "litellm_metadata"])
def test_named_inside_metadata(main, holder):
    _chat(main, {holder: {"guardrails": [{"pre": {"extra_body": {"k": 3}}}]}})
    assert _called(main) == {"pre": 1}
    assert main.guards["pre"].bodies[0]["additional_provider_specific_params"] == {**CONFIG_PARAMS, "k": 3}


def test_unknown_name_is_a_400_and_nothing_runs(always):
    with pytest.raises(openai.BadRequestError) as info:
        _chat(always, {"guardrails": ["nope"]})
    assert info.value.body["message"] == "Unknown guardrail 'nope'. Configured guardrails: always, named"
    assert info.value.body["param"] == "guardrails"
    assert _called(always) == {}
    assert always.upstream.requests == []


def test_unknown_name_in_metadata_is_a_400(main):
    with pytest.raises(openai.BadRequestError) as info:
        _chat(main, {"metadata": {"guardrails": ["pre", "nope"]}})
    assert info.value.body["message"].startswith("Unknown guardrail 'nope'. Configured guardrails: ")
    assert _called(main) == {}


@pytest.mark.parametrize("value, fragment", [
    ("pre", "guardrails"),
    ([7], "guardrails[0]"),
    ([{"pre": {"extra_body": 5}}], "guardrails[0].pre.extra_body"),
    ([{"pre": "x"}], "guardrails[0].pre"),
])
def test_malformed_guardrails_value_is_a_400_naming_the_field(main, value, fragment):
    response = main.post("/v1/chat/completions", {"model": "fake", "messages": HELLO, "guardrails": value})
    assert response.status_code == 400, response.text
    assert fragment in response.json()["error"]["message"]
    assert _called(main) == {}
    assert main.upstream.requests == []


def test_default_on_runs_on_every_request_without_being_named(always):
    for _ in range(2):
        _chat(always)
    assert [b["input_type"] for b in always.guards["always"].bodies] == ["request", "response"] * 2
    assert always.guards["named"].count == 0


def test_default_on_cannot_be_switched_off_by_the_request(always):
    _chat(always, {"metadata": {"disable_global_guardrails": True}, "guardrails": []})
    assert always.guards["always"].count == 2


def test_non_default_runs_when_named_next_to_default_on(always):
    raw = always.client().chat.completions.with_raw_response.create(
        model="fake", messages=HELLO, extra_body={"guardrails": ["named"]})
    assert raw.headers["x-litellm-applied-guardrails"] == "always,named"
    assert always.guards["named"].count == 1
    assert always.guards["always"].count == 2


def _key(gw, **metadata) -> str:
    response = gw.post("/key/generate", {"metadata": metadata})
    assert response.status_code == 200, response.text
    return response.json()["key"]


def test_a_key_can_be_opted_out_of_default_on_guardrails(always):
    """Admin metadata on the key (`disable_global_guardrails`) skips default_on guardrails for it."""
    key = _key(always, disable_global_guardrails=True)
    always.client(api_key=key).chat.completions.create(model="fake", messages=[{"role": "user", "content": "hi"}])
    assert always.guards["always"].count == 0
    always.client().chat.completions.create(model="fake", messages=[{"role": "user", "content": "hi"}])
    assert always.guards["always"].count == 2  # the master key still runs it (request and response)


def test_a_key_can_opt_out_of_one_guardrail_by_name(always):
    key = _key(always, opted_out_global_guardrails=["always"])
    always.client(api_key=key).chat.completions.create(model="fake", messages=[{"role": "user", "content": "hi"}])
    assert always.guards["always"].count == 0


def test_a_client_cannot_opt_itself_out(always):
    always.client().chat.completions.create(
        model="fake", messages=[{"role": "user", "content": "hi"}],
        extra_body={"metadata": {"disable_global_guardrails": True,
                                 "user_api_key_metadata": {"disable_global_guardrails": True}}})
    assert always.guards["always"].count == 2
