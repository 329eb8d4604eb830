"""Soak: mixed, faulty traffic against one gateway for a long time; is it still well?

    python bench/soak.py                      # 10 minutes
    python bench/soak.py --seconds 60 --concurrency 32 --out bench/results/soak

Traffic (weights in KINDS): small and ~256 KB prompts, streams, clients that
disconnect mid-stream or mid-request, upstream faults (500/429/503, a stream
that dies or ends without [DONE], slow answers) and guardrail faults (the
guardrail fails or blocks). Every request knows which answers its fault
allows; anything else (a 500 internal error, a dropped connection, a stream
without its end) is a **non-policy error**.

Sampled every second: the gateway's RSS and open fds, and the latency of
``GET /health/liveliness`` probed every 100 ms from a thread of its own (an
upper bound of the worker's event-loop lag). Written to ``--out``:
``soak.json`` (samples, totals), ``soak.md`` (the table) and ``soak.png``
(the curves, when matplotlib is there). Exit status 1 when there was any
non-policy error or an internal error in the gateway's log.

The fakes (gatehouse.testing's FakeUpstream and FakeGuardrail) run in a
process of their own (``soak.py --serve-fakes``), so the load generator and
the probe do not share a CPU-bound loop with them.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import os
import random
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR.parent))

MASTER = "sk-soak-master"
BIG = "lorem ipsum dolor sit amet " * 9500  # ~256 KB

#: kind → (weight, what it sends, statuses that are policy/fault outcomes besides 200)
KINDS: dict[str, tuple[int, dict[str, Any], frozenset[int]]] = {
    "small": (35, {}, frozenset()),
    "big": (10, {"big": True}, frozenset()),
    "stream": (20, {"stream": True}, frozenset()),
    "stream_disconnect": (8, {"stream": True, "leave_after": 1, "fake_upstream": {"chunk_delay": 0.05}}, frozenset()),
    "request_disconnect": (4, {"leave_at": 0.05, "fake_upstream": {"delay": 0.5}}, frozenset()),
    "upstream_error": (7, {"fault_status": True}, frozenset({429, 500, 503})),
    "stream_cut": (5, {"stream": True, "fake_upstream": {"die_after_chunks": 2}}, frozenset()),
    "stream_no_done": (3, {"stream": True, "fake_upstream": {"omit_done": True}}, frozenset()),
    "slow": (3, {"fake_upstream": {"delay": 0.3}}, frozenset()),
    "guardrail_fails": (3, {"text": "GUARD-FAIL"}, frozenset({500})),
    "guardrail_blocks": (2, {"text": "GUARD-BLOCK"}, frozenset({400})),
}
#: Streams whose upstream breaks must end with an error event, not look complete.
STREAM_MUST_FAIL = frozenset({"stream_cut", "stream_no_done"})


# -- the fakes, in a process of their own ------------------------------------------------------------------


def serve_fakes(up_port: int, guard_port: int) -> None:
    from gatehouse.testing import FakeGuardrail, FakeUpstream, GuardrailReply

    def guard(body: Any) -> GuardrailReply:
        text = json.dumps(body)
        if "GUARD-FAIL" in text:
            return GuardrailReply(status=500, raw=b"guardrail exploded")
        if "GUARD-BLOCK" in text:
            return GuardrailReply("BLOCKED", blocked_reason="soak block")
        return GuardrailReply()

    async def main() -> None:
        upstream, guardrail = FakeUpstream(), FakeGuardrail(default=guard)
        await upstream.start(port=up_port)
        await guardrail.start(port=guard_port)
        while True:  # forget what was recorded: a long run must not grow the fakes
            await asyncio.sleep(1)
            upstream.requests.clear()
            with guardrail._lock:
                guardrail.requests.clear()

    asyncio.run(main())


# -- load ------------------------------------------------------------------------------------------------


@dataclass
class Totals:
    by_kind: dict[str, dict[str, int]] = field(default_factory=dict)
    non_policy: list[str] = field(default_factory=list)
    """The first 50 non-policy errors, described."""
    errors: int = 0
    requests: int = 0

    def count(self, kind: str, outcome: str) -> None:
        self.requests += 1
        bucket = self.by_kind.setdefault(kind, {})
        bucket[outcome] = bucket.get(outcome, 0) + 1

    def problem(self, kind: str, what: str) -> None:
        self.count(kind, "NON-POLICY")
        self.errors += 1
        if len(self.non_policy) < 50:
            self.non_policy.append(f"{kind}: {what}")


def body_for(kind: str, spec: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    text = spec.get("text") or (BIG if spec.get("big") else f"hello {rng.randrange(10**6)}")
    body: dict[str, Any] = {"model": "fake", "messages": [{"role": "user", "content": text}]}
    if spec.get("stream"):
        body["stream"] = True
    directive = dict(spec.get("fake_upstream") or {})
    if spec.get("fault_status"):
        directive["status"] = rng.choice([429, 500, 503])
    if directive:
        body["fake_upstream"] = directive
    return body


async def one(session: Any, kind: str, rng: random.Random, totals: Totals) -> None:
    import aiohttp

    spec = KINDS[kind][1]
    body = body_for(kind, spec, rng)
    try:
        if "leave_at" in spec:
            try:
                await asyncio.wait_for(session.post("/v1/chat/completions", json=body), spec["leave_at"])
            except asyncio.TimeoutError:
                totals.count(kind, "left")
                return
        async with session.post("/v1/chat/completions", json=body) as response:
            if not spec.get("stream") or response.status != 200:
                await response.read()
                judge(kind, response.status, totals)
                return
            await read_stream(kind, response, spec, totals)
    except (aiohttp.ClientError, asyncio.TimeoutError, ConnectionError) as exc:
        totals.problem(kind, f"{type(exc).__name__}: {exc}")


def judge(kind: str, status: int, totals: Totals) -> None:
    if status == 200 or status in KINDS[kind][2]:
        totals.count(kind, str(status))
    else:
        totals.problem(kind, f"HTTP {status}")


async def read_stream(kind: str, response: Any, spec: dict[str, Any], totals: Totals) -> None:
    events, raw = 0, b""
    async for piece in response.content.iter_any():
        raw += piece
        events = raw.count(b"\n\n")
        if spec.get("leave_after") and events >= spec["leave_after"]:
            response.close()
            totals.count(kind, "left")
            return
    tail = raw.rstrip().rsplit(b"\n\n", 2)
    ended = raw.rstrip().endswith(b"data: [DONE]")
    errored = len(tail) >= 2 and b'"error"' in tail[-2]
    if not ended:
        totals.problem(kind, "stream without its end")
    elif kind in STREAM_MUST_FAIL and not errored:
        totals.problem(kind, "a broken upstream stream was relayed as complete")
    else:
        totals.count(kind, "200+error" if errored else "200")


async def load(base: str, seconds: float, concurrency: int, totals: Totals, seed: int) -> None:
    import aiohttp

    names = list(KINDS)
    weights = [KINDS[k][0] for k in names]
    deadline = time.monotonic() + seconds
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(base, headers={"Authorization": f"Bearer {MASTER}"}, timeout=timeout) as session:
        async def worker(n: int) -> None:
            rng = random.Random(seed + n)
            while time.monotonic() < deadline:
                await one(session, rng.choices(names, weights)[0], rng, totals)

        await asyncio.gather(*(worker(n) for n in range(concurrency)))


# -- sampling ----------------------------------------------------------------------------------------------


class Prober(threading.Thread):
    """``GET /health/liveliness`` every 100 ms on a keep-alive connection; latencies in ms."""

    def __init__(self, port: int) -> None:
        super().__init__(daemon=True)
        self.port, self.latencies, self.failures = port, [], 0
        self.stopping = threading.Event()
        self.lock = threading.Lock()

    def run(self) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        while not self.stopping.wait(0.1):
            started = time.perf_counter()
            try:
                conn.request("GET", "/health/liveliness")
                conn.getresponse().read()
            except (OSError, http.client.HTTPException):
                self.failures += 1
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
                continue
            with self.lock:
                self.latencies.append((time.perf_counter() - started) * 1000)

    def take(self) -> list[float]:
        with self.lock:
            taken, self.latencies = self.latencies, []
        return taken


def process_stats(pid: int) -> tuple[float, int]:
    """(RSS in MB, open fds) of the gateway and its children."""
    rss, fds = 0.0, 0
    for proc in [pid, *children(pid)]:
        try:
            for line in Path(f"/proc/{proc}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    rss += int(line.split()[1]) / 1024
            fds += len(os.listdir(f"/proc/{proc}/fd"))
        except OSError:
            continue
    return round(rss, 1), fds


def children(pid: int) -> list[int]:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


async def sample(pid: int, prober: Prober, totals: Totals, seconds: float) -> list[dict[str, Any]]:
    samples: list[dict[str, Any]] = []
    started = time.monotonic()
    while (elapsed := time.monotonic() - started) < seconds:
        await asyncio.sleep(1.0)
        rss, fds = process_stats(pid)
        lat = prober.take() or [0.0]
        samples.append({"t": round(elapsed + 1, 1), "rss_mb": rss, "fds": fds, "requests": totals.requests,
                        "non_policy": totals.errors, "probe_p50_ms": round(statistics.median(lat), 2),
                        "probe_max_ms": round(max(lat), 2)})
    return samples


# -- the run ---------------------------------------------------------------------------------------------


def gateway_config(up_port: int, guard_port: int) -> dict[str, Any]:
    return {
        "model_list": [{"model_name": "fake", "litellm_params": {
            "model": "openai/fake-model", "api_base": f"http://127.0.0.1:{up_port}/v1", "api_key": "sk-soak-up"}}],
        "general_settings": {"master_key": MASTER},
        "router_settings": {"num_retries": 1, "backoff_base": 0.01, "disable_cooldowns": True},
        "guardrails": [{"guardrail_name": "soak-guard", "litellm_params": {
            "guardrail": "generic_guardrail_api", "mode": "pre_call", "default_on": True,
            "api_base": f"http://127.0.0.1:{guard_port}", "timeout": 2}}],
    }


def run(seconds: float, concurrency: int, seed: int) -> dict[str, Any]:
    from gatehouse.testing import GatewayProcess, free_port

    up_port, guard_port = free_port(), free_port()
    fakes = subprocess.Popen([sys.executable, __file__, "--serve-fakes", str(up_port), str(guard_port)],
                             stdin=subprocess.DEVNULL, start_new_session=True)
    gateway = GatewayProcess(gateway_config(up_port, guard_port))
    try:
        _wait_port(up_port)
        _wait_port(guard_port)
        gateway.start()
        assert gateway.pid is not None
        prober = Prober(gateway.port)
        prober.start()
        totals = Totals()
        before = process_stats(gateway.pid)

        async def both() -> list[dict[str, Any]]:
            loaded = asyncio.create_task(load(gateway.base_url, seconds, concurrency, totals, seed))
            samples = await sample(gateway.pid or 0, prober, totals, seconds)
            await loaded
            return samples

        samples = asyncio.run(both())
        prober.stopping.set()
        prober.join(5)
        time.sleep(1.0)  # let the last disconnects settle before the final count
        after = process_stats(gateway.pid)
        internal = gateway.logs().count("internal error") + gateway.logs().count("Traceback")
        return {"seconds": seconds, "concurrency": concurrency, "before": before, "after": after,
                "samples": samples, "requests": totals.requests, "by_kind": totals.by_kind,
                "non_policy_errors": totals.errors, "non_policy_examples": totals.non_policy,
                "probe_failures": prober.failures, "internal_errors_logged": internal}
    finally:
        gateway.stop()
        fakes.terminate()
        fakes.wait(10)


def _wait_port(port: int, timeout: float = 20.0) -> None:
    import socket

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on port {port}")


# -- the report ------------------------------------------------------------------------------------------


def table(result: dict[str, Any]) -> str:
    samples = result["samples"]
    lines = [f"# Soak: {result['seconds']:g} s, concurrency {result['concurrency']}", "",
             "| t (s) | requests | RSS (MB) | fds | probe p50 (ms) | probe max (ms) | non-policy errors |",
             "|---:|---:|---:|---:|---:|---:|---:|"]
    step = max(1, len(samples) // 20)
    for s in samples[::step] + ([samples[-1]] if samples and (len(samples) - 1) % step else []):
        lines.append(f"| {s['t']:g} | {s['requests']} | {s['rss_mb']} | {s['fds']} | {s['probe_p50_ms']} | "
                     f"{s['probe_max_ms']} | {s['non_policy']} |")
    rss = [s["rss_mb"] for s in samples] or [0.0]
    lag = [s["probe_max_ms"] for s in samples] or [0.0]
    lines += ["", "| | value |", "|---|---|",
              f"| requests | {result['requests']} |",
              f"| RSS before / after / max (MB) | {result['before'][0]} / {result['after'][0]} / {max(rss)} |",
              f"| fds before / after | {result['before'][1]} / {result['after'][1]} |",
              f"| probe latency, worst second (ms) | {max(lag)} |",
              f"| probe failures | {result['probe_failures']} |",
              f"| non-policy errors | {result['non_policy_errors']} |",
              f"| internal errors in the gateway log | {result['internal_errors_logged']} |",
              "", "| kind | outcomes |", "|---|---|"]
    for kind, outcomes in sorted(result["by_kind"].items()):
        lines.append(f"| {kind} | " + ", ".join(f"{k}: {v}" for k, v in sorted(outcomes.items())) + " |")
    if result["non_policy_examples"]:
        lines += ["", "Non-policy errors (first 50):", ""] + [f"- {e}" for e in result["non_policy_examples"]]
    return "\n".join(lines) + "\n"


def curve(result: dict[str, Any], path: Path) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    samples = result["samples"]
    t = [s["t"] for s in samples]
    fig, axes = plt.subplots(3, 1, figsize=(9, 8), sharex=True)
    axes[0].plot(t, [s["rss_mb"] for s in samples])
    axes[0].set_ylabel("RSS (MB)")
    axes[1].plot(t, [s["fds"] for s in samples])
    axes[1].set_ylabel("open fds")
    axes[2].plot(t, [s["probe_max_ms"] for s in samples], label="max")
    axes[2].plot(t, [s["probe_p50_ms"] for s in samples], label="p50")
    axes[2].set_ylabel("probe latency (ms)")
    axes[2].set_xlabel("seconds")
    axes[2].legend()
    fig.suptitle(f"Gatehouse soak: {result['requests']} requests, {result['non_policy_errors']} non-policy errors")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Soak a gateway with mixed, faulty traffic.")
    parser.add_argument("--seconds", type=float, default=600.0)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, default=BENCH_DIR / "results" / "soak")
    parser.add_argument("--serve-fakes", nargs=2, type=int, metavar=("UPSTREAM_PORT", "GUARDRAIL_PORT"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve_fakes:
        serve_fakes(*args.serve_fakes)
        return 0
    result = run(args.seconds, args.concurrency, args.seed)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "soak.json").write_text(json.dumps(result, indent=1))
    report = table(result)
    (args.out / "soak.md").write_text(report)
    drawn = curve(result, args.out / "soak.png")
    print(report + (f"\ncurve: {args.out / 'soak.png'}" if drawn else "\n(no matplotlib: no curve)"))
    return 1 if result["non_policy_errors"] or result["internal_errors_logged"] else 0


if __name__ == "__main__":
    sys.exit(main())
