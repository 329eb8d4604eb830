"""The plugin's hooks, called directly with realistic ``data`` dicts, against a real fake service."""

from __future__ import annotations

import copy

import pytest

from gatehouse.errors import BadRequestError, GuardrailBlockedError
from gatehouse.guardrails import check_requested, requested
from gatehouse.views import ModelResponse

CHAT = {
    "model": "gpt-x",
    "messages": [
        {"role": "system", "content": "be nice"},
        {"role": "user", "content": [{"type": "text", "text": "my pii is 987-65-4321"},
                                     {"type": "image_url", "image_url": {"url": "https://x/y.png"}}]},
    ],
    "tools": [{"type": "function", "function": {"name": "f"}}],
}


def chat_response(text: str = "the pii answer") -> ModelResponse:
    return ModelResponse(
        {
            "id": "r1",
            "object": "chat.completion",
            "model": "gpt-4o",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        }
    )


def calls(metrics, name, mode, status) -> float:
    labels = {"guardrail": name, "mode": mode, "status": status}
    return metrics.registry.get_sample_value("gatehouse_guardrail_calls_total", labels) or 0.0


# -- body ------------------------------------------------------------------------------


async def test_pre_call_body_fields(fake_guardrail, make_guardrail, user, gr):
    plugin = await make_guardrail(
        fake_guardrail.base, additional_provider_specific_params={"threshold": 0.8}, extra_headers=["X-Tenant"]
    )
    data = gr.request_data(user, copy.deepcopy(CHAT))
    assert await plugin.async_pre_call_hook(user, None, data, "completion") is None
    body = fake_guardrail.bodies[0]
    assert body["input_type"] == "request"
    assert body["litellm_call_id"] == "call-123" and body["litellm_trace_id"] == "trace-456"
    assert body["texts"] == ["be nice", "my pii is 987-65-4321"]
    assert body["images"] == ["https://x/y.png"]
    assert body["structured_messages"] == CHAT["messages"]
    assert body["tools"] == CHAT["tools"] and body["tool_calls"] is None
    assert body["model"] == "gpt-x"
    assert body["request_data"] == {
        "user_api_key_hash": "hash-abc",
        "user_api_key_alias": "k1",
        "user_api_key_user_id": "u1",
        "user_api_key_team_id": "t1",
    }
    assert body["request_headers"] == {
        "host": "gw.local",
        "authorization": "[present]",
        "content-type": "application/json",
        "x-stainless-lang": "python",
        "x-request-id": "[present]",
        "x-litellm-api-key": "[present]",
        "x-tenant": "acme",
    }
    assert body["litellm_version"].startswith("gatehouse-")
    assert body["additional_provider_specific_params"] == {"threshold": 0.8}


# -- actions ---------------------------------------------------------------------------


async def test_none_leaves_data_unchanged_even_with_texts(fake_guardrail, make_guardrail, user, gr, metrics):
    plugin = await make_guardrail(fake_guardrail.base)
    fake_guardrail.reply(gr.Reply("NONE", texts=["x", "y"]))
    data = gr.request_data(user, copy.deepcopy(CHAT))
    await plugin.async_pre_call_hook(user, None, data, "completion")
    assert data["messages"] == CHAT["messages"]
    meta = data["metadata"]
    assert meta["applied_guardrails"] == ["g1"]
    (record,) = meta["standard_logging_guardrail_information"]
    assert record["guardrail_name"] == "g1" and record["guardrail_provider"] == "generic_guardrail_api"
    assert record["guardrail_mode"] == "pre_call" and record["guardrail_status"] == "success"
    assert record["guardrail_response"] == "allow" and record["masked_entity_count"] == 0
    assert record["end_time"] >= record["start_time"] and record["duration"] >= 0
    assert calls(metrics, "g1", "pre_call", "success") == 1


async def test_intervened_rewrites_by_position(fake_guardrail, make_guardrail, user, gr):
    plugin = await make_guardrail(fake_guardrail.base)
    fake_guardrail.reply(gr.mask("987-65-4321"))
    data = gr.request_data(user, copy.deepcopy(CHAT))
    await plugin.async_pre_call_hook(user, None, data, "completion")
    assert data["messages"][0]["content"] == "be nice"
    assert data["messages"][1]["content"][0]["text"] == "my pii is [MASKED]"
    assert data["messages"][1]["content"][1] == CHAT["messages"][1]["content"][1]
    (record,) = data["metadata"]["standard_logging_guardrail_information"]
    assert record["guardrail_status"] == "guardrail_intervened" and record["guardrail_response"] == "mask"
    assert record["masked_entity_count"] == 1
    assert "987-65-4321" not in str(record)


