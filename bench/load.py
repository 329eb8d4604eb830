"""The load generator: wrk with a Lua script, or a bounded aiohttp fallback.

Both report the same figures on one ``BENCHJSON {...}`` line: requests
completed, duration, status errors (HTTP >= 400), socket errors (connect, read,
write, timeout) and latency percentiles in microseconds. A request's latency is
the time to its complete response, so for a stream it is the whole stream.

The fallback runs as its own process (``python bench/load.py --url ...``),
with aiohttp and uvloop, bounded by its duration and by ``--max-requests``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

__all__ = ["LoadSpec", "LoadResult", "LoadError", "run_wrk", "run_python", "wrk_version"]

_MARK = "BENCHJSON "

_LUA = """\
wrk.method = "POST"
wrk.body = {body}
{headers}
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{mark}{{"requests":%d,"duration_us":%d,"status":%d,"connect":%d,"read":%d,'
    .. '"write":%d,"timeout":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d}}\\n',
    summary.requests, summary.duration, e.status, e.connect, e.read, e.write, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
"""


class LoadError(RuntimeError):
    """The load generator failed or printed no result."""


@dataclass(frozen=True)
class LoadSpec:
    url: str
    body: bytes
    headers: dict[str, str]
    concurrency: int
    duration: int          # whole seconds (wrk's unit)
    timeout: int = 10      # per request, seconds
    threads: int = 1       # wrk threads


@dataclass(frozen=True)
class LoadResult:
    requests: int
    duration_s: float
    non_2xx: int
    socket_errors: int
    p50_ms: float
    p99_ms: float
    generator: str

    @property
    def ok_requests(self) -> int:
        return max(self.requests - self.non_2xx, 0)

    @property
    def rps(self) -> float:
        """Successful responses per second (error answers do not count)."""
        return self.ok_requests / self.duration_s if self.duration_s > 0 else 0.0


def _lua_string(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _lua_script(spec: LoadSpec) -> str:
    headers = "\n".join(f"wrk.headers[{_lua_string(k)}] = {_lua_string(v)}" for k, v in spec.headers.items())
    return _LUA.format(body=_lua_string(spec.body.decode()), headers=headers, mark=_MARK)


def _parse(output: str, generator: str) -> LoadResult:
    for line in output.splitlines():
        if line.startswith(_MARK):
            raw = json.loads(line[len(_MARK):])
            break
    else:
        raise LoadError(f"{generator} printed no result: {output[-400:]!r}")
    return LoadResult(
        requests=raw["requests"],
        duration_s=raw["duration_us"] / 1e6,
        non_2xx=raw["status"],
        socket_errors=raw["connect"] + raw["read"] + raw["write"] + raw["timeout"],
        p50_ms=raw["p50_us"] / 1000,
        p99_ms=raw["p99_us"] / 1000,
        generator=generator,
    )


def wrk_version() -> str | None:
    exe = shutil.which("wrk")
    if exe is None:
        return None
    out = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=10)
    words = (out.stdout + out.stderr).split()
    return " ".join(words[:2]) if words else "wrk"


def run_wrk(spec: LoadSpec) -> LoadResult:
    threads = max(1, min(spec.threads, spec.concurrency))
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(_lua_script(spec))
        script = f.name
    argv = ["wrk", f"-t{threads}", f"-c{spec.concurrency}", f"-d{spec.duration}s",
            "--timeout", f"{spec.timeout}s", "--latency", "-s", script, spec.url]
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=spec.duration + spec.timeout + 30)
    except subprocess.TimeoutExpired as e:
        raise LoadError(f"wrk did not finish: {e}") from e
    finally:
        Path(script).unlink(missing_ok=True)
    if out.returncode != 0:
        raise LoadError(f"wrk exited {out.returncode}: {(out.stderr or out.stdout)[-400:]}")
    return _parse(out.stdout, "wrk")


def run_python(spec: LoadSpec, python: str) -> LoadResult:
    """Run the aiohttp fallback generator in its own process."""
    with tempfile.NamedTemporaryFile("wb", suffix=".json", delete=False) as f:
        f.write(spec.body)
        body_file = f.name
    argv = [python, str(Path(__file__).resolve()), "--url", spec.url, "--body-file", body_file,
            "--concurrency", str(spec.concurrency), "--duration", str(spec.duration),
            "--timeout", str(spec.timeout)]
    for k, v in spec.headers.items():
        argv += ["--header", f"{k}: {v}"]
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=spec.duration + spec.timeout + 30)
    except subprocess.TimeoutExpired as e:
        raise LoadError(f"python load generator did not finish: {e}") from e
    finally:
        Path(body_file).unlink(missing_ok=True)
    if out.returncode != 0:
        raise LoadError(f"python load generator exited {out.returncode}: {out.stderr[-400:]}")
    return _parse(out.stdout, "python-aiohttp")


# -- the fallback generator itself (runs in its own process) ---------------------

def _percentile(sorted_values: list[float], pct: float) -> float:
    if not sorted_values:
        return 0.0
    index = min(len(sorted_values) - 1, max(0, round(pct / 100 * len(sorted_values)) - 1))
    return sorted_values[index]


async def _generate(args: argparse.Namespace) -> dict:
    import asyncio
    import time

    import aiohttp

    body = Path(args.body_file).read_bytes()
    headers = dict(h.split(": ", 1) for h in args.header)
    latencies: list[float] = []
    errors = {"status": 0, "socket": 0, "timeout": 0}
    timeout = aiohttp.ClientTimeout(total=args.timeout)

    async def worker(session: aiohttp.ClientSession, deadline: float) -> None:
        while time.monotonic() < deadline and len(latencies) < args.max_requests:
            start = time.perf_counter()
            try:
                async with session.post(args.url, data=body, headers=headers) as r:
                    await r.read()
                    errors["status"] += r.status >= 400
            except asyncio.TimeoutError:
                errors["timeout"] += 1
                continue
            except aiohttp.ClientError:
                errors["socket"] += 1
                continue
            latencies.append(time.perf_counter() - start)

    connector = aiohttp.TCPConnector(limit=args.concurrency)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        started = time.monotonic()
        deadline = started + args.duration
        await asyncio.gather(*(worker(session, deadline) for _ in range(args.concurrency)))
        elapsed = time.monotonic() - started
    latencies.sort()
    us = [x * 1e6 for x in latencies]
    return {"requests": len(us), "duration_us": int(elapsed * 1e6), "status": errors["status"],
            "connect": 0, "read": errors["socket"], "write": 0, "timeout": errors["timeout"],
            "p50_us": int(_percentile(us, 50)), "p90_us": int(_percentile(us, 90)),
            "p99_us": int(_percentile(us, 99)), "max_us": int(us[-1] if us else 0)}


def main() -> None:
    parser = argparse.ArgumentParser(description="bounded aiohttp load generator (wrk fallback)")
    parser.add_argument("--url", required=True)
    parser.add_argument("--body-file", required=True)
    parser.add_argument("--header", action="append", default=[])
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--duration", type=float, default=1.0)
    parser.add_argument("--timeout", type=float, default=10.0)
    parser.add_argument("--max-requests", type=int, default=5_000_000)
    args = parser.parse_args()
    try:
        from uvloop import run
    except ImportError:
        from asyncio import run
    result = run(_generate(args))
    print(_MARK + json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
