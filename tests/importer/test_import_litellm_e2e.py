"""``gatehouse import-litellm`` against tables made with LiteLLM's published schema, in a fresh PostgreSQL
database; then the LiteLLM client keys work against Gatehouse (imported into SQLite, or PostgreSQL)."""

from __future__ import annotations

import asyncio
import concurrent.futures
import hashlib
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Iterator

import httpx
import openai
import pytest
import yaml

from gatehouse.testing import FakeUpstream, GatewayProcess

from spend_support import MASTER, PgDatabase, spend_config

SCHEMA = (Path(__file__).parent / "litellm_schema.sql").read_text()
CLIENT_KEY = "sk-litellm-client-key-0001"
BLOCKED_KEY = "sk-litellm-blocked-key-0002"
EXPIRED_KEY = "sk-litellm-expired-key-0003"


def token(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _run(coro: Any) -> Any:
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()


async def _seed(url: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        await conn.execute(SCHEMA)
        past = datetime.utcnow() - timedelta(days=1)
        await conn.execute("""INSERT INTO "LiteLLM_BudgetTable" (budget_id, max_budget, budget_duration, created_by,
                              updated_by) VALUES ('tier-1', 50, '30d', 'admin', 'admin')""")
        await conn.execute("""INSERT INTO "LiteLLM_OrganizationTable" (organization_id, organization_alias, budget_id,
                              models, created_by, updated_by) VALUES ('org-1', 'Org One', 'tier-1', '{}', 'a', 'a')""")
        await conn.execute("""INSERT INTO "LiteLLM_TeamTable" (team_id, team_alias, organization_id, admins, members,
                              models, max_budget) VALUES ('team-1', 'Team One', 'org-1', '{}', '{}', '{priced}', 20)""")
        await conn.execute("""INSERT INTO "LiteLLM_UserTable" (user_id, user_email, user_role, models, max_budget)
                              VALUES ('user-1', 'u1@example.com', 'internal_user', '{}', 5)""")
        await conn.execute("""INSERT INTO "LiteLLM_EndUserTable" (user_id, alias, budget_id) VALUES
                              ('cust-1', 'Customer One', 'tier-1')""")
        insert = """INSERT INTO "LiteLLM_VerificationToken" (token, key_name, key_alias, spend, expires, models,
                    user_id, team_id, metadata, blocked, tpm_limit, rpm_limit, max_budget, budget_duration,
                    organization_id, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::jsonb, $10, $11, $12, $13,
                    $14, $15, $16)"""
        await conn.execute(insert, token(CLIENT_KEY), "sk-...0001", "prod-app", 1.25, None, ["priced"], "user-1",
                           "team-1", '{"tags": ["legacy"], "owner": "ops"}', None, 1000, 100, 10.0, "30d", "org-1",
                           past)
        await conn.execute(insert, token(BLOCKED_KEY), "sk-...0002", "blocked", 0.0, None, [], None, None, "{}", True,
                           None, None, None, None, None, past)
        await conn.execute(insert, token(EXPIRED_KEY), "sk-...0003", "expired", 0.0, past, [], None, None, "{}", False,
                           None, None, None, None, None, past)
        await conn.execute(insert, "not-a-sha256-hash", None, "odd", 0.0, None, [], None, None, "{}", None, None, None,
                           None, None, None, past)
    finally:
        await conn.close()


@pytest.fixture(scope="module")
def litellm_db() -> Iterator[str]:
    db = PgDatabase()
    try:
        _run(_seed(db.url))
        yield db.url
    finally:
        db.drop()


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def target(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
           fake_upstream: FakeUpstream) -> Iterator[Path]:
    """Gatehouse's config.yaml, its database SQLite (in data_dir) or a fresh PostgreSQL one."""
    folder = tmp_path_factory.mktemp("gatehouse-import")
    db = PgDatabase() if request.param == "postgres" else None
    config = spend_config(fake_upstream.url, db.url if db else None, data_dir=str(folder / "data"))
    (folder / "config.yaml").write_text(yaml.safe_dump(config))
    try:
        yield folder / "config.yaml"
    finally:
        if db is not None:
            db.drop()


def import_litellm(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gatehouse", "import-litellm", *args], capture_output=True,
                          text=True, timeout=120, stdin=subprocess.DEVNULL)


def test_litellm_keys_work_against_gatehouse_after_the_import(litellm_db: str, target: Path) -> None:
    dry = import_litellm("--database-url", litellm_db, "--config", str(target), "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "keys: 4 read from LiteLLM_VerificationToken (dry run: nothing written)" in dry.stdout

    done = import_litellm("--database-url", litellm_db, "--config", str(target))
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert "keys: 4 read, 3 imported, 0 updated, 0 already present and kept, 1 skipped" in lines
    assert any(line.startswith("  skipped key not-a-sha256...") for line in lines)
    for kind, table in (("teams", "LiteLLM_TeamTable"), ("users", "LiteLLM_UserTable"),
                        ("customers", "LiteLLM_EndUserTable"), ("budgets", "LiteLLM_BudgetTable"),
                        ("organizations", "LiteLLM_OrganizationTable")):
        assert f"{kind}: 1 read from {table}, not imported (Gatehouse does not store {kind} yet)" in lines

    gw = GatewayProcess(target).start()
    try:
        client = openai.OpenAI(base_url=gw.api_base, api_key=CLIENT_KEY, max_retries=0, timeout=30)
        answer = client.chat.completions.create(model="priced", messages=[{"role": "user", "content": "hi"}])
        assert answer.choices[0].message.content
        with pytest.raises(openai.PermissionDeniedError):  # the key's model list came along
            client.chat.completions.create(model="other", messages=[{"role": "user", "content": "hi"}])
        client.close()
        for refused in (BLOCKED_KEY, EXPIRED_KEY):
            with openai.OpenAI(base_url=gw.api_base, api_key=refused, max_retries=0, timeout=30) as other:
                with pytest.raises(openai.AuthenticationError):
                    other.chat.completions.create(model="priced", messages=[{"role": "user", "content": "hi"}])
        info = httpx.get(f"{gw.base_url}/key/info", params={"key": CLIENT_KEY},
                         headers={"Authorization": f"Bearer {MASTER}"}).json()["info"]
        assert (info["key_alias"], info["team_id"], info["team_alias"], info["user_id"]) == \
            ("prod-app", "team-1", "Team One", "user-1")
        assert (info["rpm_limit"], info["tpm_limit"], info["max_budget"]) == (100, 1000, 10.0)
        assert info["spend"] >= 1.25 and info["tags"] == ["legacy"] and info["metadata"]["owner"] == "ops"
        assert info["organization_id"] == "org-1" and info["models"] == ["priced"]
    finally:
        gw.stop()

    again = import_litellm("--database-url", litellm_db, "--config", str(target))
    assert "keys: 4 read, 0 imported, 0 updated, 3 already present and kept, 1 skipped" in again.stdout.splitlines()
    forced = import_litellm("--database-url", litellm_db, "--config", str(target), "--overwrite")
    assert "keys: 4 read, 0 imported, 3 updated, 0 already present and kept, 1 skipped" in forced.stdout.splitlines()


def test_an_unreachable_litellm_database_is_one_line_without_its_password(tmp_path: Path) -> None:
    (tmp_path / "config.yaml").write_text(yaml.safe_dump({"general_settings": {"master_key": MASTER}}))
    result = import_litellm("--database-url", "postgresql://admin:s3cret-pw@127.0.0.1:1/litellm",
                            "--config", str(tmp_path / "config.yaml"))
    assert result.returncode == 2
    assert "cannot connect to the LiteLLM database at postgresql://admin:***@127.0.0.1:1/litellm" in result.stderr
    assert "s3cret-pw" not in result.stderr + result.stdout and "Traceback" not in result.stderr


def test_a_database_without_litellm_tables_says_so(tmp_path: Path) -> None:
    empty = PgDatabase()
    try:
        (tmp_path / "config.yaml").write_text(yaml.safe_dump({"general_settings": {"master_key": MASTER}}))
        result = import_litellm("--database-url", empty.url, "--config", str(tmp_path / "config.yaml"))
    finally:
        empty.drop()
    assert result.returncode == 0, result.stderr
    assert "keys: table LiteLLM_VerificationToken not found in the LiteLLM database" in result.stdout