async def test_blocked_raises_400_with_reason_or_default(fake_guardrail, make_guardrail, user, gr, metrics):
    plugin = await make_guardrail(fake_guardrail.base)
    fake_guardrail.reply(gr.Reply("BLOCKED", blocked_reason="No PII please"), gr.Reply("BLOCKED"))
    data = gr.request_data(user, copy.deepcopy(CHAT))
    with pytest.raises(GuardrailBlockedError) as info:
        await plugin.async_pre_call_hook(user, None, data, "completion")
    assert info.value.status == 400 and info.value.message == "No PII please"
    assert info.value.guardrail_name == "g1" and info.value.error_type == "invalid_request_error"
    record = data["metadata"]["standard_logging_guardrail_information"][-1]
    assert record["guardrail_status"] == "blocked" and record["guardrail_response"] == "block"
    assert data["metadata"]["applied_guardrails"] == ["g1"]
    with pytest.raises(GuardrailBlockedError, match="^Content violates policy$"):
        await plugin.async_pre_call_hook(user, None, gr.request_data(user, CHAT), "completion")
    assert calls(metrics, "g1", "pre_call", "blocked") == 2


@pytest.mark.parametrize(
    ("call_type", "body", "field", "expected"),
    [
        ("text_completion", {"prompt": ["a pii", [1, 2]]}, "prompt", ["a [MASKED]", [1, 2]]),
        ("embeddings", {"input": "pii vec"}, "input", "[MASKED] vec"),
        ("image_generation", {"prompt": "draw pii"}, "prompt", "draw [MASKED]"),
        ("moderation", {"input": ["ok", "pii"]}, "input", ["ok", "[MASKED]"]),
    ],
)
async def test_pre_call_every_endpoint(fake_guardrail, make_guardrail, user, gr, call_type, body, field, expected):
    plugin = await make_guardrail(fake_guardrail.base)
    fake_guardrail.reply(gr.mask("pii"))
    data = gr.request_data(user, {"model": "m", **body}, call_type=call_type)
    await plugin.async_pre_call_hook(user, None, data, call_type)
    assert data[field] == expected
    assert fake_guardrail.bodies[0]["structured_messages"] is None


async def test_nothing_to_scan_is_not_run(fake_guardrail, make_guardrail, user, gr, metrics):
    plugin = await make_guardrail(fake_guardrail.base, mode=["pre_call", "post_call"])
    data = gr.request_data(user, {"model": "whisper", "file": "..."}, call_type="audio_transcription")
    await plugin.async_pre_call_hook(user, None, data, "audio_transcription")
    await plugin.async_post_call_success_hook(data, user, ModelResponse({"object": "list", "data": [{"embedding": [1.0]}]}))
    assert fake_guardrail.requests == []
    statuses = [r["guardrail_status"] for r in data["metadata"]["standard_logging_guardrail_information"]]
    assert statuses == ["not_run", "not_run"]
    assert "applied_guardrails" not in data["metadata"]
    assert calls(metrics, "g1", "pre_call", "not_run") == 1


# -- modes -----------------------------------------------------------------------------


async def test_pre_and_post_call_make_one_call_each(fake_guardrail, make_guardrail, user, gr, metrics):
    plugin = await make_guardrail(fake_guardrail.base, mode=["pre_call", "post_call"])
    data = gr.request_data(user, copy.deepcopy(CHAT))
    await plugin.async_pre_call_hook(user, None, data, "completion")
    assert plugin.async_moderation_hook is None  # not configured: not exposed, so never dispatched
    fake_guardrail.reply(gr.mask("pii"))
    response = chat_response()
    assert await plugin.async_post_call_success_hook(data, user, response) is None
    assert [b["input_type"] for b in fake_guardrail.bodies] == ["request", "response"]
    post = fake_guardrail.bodies[1]
    assert post["texts"] == ["the pii answer"] and post["model"] == "gpt-4o"
    assert post["structured_messages"] is None and post["tools"] is None
    assert response.choices[0].message.content == "the [MASKED] answer"
    assert data["metadata"]["applied_guardrails"] == ["g1"]
    modes = [r["guardrail_mode"] for r in data["metadata"]["standard_logging_guardrail_information"]]
    assert modes == ["pre_call", "post_call"]


