"""The HTTP service: routes, auth, logging, start/stop, command line.

Routes:

* ``POST /beta/litellm_basic_guardrail_api`` — one check (see :mod:`.protocol`)
* ``GET /health`` — ``{"status": "ok"}``
* ``GET /`` — service name, endpoint and a policy summary (no key, no word lists)

Every non-200 answer is ``{"error": "<message>"}``: 400 bad body or bad
override, 401 missing/wrong key (when the policy has ``api_key``), 404, 405,
413 body over ``max_body_bytes``.

One access-log line per check on the ``gatehouse.reference_guardrail`` logger:
call id, input type, action, finding labels (types, never values), count of
texts, milliseconds.
"""

from __future__ import annotations

import argparse
import hmac
import logging
import os
import sys
import time
from collections.abc import Awaitable, Callable

import orjson
from aiohttp import web

from ..logs import TextFormatter
from .checker import Checker, Verdict
from .policy import NO_OVERRIDES, Policy, PolicyError, load_policy, parse_overrides
from .protocol import BadRequest, GuardrailRequest, error_body, parse_request, render_verdict

__all__ = ["ENDPOINT", "SERVICE_NAME", "build_app", "GuardrailService", "main"]

ENDPOINT = "/beta/litellm_basic_guardrail_api"
SERVICE_NAME = "gatehouse-reference-guardrail"
DEFAULT_MAX_BODY = 16 * 1024 * 1024
LOGGER_NAME = "gatehouse.reference_guardrail"

_Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _json(status: int, body: bytes) -> web.Response:
    return web.Response(status=status, body=body, content_type="application/json")


@web.middleware
async def _json_errors(request: web.Request, handler: _Handler) -> web.StreamResponse:
    """Render aiohttp's HTTP errors (404, 405, 413, ...) as ``{"error": ...}``."""
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        response = _json(exc.status, error_body(exc.reason))
        if "Allow" in exc.headers:
            response.headers["Allow"] = exc.headers["Allow"]
        return response


class _Handlers:
    """The route handlers of one service; hold the policy and its checker."""

    def __init__(self, policy: Policy, log: logging.Logger) -> None:
        self.policy = policy
        self.checker = Checker(policy)
        self.log = log
        self._key = policy.api_key.encode() if policy.api_key else None

    def _authorised(self, request: web.Request) -> bool:
        """``x-api-key: <key>`` (what LiteLLM sends) or ``Authorization: Bearer <key>``."""
        if self._key is None:
            return True
        given = request.headers.get("x-api-key")
        if given is None:
            scheme, _, token = request.headers.get("Authorization", "").partition(" ")
            given = token.strip() if scheme.lower() == "bearer" else ""
        return hmac.compare_digest(given.encode(), self._key)

    async def check(self, request: web.Request) -> web.Response:
        started = time.perf_counter()
        if not self._authorised(request):
            self.log.warning("rejected status=401 remote=%s", request.remote)
            return _json(401, error_body("missing or invalid x-api-key header"))
        try:
            body = parse_request(await request.read())
            overrides = (
                parse_overrides(body.additional_provider_specific_params)
                if self.policy.allow_overrides
                else NO_OVERRIDES
            )
        except (BadRequest, PolicyError) as error:
            self.log.warning("rejected status=400 reason=%r", str(error))
            return _json(400, error_body(str(error)))
        verdict = self.checker.check(body.texts, body.input_type, overrides)
        self._log_check(body, verdict, started)
        return _json(200, render_verdict(verdict, body))

    def _log_check(self, body: GuardrailRequest, verdict: Verdict, started: float) -> None:
        self.log.info(
            "check call_id=%s input_type=%s action=%s findings=%s texts=%d ms=%.3f",
            "".join(c for c in (body.litellm_call_id or "-")[:128] if c.isprintable() and c != " "),
            body.input_type,
            verdict.action,
            ",".join(verdict.labels()) or "-",
            len(body.texts),
            (time.perf_counter() - started) * 1000,
        )

    async def health(self, request: web.Request) -> web.Response:
        return _json(200, b'{"status":"ok"}')

    async def index(self, request: web.Request) -> web.Response:
        summary = {
            "service": SERVICE_NAME,
            "policy_name": self.policy.name,
            "endpoint": ENDPOINT,
            "policy": self.policy.summary(),
        }
        return _json(200, orjson.dumps(summary))


