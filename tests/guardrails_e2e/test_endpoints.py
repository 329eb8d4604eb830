"""Every endpoint, both directions: what is sent, and where a rewrite lands.

docs/guardrails.md *What is checked, per endpoint*; checklist items 64, 65, 67, 71, 73–75
(where Gatehouse deliberately differs: image prompts rewritten, moderations checked).
"""

from __future__ import annotations

import openai
import pytest

from gatehouse.testing.fake_guardrail import Reply, mask

PRE = {"guardrails": ["pre"]}
POST = {"guardrails": ["post"]}


def _upstream_body(main) -> dict:
    (request,) = main.upstream.requests
    return request.json


# -- chat --------------------------------------------------------------------------


def test_chat_string_contents_of_every_role_are_checked_and_rewritten_by_position(main):
    messages = [
        {"role": "system", "content": "system secret"},
        {"role": "user", "content": "first secret"},
        {"role": "assistant", "content": "no problem"},
        {"role": "user", "content": "last secret"},
    ]
    main.guards["pre"].default = mask("secret", "[S]")
    completion = main.client().chat.completions.create(model="fake", messages=messages, extra_body=PRE)
    (body,) = main.guards["pre"].bodies
    assert body["texts"] == ["system secret", "first secret", "no problem", "last secret"]
    assert [m["content"] for m in _upstream_body(main)["messages"]] == [
        "system [S]", "first [S]", "no problem", "last [S]"]
    assert completion.choices[0].message.content == "Hello! You said: last [S]"


def test_chat_text_parts_and_images_are_rewritten_by_position(main):
    messages = [
        {"role": "system", "content": [{"type": "text", "text": "be brief"}]},
        {"role": "user", "content": [
            {"type": "text", "text": "look at"},
            {"type": "image_url", "image_url": {"url": "https://img.example/1.png", "detail": "low"}},
            {"type": "text", "text": "and"},
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
        ]},
    ]
    main.guards["pre"].reply(Reply("GUARDRAIL_INTERVENED", texts=["be brief", "LOOK AT", "and"],
                                   images=["https://img.example/blurred.png", "data:image/png;base64,AAAA"]))
    main.client().chat.completions.create(model="fake", messages=messages, extra_body=PRE)
    (body,) = main.guards["pre"].bodies
    assert body["texts"] == ["be brief", "look at", "and"]
    assert body["images"] == ["https://img.example/1.png", "data:image/png;base64,AAAA"]
    sent = _upstream_body(main)["messages"]
    assert sent[0] == messages[0]
    assert sent[1]["content"] == [
        {"type": "text", "text": "LOOK AT"},
        {"type": "image_url", "image_url": {"url": "https://img.example/blurred.png", "detail": "low"}},
        {"type": "text", "text": "and"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
    ]


def test_chat_with_only_images_is_checked(main):
    messages = [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "https://img.example/x.png"}}]}]
    main.guards["pre"].reply(Reply("BLOCKED", blocked_reason="no pictures"))
    with pytest.raises(openai.BadRequestError) as info:
        main.client().chat.completions.create(model="fake", messages=messages, extra_body=PRE)
    assert info.value.body["message"] == "no pictures"
    (body,) = main.guards["pre"].bodies
    assert body["texts"] == [] and body["images"] == ["https://img.example/x.png"]
    assert main.upstream.requests == []


def test_chat_response_choice_is_checked_and_rewritten(main):
    main.upstream.queue(content="your secret is 42")
    main.guards["post"].default = mask("secret")
    completion = main.client().chat.completions.create(
        model="fake", messages=[{"role": "user", "content": "hi"}], extra_body=POST)
    assert completion.choices[0].message.content == "your [MASKED] is 42"
    (body,) = main.guards["post"].bodies
    assert body["input_type"] == "response" and body["texts"] == ["your secret is 42"]


# -- completions -------------------------------------------------------------------


def test_completion_prompt_string_is_rewritten_before_the_call(main):
    main.guards["pre"].default = mask("secret")
    completion = main.client().completions.create(model="fake", prompt="tell secret", extra_body=PRE)
    assert main.guards["pre"].bodies[0]["texts"] == ["tell secret"]
    assert _upstream_body(main)["prompt"] == "tell [MASKED]"
    assert completion.choices[0].text == "Hello! You said: tell [MASKED]"


def test_completion_prompt_list_skips_token_lists(main):
    main.guards["pre"].default = mask("secret")
    main.client().completions.create(model="fake", prompt=["a secret", "b"], extra_body=PRE)
    assert main.guards["pre"].bodies[0]["texts"] == ["a secret", "b"]
    assert _upstream_body(main)["prompt"] == ["a [MASKED]", "b"]


