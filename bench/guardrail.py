"""The fake Generic Guardrail API service: every check passes.

``POST /beta/litellm_basic_guardrail_api`` answers ``{"action":"NONE"}``;
``GET /stats`` gives the request counts; ``GET /health`` answers 200.

Run: ``python bench/guardrail.py --port 8002``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from tinyhttp import Request, Router, json_response, serve  # noqa: E402

GUARDRAIL_PATH = b"/beta/litellm_basic_guardrail_api"


def build_router() -> Router:
    router = Router()
    allow = json_response(b'{"action":"NONE"}')

    def stats(_: Request) -> bytes:
        return json_response(json.dumps(router.count).encode())

    router.add(b"POST", lambda p: p == GUARDRAIL_PATH, "guardrail", lambda _: allow)
    router.add(b"GET", lambda p: p == b"/stats", "stats", stats)
    router.add(b"GET", lambda p: p == b"/health", "health", lambda _: json_response(b'{"status":"ok"}'))
    return router


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    serve(build_router(), args.host, args.port)


if __name__ == "__main__":
    main()