def build_app(
    policy: Policy, *, logger: logging.Logger | None = None, max_body_bytes: int = DEFAULT_MAX_BODY
) -> web.Application:
    """The aiohttp application for ``policy`` (regexes compiled here, once)."""
    handlers = _Handlers(policy, logger or logging.getLogger(LOGGER_NAME))
    app = web.Application(middlewares=[_json_errors], client_max_size=max_body_bytes)
    app.router.add_post(ENDPOINT, handlers.check)
    app.router.add_get("/health", handlers.health)
    app.router.add_get("/", handlers.index)
    return app


class GuardrailService:
    """Runs :func:`build_app` in the current event loop; for tests and embedding.

    ``port=0`` picks a free port; :attr:`url` is the base URL once started
    (use it as ``api_base``). Also an async context manager.
    """

    def __init__(
        self,
        policy: Policy,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        logger: logging.Logger | None = None,
        max_body_bytes: int = DEFAULT_MAX_BODY,
    ) -> None:
        self.app = build_app(policy, logger=logger, max_body_bytes=max_body_bytes)
        self.host = host
        self.port = port
        self.url = ""
        self._runner: web.AppRunner | None = None

    async def start(self) -> str:
        """Bind and serve; returns :attr:`url`."""
        runner = web.AppRunner(self.app, access_log=None)
        await runner.setup()
        try:
            await web.TCPSite(runner, self.host, self.port).start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        host, port = runner.addresses[0][:2]
        self.port = port
        self.url = f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"
        return self.url

    async def stop(self) -> None:
        """Stop serving and close connections (idempotent)."""
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    async def __aenter__(self) -> GuardrailService:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m gatehouse.reference_guardrail",
        description="Reference Generic Guardrail API service (POST /beta/litellm_basic_guardrail_api).",
    )
    parser.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8099, help="port (default 8099)")
    parser.add_argument("--policy", metavar="FILE", help="policy YAML (default: the packaged default policy)")
    parser.add_argument(
        "--api-key",
        metavar="KEY",
        default=os.environ.get("GATEHOUSE_GUARDRAIL_API_KEY"),
        help="require this x-api-key (default: $GATEHOUSE_GUARDRAIL_API_KEY, else the policy's api_key)",
    )
    parser.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    parser.add_argument("--check", action="store_true", help="validate the policy, print its summary, exit")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Command line entry point; returns the exit status (2 = bad policy)."""
    args = _parser().parse_args(argv)
    handler = logging.StreamHandler()
    handler.setFormatter(TextFormatter())  # control characters in a line are escaped
    logging.basicConfig(level=args.log_level, handlers=[handler], force=True)
    try:
        policy = load_policy(args.policy)
    except PolicyError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if args.api_key:
        policy = policy.model_copy(update={"api_key": args.api_key})
    if args.check:
        print(orjson.dumps(policy.summary(), option=orjson.OPT_INDENT_2).decode())
        return 0
    log = logging.getLogger(LOGGER_NAME)
    log.info(
        "%s on http://%s:%d%s (auth: %s)",
        SERVICE_NAME,
        args.host,
        args.port,
        ENDPOINT,
        "x-api-key" if policy.api_key else "none",
    )
    try:
        web.run_app(
            build_app(policy, logger=log), host=args.host, port=args.port, access_log=None, print=None
        )
    except OSError as error:
        print(f"error: cannot listen on {args.host}:{args.port}: {error.strerror or error}", file=sys.stderr)
        return 1
    return 0
