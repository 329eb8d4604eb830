"""The committed build (gatehouse/ui/static) is the build of the committed sources (ui/).

Two checks: the digest of the sources recorded by ``scripts/build-ui`` in
``gatehouse/ui/build-info.json`` matches the sources now (fast, no Node), and
``scripts/build-ui --check`` rebuilds from ``package-lock.json`` into a
temporary folder and finds the same bytes (Node.js and npm, the npm registry
the first time; Vite's output is deterministic).
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "build-ui"


def _script() -> ModuleType:
    loader = importlib.machinery.SourceFileLoader("build_ui", str(SCRIPT))
    spec = importlib.util.spec_from_loader("build_ui", loader)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


def test_recorded_digest_matches_the_sources() -> None:
    build = _script()
    info = json.loads((ROOT / "gatehouse" / "ui" / "build-info.json").read_text())
    assert info["sources_sha256"] == build.sources_digest(), (
        "ui/ changed since the last build: run scripts/build-ui and commit gatehouse/ui/static")
    static = ROOT / "gatehouse" / "ui" / "static"
    assert sorted(p.relative_to(static).as_posix() for p in static.rglob("*") if p.is_file()) == info["files"]


def test_a_fresh_build_gives_the_committed_files() -> None:
    if shutil.which("npm") is None:
        pytest.fail("npm is missing: Node.js >= 20.19 with npm is needed to check the console's build", pytrace=False)
    result = subprocess.run([sys.executable, str(SCRIPT), "--check"], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
