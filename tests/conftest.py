"""Root fixtures: the fake upstream, gateways as subprocesses, SDK clients,
and real PostgreSQL and Redis.

- ``fake_upstream`` (session): a :class:`FakeUpstream` served from a thread;
  reset before every test that uses it.
- ``gateway(config, env=None, files=None, args=None) -> GatewayProcess``
  (session factory): one process per distinct (config, env, files, args),
  shared by the tests that ask for the same thing, stopped at session end.
- ``openai_client(gw, api_key="sk-test")`` / ``async_openai_client(...)``:
  SDK clients on ``gw.api_base`` with ``max_retries=0``, ``timeout=30``.
- ``pg_dsn``: a fresh database ``gatehouse_test_<random>``, dropped after.
- ``redis_url``: ``redis://127.0.0.1:6379/9``, flushed before the test.

PostgreSQL and Redis are required: when unreachable the test FAILS (run
``scripts/services.sh``), it is never skipped.
"""

from __future__ import annotations

import asyncio
import os
import concurrent.futures
import secrets
from pathlib import Path
from typing import Any, AsyncIterator, Callable, Coroutine, Iterator, Mapping, Sequence

import openai
import pytest
import yaml

from gatehouse.testing import FakeUpstream, GatewayProcess

PG_HOST, PG_PORT, PG_USER = "127.0.0.1", 5432, "postgres"
#: Each checkout running the suite at the same time on one Redis sets its own db.
REDIS_DB = int(os.environ.get("GATEHOUSE_TEST_REDIS_DB", "9"))
REDIS_URL = f"redis://127.0.0.1:6379/{REDIS_DB}"
CLIENT_TIMEOUT = 30.0

GatewayFactory = Callable[..., GatewayProcess]


@pytest.fixture(scope="session")
def fake_upstream() -> Iterator[FakeUpstream]:
    upstream = FakeUpstream()
    upstream.start_in_thread()
    yield upstream
    upstream.stop_thread()


@pytest.fixture(autouse=True)
def _reset_fake_upstream(request: pytest.FixtureRequest) -> None:
    """Give each test that uses the fake upstream a clean one."""
    if "fake_upstream" in request.fixturenames:
        request.getfixturevalue("fake_upstream").reset()


def _config_key(config: str | Mapping[str, Any] | Path) -> str:
    if isinstance(config, Path):
        return f"path:{config.resolve()}:{config.read_text()}"
    if isinstance(config, str):
        return config
    return str(yaml.safe_dump(dict(config), sort_keys=True))


@pytest.fixture(scope="session")
def gateway() -> Iterator[GatewayFactory]:
    running: dict[tuple[Any, ...], GatewayProcess] = {}

    def start(config: str | Mapping[str, Any] | Path, env: Mapping[str, str] | None = None,
              files: Mapping[str, str] | None = None,
              args: Sequence[str] | None = None) -> GatewayProcess:
        key = (_config_key(config), tuple(sorted((env or {}).items())),
               tuple(sorted((files or {}).items())), tuple(args or ()))
        gw = running.get(key)
        if gw is None or not gw.running:
            gw = GatewayProcess(config, env=env, files=files, args=args or ()).start()
            running[key] = gw
        return gw

    yield start
    for gw in running.values():
        gw.stop()


@pytest.fixture
def openai_client() -> Iterator[Callable[..., openai.OpenAI]]:
    clients: list[openai.OpenAI] = []

    def make(gw: GatewayProcess, api_key: str = "sk-test") -> openai.OpenAI:
        client = openai.OpenAI(base_url=gw.api_base, api_key=api_key, max_retries=0,
                               timeout=CLIENT_TIMEOUT)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


@pytest.fixture
async def async_openai_client() -> AsyncIterator[Callable[..., openai.AsyncOpenAI]]:
    clients: list[openai.AsyncOpenAI] = []

    def make(gw: GatewayProcess, api_key: str = "sk-test") -> openai.AsyncOpenAI:
        client = openai.AsyncOpenAI(base_url=gw.api_base, api_key=api_key, max_retries=0,
                                    timeout=CLIENT_TIMEOUT)
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.close()


def _run_async(coro: Coroutine[Any, Any, Any]) -> Any:
    """Run ``coro`` on a private loop in a worker thread (safe inside any test loop)."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()


async def _pg_admin(sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(host=PG_HOST, port=PG_PORT, user=PG_USER,
                                 database="postgres", timeout=5)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture
def pg_dsn() -> Iterator[str]:
    name = f"gatehouse_test_{secrets.token_hex(6)}"
    problem = None
    try:
        _run_async(_pg_admin(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # any failure here means "no usable PostgreSQL"
        problem = repr(exc)
    if problem is not None:
        pytest.fail(f"PostgreSQL at {PG_HOST}:{PG_PORT} (user {PG_USER}, no password) is "
                    f"not usable: {problem}; start it with scripts/services.sh",
                    pytrace=False)
    yield f"postgresql://{PG_USER}@{PG_HOST}:{PG_PORT}/{name}"
    _run_async(_pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def redis_url() -> str:
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=5)
    problem = None
    try:
        client.flushdb()
    except redis.exceptions.RedisError as exc:
        problem = str(exc)
    finally:
        client.close()
    if problem is not None:
        pytest.fail(f"Redis at {REDIS_URL} is not usable: {problem}; start it with "
                    "scripts/services.sh", pytrace=False)
    return REDIS_URL