async def test_post_call_completion_and_transcription(fake_guardrail, make_guardrail, user, gr):
    plugin = await make_guardrail(fake_guardrail.base, mode="post_call")
    fake_guardrail.default = gr.mask("pii")
    data = gr.request_data(user, {"model": "m", "prompt": "x"}, call_type="text_completion")
    completion = ModelResponse({"object": "text_completion", "choices": [{"index": 0, "text": "pii!"}]})
    await plugin.async_post_call_success_hook(data, user, completion)
    assert completion.choices[0].text == "[MASKED]!"
    data = gr.request_data(user, {"model": "whisper"}, call_type="audio_transcription")
    transcription = ModelResponse({"text": "said pii"})
    await plugin.async_post_call_success_hook(data, user, transcription)
    assert transcription["text"] == "said [MASKED]"


async def test_post_call_blocked(fake_guardrail, make_guardrail, user, gr):
    plugin = await make_guardrail(fake_guardrail.base, mode="post_call")
    fake_guardrail.reply(gr.Reply("BLOCKED", blocked_reason="bad output"))
    with pytest.raises(GuardrailBlockedError, match="bad output"):
        await plugin.async_post_call_success_hook(gr.request_data(user, CHAT), user, chat_response())


async def test_post_call_count_mismatch_names_the_response(fake_guardrail, make_guardrail, user, gr):
    plugin = await make_guardrail(fake_guardrail.base, mode="post_call")
    fake_guardrail.reply(gr.Reply("GUARDRAIL_INTERVENED", texts=[]), gr.Reply("GUARDRAIL_INTERVENED", texts=["a", "b"]))
    response = chat_response()
    await plugin.async_post_call_success_hook(gr.request_data(user, CHAT), user, response)  # [] keeps the original
    assert response.choices[0].message.content == "the pii answer"
    with pytest.raises(Exception, match="returned 2 texts for 1 inputs; the response was rejected"):
        await plugin.async_post_call_success_hook(gr.request_data(user, CHAT), user, response)
    assert response.choices[0].message.content == "the pii answer"


async def test_during_call_blocks_but_never_rewrites(fake_guardrail, make_guardrail, user, gr):
    plugin = await make_guardrail(fake_guardrail.base, mode="during_call")
    data = gr.request_data(user, copy.deepcopy(CHAT))
    assert plugin.async_pre_call_hook is None  # not configured: not exposed
    fake_guardrail.reply(gr.mask("987-65-4321"), gr.Reply("BLOCKED", blocked_reason="stop"))
    await plugin.async_moderation_hook(data, user, "completion")
    assert data["messages"] == CHAT["messages"]
    record = data["metadata"]["standard_logging_guardrail_information"][-1]
    assert record["guardrail_mode"] == "during_call" and record["guardrail_response"] == "mask_not_applied"
    with pytest.raises(GuardrailBlockedError, match="stop"):
        await plugin.async_moderation_hook(data, user, "completion")


async def test_logging_only_records_and_never_blocks(fake_guardrail, make_guardrail, user, gr):
    plugin = await make_guardrail(fake_guardrail.base, mode="logging_only")
    data = gr.request_data(user, copy.deepcopy(CHAT))
    assert plugin.async_pre_call_hook is None and plugin.async_post_call_success_hook is None
    fake_guardrail.reply(gr.Reply("BLOCKED", blocked_reason="x"), gr.Reply(status=500))
    response = chat_response()
    await plugin.async_log_success_event(data, response, 0.0, 1.0)
    assert [b["input_type"] for b in fake_guardrail.bodies] == ["request", "response"]
    records = data["metadata"]["standard_logging_guardrail_information"]
    assert [(r["guardrail_mode"], r["guardrail_status"]) for r in records] == [
        ("logging_only", "blocked"),
        ("logging_only", "guardrail_failed_to_respond"),
    ]
    assert data["messages"] == CHAT["messages"]


async def test_logging_only_reads_litellm_style_kwargs(fake_guardrail, make_guardrail, user, gr):
    plugin = await make_guardrail(fake_guardrail.base, mode="logging_only")
    data = gr.request_data(user, copy.deepcopy(CHAT))
    metadata = data.pop("metadata")
    kwargs = {**data, "litellm_params": {"metadata": metadata}}
    await plugin.async_log_success_event(kwargs, None, 0.0, 1.0)
    assert fake_guardrail.bodies[0]["texts"] == ["be nice", "my pii is 987-65-4321"]
    assert metadata["standard_logging_guardrail_information"][0]["guardrail_status"] == "success"


# -- selection -------------------------------------------------------------------------


