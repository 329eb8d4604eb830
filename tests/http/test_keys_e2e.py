"""Virtual keys end to end: /key/* over HTTP, then calls with the keys, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import concurrent.futures
import secrets
import time
from datetime import datetime, timezone
from typing import Any, Callable, Iterator

import openai
import pytest

from gatehouse.testing import GatewayProcess

MASTER = "sk-keys-master-5b1d"
PG = "postgresql://postgres@127.0.0.1:5432"
MESSAGES = [{"role": "user", "content": "hi"}]


def keys_config(database_url: str | None = None) -> dict[str, Any]:
    general: dict[str, Any] = {"master_key": MASTER}
    if database_url:
        general["database_url"] = database_url
    return {
        "model_list": [
            {"model_name": "mock-a", "litellm_params": {"model": "mock/a"}},
            {"model_name": "mock-b", "litellm_params": {"model": "mock/b"}},
        ],
        "general_settings": general,
    }


def _pg_admin(sql: str) -> None:
    async def run() -> None:
        import asyncpg

        conn = await asyncpg.connect(f"{PG}/postgres", timeout=5)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:  # safe inside a running loop
        pool.submit(asyncio.run, run()).result()


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def keys_gw(request: pytest.FixtureRequest, gateway: Callable[..., GatewayProcess]) -> Iterator[GatewayProcess]:
    """A gateway on the default SQLite store, or on a fresh PostgreSQL database (one per module)."""
    if request.param == "sqlite":
        yield gateway(keys_config())
        return
    name = f"gatehouse_test_{secrets.token_hex(6)}"
    try:
        _pg_admin(f'CREATE DATABASE "{name}"')
    except Exception as exc:  # PostgreSQL is required: fail, never skip
        pytest.fail(f"PostgreSQL at {PG} is not usable: {exc!r}; start it with scripts/services.sh", pytrace=False)
    gw = GatewayProcess(keys_config(f"{PG}/{name}")).start()
    try:
        yield gw
    finally:
        gw.stop()
        _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class Admin:
    def __init__(self, gw: GatewayProcess) -> None:
        self.gw = gw

    def call(self, method: str, path: str, key: str = MASTER, **kw: Any) -> Any:
        import httpx

        return httpx.request(method, self.gw.base_url + path, headers={"Authorization": f"Bearer {key}"},
                             timeout=30, **kw)

    def generate(self, **body: Any) -> dict[str, Any]:
        response = self.call("POST", "/key/generate", json=body)
        assert response.status_code == 200, response.text
        return response.json()

    def client(self, key: str) -> openai.OpenAI:
        return openai.OpenAI(base_url=self.gw.api_base, api_key=key, max_retries=0, timeout=30)


@pytest.fixture
def admin(keys_gw: GatewayProcess) -> Admin:
    return Admin(keys_gw)


def test_generated_key_works(admin: Admin) -> None:
    created = admin.generate(key_alias=f"alias-{secrets.token_hex(3)}", metadata={"team": "red"})
    key = created["key"]
    assert key.startswith("sk-") and len(key) > 20
    assert created["token"] != key and len(created["token"]) == 64
    with admin.client(key) as client:
        response = client.chat.completions.create(model="mock-a", messages=MESSAGES)
        assert response.choices[0].message.content.endswith("You said: hi")
        assert [m.id for m in client.models.list().data] == ["mock-a", "mock-b"]


def test_only_the_master_key_manages_keys(admin: Admin) -> None:
    key = admin.generate()["key"]
    for method, path, body in (("POST", "/key/generate", {}), ("GET", "/key/list", None),
                               ("GET", f"/key/info?key={key}", None), ("POST", "/key/delete", {"keys": [key]})):
        response = admin.call(method, path, key=key, json=body)
        assert response.status_code == 401, (path, response.text)
        error = response.json()["error"]
        assert error["type"] == "auth_error" and error["code"] == "401"
    response = admin.call("POST", "/key/generate", key="sk-random-nobody", json={})
    assert response.status_code == 401
    with admin.client(key) as client:  # the key still works for LLM calls
        assert client.chat.completions.create(model="mock-b", messages=MESSAGES).choices


def test_info_and_list(admin: Admin) -> None:
    alias = f"info-{secrets.token_hex(3)}"
    created = admin.generate(key_alias=alias, models=["mock-a"], max_parallel_requests=5)
    key, token = created["key"], created["token"]
    info = admin.call("GET", "/key/info", params={"key": key})
    assert info.status_code == 200
    assert key not in info.text
    assert info.json()["key"] == token
    details = info.json()["info"]
    assert details["key_alias"] == alias and details["models"] == ["mock-a"]
    assert details["max_parallel_requests"] == 5
    assert admin.call("GET", "/key/info", params={"key": token}).json()["info"]["key_alias"] == alias

    listed = admin.call("GET", "/key/list", params={"key_alias": alias})
    assert listed.status_code == 200
    assert listed.json()["keys"] == [token] and listed.json()["total_count"] == 1
    everything = admin.call("GET", "/key/list", params={"size": 100}).json()
    assert token in everything["keys"] and key not in str(everything)

    missing = admin.call("GET", "/key/info", params={"key": "sk-does-not-exist"})
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "404"


def test_update_models_allow_list(admin: Admin) -> None:
    key = admin.generate()["key"]
    with admin.client(key) as client:
        assert client.chat.completions.create(model="mock-b", messages=MESSAGES).choices
        updated = admin.call("POST", "/key/update", json={"key": key, "models": ["mock-a"]})
        assert updated.status_code == 200 and updated.json()["models"] == ["mock-a"]
        with pytest.raises(openai.PermissionDeniedError) as info:  # LiteLLM's 403 and message
            client.chat.completions.create(model="mock-b", messages=MESSAGES)
        assert info.value.body == {
            "message": "The requested model 'mock-b' is not available for this API key, or the model name is "
                       "invalid. Check the models available to you and try again.",
            "type": "key_model_access_denied", "param": "model", "code": "403"}
        assert client.chat.completions.create(model="mock-a", messages=MESSAGES).choices
        assert [m.id for m in client.models.list().data] == ["mock-a"]
        with pytest.raises(openai.PermissionDeniedError):
            client.embeddings.create(model="mock-b", input="x")


def test_blocked_key(admin: Admin) -> None:
    key = admin.generate()["key"]
    assert admin.call("POST", "/key/update", json={"key": key, "blocked": True}).status_code == 200
    with admin.client(key) as client, pytest.raises(openai.AuthenticationError) as info:
        client.chat.completions.create(model="mock-a", messages=MESSAGES)
    assert "blocked" in info.value.body["message"]


def test_block_and_unblock_routes(admin: Admin) -> None:
    key = admin.generate()["key"]
    blocked = admin.call("POST", "/key/block", json={"key": key})
    assert blocked.status_code == 200 and blocked.json()["blocked"] is True
    with admin.client(key) as client:
        with pytest.raises(openai.AuthenticationError):
            client.chat.completions.create(model="mock-a", messages=MESSAGES)
        unblocked = admin.call("POST", "/key/unblock", json={"key": key})
        assert unblocked.status_code == 200 and unblocked.json()["blocked"] is False
        assert client.chat.completions.create(model="mock-a", messages=MESSAGES).choices
    assert admin.call("POST", "/key/block", json={"key": "sk-no-such-key"}).status_code == 404
    assert admin.call("POST", "/key/block", json={}).status_code == 400


def test_delete_stops_the_key_at_once(admin: Admin) -> None:
    key = admin.generate()["key"]
    with admin.client(key) as client:
        assert client.chat.completions.create(model="mock-a", messages=MESSAGES).choices
        deleted = admin.call("POST", "/key/delete", json={"keys": [key]})
        assert deleted.status_code == 200 and deleted.json() == {"deleted_keys": [key]}
        with pytest.raises(openai.AuthenticationError) as info:
            client.chat.completions.create(model="mock-a", messages=MESSAGES)
    assert info.value.body["message"] == "Authentication Error, Invalid proxy server token passed"
    assert admin.call("GET", "/key/info", params={"key": key}).status_code == 404


def test_expired_key(admin: Admin) -> None:
    created = admin.generate(duration="1s")
    expires = datetime.fromisoformat(created["expires"])
    with admin.client(created["key"]) as client:
        assert client.chat.completions.create(model="mock-a", messages=MESSAGES).choices
        time.sleep(max(0.0, (expires - datetime.now(timezone.utc)).total_seconds()) + 0.05)
        with pytest.raises(openai.AuthenticationError) as info:
            client.chat.completions.create(model="mock-a", messages=MESSAGES)
    assert info.value.body["message"].startswith("Authentication Error - Expired Key.")


def test_bad_management_input_names_the_field(admin: Admin) -> None:
    response = admin.call("POST", "/key/generate", json={"models": "mock-a"})
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "models"
    response = admin.call("POST", "/key/generate", content=b"{broken")
    assert response.status_code == 400 and response.json()["error"]["param"] == "request_body"
