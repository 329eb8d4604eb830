"""Gateways with spend logs, on SQLite and on a fresh PostgreSQL database (helpers: ``spend_support``,
importable because this directory is put on ``sys.path``)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Iterator

import pytest

from gatehouse.testing import FakeUpstream, GatewayProcess

sys.path.insert(0, str(Path(__file__).parent))

from spend_support import PgDatabase, spend_config  # noqa: E402


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest) -> Iterator[str | None]:
    """``None`` (the default SQLite file) or a fresh PostgreSQL database for the module."""
    if request.param == "sqlite":
        yield None
        return
    db = PgDatabase()
    try:
        yield db.url
    finally:
        db.drop()


@pytest.fixture(scope="module")
def spend_gw(db_url: str | None, fake_upstream: FakeUpstream) -> Iterator[GatewayProcess]:
    gw = GatewayProcess(spend_config(fake_upstream.url, db_url)).start()
    try:
        yield gw
    finally:
        gw.stop()
