"""The fake upstream and the fake guardrail service, started once per run."""

from __future__ import annotations

import json
from pathlib import Path

from procs import Proc, free_port, http_get

__all__ = ["Fakes"]

BENCH_DIR = Path(__file__).resolve().parent


class Fakes:
    """Owns the two fake services; every system under test talks to the same pair."""

    def __init__(self, python: str, logs: Path) -> None:
        up_port, guard_port = free_port(), free_port()
        self.upstream_base = f"http://127.0.0.1:{up_port}"
        self.guardrail_base = f"http://127.0.0.1:{guard_port}"
        self.upstream = Proc("upstream", [python, str(BENCH_DIR / "upstream.py"), "--port", str(up_port)],
                             logs / "upstream.log")
        self.guardrail = Proc("guardrail", [python, str(BENCH_DIR / "guardrail.py"), "--port", str(guard_port)],
                              logs / "guardrail.log")

    def start(self) -> None:
        self.upstream.start()
        self.guardrail.start()
        try:
            self.upstream.wait_ready(self.upstream_base + "/health", 30.0)
            self.guardrail.wait_ready(self.guardrail_base + "/health", 30.0)
        except Exception:
            self.stop()
            raise

    def stop(self) -> None:
        self.upstream.stop()
        self.guardrail.stop()

    def upstream_calls(self) -> int:
        return _count(self.upstream_base, "chat")

    def guardrail_calls(self) -> int:
        return _count(self.guardrail_base, "guardrail")


def _count(base: str, route: str) -> int:
    status, body = http_get(base + "/stats")
    if status != 200:
        return -1
    return int(json.loads(body).get(route, 0))
