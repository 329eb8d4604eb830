"""The bench's Anthropic scenarios: the bench upstream speaks Anthropic's format (the anthropic SDK
parses it), and Gatehouse runs both scenarios through an anthropic/ deployment. No timing assertion."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Iterator

import anthropic
import pytest

BENCH_DIR = Path(__file__).resolve().parents[2] / "bench"
sys.path.insert(0, str(BENCH_DIR))

from fakes import Fakes  # noqa: E402


@pytest.fixture(scope="module")
def fakes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fakes]:
    f = Fakes(sys.executable, tmp_path_factory.mktemp("bench-logs"))
    f.start()
    yield f
    f.stop()


def test_bench_upstream_speaks_anthropic(fakes: Fakes) -> None:
    with anthropic.Anthropic(base_url=fakes.upstream_base, api_key="sk-upstream", max_retries=0) as client:
        message = client.messages.create(model="claude-bench", max_tokens=32,
                                         messages=[{"role": "user", "content": "hi"}])
        assert message.content[0].text == "Hello! This is the bench upstream answering."  # type: ignore[union-attr]
        with client.messages.stream(model="claude-bench", max_tokens=32,
                                    messages=[{"role": "user", "content": "hi"}]) as stream:
            texts = list(stream.text_stream)
    assert len(texts) == 20 and texts[0] == "tok0 "


def test_quick_run_of_the_anthropic_scenarios(tmp_path: Path) -> None:
    argv = [sys.executable, str(BENCH_DIR / "run.py"), "--quick", "--systems", "gatehouse", "--concurrency", "2",
            "--scenarios", "anthropic,anthropic-stream", "--duration", "1", "--out", str(tmp_path),
            "--python", sys.executable]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    rows = json.loads((tmp_path / "results.json").read_text())["rows"]
    assert {r["scenario"] for r in rows} == {"anthropic", "anthropic-stream"}
    for row in rows:
        assert row["error"] is None and row["rps"] > 0 and row["non_2xx"] == 0, row
