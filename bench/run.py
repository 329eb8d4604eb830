"""Benchmark Gatehouse against a direct call, a minimal Python proxy and LiteLLM.

One run, one machine, side by side:

    python bench/run.py                      # full run: 10 s per cell, results in docs/benchmarks
    python bench/run.py --quick --out /tmp/b # about 1 s per cell (CI smoke)
    python bench/run.py --systems direct,passthrough --scenarios plain,stream --concurrency 1,16

For each system and scenario: render the config, start the system, check one
answer, warm up, then for each concurrency run the load generator and read
the system's CPU and memory from /proc before and after. A system that cannot
start becomes error rows and the run goes on. See bench/README.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

sys.path.insert(0, str(Path(__file__).resolve().parent))

import environment  # noqa: E402
import report  # noqa: E402
from fakes import Fakes  # noqa: E402
from load import LoadError, LoadResult, LoadSpec, run_python, run_wrk, wrk_version  # noqa: E402
from procs import Proc, ProcError, Usage, free_port  # noqa: E402
from scenarios import (SCENARIOS, SHAPES, STREAM_CHUNKS, Scenario, make_virtual_key, render_config,  # noqa: E402
                       request_body, request_headers, stream_timing, verify_response)
from systems import (LITELLM_VERSION, SYSTEMS, InstallError, System, ensure_litellm,  # noqa: E402
                     launch)

BENCH_DIR = Path(__file__).resolve().parent
REPO_DIR = BENCH_DIR.parent


def _default_python() -> str:
    venv = REPO_DIR / ".venv" / "bin" / "python"
    return str(venv) if venv.exists() else sys.executable


def _csv(kind: Callable[[str], object]) -> Callable[[str], list]:
    return lambda text: [kind(x.strip()) for x in text.split(",") if x.strip()]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="Gatehouse benchmark harness (see bench/README.md)")
    p.add_argument("--quick", action="store_true", help="about 1 s per cell, short warm-up (CI smoke)")
    p.add_argument("--systems", type=_csv(str), default=list(SYSTEMS))
    p.add_argument("--scenarios", type=_csv(str), default=list(SCENARIOS))
    p.add_argument("--concurrency", type=_csv(int), default=[1, 16, 64])
    p.add_argument("--duration", type=int, default=None, help="seconds per cell (default 10, 1 with --quick)")
    p.add_argument("--workers", type=int, default=None, help="gatehouse --workers N")
    p.add_argument("--scaling", action="store_true", help="also gatehouse --workers 2 on the plain scenario")
    p.add_argument("--out", type=Path, default=None,
                   help="output directory (default docs/benchmarks; bench/results/quick with --quick)")
    p.add_argument("--python", default=_default_python(), help="interpreter for gatehouse and the fakes")
    p.add_argument("--load-generator", choices=("auto", "wrk", "python"), default="auto")
    p.add_argument("--wrk-threads", type=int, default=1)
    p.add_argument("--litellm-version", default=LITELLM_VERSION)
    p.add_argument("--litellm-venv", type=Path, default=BENCH_DIR / ".venv-litellm")
    p.add_argument("--no-install", action="store_true", help="never install wrk or LiteLLM")
    p.add_argument("--budget", type=float, default=None, help="overall time limit, seconds")
    args = p.parse_args(argv)
    _validate(p, args)
    return args


def _validate(p: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    unknown = [s for s in args.systems if s not in SYSTEMS] + [s for s in args.scenarios if s not in SCENARIOS]
    if unknown:
        p.error(f"unknown system or scenario: {', '.join(unknown)}")
    if not args.concurrency or min(args.concurrency) < 1:
        p.error("--concurrency needs positive integers")
    if args.out is None:  # a quick run never overwrites the committed results
        args.out = BENCH_DIR / "results" / "quick" if args.quick else REPO_DIR / "docs" / "benchmarks"
    if args.duration is None:
        args.duration = 1 if args.quick else 10
    args.duration = max(1, args.duration)
    args.warmup = 1 if args.quick else 2
    if args.budget is None:
        args.budget = 600.0 if args.quick else 3600.0


def _systems(args: argparse.Namespace) -> list[System]:
    out = [System(k, k, args.workers if k == "gatehouse" else None) for k in SYSTEMS if k in args.systems]
    if args.scaling and "gatehouse" in args.systems:
        out.insert([s.kind for s in out].index("gatehouse") + 1, System("gatehouse-w2", "gatehouse", 2))
    return out


def _scenarios_for(system: System, args: argparse.Namespace) -> list[Scenario]:
    """Baselines run one scenario per request shape; the scaling row runs plain only."""
    wanted = [SCENARIOS[name] for name in args.scenarios]
    if system.kind != "gatehouse":
        wanted = [s for s in wanted if not s.virtual_key]  # LiteLLM needs a database for virtual keys
    if system.name == "gatehouse-w2":
        return [SCENARIOS["plain"]]
    if system.baseline:
        shapes = {s.shape for s in wanted}
        return [SCENARIOS[shape] for shape in SHAPES if shape in shapes]
    return wanted


def pick_generator(choice: str, install: bool) -> str:
    """``wrk`` if it is (or can be made) available, else the aiohttp fallback."""
    if choice == "python":
        return "python"
    if shutil.which("wrk") is None and install and os.geteuid() == 0:
        print("[bench] wrk missing: apt-get install wrk", flush=True)
        for argv in (["apt-get", "install", "-y", "-q", "wrk"], ["apt-get", "update", "-q"],
                     ["apt-get", "install", "-y", "-q", "wrk"]):
            try:
                subprocess.run(argv, capture_output=True, timeout=300,
                               env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
            except (OSError, subprocess.TimeoutExpired):
                break
            if shutil.which("wrk"):
                break
    return "wrk" if shutil.which("wrk") else "python"


@dataclass
class Target:
    """What one system/scenario runs against: the URL and the process to measure."""

    url: str
    proc: Proc


class Runner:
    """Runs every cell of the plan; ``rows`` and ``startups`` collect the figures."""

    def __init__(self, args: argparse.Namespace, workdir: Path) -> None:
        self.args = args
        self.workdir = workdir
        self.deadline = time.monotonic() + args.budget
        self.generator = pick_generator(args.load_generator, not args.no_install and not args.quick)
        self.fakes = Fakes(args.python, workdir / "logs")
        self.rows: list[dict] = []
        self.startups: list[dict] = []
        self.litellm_exe: Path | None = None
        self.litellm_error: str | None = None

    def run(self) -> None:
        self.fakes.start()
        try:
            for system in _systems(self.args):
                if system.kind == "litellm":
                    self._install_litellm()
                for scenario in _scenarios_for(system, self.args):
                    self._run_scenario(system, scenario)
        finally:
            self.fakes.stop()

    def _install_litellm(self) -> None:
        timeout = max(60.0, min(900.0, self.deadline - time.monotonic()))
        try:
            self.litellm_exe = ensure_litellm(self.args.litellm_venv, self.args.litellm_version,
                                              self.args.python, not self.args.no_install, timeout)
        except InstallError as e:
            self.litellm_error = f"LiteLLM unavailable: {e}"
            print(f"[bench] {self.litellm_error}", flush=True)

    def _run_scenario(self, system: System, scenario: Scenario) -> None:
        label = f"{system.name}/{scenario.name}"
        if time.monotonic() > self.deadline:
            self._error_rows(system, scenario, "skipped: time budget exhausted")
            return
        if system.kind == "litellm" and self.litellm_error:
            self._error_rows(system, scenario, self.litellm_error)
            return
        print(f"[bench] {label}: starting", flush=True)
        try:
            target = self._start(system, scenario)
        except (ProcError, InstallError) as e:
            print(f"[bench] {label}: cannot start: {str(e)[:300]}", flush=True)
            self.startups.append(_startup_row(system, scenario, error=str(e)))
            self._error_rows(system, scenario, str(e))
            return
        try:
            self._measure_all(system, scenario, target)
        finally:
            if system.kind != "direct":
                target.proc.stop()

    def _start(self, system: System, scenario: Scenario) -> Target:
        if system.kind == "direct":
            return Target(self.fakes.upstream_base + "/v1/chat/completions", self.fakes.upstream)
        confdir = self.workdir / f"{system.name}-{scenario.name}"
        config = render_config(scenario, confdir, self.fakes.upstream_base, self.fakes.guardrail_base)
        port = free_port()
        how = launch(system, config, port, self.fakes.upstream_base, self.args.python, self.litellm_exe)
        proc = Proc(system.name, how.argv, confdir / "server.log", env=how.env, cwd=how.cwd)
        proc.start()
        try:
            ready_s = proc.wait_ready(f"http://127.0.0.1:{port}{how.ready_path}", how.ready_timeout)
        except ProcError:
            proc.stop()
            raise
        self.startups.append(_startup_row(system, scenario, ready_s=ready_s, usage=proc.usage()))
        if scenario.virtual_key:
            make_virtual_key(f"http://127.0.0.1:{port}")
        return Target(f"http://127.0.0.1:{port}/v1/chat/completions", proc)

    def _measure_all(self, system: System, scenario: Scenario, target: Target) -> None:
        problem = self._verify(scenario, target.url)
        if problem:
            print(f"[bench] {system.name}/{scenario.name}: wrong answer: {problem}", flush=True)
            self._error_rows(system, scenario, f"wrong answer: {problem}")
            return
        try:
            self._load(target.url, scenario, max(self.args.concurrency), self.args.warmup)  # warm-up
        except LoadError as e:
            print(f"[bench] {system.name}/{scenario.name}: warm-up failed: {str(e)[:200]}", flush=True)
        for c in self.args.concurrency:
            if time.monotonic() > self.deadline:
                self.rows.append(_row(system, scenario, c, error="skipped: time budget exhausted"))
                continue
            self.rows.append(self._cell(system, scenario, target, c))
            print(f"[bench] {report.one_line(self.rows[-1])}", flush=True)

    def _verify(self, scenario: Scenario, url: str) -> str | None:
        calls = self.fakes.guardrail_calls()
        problem = verify_response(url, scenario)
        if problem is None and scenario.guarded and self.fakes.guardrail_calls() == calls:
            problem = "the guardrail service was not called"
        return problem

    def _cell(self, system: System, scenario: Scenario, target: Target, c: int) -> dict:
        before, up_before, calls = target.proc.usage(), self.fakes.upstream.usage(), self.fakes.upstream_calls()
        guard_calls = self.fakes.guardrail_calls()
        try:
            result = self._load(target.url, scenario, c, self.args.duration)
        except LoadError as e:
            return _row(system, scenario, c, error=str(e))
        after, up_after = target.proc.usage(), self.fakes.upstream.usage()
        row = _row(system, scenario, c, result=result, before=before, after=after)
        row["upstream_calls"] = self.fakes.upstream_calls() - calls
        row["guardrail_calls_per_req"] = round((self.fakes.guardrail_calls() - guard_calls) / result.requests, 2) \
            if result.requests else None
        if scenario.stream and scenario.spec.chunks > STREAM_CHUNKS:
            row.update(stream_timing(target.url, scenario))
        row["upstream_cpu_ms_per_req"] = _per_request(up_after.cpu_s - up_before.cpu_s, result.requests)
        if target.proc.popen.poll() is not None:
            row["error"] = f"{system.name} died during the load: {target.proc.log_tail(5)}"
        return row

    def _load(self, url: str, scenario: Scenario, c: int, duration: int) -> LoadResult:
        spec = LoadSpec(url, request_body(scenario.stream, scenario.shape), request_headers(scenario), c, duration,
                        threads=self.args.wrk_threads)
        return run_wrk(spec) if self.generator == "wrk" else run_python(spec, self.args.python)

    def _error_rows(self, system: System, scenario: Scenario, error: str) -> None:
        for c in self.args.concurrency:
            self.rows.append(_row(system, scenario, c, error=error))


def _per_request(cpu_s: float, requests: int) -> float | None:
    return round(cpu_s * 1000 / requests, 4) if requests else None


def _row(system: System, scenario: Scenario, c: int, result: LoadResult | None = None,
         before: Usage | None = None, after: Usage | None = None, error: str | None = None) -> dict:
    row = {"system": system.name, "kind": system.kind, "workers": system.workers, "scenario": scenario.name,
           "shape": scenario.shape, "concurrency": c, "error": error}
    if result is not None:
        row.update(rps=round(result.rps, 1), p50_ms=round(result.p50_ms, 3), p99_ms=round(result.p99_ms, 3),
                   requests=result.requests, non_2xx=result.non_2xx, socket_errors=result.socket_errors,
                   duration_s=round(result.duration_s, 3), generator=result.generator)
    if before is not None and after is not None:
        row.update(cpu_ms_per_req=_per_request(after.cpu_s - before.cpu_s, result.requests if result else 0),
                   rss_before_mb=round(before.rss_mb, 1), rss_after_mb=round(after.rss_mb, 1), procs=after.procs)
    return row


def _startup_row(system: System, scenario: Scenario, ready_s: float | None = None,
                 usage: Usage | None = None, error: str | None = None) -> dict:
    return {"system": system.name, "scenario": scenario.name,
            "ready_s": round(ready_s, 3) if ready_s is not None else None,
            "rss_mb": round(usage.rss_mb, 1) if usage else None, "procs": usage.procs if usage else None,
            "error": error}


def _meta(args: argparse.Namespace, runner: Runner, started: dt.datetime, elapsed: float) -> dict:
    litellm_python = args.litellm_venv / "bin" / "python"
    return {
        "date": started.isoformat(timespec="seconds"),
        "elapsed_s": round(elapsed, 1),
        "command": shlex.join(["python", "bench/run.py", *sys.argv[1:]]),
        "machine": environment.machine(),
        "versions": environment.versions(args.python),
        "litellm_versions": environment.versions(str(litellm_python)) if litellm_python.exists() else {},
        "load_generator": runner.generator if runner.generator == "python" else wrk_version() or "wrk",
        "wrk_threads": args.wrk_threads,
        "duration_s": args.duration, "warmup_s": args.warmup,
        "concurrency": args.concurrency, "scenarios": args.scenarios,
        "systems": [s.name for s in _systems(args)],
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # SIGTERM unwinds like an exception, so every process we started is stopped on the way out.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    started, t0 = dt.datetime.now(dt.timezone.utc), time.monotonic()
    with tempfile.TemporaryDirectory(prefix="gatehouse-bench-") as tmp:
        runner = Runner(args, Path(tmp))
        print(f"[bench] load generator: {runner.generator}; work dir {tmp}", flush=True)
        try:
            runner.run()
        except KeyboardInterrupt:
            print("[bench] interrupted: writing what was measured", flush=True)
        results = {"meta": _meta(args, runner, started, time.monotonic() - t0),
                   "rows": runner.rows, "startups": runner.startups}
    paths = report.write(results, args.out, args.python)
    print(f"[bench] wrote {', '.join(str(p) for p in paths)}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
