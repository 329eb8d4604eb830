"""The fake Gemini server speaks Google's wire format: the official ``google-genai`` SDK parses it.

AI Studio (API key) and Vertex AI (a service account whose token endpoint is
the fake: google-auth signs a real JWT assertion, the fake verifies it) are
both driven through the SDK: text, streaming, function calling, embeddings.
"""

from __future__ import annotations

from typing import Iterator

import pytest
from google import genai
from google.genai import errors as genai_errors
from google.genai import types
from google.oauth2 import service_account

from gatehouse.testing.fake_gemini import FakeGemini

KEY = "AIza-fake-key"


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeGemini]:
    server = FakeGemini(api_key=KEY)
    server.start_in_thread()
    yield server
    server.stop_thread()


@pytest.fixture(autouse=True)
def _clean(fake: FakeGemini) -> None:
    fake.reset()


_clients: list[genai.Client] = []


def studio(fake: FakeGemini, key: str = KEY) -> genai.Client:
    """An SDK client on the fake (kept alive: a collected client closes its connection pool)."""
    client = genai.Client(api_key=key, http_options={"base_url": fake.url})
    _clients.append(client)
    return client


def test_text(fake: FakeGemini) -> None:
    response = studio(fake).models.generate_content(model="gemini-2.5-flash", contents="Hi there")
    assert response.text == "Hello! You said: Hi there"
    assert response.candidates[0].finish_reason == types.FinishReason.STOP
    assert response.usage_metadata.prompt_token_count == 2
    sent = fake.calls("generateContent")[0]
    assert sent.route["version"] in ("v1", "v1beta") and sent.route["model"] == "gemini-2.5-flash"
    assert sent.headers["x-goog-api-key"] == KEY
    assert sent.json["contents"] == [{"role": "user", "parts": [{"text": "Hi there"}]}]


def test_stream(fake: FakeGemini) -> None:
    fake.queue(chunks=["One ", "two ", "three"])
    pieces = list(studio(fake).models.generate_content_stream(model="gemini-2.5-flash", contents="count"))
    assert [p.text for p in pieces] == ["One ", "two ", "three"]
    assert pieces[-1].candidates[0].finish_reason == types.FinishReason.STOP
    assert fake.calls("streamGenerateContent")[0].query == {"alt": "sse"}


def test_function_calls(fake: FakeGemini) -> None:
    fake.queue(function_calls=[{"name": "get_weather", "args": {"city": "Paris"}},
                               {"name": "get_time", "args": {"zone": "CET"}}])
    tool = types.Tool(function_declarations=[types.FunctionDeclaration(
        name="get_weather", description="Weather", parameters={"type": "OBJECT", "properties": {"city": {"type": "STRING"}}})])
    response = studio(fake).models.generate_content(
        model="gemini-2.5-flash", contents="Weather in Paris?", config=types.GenerateContentConfig(tools=[tool]))
    calls = response.function_calls
    assert [(c.name, c.args) for c in calls] == [("get_weather", {"city": "Paris"}), ("get_time", {"zone": "CET"})]
    assert fake.calls()[0].json["tools"][0]["functionDeclarations"][0]["name"] == "get_weather"


def test_streamed_function_call_and_thoughts(fake: FakeGemini) -> None:
    fake.queue(thoughts="Let me think", function_calls=[{"name": "lookup", "args": {"q": "x"},
                                                          "thoughtSignature": "c2lnbmF0dXJl"}])
    pieces = list(studio(fake).models.generate_content_stream(model="gemini-2.5-flash", contents="go"))
    parts = [p for piece in pieces for p in piece.candidates[0].content.parts]
    assert parts[0].thought is True and parts[0].text == "Let me think"
    assert parts[-1].function_call.name == "lookup" and parts[-1].thought_signature == b"signature"


def test_embeddings(fake: FakeGemini) -> None:
    result = studio(fake).models.embed_content(model="gemini-embedding-001", contents=["a b", "c"],
                                               config=types.EmbedContentConfig(output_dimensionality=4))
    assert [len(e.values) for e in result.embeddings] == [4, 4]


def test_bad_key_is_google_error(fake: FakeGemini) -> None:
    with pytest.raises(genai_errors.ClientError) as caught:
        studio(fake, key="wrong").models.generate_content(model="gemini-2.5-flash", contents="x")
    assert caught.value.code == 400 and "API key not valid" in caught.value.message


def test_vertex_with_service_account(fake: FakeGemini) -> None:
    info = fake.service_account("proj-1")
    credentials = service_account.Credentials.from_service_account_info(
        info, scopes=["https://www.googleapis.com/auth/cloud-platform"])
    client = genai.Client(vertexai=True, project="proj-1", location="us-central1", credentials=credentials,
                          http_options={"base_url": fake.url, "api_version": "v1"})
    response = client.models.generate_content(model="gemini-2.5-flash", contents="Hello Vertex")
    assert response.text == "Hello! You said: Hello Vertex"
    sent = fake.calls("generateContent")[0]
    assert fake.token_requests == 1
    assert sent.headers["Authorization"].startswith("Bearer ya29.fake-")
    assert sent.route["project"] == "proj-1" and sent.route["publisher"] == "google"


def test_token_endpoint_checks_the_signature(fake: FakeGemini) -> None:
    info = fake.service_account("proj-1")
    other = fake.service_account("proj-1")
    forged = {**info, "private_key": other["private_key"]}  # signed with a key that is not this key id's
    credentials = service_account.Credentials.from_service_account_info(
        forged, scopes=["https://www.googleapis.com/auth/cloud-platform"])
    from google.auth import exceptions
    from google.auth.transport.requests import Request

    issued = dict(fake.issued)
    with pytest.raises(exceptions.RefreshError, match="invalid_grant"):
        credentials.refresh(Request())
    assert fake.token_requests == 1 and fake.issued == issued  # nothing issued for the forged assertion
