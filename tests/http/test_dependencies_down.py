"""Redis and PostgreSQL failing under a running gateway: what readiness says, what clients get.

PostgreSQL is a private server started for these tests (``TempPostgres``):
it is frozen with SIGSTOP (hung, not down) and stopped; the shared server
is never touched.
"""

from __future__ import annotations

from typing import Any, Iterator

import httpx
import openai
import pytest

from gatehouse.testing import GatewayProcess
from gatehouse.testing.postgres import TempPostgres

MASTER = "sk-deps-master-8e1f"
MESSAGES = [{"role": "user", "content": "hi"}]
MOCK = {"model_name": "mock", "litellm_params": {"model": "mock/anything"}}


def start(config: dict[str, Any]) -> GatewayProcess:
    """Started on liveness: readiness is what these tests look at."""
    gw = GatewayProcess(config)
    return gw.start(ready_url=gw.base_url + "/health/liveliness")


def test_redis_down_keeps_the_replica_ready_and_serving(closed_port: int) -> None:
    config = {"model_list": [MOCK], "general_settings": {"master_key": MASTER},
              "router_settings": {"redis_url": f"redis://127.0.0.1:{closed_port}/0"}}
    with start(config) as gw:
        ready = httpx.get(gw.base_url + "/health/readiness", timeout=30)
        assert ready.status_code == 200, ready.text
        assert ready.json()["status"] == "healthy" and ready.json()["cache"] == "redis (unreachable)"
        client = openai.OpenAI(base_url=gw.api_base, api_key=MASTER, max_retries=0, timeout=30)
        assert client.chat.completions.create(model="mock", messages=MESSAGES).choices[0].message.content


@pytest.fixture
def private_pg() -> Iterator[TempPostgres]:
    with TempPostgres() as pg:
        yield pg


def pg_config(pg: TempPostgres) -> dict[str, Any]:
    return {"model_list": [MOCK],
            "general_settings": {"master_key": MASTER, "database_url": pg.dsn(), "key_cache_ttl": 0,
                                 "database_connection_timeout": 1, "database_query_timeout": 1}}


def test_frozen_postgres_is_a_clean_503_then_recovers(private_pg: TempPostgres) -> None:
    with start(pg_config(private_pg)) as gw:
        admin = {"Authorization": f"Bearer {MASTER}"}
        created = httpx.post(gw.base_url + "/key/generate", json={}, headers=admin, timeout=30)
        assert created.status_code == 200, created.text
        key = created.json()["key"]
        client = openai.OpenAI(base_url=gw.api_base, api_key=key, max_retries=0, timeout=30)
        assert client.chat.completions.create(model="mock", messages=MESSAGES).choices[0].message.content

        private_pg.freeze()
        try:
            with pytest.raises(openai.APIStatusError) as failed:
                client.chat.completions.create(model="mock", messages=MESSAGES)
            assert failed.value.status_code == 503
            assert "key database" in failed.value.message
            info = httpx.get(gw.base_url + "/key/list", headers=admin, timeout=30)
            assert info.status_code == 503, info.text
            assert info.json()["error"]["code"] == "503"
            ready = httpx.get(gw.base_url + "/health/readiness", timeout=30)
            assert ready.status_code == 503 and ready.json()["db"] == "unreachable"
            master = openai.OpenAI(base_url=gw.api_base, api_key=MASTER, max_retries=0, timeout=30)
            assert master.chat.completions.create(model="mock", messages=MESSAGES).choices[0].message.content
        finally:
            private_pg.thaw()
        assert client.chat.completions.create(model="mock", messages=MESSAGES).choices[0].message.content
        assert httpx.get(gw.base_url + "/health/readiness", timeout=30).status_code == 200


def test_key_routes_answer_503_when_postgres_is_down(private_pg: TempPostgres) -> None:
    with start(pg_config(private_pg)) as gw:
        admin = {"Authorization": f"Bearer {MASTER}"}
        private_pg.stop()
        for method, path, body in (("POST", "/key/generate", {}), ("GET", "/key/list", None),
                                   ("GET", "/key/info?key=sk-nope", None), ("POST", "/key/delete", {"keys": ["sk-x"]})):
            response = httpx.request(method, gw.base_url + path, json=body, headers=admin, timeout=30)
            assert response.status_code == 503, (path, response.text)
            assert "127.0.0.1" not in response.text


def test_open_gateway_stays_ready_without_its_database(private_pg: TempPostgres) -> None:
    """No master key: the database holds no keys the requests need."""
    config = {"model_list": [MOCK], "general_settings": {"database_url": private_pg.dsn(),
                                                         "database_connection_timeout": 1,
                                                         "database_query_timeout": 1}}
    with start(config) as gw:
        private_pg.stop()
        ready = httpx.get(gw.base_url + "/health/readiness", timeout=30)
        assert ready.status_code == 200 and ready.json()["db"] == "unreachable"