def test_completion_response_texts_are_checked_and_rewritten(main):
    main.upstream.queue(content="the secret answer")
    main.guards["post"].default = mask("secret")
    completion = main.client().completions.create(model="fake", prompt="q", extra_body=POST)
    assert main.guards["post"].bodies[0]["texts"] == ["the secret answer"]
    assert main.guards["post"].bodies[0]["input_type"] == "response"
    assert completion.choices[0].text == "the [MASKED] answer"


# -- embeddings --------------------------------------------------------------------


def test_embeddings_string_input(main):
    main.guards["pre"].default = mask("secret")
    main.client().embeddings.create(model="fake", input="a secret", extra_body=PRE)
    assert main.guards["pre"].bodies[0]["texts"] == ["a secret"]
    assert _upstream_body(main)["input"] == "a [MASKED]"


def test_embeddings_list_input(main):
    main.guards["pre"].default = mask("secret")
    result = main.client().embeddings.create(model="fake", input=["a x", "b secret"], extra_body=PRE)
    assert len(result.data) == 2
    assert main.guards["pre"].bodies[0]["texts"] == ["a x", "b secret"]
    assert _upstream_body(main)["input"] == ["a x", "b [MASKED]"]


def test_nothing_to_scan_does_not_call_the_service(main):
    """Token-id input: no text, no image: the service is not called (record: not_run)."""
    response = main.post("/v1/embeddings", {"model": "fake", "input": [[1, 2, 3]], "guardrails": ["pre"],
                                            "include_guardrail_response": True, "encoding_format": "float"})
    assert response.status_code == 200, response.text
    assert main.guards["pre"].requests == []
    assert len(main.upstream.requests) == 1
    (record,) = response.json()["guardrail_information"]
    assert record["guardrail_name"] == "pre" and record["guardrail_status"] == "not_run"
    assert "x-litellm-applied-guardrails" not in response.headers


# -- images ------------------------------------------------------------------------


def test_image_prompt_rewrite_reaches_the_upstream(main):
    main.guards["pre"].default = mask("Jane Doe", "a person")
    main.client().images.generate(model="fake", prompt="portrait of Jane Doe", extra_body=PRE)
    assert main.guards["pre"].bodies[0]["texts"] == ["portrait of Jane Doe"]
    assert _upstream_body(main)["prompt"] == "portrait of a person"


def test_image_prompt_block(main):
    main.guards["pre"].reply(Reply("BLOCKED", blocked_reason="no portraits"))
    with pytest.raises(openai.BadRequestError) as info:
        main.client().images.generate(model="fake", prompt="portrait", extra_body=PRE)
    assert info.value.body["message"] == "no portraits"
    assert main.upstream.requests == []


# -- moderations -------------------------------------------------------------------


def test_moderation_input_is_checked(main):
    main.guards["pre"].default = mask("secret")
    result = main.client().moderations.create(model="fake", input=["one secret", "two"], extra_body=PRE)
    assert len(result.results) == 2
    assert main.guards["pre"].bodies[0]["texts"] == ["one secret", "two"]
    assert _upstream_body(main)["input"] == ["one [MASKED]", "two"]


def test_moderation_block_stops_it(main):
    main.guards["pre"].reply(Reply("BLOCKED", blocked_reason="not even moderations"))
    with pytest.raises(openai.BadRequestError) as info:
        main.client().moderations.create(model="fake", input="BLOCKME", extra_body=PRE)
    assert info.value.body["message"] == "not even moderations"
    assert main.upstream.requests == []


# -- transcriptions ----------------------------------------------------------------


def test_transcription_response_text_is_checked_and_rewritten(main):
    """Multipart upload; `guardrails` as a form field holding a JSON list."""
    main.upstream.queue(content="call me at the secret number")
    main.guards["post"].default = mask("secret")
    result = main.client().audio.transcriptions.create(
        model="fake", file=("speech.wav", b"RIFF0000WAVEfmt " + b"\0" * 64, "audio/wav"),
        extra_body={"guardrails": '["post"]'})
    assert result.text == "call me at the [MASKED] number"
    (body,) = main.guards["post"].bodies
    assert body["input_type"] == "response" and body["texts"] == ["call me at the secret number"]
    assert main.upstream.requests[0].form["file"]["filename"] == "speech.wav"


def test_transcription_request_side_has_nothing_to_check(main):
    result = main.client().audio.transcriptions.create(
        model="fake", file=("speech.wav", b"RIFF", "audio/wav"), extra_body={"guardrails": '["pre"]'})
    assert result.text.startswith("transcribed speech.wav")
    assert main.guards["pre"].requests == []


def test_transcription_guardrails_list_sent_the_sdk_way(main):
    main.upstream.queue(content="call me at the secret number")
    main.guards["post"].default = mask("secret")
    result = main.client().audio.transcriptions.create(
        model="fake", file=("speech.wav", b"RIFF", "audio/wav"), extra_body={"guardrails": ["post"]})
    assert result.text == "call me at the [MASKED] number"
