"""Smoke test of the benchmark harness: it runs, measures, and writes its reports.

No assertion on timing values: only that every cell produced a rate and no
errors, and that the reports exist.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

BENCH_DIR = Path(__file__).resolve().parents[2] / "bench"
sys.path.insert(0, str(BENCH_DIR))

from fakes import Fakes  # noqa: E402
from load import LoadSpec, run_python  # noqa: E402
from scenarios import SCENARIOS, request_body, request_headers, verify_response  # noqa: E402


@pytest.fixture(scope="module")
def fakes(tmp_path_factory: pytest.TempPathFactory):
    f = Fakes(sys.executable, tmp_path_factory.mktemp("bench-logs"))
    f.start()
    yield f
    f.stop()


def test_quick_run_writes_reports(tmp_path: Path) -> None:
    argv = [sys.executable, str(BENCH_DIR / "run.py"), "--quick", "--systems", "direct,passthrough,gatehouse",
            "--concurrency", "1,4", "--scenarios", "plain,stream,guardrail", "--duration", "1", "--out", str(tmp_path),
            "--python", sys.executable]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]

    results = json.loads((tmp_path / "results.json").read_text())
    rows = results["rows"]
    cells = {(r["system"], r["scenario"], r["concurrency"]) for r in rows}
    expected = {(s, sc, c) for s in ("direct", "passthrough") for sc in ("plain", "stream") for c in (1, 4)}
    expected |= {("gatehouse", sc, c) for sc in ("plain", "stream", "guardrail") for c in (1, 4)}
    assert cells == expected
    for row in rows:
        assert row["error"] is None, row
        assert row["rps"] > 0 and row["non_2xx"] == 0 and row["socket_errors"] == 0, row
        assert row["cpu_ms_per_req"] is not None and row["rss_after_mb"] > 0, row
    markdown = (tmp_path / "results.md").read_text()
    assert "| system | scenario | c | RPS |" in markdown
    assert (tmp_path / "rps.png").stat().st_size > 0


def test_fakes_answer_like_an_openai_upstream(fakes: Fakes) -> None:
    url = fakes.upstream_base + "/v1/chat/completions"
    assert verify_response(url, SCENARIOS["plain"]) is None
    assert verify_response(url, SCENARIOS["stream"]) is None
    before = fakes.upstream_calls()
    verify_response(url, SCENARIOS["plain"])
    assert fakes.upstream_calls() == before + 1


def test_python_load_generator_fallback(fakes: Fakes) -> None:
    spec = LoadSpec(fakes.upstream_base + "/v1/chat/completions", request_body(True), request_headers(),
                    concurrency=2, duration=1)
    result = run_python(spec, sys.executable)
    assert result.requests > 0 and result.non_2xx == 0 and result.socket_errors == 0
    assert result.rps > 0 and result.p99_ms >= result.p50_ms > 0
