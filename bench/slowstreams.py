"""Many concurrent slow streams held by one worker: added per-chunk latency and RSS per open stream.

Each system (the pass-through and Gatehouse, one worker each, on the ``plain``
config) is started against the bench's fake upstream, which answers
``"max_tokens": 50`` streams with 20 content chunks 50 ms apart. ``--streams``
clients each open a stream, read it to ``[DONE]`` and open the next, for
``--duration`` seconds. Every content chunk's lateness is measured against the
upstream's schedule as the client sees it: ``(arrival − request sent) − k ×
50 ms`` for the k-th chunk (so it includes the request's way to the upstream);
the report gives its p50 and p99 per system, and Gatehouse's minus the
pass-through's is what the gateway adds per chunk. RSS per open stream is the
peak RSS of the system's process tree while the streams are open, minus its
RSS before, divided by the number of streams.

Run with the dev venv (it needs aiohttp)::

    .venv/bin/python bench/slowstreams.py --streams 2000 --duration 10
    .venv/bin/python bench/slowstreams.py --streams 50 --duration 2 --out /tmp/slow   # a smoke run

Writes ``slowstreams.json`` and ``slowstreams.md`` to ``--out`` (default: print only).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fakes import Fakes  # noqa: E402
from procs import Proc, free_port, tree_usage  # noqa: E402
from scenarios import SCENARIOS, request_headers, render_config  # noqa: E402
from systems import System, launch  # noqa: E402

INTERVAL_MS = 50.0
CHUNKS = 20
BODY = json.dumps({"model": "bench-model", "messages": [{"role": "user", "content": "Hello, how are you?"}],
                   "max_tokens": 50, "stream": True}, separators=(",", ":")).encode()


@dataclass
class Tally:
    lateness_ms: list[float] = field(default_factory=list)
    streams: int = 0
    errors: int = 0
    first_error: str | None = None

    def error(self, what: str) -> None:
        self.errors += 1
        self.first_error = self.first_error or what


async def _one(session, url: str, tally: Tally) -> None:  # session: aiohttp.ClientSession
    arrivals: list[float] = []
    sent = time.perf_counter()
    async with session.post(url, data=BODY, headers=request_headers()) as resp:
        if resp.status != 200:
            tally.error(f"HTTP {resp.status}")
            await resp.read()
            return
        done = False
        async for line in resp.content:
            if line.startswith(b"data: [DONE]"):
                done = True
            elif line.startswith(b"data: {") and b'"content"' in line:
                arrivals.append(time.perf_counter())
    if not done or len(arrivals) != CHUNKS:
        tally.error(f"stream ended after {len(arrivals)} content chunks (done: {done})")
        return
    tally.streams += 1
    tally.lateness_ms += [(t - sent) * 1000 - k * INTERVAL_MS for k, t in enumerate(arrivals)]


async def _client(session, url: str, deadline: float, tally: Tally) -> None:
    while time.monotonic() < deadline:
        try:
            await _one(session, url, tally)
        except Exception as e:  # noqa: BLE001 - a broken stream is an error row, not a crash
            tally.error(f"{type(e).__name__}: {e}")
            await asyncio.sleep(0.05)


async def _hold(url: str, streams: int, duration: float, pid: int) -> tuple[Tally, float]:
    """Run the clients; the peak RSS (MB) of ``pid``'s tree while they run."""
    import aiohttp

    tally, peak = Tally(), 0.0
    deadline = time.monotonic() + duration
    connector = aiohttp.TCPConnector(limit=0, force_close=False)
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        clients = [asyncio.create_task(_client(session, url, deadline, tally)) for _ in range(streams)]
        while not all(c.done() for c in clients):
            peak = max(peak, tree_usage(pid).rss_mb)
            await asyncio.sleep(0.2)
        await asyncio.gather(*clients)
    return tally, peak


def _pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 3)


def measure(system: System, fakes: Fakes, workdir: Path, python: str, streams: int, duration: float) -> dict:
    confdir = workdir / system.name
    config = render_config(SCENARIOS["plain"], confdir, fakes.upstream_base, fakes.guardrail_base)
    port = free_port()
    how = launch(system, config, port, fakes.upstream_base, python, None)
    proc = Proc(system.name, how.argv, confdir / "server.log", env=how.env, cwd=how.cwd)
    proc.start()
    try:
        proc.wait_ready(f"http://127.0.0.1:{port}{how.ready_path}", how.ready_timeout)
        url = f"http://127.0.0.1:{port}/v1/chat/completions"
        asyncio.run(_hold(url, min(streams, 8), 1.0, proc.popen.pid))  # warm-up
        idle = tree_usage(proc.popen.pid).rss_mb
        tally, peak = asyncio.run(_hold(url, streams, duration, proc.popen.pid))
    finally:
        proc.stop()
    return {"system": system.name, "streams_open": streams, "streams_done": tally.streams, "errors": tally.errors,
            "first_error": tally.first_error, "lateness_p50_ms": _pct(tally.lateness_ms, 0.50),
            "lateness_p99_ms": _pct(tally.lateness_ms, 0.99), "rss_idle_mb": round(idle, 1),
            "rss_peak_mb": round(peak, 1), "rss_kb_per_stream": round((peak - idle) * 1024 / streams, 1)}


def render(rows: list[dict], streams: int, duration: float) -> str:
    lines = [f"# {streams} concurrent slow streams ({CHUNKS} chunks, {INTERVAL_MS:g} ms apart), {duration:g} s", "",
             "| system | streams done | errors | lateness p50 ms | lateness p99 ms | RSS idle → peak MB | "
             "RSS KB / open stream |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['system']} | {r['streams_done']} | {r['errors']} | {r['lateness_p50_ms']} | "
                     f"{r['lateness_p99_ms']} | {r['rss_idle_mb']} → {r['rss_peak_mb']} | {r['rss_kb_per_stream']} |")
    base = next((r for r in rows if r["system"] == "passthrough"), None)
    for r in rows:
        if base and r is not base and r["lateness_p99_ms"] is not None and base["lateness_p99_ms"] is not None:
            lines += ["", f"{r['system']} adds p50 {r['lateness_p50_ms'] - base['lateness_p50_ms']:.3f} ms, "
                          f"p99 {r['lateness_p99_ms'] - base['lateness_p99_ms']:.3f} ms per chunk over the pass-through."]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--streams", type=int, default=2000)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--systems", default="passthrough,gatehouse")
    parser.add_argument("--python", default=sys.executable, help="interpreter for Gatehouse and the fakes")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="gatehouse-slow-") as tmp:
        workdir = Path(tmp)
        fakes = Fakes(args.python, workdir / "logs")
        fakes.start()
        try:
            rows = [measure(System(name, name), fakes, workdir, args.python, args.streams, args.duration)
                    for name in args.systems.split(",")]
        finally:
            fakes.stop()
    text = render(rows, args.streams, args.duration)
    print(text, flush=True)
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "slowstreams.json").write_text(json.dumps({"streams": args.streams, "duration": args.duration,
                                                               "rows": rows}, indent=2))
        (args.out / "slowstreams.md").write_text(text)


if __name__ == "__main__":
    main()
