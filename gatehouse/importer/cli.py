"""``gatehouse import-litellm --database-url postgresql://... [--config FILE] [--overwrite] [--dry-run]``.

Reads the LiteLLM database, writes what Gatehouse can hold into the database
of ``--config`` (its ``general_settings.database_url``, else its SQLite file;
the embedded default's without ``--config``), and prints one line per kind.
Exit status: 0 done, 2 a config or database problem (one line, no traceback,
no password).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Sequence

from .reader import TABLES, LiteLLMData, ReadError, read_litellm
from .sinks import Outcome, sinks_for

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gatehouse import-litellm",
                                     description="Import a LiteLLM proxy's virtual keys (and principals Gatehouse "
                                                 "can hold) from its PostgreSQL database.")
    parser.add_argument("--database-url", required=True, help="the LiteLLM database (postgresql://...)")
    parser.add_argument("--config", "-c", help="Gatehouse's config.yaml: where to import to")
    parser.add_argument("--overwrite", action="store_true", help="update keys that already exist in Gatehouse")
    parser.add_argument("--dry-run", action="store_true", help="read and report; write nothing")
    return parser


def main(argv: Sequence[str]) -> int:
    args = _parser().parse_args(argv)
    from ..auth.keys import KeyStoreError
    from ..config import ConfigError, load_config

    try:
        config = load_config(args.config, warn=False)
        data = asyncio.run(read_litellm(args.database_url))
        outcomes = {} if args.dry_run else asyncio.run(_write(config, data, args.overwrite))
    except (ConfigError, ReadError, KeyStoreError) as exc:
        print(f"gatehouse import-litellm: {exc}", file=sys.stderr)
        return 2
    for line in report(data, outcomes, dry_run=args.dry_run):
        print(line)
    return 0


async def _write(config: object, data: LiteLLMData, overwrite: bool) -> dict[str, Outcome]:
    from ..auth.store import open_key_store

    store = open_key_store(config.database_url, config.data_dir)  # type: ignore[attr-defined]
    await store.open()
    try:
        return {kind: await sink(data, overwrite) for kind, sink in sinks_for(store).items()}
    finally:
        await store.close()


def report(data: LiteLLMData, outcomes: dict[str, Outcome], *, dry_run: bool) -> list[str]:
    lines = []
    for kind, table in TABLES.items():
        read = len(data.of(kind))
        outcome = outcomes.get(kind)
        if table in data.missing:
            lines.append(f"{kind}: table {table} not found in the LiteLLM database")
        elif dry_run:
            lines.append(f"{kind}: {read} read from {table} (dry run: nothing written)")
        elif outcome is None:
            lines.append(f"{kind}: {read} read from {table}, not imported (Gatehouse does not store {kind} yet)")
        else:
            lines.append(f"{kind}: {read} read, {outcome.imported} imported, {outcome.updated} updated, "
                         f"{outcome.kept} already present and kept, {len(outcome.skipped)} skipped")
            lines += [f"  skipped {why}" for why in outcome.skipped]
    return lines
