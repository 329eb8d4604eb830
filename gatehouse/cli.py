"""The ``gatehouse`` command.

    gatehouse [serve] [FILE] [--config FILE] [--host H] [--port P] [--workers N] [--detailed_debug]
    gatehouse check-config FILE
    gatehouse guardrail-service [--port 8099] [--policy FILE] [--api-key KEY]
    gatehouse import-litellm --database-url postgresql://... [--config FILE] [--overwrite] [--dry-run]

With no config the gateway starts on the embedded default (a mock model,
SQLite, in-memory cache). A broken config prints one message naming the file,
the key and the problem, and exits with status 2 — never a traceback. A port
already in use prints one line and exits with status 3.
"""

from __future__ import annotations

import argparse
import asyncio
import errno
import logging
import multiprocessing
import os
import signal
import socket
import sys
import time
from typing import TYPE_CHECKING, Sequence

if TYPE_CHECKING:
    from .app import Gateway
    from .config import GatewayConfig

from .logs import setup_logging

__all__ = ["main"]

log = logging.getLogger("gatehouse")

#: Exit status when the port is taken (2 is a broken config).
PORT_IN_USE = 3

COMMANDS = """commands:
  gatehouse [serve] [FILE] [options]   run the gateway (the default command; options below)
  gatehouse check-config [FILE]        load everything a config names, print the pipeline, exit
  gatehouse guardrail-service [...]    run the reference guardrail service (--help for its options)
  gatehouse import-litellm --database-url URL [--config FILE]   import a LiteLLM proxy's keys

exit status: 0 stopped cleanly, 2 broken config, 3 port already in use"""


def _serve_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gatehouse", description="Gatehouse: a fast, LiteLLM-compatible LLM gateway.",
                                     epilog=COMMANDS, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("config_file", nargs="?", help="config.yaml (same as --config)")
    parser.add_argument("--config", "-c", dest="config", help="LiteLLM-format config.yaml")
    parser.add_argument("--host", default="0.0.0.0")
    parser.add_argument("--port", type=int, default=4000)
    parser.add_argument("--workers", "--num_workers", dest="workers", type=int, default=1)
    parser.add_argument("--detailed_debug", "--detailed-debug", action="store_true", help="log at DEBUG")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "guardrail-service":
        from .reference_guardrail.__main__ import main as guardrail_main

        return guardrail_main(argv[1:])
    if argv and argv[0] == "check-config":
        return check_config(argv[1:])
    if argv and argv[0] == "import-litellm":
        from .importer.cli import main as import_main

        return import_main(argv[1:])
    if argv and argv[0] == "serve":
        argv = argv[1:]
    args = _serve_parser().parse_args(argv)
    setup_logging(args.detailed_debug)
    path = args.config or args.config_file
    from .config import ConfigError, load_config

    if args.workers < 1:
        print("gatehouse: --workers must be at least 1", file=sys.stderr)
        return 2
    from .app import Gateway

    problem = port_problem(args.host, args.port)
    if problem is not None:
        print(problem, file=sys.stderr)
        return PORT_IN_USE
    try:
        config = load_config(path)
        if config.json_logs or config.verbose:
            setup_logging(args.detailed_debug or config.verbose, json_logs=config.json_logs)
        gateway = Gateway(config)  # everything the config names is loaded and checked here, once
        _prepare_storage(config)  # then the key database (migrations run once, before any worker)
    except ConfigError as exc:
        print(f"gatehouse: config error: {exc}", file=sys.stderr)
        return 2
    for setting, origin in config.origins:
        log.info("setting %s: from the %s", setting, origin)
    if args.workers == 1:
        return run_worker(config, args.host, args.port, reuse_port=False, announce=True, gateway=gateway)
    return _supervise(config, args.host, args.port, args.workers, debug=args.detailed_debug)