async def test_non_default_guardrail_runs_only_when_named(fake_guardrail, make_guardrail, user, gr):
    plugin = await make_guardrail(fake_guardrail.base, default_on=False)
    await plugin.async_pre_call_hook(user, None, gr.request_data(user, CHAT), "completion")
    assert fake_guardrail.requests == []
    await plugin.async_pre_call_hook(user, None, gr.request_data(user, {**CHAT, "guardrails": ["g1"]}), "completion")
    await plugin.async_pre_call_hook(
        user, None, gr.request_data(user, {**CHAT, "metadata": {"guardrails": ["g1"]}}), "completion"
    )
    await plugin.async_pre_call_hook(user, None, gr.request_data(user, {**CHAT, "guardrails": ["other"]}), "completion")
    assert len(fake_guardrail.requests) == 2


async def test_extra_body_adds_to_the_params_of_that_call_never_overrides(fake_guardrail, make_guardrail, user, gr):
    plugin = await make_guardrail(
        fake_guardrail.base, default_on=False, additional_provider_specific_params={"a": 1, "b": 2}
    )
    body = {**CHAT, "guardrails": [{"g1": {"extra_body": {"b": 3, "c": 4}}}]}
    await plugin.async_pre_call_hook(user, None, gr.request_data(user, body), "completion")
    await plugin.async_pre_call_hook(user, None, gr.request_data(user, {**CHAT, "guardrails": ["g1"]}), "completion")
    params = [b["additional_provider_specific_params"] for b in fake_guardrail.bodies]
    assert params == [{"a": 1, "b": 2, "c": 4}, {"a": 1, "b": 2}]  # the admin's b stays


async def test_allowed_request_params_are_the_only_keys_a_request_sets(fake_guardrail, make_guardrail, user, gr):
    plugin = await make_guardrail(fake_guardrail.base, default_on=False, allowed_request_params=["b"],
                                  additional_provider_specific_params={"a": 1, "b": 2})
    body = {**CHAT, "guardrails": [{"g1": {"extra_body": {"a": 9, "b": 3, "c": 4}}}]}
    await plugin.async_pre_call_hook(user, None, gr.request_data(user, body), "completion")
    assert fake_guardrail.bodies[0]["additional_provider_specific_params"] == {"a": 1, "b": 3}


async def test_default_on_runs_without_being_named(fake_guardrail, make_guardrail, user, gr):
    plugin = await make_guardrail(fake_guardrail.base, default_on=True)
    body = {**CHAT, "guardrails": ["other"], "metadata": {"disable_global_guardrails": True}}
    await plugin.async_pre_call_hook(user, None, gr.request_data(user, body), "completion")
    assert len(fake_guardrail.requests) == 1


def test_requested_and_check_requested():
    data = {
        "guardrails": ["a", {"b": {"extra_body": {"k": 1}}}, {"c": None}],
        "metadata": {"guardrails": ["d"]},
        "litellm_metadata": {"guardrails": [{"e": {}}]},
    }
    assert requested(data) == {"a": {}, "b": {"k": 1}, "c": {}, "d": {}, "e": {}}
    assert requested({"model": "m"}) == {}
    check_requested(data, {"a", "b", "c", "d", "e", "z"})
    with pytest.raises(BadRequestError) as info:
        check_requested({"guardrails": ["a", "x"]}, {"b", "a"})
    assert info.value.status == 400
    assert info.value.message == "Unknown guardrail 'x'. Configured guardrails: a, b"
    with pytest.raises(BadRequestError, match=r"Configured guardrails: \(none\)"):
        check_requested({"guardrails": ["x"]}, set())


@pytest.mark.parametrize(
    ("data", "words"),
    [
        ({"guardrails": "a"}, "`guardrails` must be a list"),
        ({"guardrails": [1]}, "`guardrails[0]` must be a guardrail name or an object"),
        ({"metadata": {"guardrails": {"a": 1}}}, "`metadata.guardrails.a` must be an object"),
        ({"metadata": {"guardrails": 7}}, "`metadata.guardrails` must be a list"),
        ({"guardrails": [{"a": 1}]}, "`guardrails[0].a` must be an object"),
        ({"guardrails": [{"a": {"extra_body": [1]}}]}, "`guardrails[0].a.extra_body` must be an object"),
    ],
)
def test_malformed_guardrails_are_400(data, words):
    with pytest.raises(BadRequestError) as info:
        check_requested(data, {"a"})
    assert info.value.status == 400 and words in info.value.message


async def test_applied_guardrails_once_per_name_and_kept_list(fake_guardrail, make_guardrail, user, gr):
    plugin = await make_guardrail(fake_guardrail.base, mode=["pre_call", "post_call"])
    data = gr.request_data(user, {**CHAT, "metadata": {"applied_guardrails": ["earlier"]}})
    await plugin.async_pre_call_hook(user, None, data, "completion")
    await plugin.async_post_call_success_hook(data, user, chat_response())
    assert data["metadata"]["applied_guardrails"] == ["earlier", "g1"]
