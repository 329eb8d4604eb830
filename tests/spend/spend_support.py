"""Helpers the spend and import tests share: configs, a fresh PostgreSQL database, reading /spend/logs."""

from __future__ import annotations

import asyncio
import concurrent.futures
import secrets
import time
from typing import Any

import httpx
import pytest

from gatehouse.testing import GatewayProcess, upstream_model_config

MASTER = "sk-spend-logs-master"
PG = "postgresql://postgres@127.0.0.1:5432"
IN, OUT = 0.001, 0.002
#: "hi" → 1 prompt token; "Hello! You said: hi" → 4 completion tokens (the fake counts words).
CHAT_COST = 1 * IN + 4 * OUT


def pg_admin(sql: str) -> None:
    async def run() -> None:
        import asyncpg

        conn = await asyncpg.connect(f"{PG}/postgres", timeout=5)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:  # safe inside a running loop
        pool.submit(asyncio.run, run()).result()


class PgDatabase:
    """A fresh PostgreSQL database, dropped at :meth:`drop`."""

    def __init__(self) -> None:
        self.name = f"gatehouse_test_{secrets.token_hex(6)}"
        try:
            pg_admin(f'CREATE DATABASE "{self.name}"')
        except Exception as exc:  # PostgreSQL is required: fail, never skip
            pytest.fail(f"PostgreSQL at {PG} is not usable: {exc!r}; start it with scripts/services.sh",
                        pytrace=False)
        self.url = f"{PG}/{self.name}"

    def drop(self) -> None:
        pg_admin(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


def spend_config(upstream: str, database_url: str | None = None, **general: Any) -> dict[str, Any]:
    settings: dict[str, Any] = {"master_key": MASTER, "proxy_batch_write_at": 0.2, **general}
    if database_url:
        settings["database_url"] = database_url
    return {
        "model_list": [
            upstream_model_config(upstream, model_name="priced", input_cost_per_token=IN, output_cost_per_token=OUT),
            upstream_model_config(upstream, model_name="other", model="openai/other-model"),
        ],
        "general_settings": settings,
    }


def admin(key: str = MASTER) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def new_key(gw: GatewayProcess, **fields: Any) -> str:
    response = httpx.post(f"{gw.base_url}/key/generate", json=fields, headers=admin())
    assert response.status_code == 200, response.text
    return str(response.json()["key"])


def get(gw: GatewayProcess, path: str, key: str = MASTER, **params: Any) -> httpx.Response:
    return httpx.get(f"{gw.base_url}{path}", params=params, headers=admin(key), timeout=30)


def wait_for_rows(gw: GatewayProcess, count: int, **params: Any) -> list[dict[str, Any]]:
    """The rows ``/spend/logs`` returns for ``params`` once there are ``count`` (the writer batches)."""
    deadline = time.monotonic() + 15
    rows: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        response = get(gw, "/spend/logs", **params)
        assert response.status_code == 200, response.text
        rows = response.json()
        if len(rows) >= count:
            return rows
        time.sleep(0.1)
    raise AssertionError(f"{count} spend log rows for {params} never appeared: {rows}")


def by_request(gw: GatewayProcess, call_id: str) -> dict[str, Any]:
    rows = wait_for_rows(gw, 1, request_id=call_id)
    assert len(rows) == 1
    return rows[0]


