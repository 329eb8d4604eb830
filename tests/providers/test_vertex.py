"""``vertex_ai/`` deployments end to end: Google credentials through google-auth against the fake's
token endpoint (real JWT-bearer assertions, signatures checked), Gemini and Claude on Vertex."""

from __future__ import annotations

import json
from typing import Any, Callable, Iterator

import openai
import pytest

from gatehouse.testing import GatewayProcess, ServerStartError
from gatehouse.testing.fake_gemini import FakeGemini, error_body, vertex_model

TOOLS = [{"type": "function", "function": {"name": "get_weather", "parameters": {
    "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeGemini]:
    server = FakeGemini()
    server.start_in_thread()
    yield server
    server.stop_thread()


@pytest.fixture(autouse=True)
def _clean(fake: FakeGemini) -> None:
    fake.reset()


@pytest.fixture(scope="module")
def accounts(fake: FakeGemini) -> dict[str, dict[str, Any]]:
    return {name: fake.service_account(project) for name, project in
            (("file", "sa-project"), ("inline", "inline-project"), ("adc", "adc-project"))}


@pytest.fixture(scope="module")
def gw(gateway: Callable[..., GatewayProcess], fake: FakeGemini, accounts: dict[str, dict[str, Any]]) -> GatewayProcess:
    url = fake.url
    config = {"model_list": [
        vertex_model(url, "sa.json", name="vertex"),
        vertex_model(url, json.dumps(accounts["inline"]), name="vertex-inline", project=None, location="europe-west4"),
        vertex_model(url, None, name="vertex-adc", project=None, location=None),
        vertex_model(url + "/v1/projects/custom-p/locations/us-east5", "sa.json", name="vertex-base",
                     model="gemini-2.0-flash"),
        vertex_model(url, "sa.json", name="claude-vertex", model="claude-sonnet-4-5@20250929", location="us-east5"),
    ]}
    files = {"sa.json": json.dumps(accounts["file"]), "adc.json": json.dumps(accounts["adc"])}
    env = {"GOOGLE_APPLICATION_CREDENTIALS": "adc.json", "VERTEXAI_LOCATION": "asia-northeast1"}
    return gateway(config, env=env, files=files)


@pytest.fixture
def client(gw: GatewayProcess, openai_client: Callable[..., openai.OpenAI]) -> openai.OpenAI:
    return openai_client(gw)


def chat(client: openai.OpenAI, model: str, **extra: Any) -> Any:
    return client.chat.completions.create(model=model, messages=[{"role": "user", "content": "hi"}], **extra)


def test_service_account_file(client: openai.OpenAI, fake: FakeGemini) -> None:
    assert chat(client, "vertex").choices[0].message.content == "Hello! You said: hi"
    call = fake.calls("generateContent")[-1]
    assert call.path == ("/v1/projects/fake-project/locations/us-central1/publishers/google/models/"
                         "gemini-2.5-flash:generateContent")
    token = call.headers["Authorization"].removeprefix("Bearer ")
    assert token in fake.issued and "x-goog-api-key" not in call.headers


def test_inline_json_credentials_and_their_project(client: openai.OpenAI, fake: FakeGemini) -> None:
    chat(client, "vertex-inline")
    assert "/projects/inline-project/locations/europe-west4/" in fake.calls()[-1].path


def test_application_default_credentials_and_env_location(client: openai.OpenAI, fake: FakeGemini) -> None:
    chat(client, "vertex-adc")
    assert "/projects/adc-project/locations/asia-northeast1/" in fake.calls()[-1].path


def test_api_base_naming_project_and_location(client: openai.OpenAI, fake: FakeGemini) -> None:
    chat(client, "vertex-base")
    assert fake.calls()[-1].path == ("/v1/projects/custom-p/locations/us-east5/publishers/google/models/"
                                     "gemini-2.0-flash:generateContent")


def test_stream(client: openai.OpenAI, fake: FakeGemini) -> None:
    chunks = list(chat(client, "vertex", stream=True, stream_options={"include_usage": True}))
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "Hello! You said: hi"
    assert chunks[-1].usage.prompt_tokens == 1
    call = fake.calls("streamGenerateContent")[-1]
    assert call.query == {"alt": "sse"} and call.headers["Authorization"].startswith("Bearer ya29.fake-")


def test_vertex_errors(client: openai.OpenAI, fake: FakeGemini) -> None:
    fake.set_default(status=429, error=error_body(429, "Quota exceeded for aiplatform.googleapis.com",
                                                  "RESOURCE_EXHAUSTED")["error"], headers={"Retry-After": "0"})
    with pytest.raises(openai.RateLimitError) as caught:
        chat(client, "vertex")
    assert caught.value.body["message"].startswith("vertex_ai: Quota exceeded")


def test_claude_on_vertex(client: openai.OpenAI, fake: FakeGemini) -> None:
    answer = client.chat.completions.create(model="claude-vertex", max_tokens=200, messages=[
        {"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hello Claude"}])
    assert answer.choices[0].message.content == "Hello! You said: Hello Claude"
    assert answer.choices[0].finish_reason == "stop"
    call = fake.calls("rawPredict")[-1]
    assert call.path == ("/v1/projects/fake-project/locations/us-east5/publishers/anthropic/models/"
                         "claude-sonnet-4-5@20250929:rawPredict")
    assert call.json["anthropic_version"] == "vertex-2023-10-16" and "model" not in call.json
    assert call.json["max_tokens"] == 200 and call.json["system"] == [{"type": "text", "text": "Be brief."}]
    assert call.headers["Authorization"].removeprefix("Bearer ") in fake.issued


def test_claude_on_vertex_stream_and_tools(client: openai.OpenAI, fake: FakeGemini) -> None:
    fake.queue_claude(tool_uses=[{"name": "get_weather", "input": {"city": "Rome"}}])
    chunks = list(client.chat.completions.create(model="claude-vertex", tools=TOOLS, stream=True,
                                                 messages=[{"role": "user", "content": "Weather in Rome?"}]))
    calls = [tc for c in chunks if c.choices for tc in (c.choices[0].delta.tool_calls or [])]
    assert calls[0].function.name == "get_weather"
    assert json.loads("".join(tc.function.arguments or "" for tc in calls)) == {"city": "Rome"}
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == ["tool_calls"]
    call = fake.calls("streamRawPredict")[-1]
    assert call.json["stream"] is True and call.json["tools"][0]["name"] == "get_weather"


def test_claude_on_vertex_overloaded(client: openai.OpenAI, fake: FakeGemini) -> None:
    for _ in range(3):
        fake.queue_claude(status=529, error_type="overloaded_error", error_message="Overloaded")
    with pytest.raises(openai.InternalServerError) as caught:
        chat(client, "claude-vertex")
    assert caught.value.status_code == 503 and len(fake.calls("rawPredict")) == 3


def test_no_token_or_key_in_logs(client: openai.OpenAI, gw: GatewayProcess, fake: FakeGemini,
                                 accounts: dict[str, dict[str, Any]]) -> None:
    chat(client, "vertex")
    logs = gw.logs()
    assert not any(token in logs for token in fake.issued)
    assert not any(a["private_key"].splitlines()[1] in logs for a in accounts.values())


def test_background_refresh_before_expiry(gateway: Callable[..., GatewayProcess],
                                          openai_client: Callable[..., openai.OpenAI]) -> None:
    short = FakeGemini(token_lifetime=302)  # refreshed 5 minutes before expiry: every ~2 s
    short.start_in_thread()
    try:
        gw = gateway({"model_list": [vertex_model(short.url, "sa.json", name="v")]},
                     files={"sa.json": json.dumps(short.service_account())})
        client = openai_client(gw)
        chat(client, "v")
        first = short.calls()[-1].headers["Authorization"]
        assert short.wait_until(lambda: short.token_requests >= 3, timeout=30)
        chat(client, "v")
        latest = short.calls()[-1].headers["Authorization"]
        assert latest != first and latest.removeprefix("Bearer ") in short.issued
    finally:
        short.stop_thread()


def test_refused_credentials_are_401(gateway: Callable[..., GatewayProcess], fake: FakeGemini,
                                     openai_client: Callable[..., openai.OpenAI]) -> None:
    stranger = FakeGemini()  # its key pair is unknown to `fake`, whose token endpoint then refuses the assertion
    stranger.start_in_thread()
    try:
        foreign = {**stranger.service_account(), "token_uri": f"{fake.url}/token"}
    finally:
        stranger.stop_thread()
    gw = gateway({"model_list": [vertex_model(fake.url, "sa.json", name="v")]}, files={"sa.json": json.dumps(foreign)})
    with pytest.raises(openai.AuthenticationError) as caught:
        chat(openai_client(gw), "v")
    assert "refused the credentials" in caught.value.body["message"]
    assert fake.calls() == []


@pytest.mark.parametrize(("entry", "env", "files", "needles"), [
    ({"vertex_credentials": None, "vertex_project": "p"}, {"GOOGLE_APPLICATION_CREDENTIALS": "missing.json"}, {},
     ["no usable Google credentials", "GOOGLE_APPLICATION_CREDENTIALS"]),
    ({"vertex_credentials": "nowhere.json"}, {}, {}, ["vertex_credentials", "neither a readable file nor"]),
    ({"vertex_credentials": "sa.json", "vertex_project": None}, {"VERTEXAI_PROJECT": ""}, {"sa.json": "no-project"},
     ["vertex_project", "VERTEXAI_PROJECT"]),
    ({"vertex_credentials": "sa.json"}, {}, {"sa.json": "hidden", "google/auth/__init__.py": "raise ImportError"},
     ["pip install 'gatehouse[vertex]'"]),
])
def test_start_up_problems_name_the_setting(fake: FakeGemini, entry: dict[str, Any], env: dict[str, str],
                                            files: dict[str, str], needles: list[str]) -> None:
    account = fake.service_account()
    account.pop("project_id")
    texts = {name: json.dumps(account) if text in ("no-project", "hidden") else text for name, text in files.items()}
    model = vertex_model(fake.url, None, name="broken", project="p")
    model["litellm_params"].update({k: v for k, v in entry.items() if v is not None})
    for key in [k for k, v in entry.items() if v is None]:
        model["litellm_params"].pop(key, None)
    with pytest.raises(ServerStartError) as caught:
        GatewayProcess({"model_list": [model]}, env=env, files=texts).start()
    text = str(caught.value)
    assert "deployment 'broken'" in text and all(n in text for n in needles), text
