"""The bench's /v1/messages scenarios run and their answers check out (native and translated, JSON and
streams). No timing assertion."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parents[2] / "bench"
SCENARIOS = ("messages", "messages-stream", "messages-translated", "messages-translated-stream")


def test_quick_run_of_the_messages_scenarios(tmp_path: Path) -> None:
    argv = [sys.executable, str(BENCH_DIR / "run.py"), "--quick", "--systems", "gatehouse", "--concurrency", "2",
            "--scenarios", ",".join(SCENARIOS), "--duration", "1", "--out", str(tmp_path), "--python", sys.executable]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    rows = json.loads((tmp_path / "results.json").read_text())["rows"]
    assert {r["scenario"] for r in rows} == set(SCENARIOS)
    for row in rows:
        assert row["error"] is None and row["rps"] > 0 and row["non_2xx"] == 0, row
