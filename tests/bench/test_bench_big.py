"""Smoke test of the realistic-payload bench scenarios (issue 13): 100 KB prompts, a 4 KB answer
through a post_call guardrail, a 500-chunk stream through a streaming guardrail.

No assertion on timing values: only that every cell produced numbers, without errors, and
that the guarded scenarios really called the guardrail service.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parents[2] / "bench"
sys.path.insert(0, str(BENCH_DIR))

from scenarios import BIG_PROMPT_BYTES, LONG_STREAM_CHUNKS, request_body  # noqa: E402

SCENARIOS = ("big", "big-hooks", "big-guardrail", "big-post-guardrail", "long-stream-guarded")


def test_big_request_bodies_have_the_sizes_they_claim() -> None:
    big = json.loads(request_body(False, "big"))
    assert sum(len(m["content"]) for m in big["messages"]) == BIG_PROMPT_BYTES
    assert json.loads(request_body(True, "long-stream"))["max_tokens"] == LONG_STREAM_CHUNKS


def test_quick_run_of_the_big_scenarios(tmp_path: Path) -> None:
    argv = [sys.executable, str(BENCH_DIR / "run.py"), "--quick", "--systems", "direct,passthrough,gatehouse",
            "--concurrency", "4", "--scenarios", ",".join(SCENARIOS), "--duration", "1", "--out", str(tmp_path),
            "--python", sys.executable]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]

    rows = json.loads((tmp_path / "results.json").read_text())["rows"]
    cells = {(r["system"], r["scenario"]) for r in rows}
    baselines = {(s, shape) for s in ("direct", "passthrough") for shape in ("big", "big-4k", "long-stream")}
    assert cells == baselines | {("gatehouse", s) for s in SCENARIOS}
    for row in rows:
        assert row["error"] is None, row
        assert row["rps"] > 0 and row["non_2xx"] == 0 and row["socket_errors"] == 0, row
        assert row["cpu_ms_per_req"] is not None and row["rss_after_mb"] > 0, row
    by = {(r["system"], r["scenario"]): r for r in rows}
    for scenario in ("big-guardrail", "big-post-guardrail", "long-stream-guarded"):
        assert by[("gatehouse", scenario)]["guardrail_calls_per_req"] >= 1, scenario
    for key in (("gatehouse", "long-stream-guarded"), ("passthrough", "long-stream")):
        assert by[key]["ttft_ms"] is not None and by[key]["stream_total_ms"] >= by[key]["ttft_ms"], by[key]
    assert "## Long streams" in (tmp_path / "results.md").read_text()
