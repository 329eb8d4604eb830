"""Smoke run of the soak (bench/soak.py): a few seconds of the mixed, faulty traffic.

No assertion on timing or memory values: only that every kind of traffic ran,
nothing outside policy went wrong, and the reports were written.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

SOAK = Path(__file__).resolve().parents[2] / "bench" / "soak.py"


def test_a_short_soak_has_no_non_policy_errors(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, str(SOAK), "--seconds", "4", "--concurrency", "8", "--out", str(tmp_path)],
                          capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    result = json.loads((tmp_path / "soak.json").read_text())
    assert result["requests"] > 0 and result["non_policy_errors"] == 0
    assert result["internal_errors_logged"] == 0
    assert {"small", "stream", "stream_disconnect", "upstream_error"} <= set(result["by_kind"])
    assert result["samples"] and all(s["rss_mb"] > 0 and s["fds"] > 0 for s in result["samples"])
    assert "| t (s) | requests | RSS (MB) | fds |" in (tmp_path / "soak.md").read_text()
    assert (tmp_path / "soak.png").stat().st_size > 0