def port_problem(host: str, port: int) -> str | None:
    """One line saying the port is taken (by anything, even a server sharing it with SO_REUSEPORT), or None."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return _in_use(host, port)
            return f"gatehouse: cannot listen on {host}:{port}: {exc.strerror or exc}"
    return None


def _in_use(host: str, port: int) -> str:
    return (f"gatehouse: port {port} on {host} is already in use (is another gateway still running?): "
            f"stop it, or start this one with --port <another port>")


def _prepare_storage(config: object) -> None:
    """Run the key store's migrations once, before any worker starts."""
    from .auth.store import open_key_store

    async def migrate() -> None:
        store = open_key_store(config.database_url, config.data_dir)  # type: ignore[attr-defined]
        await store.open()
        await store.close()

    from .auth.keys import KeyStoreError
    from .config import ConfigError

    try:
        asyncio.run(migrate())
    except (OSError, KeyStoreError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ConfigError(f"cannot open the key database ({reason})", key="general_settings.database_url",
                          source=config.source) from None  # type: ignore[attr-defined]


def run_worker(
    config: GatewayConfig, host: str, port: int, *, reuse_port: bool, announce: bool = False,
    gateway: Gateway | None = None,
) -> int:
    """One gateway process: build from the loaded config (unless given), serve until SIGINT/SIGTERM."""
    from aiohttp import web

    from .app import Gateway
    from .config import ConfigError
    from .http.server import build_application

    try:
        import uvloop

        uvloop.install()
    except ImportError:  # pragma: no cover
        pass
    try:
        gateway = gateway or Gateway(config)
    except ConfigError as exc:
        print(f"gatehouse: config error: {exc}", file=sys.stderr)
        return 2
    if announce and gateway.auth.open:
        log.warning("no general_settings.master_key: every request is accepted without a key (open mode)")
    elif announce:
        log.info("auth: %s", gateway.auth.describe())
    if announce:
        for line in gateway.passthrough.describe():
            if not line.endswith("not configured"):
                log.info("pass-through %s", line)
    app = build_application(gateway)

    async def on_startup(_: web.Application) -> None:
        await gateway.start()
        if announce:
            log.info("Gatehouse listening on http://%s:%d (config: %s; models: %s)", host, port,
                     gateway.config.source, ", ".join(gateway.router.group_names()) or "none")

    async def on_cleanup(_: web.Application) -> None:
        await gateway.close()

    app.on_startup.append(on_startup)
    app.on_cleanup.append(on_cleanup)
    try:
        web.run_app(app, host=host, port=port, reuse_port=reuse_port, access_log=None, print=None,
                    handler_cancellation=True, shutdown_timeout=10)
    except OSError as exc:  # lost the race for the port after the check in main()
        if exc.errno != errno.EADDRINUSE:
            raise
        print(_in_use(host, port), file=sys.stderr)
        return PORT_IN_USE
    return 0


def _worker(config: GatewayConfig, host: str, port: int, announce: bool, debug: bool) -> None:
    """A spawned worker: its own logging set-up; exits with run_worker's status."""
    setup_logging(debug or config.verbose, json_logs=config.json_logs)
    sys.exit(run_worker(config, host, port, reuse_port=True, announce=announce))


def _supervise(config: GatewayConfig, host: str, port: int, workers: int, *, debug: bool = False) -> int:
    """N worker processes sharing the port (SO_REUSEPORT); stop them all on a signal."""
    if not hasattr(socket, "SO_REUSEPORT"):
        print("gatehouse: --workers needs SO_REUSEPORT (Linux, macOS)", file=sys.stderr)
        return 2
    context = multiprocessing.get_context("spawn")
    procs = [context.Process(target=_worker, args=(config, host, port, i == 0, debug), daemon=False)
             for i in range(workers)]
    for proc in procs:
        proc.start()
    log.info("Gatehouse supervising %d workers on http://%s:%d", workers, host, port)
    stopping = False

    def stop(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True
        for proc in procs:
            if proc.is_alive() and proc.pid:
                os.kill(proc.pid, signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    while any(p.is_alive() for p in procs):
        if not stopping and any(p.exitcode not in (None, 0) for p in procs):
            log.error("a worker exited; stopping the others")
            stop(signal.SIGTERM, None)
        time.sleep(0.2)
    # a worker that died of the SIGTERM we sent it (still starting up) stopped as asked
    return 0 if all(p.exitcode == 0 or (stopping and p.exitcode == -signal.SIGTERM) for p in procs) else 1


def check_config(argv: Sequence[str]) -> int:
    """Load everything a config names and print the resolved pipeline."""
    parser = argparse.ArgumentParser(prog="gatehouse check-config")
    parser.add_argument("config", nargs="?", help="config.yaml (default: the embedded default)")
    args = parser.parse_args(argv)
    setup_logging()
    from .app import Gateway
    from .config import ConfigError, load_config

    try:
        gateway = Gateway(load_config(args.config))
    except ConfigError as exc:
        print(f"gatehouse: config error: {exc}", file=sys.stderr)
        return 2
    print(f"config: {gateway.config.source}")
    for setting, origin in gateway.config.origins:
        print(f"setting {setting}: from the {origin}")
    for name in gateway.router.group_names():
        print(f"model group {name}: " + ", ".join(
            f"{d.provider}/{d.upstream_model}" + (f" tags={list(d.tags)}" if d.tags else "")
            for d in gateway.router.deployments(name)))
    print(f"auth: {gateway.auth.describe()}")
    for g in gateway.guardrail_configs:
        print(f"guardrail {g.name}: modes={list(g.modes)} default_on={g.default_on}")
    for line in gateway.passthrough.describe():
        print(f"pass-through {line}")
    print("pipeline, in the order it runs:")
    for stage, hooks in gateway.describe_pipeline():
        print(f"  {stage}: " + (" → ".join(hooks) if hooks else "(none)"))
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
