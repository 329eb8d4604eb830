"""Key management: KeyManager on a real SQLite store, and the /key/* routes
served by a real aiohttp server (TestServer) and called over HTTP."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, AsyncIterator, Awaitable, Callable

import aiohttp
import orjson
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from gatehouse.auth.identity import UserAPIKeyAuth
from gatehouse.auth.keys import KeyRecord, abbreviate_key, generate_key, hash_key
from gatehouse.auth.management import KeyManager, parse_duration, parse_expires
from gatehouse.auth.routes import key_routes
from gatehouse.auth.store import SQLiteKeyStore
from gatehouse.errors import (
    AuthenticationError,
    BadRequestError,
    GatewayError,
    NotFoundError,
    UpstreamUnavailableError,
)
from gatehouse.formats.base import render_error
from gatehouse.formats.openai_common import OPENAI

MASTER = "sk-master-1234"


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SQLiteKeyStore]:
    s = SQLiteKeyStore(tmp_path / "keys.db")
    await s.open()
    yield s
    await s.close()


@pytest.fixture
def changed() -> list[str]:
    return []


@pytest.fixture
def manager(store: SQLiteKeyStore, changed: list[str]) -> KeyManager:
    return KeyManager(store, on_change=changed.append)


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


# -- keys.py ---------------------------------------------------------------


def test_generate_and_hash_key() -> None:
    key = generate_key()
    assert key.startswith("sk-") and len(key) >= 40 and generate_key() != key
    assert hash_key(key) == sha(key)
    assert hash_key(hash_key(key)) == hash_key(key)
    assert abbreviate_key("sk-abcdefgh") == "sk-...efgh"


def test_record_to_identity_and_expiry() -> None:
    now = datetime(2025, 1, 1, tzinfo=timezone.utc)
    record = KeyRecord(
        token=sha("sk-x"), key_alias="a", user_id="u", team_id="t", team_alias="T", organization_id="o",
        models=["m"], metadata={"k": 1}, tags=["x"], rpm_limit=5, tpm_limit=6, max_parallel_requests=2,
        max_budget=1.5, spend=0.5, expires=now, blocked=True,
    )
    identity = record.to_identity()
    assert isinstance(identity, UserAPIKeyAuth)
    assert identity.api_key == identity.token == sha("sk-x")
    assert (identity.org_id, identity.organization_id, identity.team_alias) == ("o", "o", "T")
    assert (identity.models, identity.metadata, identity.tags) == (["m"], {"k": 1}, ["x"])
    assert (identity.rpm_limit, identity.tpm_limit, identity.max_parallel_requests) == (5, 6, 2)
    assert (identity.max_budget, identity.spend, identity.expires, identity.blocked) == (1.5, 0.5, now, True)
    identity.models.append("other")
    assert record.models == ["m"]
    assert record.is_expired(now) and not record.is_expired(now - timedelta(seconds=1))
    assert not KeyRecord(token="t").is_expired()


def test_parse_duration_and_expires() -> None:
    assert parse_duration("30s") == timedelta(seconds=30)
    assert parse_duration("10m") == timedelta(minutes=10)
    assert parse_duration("1h") == timedelta(hours=1)
    assert parse_duration("7d") == timedelta(days=7)
    assert parse_duration("2w") == timedelta(weeks=2)
    assert parse_duration(None) is None and parse_duration("-1") is None
    assert parse_expires("2030-01-01T00:00:00") == datetime(2030, 1, 1, tzinfo=timezone.utc)
    assert parse_expires("2030-01-01T02:00:00+02:00") == datetime(2030, 1, 1, tzinfo=timezone.utc)


# -- generate ----------------------------------------------------------------


async def test_generate_defaults(manager: KeyManager, store: SQLiteKeyStore) -> None:
    out = await manager.generate({})
    key = out["key"]
    assert key.startswith("sk-")
    assert out["token"] == out["token_id"] == sha(key)
    assert out["key_name"] == f"sk-...{key[-4:]}"
    assert out["expires"] is None and out["models"] == [] and out["metadata"] == {}
    assert datetime.fromisoformat(out["created_at"]).tzinfo is not None
    stored = await store.get(sha(key))
    assert stored is not None and stored.key_name == out["key_name"]


async def test_generate_with_every_field(manager: KeyManager) -> None:
    body = {
        "key_alias": "ci", "user_id": "alice", "team_id": "t1", "team_alias": "Team 1", "organization_id": "o1",
        "models": ["gpt-4o"], "metadata": {"env": "ci"}, "tags": ["a", "b"], "max_parallel_requests": 2,
        "rpm_limit": 10, "tpm_limit": 1000, "max_budget": 5, "duration": "1h",
        "budget_duration": "30d",  # LiteLLM field Gatehouse does not store: ignored
    }
    before = datetime.now(timezone.utc)
    out = await manager.generate(body)
    for name in ("key_alias", "user_id", "team_id", "team_alias", "organization_id", "models", "metadata", "tags",
                 "max_parallel_requests", "rpm_limit", "tpm_limit"):
        assert out[name] == body[name], name
    assert out["max_budget"] == 5.0
    expires = datetime.fromisoformat(out["expires"])
    assert before + timedelta(hours=1) <= expires <= datetime.now(timezone.utc) + timedelta(hours=1)
    assert "budget_duration" not in out


async def test_generate_with_expires_and_custom_key(manager: KeyManager) -> None:
    out = await manager.generate({"key": "sk-my-own-key", "expires": "2030-06-01T00:00:00Z"})
    assert out["key"] == "sk-my-own-key" and out["token"] == sha("sk-my-own-key")
    assert out["key_name"] == "sk-...-key"
    assert datetime.fromisoformat(out["expires"]) == datetime(2030, 6, 1, tzinfo=timezone.utc)


async def test_generate_duplicate_key_is_400_without_echo(manager: KeyManager) -> None:
    await manager.generate({"key": "sk-dup-secret"})
    with pytest.raises(BadRequestError) as info:
        await manager.generate({"key": "sk-dup-secret"})
    assert info.value.param == "key" and "sk-dup-secret" not in info.value.message


async def test_duplicate_alias_is_allowed(manager: KeyManager) -> None:
    a = await manager.generate({"key_alias": "same"})
    b = await manager.generate({"key_alias": "same"})
    assert a["token"] != b["token"]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("rpm_limit", -1), ("rpm_limit", "5"), ("rpm_limit", True), ("rpm_limit", 1.5), ("tpm_limit", 2**63),
        ("max_parallel_requests", "x"), ("max_budget", "10"), ("max_budget", -0.1), ("spend", False),
        ("models", "gpt-4o"), ("models", [1]), ("tags", [None]), ("metadata", ["x"]), ("metadata", "{}"),
        ("key_alias", 5), ("user_id", ["u"]), ("team_id", {}), ("organization_id", 1), ("blocked", "yes"),
        ("duration", "5 minutes"), ("duration", 60), ("duration", "1y"), ("expires", "tomorrow"), ("expires", 5),
        ("key", "no-prefix"), ("key", "sk-"), ("key", "sk-has space"), ("key", 12),
        ("user_id", "nul\x00"), ("tags", ["nul\x00"]), ("metadata", {"k": "nul\x00"}), ("metadata", {1: "x"}),
    ],
)
async def test_generate_rejects_bad_fields_naming_them(manager: KeyManager, field: str, value: Any) -> None:
    with pytest.raises(BadRequestError) as info:
        await manager.generate({field: value})
    assert info.value.param == field
    assert field in info.value.message


async def test_duration_and_expires_together_are_rejected(manager: KeyManager) -> None:
    with pytest.raises(BadRequestError) as info:
        await manager.generate({"duration": "1h", "expires": "2030-01-01T00:00:00"})
    assert info.value.param == "duration"


async def test_store_failure_is_a_503_gateway_error(tmp_path: Path) -> None:
    """The database is a dependency that is unavailable, not a fault of the gateway."""
    closed = KeyManager(SQLiteKeyStore(tmp_path / "never-opened.db"))
    with pytest.raises(UpstreamUnavailableError) as info:
        await closed.info("sk-anything")
    assert info.value.status == 503 and "key store" in info.value.message


# -- info --------------------------------------------------------------------


async def test_info_by_raw_key_or_hash(manager: KeyManager) -> None:
    out = await manager.generate({"key_alias": "k"})
    for given in (out["key"], out["token"]):
        info = await manager.info(given)
        assert info["key"] == out["token"]
        assert info["info"]["key_alias"] == "k" and info["info"]["token"] == out["token"]
        assert out["key"] not in orjson.dumps(info).decode()


async def test_info_unknown_is_404_without_echo(manager: KeyManager) -> None:
    with pytest.raises(NotFoundError) as info:
        await manager.info("sk-unknown-secret")
    assert "sk-unknown-secret" not in info.value.message and info.value.status == 404
    with pytest.raises(BadRequestError):
        await manager.info(None)


# -- list --------------------------------------------------------------------


async def test_list_pages_and_filters(manager: KeyManager) -> None:
    made = [await manager.generate({"user_id": "alice" if i < 3 else "bob", "key_alias": f"k{i}"}) for i in range(5)]
    out = await manager.list({})
    assert out["total_count"] == 5 and out["current_page"] == 1 and out["total_pages"] == 1
    assert set(out["keys"]) == {m["token"] for m in made}
    page = await manager.list({"page": "2", "size": "2"})
    assert (len(page["keys"]), page["current_page"], page["total_pages"]) == (2, 2, 3)
    alice = await manager.list({"user_id": "alice", "return_full_object": "true"})
    assert alice["total_count"] == 3 and {k["user_id"] for k in alice["keys"]} == {"alice"}
    assert all("key" not in k for k in alice["keys"])
    one = await manager.list({"key_alias": "k4", "team_id": ""})
    assert one["keys"] == [made[4]["token"]]
    empty = await manager.list({"team_id": "none"})
    assert (empty["keys"], empty["total_count"], empty["total_pages"]) == ([], 0, 0)


@pytest.mark.parametrize(
    ("query", "param"),
    [({"page": "0"}, "page"), ({"page": "x"}, "page"), ({"size": "101"}, "size"), ({"size": "0"}, "size"),
     ({"return_full_object": "maybe"}, "return_full_object")],
)
async def test_list_rejects_bad_query(manager: KeyManager, query: dict[str, str], param: str) -> None:
    with pytest.raises(BadRequestError) as info:
        await manager.list(query)
    assert info.value.param == param


# -- update ------------------------------------------------------------------


async def test_update_changes_only_given_fields_and_notifies(manager: KeyManager, changed: list[str]) -> None:
    out = await manager.generate({"key_alias": "a", "rpm_limit": 5, "models": ["m1"], "duration": "1d"})
    updated = await manager.update({"key": out["key"], "rpm_limit": 50, "metadata": {"x": 1}, "blocked": True})
    assert updated["key"] == out["token"]
    assert (updated["rpm_limit"], updated["metadata"], updated["blocked"]) == (50, {"x": 1}, True)
    assert (updated["key_alias"], updated["models"], updated["expires"]) == ("a", ["m1"], out["expires"])
    assert updated["updated_at"] >= out["updated_at"]
    assert changed == [out["token"]]
    cleared = await manager.update({"key": out["token"], "duration": "-1", "models": None})
    assert cleared["expires"] is None and cleared["models"] == []


async def test_update_errors(manager: KeyManager, changed: list[str]) -> None:
    with pytest.raises(NotFoundError):
        await manager.update({"key": "sk-missing", "rpm_limit": 1})
    with pytest.raises(BadRequestError) as info:
        await manager.update({"rpm_limit": 1})
    assert info.value.param == "key"
    out = await manager.generate({})
    with pytest.raises(BadRequestError) as info:
        await manager.update({"key": out["key"], "tpm_limit": "lots"})
    assert info.value.param == "tpm_limit"
    assert changed == []


# -- delete ------------------------------------------------------------------


async def test_delete_by_key_hash_and_alias(manager: KeyManager, store: SQLiteKeyStore, changed: list[str]) -> None:
    a, b = await manager.generate({}), await manager.generate({})
    c1, c2 = await manager.generate({"key_alias": "team-bot"}), await manager.generate({"key_alias": "team-bot"})
    out = await manager.delete({"keys": [a["key"], b["token"], "sk-not-there"]})
    assert out == {"deleted_keys": [a["key"], b["token"]]}
    out = await manager.delete({"key_aliases": ["team-bot", "no-alias"]})
    assert out == {"deleted_keys": ["team-bot"]}
    assert sorted(changed) == sorted(x["token"] for x in (a, b, c1, c2))
    assert await store.list() == ([], 0)


async def test_delete_errors(manager: KeyManager) -> None:
    with pytest.raises(NotFoundError):
        await manager.delete({"keys": ["sk-nothing"]})
    for body, param in (({}, "keys"), ({"keys": []}, "keys"), ({"keys": "sk-x"}, "keys"),
                        ({"key_aliases": [1]}, "key_aliases")):
        with pytest.raises(BadRequestError) as info:
            await manager.delete(body)
        assert info.value.param == param


# -- routes over HTTP ----------------------------------------------------------


async def authorize(request: web.Request) -> None:
    if request.headers.get("Authorization") != f"Bearer {MASTER}":
        raise AuthenticationError("Authentication Error: master key required")


@web.middleware
async def render_errors(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    try:
        return await handler(request)
    except GatewayError as err:
        status, body, headers = render_error(OPENAI, err)
        return web.Response(status=status, body=body, headers=headers, content_type="application/json")


@pytest.fixture
async def http(manager: KeyManager) -> AsyncIterator[Callable[..., Awaitable[tuple[int, Any]]]]:
    app = web.Application(middlewares=[render_errors])
    app.add_routes(key_routes(manager, authorize))
    server = TestServer(app)
    await server.start_server()
    session = aiohttp.ClientSession(headers={"Authorization": f"Bearer {MASTER}"})

    async def call(method: str, path: str, *, json: Any = None, data: bytes | None = None,
                   params: dict[str, str] | None = None, headers: dict[str, str] | None = None) -> tuple[int, Any]:
        body = orjson.dumps(json) if json is not None else data
        async with session.request(method, server.make_url(path), data=body, params=params, headers=headers) as r:
            assert r.content_type == "application/json"
            return r.status, orjson.loads(await r.read())

    try:
        yield call
    finally:
        await session.close()
        await server.close()


async def test_http_key_lifecycle(http: Callable[..., Awaitable[tuple[int, Any]]], changed: list[str]) -> None:
    status, made = await http("POST", "/key/generate", json={"key_alias": "svc", "models": ["gpt-4o"], "rpm_limit": 3})
    assert status == 200 and made["key"].startswith("sk-")
    token = made["token"]
    status, info = await http("GET", "/key/info", params={"key": made["key"]})
    assert status == 200 and info["key"] == token and info["info"]["models"] == ["gpt-4o"]
    status, listed = await http("GET", "/key/list", params={"key_alias": "svc"})
    assert status == 200 and listed == {"keys": [token], "total_count": 1, "current_page": 1, "total_pages": 1}
    status, updated = await http("POST", "/key/update", json={"key": token, "rpm_limit": 30})
    assert status == 200 and updated["rpm_limit"] == 30
    status, deleted = await http("POST", "/key/delete", json={"keys": [made["key"]]})
    assert status == 200 and deleted == {"deleted_keys": [made["key"]]}
    assert changed == [token, token]
    status, err = await http("GET", "/key/info", params={"key": token})
    assert status == 404 and err["error"]["code"] == "404" and err["error"]["param"] == "key"


async def test_http_errors_are_rendered(http: Callable[..., Awaitable[tuple[int, Any]]]) -> None:
    status, err = await http("POST", "/key/generate", json={}, headers={"Authorization": "Bearer sk-wrong"})
    assert status == 401 and err["error"]["type"] == "auth_error"
    status, err = await http("GET", "/key/list", headers={"Authorization": ""})
    assert status == 401
    status, err = await http("POST", "/key/generate", data=b"{not json")
    assert status == 400 and err["error"]["param"] == "request_body"
    status, err = await http("POST", "/key/update", json=[1, 2])
    assert status == 400 and err["error"]["param"] == "request_body"
    status, err = await http("POST", "/key/generate", json={"rpm_limit": "many"})
    assert status == 400 and err["error"]["param"] == "rpm_limit" and "rpm_limit" in err["error"]["message"]
    status, err = await http("GET", "/key/info")
    assert status == 400 and err["error"]["param"] == "key"
    status, err = await http("GET", "/key/list", params={"size": "1000"})
    assert status == 400 and err["error"]["param"] == "size"
    status, err = await http("POST", "/key/delete", json={"keys": ["sk-none"]})
    assert status == 404


async def test_http_generate_accepts_an_empty_body(http: Callable[..., Awaitable[tuple[int, Any]]]) -> None:
    status, made = await http("POST", "/key/generate")
    assert status == 200 and made["key"].startswith("sk-")
