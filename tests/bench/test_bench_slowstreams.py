"""Smoke test of the concurrent slow-streams bench (issue 13): it runs, holds the streams, reports.

No assertion on timing values: only that every stream completed without errors for both
systems and that the figures were produced.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parents[2] / "bench"
sys.path.insert(0, str(BENCH_DIR))

from procs import free_port  # noqa: E402


def test_slow_streams_smoke_run(tmp_path: Path) -> None:
    argv = [sys.executable, str(BENCH_DIR / "slowstreams.py"), "--streams", "20", "--duration", "1",
            "--out", str(tmp_path), "--python", sys.executable]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    rows = json.loads((tmp_path / "slowstreams.json").read_text())["rows"]
    assert [r["system"] for r in rows] == ["passthrough", "gatehouse"]
    for row in rows:
        assert row["errors"] == 0, row
        assert row["streams_done"] >= 20, row
        assert row["lateness_p50_ms"] is not None and row["lateness_p99_ms"] >= row["lateness_p50_ms"], row
        assert row["rss_peak_mb"] > 0 and row["rss_kb_per_stream"] is not None, row
    assert "adds p50" in (tmp_path / "slowstreams.md").read_text()


def test_the_fake_upstream_paces_a_slow_stream() -> None:
    """The slow stream's chunks arrive spread over ~1 s (20 × 50 ms), not at once."""
    import http.client

    port = free_port()
    server = subprocess.Popen([sys.executable, str(BENCH_DIR / "upstream.py"), "--port", str(port)])
    try:
        body = json.dumps({"model": "m", "messages": [], "max_tokens": 50, "stream": True}).encode()
        for _ in range(100):
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                conn.request("POST", "/v1/chat/completions", body=body)
                break
            except OSError:
                time.sleep(0.05)
        response = conn.getresponse()
        arrivals = [time.monotonic() for line in response if line.startswith(b"data: {")]
        conn.close()
    finally:
        server.terminate()
        server.wait(10)
    assert len(arrivals) == 21  # 20 content chunks and the finish chunk
    assert arrivals[-1] - arrivals[0] >= 0.9
