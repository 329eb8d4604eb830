"""The systems under test and how each one is started.

- ``direct``: no gateway; the load goes straight to the fake upstream (the floor).
- ``passthrough``: ``bench/passthrough.py``, the practical limit for Python.
- ``gatehouse``: ``<python> -m gatehouse --config ... [--workers N]``, ready at
  ``/health/readiness``.
- ``litellm``: the LiteLLM proxy from its own virtual environment
  (``bench/.venv-litellm``, installed here from PyPI), ready at
  ``/health/liveliness``, kept off the network.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["System", "Launch", "SYSTEMS", "BASELINES", "launch", "InstallError", "ensure_litellm",
           "LITELLM_VERSION"]

BENCH_DIR = Path(__file__).resolve().parent
REPO_DIR = BENCH_DIR.parent

# Newer releases (1.103.x .. 1.109.x) require certifi>=2026.10.19 and
# litellm-proxy-extras versions that the package index may not have yet;
# 1.102.4 is the newest release whose litellm[proxy] installs cleanly here.
LITELLM_VERSION = "1.102.4"

# LiteLLM must not reach the network: no cost-map download, no telemetry, and
# any other outbound HTTP(S) goes to a closed loopback port and fails at once.
_LITELLM_ENV = {
    "LITELLM_DANGEROUSLY_PERMIT_WEAK_OR_UNSET_MASTER_KEY": "true",
    "LITELLM_LOG": "ERROR",
    "LITELLM_TELEMETRY": "False",
    "LITELLM_LOCAL_MODEL_COST_MAP": "True",
    "LITELLM_DONT_SHOW_FEEDBACK_BOX": "True",
    "HTTP_PROXY": "http://127.0.0.1:9", "HTTPS_PROXY": "http://127.0.0.1:9",
    "http_proxy": "http://127.0.0.1:9", "https_proxy": "http://127.0.0.1:9",
    "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost",
    "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
}


@dataclass(frozen=True)
class System:
    name: str                 # row label, e.g. "gatehouse-w2"
    kind: str                 # direct | passthrough | gatehouse | litellm
    workers: int | None = None

    @property
    def baseline(self) -> bool:
        """Baselines run one cell per request shape, not per scenario."""
        return self.kind in BASELINES


BASELINES = ("direct", "passthrough")
SYSTEMS = ("direct", "passthrough", "gatehouse", "litellm")


@dataclass(frozen=True)
class Launch:
    argv: list[str]
    ready_path: str
    ready_timeout: float
    cwd: str
    env: dict[str, str] = field(default_factory=dict)


def _env(extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    env.update(extra)
    return env


def launch(system: System, config: Path, port: int, upstream_base: str,
           python: str, litellm_exe: Path | None) -> Launch:
    """How to start ``system`` on ``port`` with ``config`` (never called for direct)."""
    addr = ["--host", "127.0.0.1", "--port", str(port)]
    cwd = str(config.parent)
    if system.kind == "passthrough":
        return Launch([python, str(BENCH_DIR / "passthrough.py"), *addr, "--upstream", upstream_base],
                      "/health", 30.0, cwd, _env({}))
    if system.kind == "gatehouse":
        workers = ["--workers", str(system.workers)] if system.workers else []
        pythonpath = os.pathsep.join([cwd, str(REPO_DIR)])
        return Launch([python, "-m", "gatehouse", "--config", str(config), *addr, *workers],
                      "/health/readiness", 60.0, cwd, _env({"PYTHONPATH": pythonpath}))
    if system.kind == "litellm":
        if litellm_exe is None:
            raise InstallError("LiteLLM is not installed")
        argv = [str(litellm_exe), "--config", str(config), *addr, "--num_workers", "1", "--telemetry", "False"]
        return Launch(argv, "/health/liveliness", 180.0, cwd, _env({**_LITELLM_ENV, "PYTHONPATH": cwd}))
    raise ValueError(f"no launch for system {system.name!r}")


# -- LiteLLM's own virtual environment -----------------------------------------------

class InstallError(RuntimeError):
    """LiteLLM could not be installed (or is missing and installing is off)."""


def _installed_version(venv: Path) -> str | None:
    python = venv / "bin" / "python"
    if not python.exists():
        return None
    out = subprocess.run([str(python), "-c", "import importlib.metadata as m; print(m.version('litellm'))"],
                         capture_output=True, text=True, timeout=60)
    return out.stdout.strip() if out.returncode == 0 else None


def ensure_litellm(venv: Path, version: str, python: str, install: bool, timeout: float) -> Path:
    """Path of the ``litellm`` executable, installing ``litellm[proxy]==version`` if needed."""
    exe = venv / "bin" / "litellm"
    if exe.exists() and _installed_version(venv) == version:
        return exe
    if not install:
        raise InstallError(f"litellm {version} is not installed in {venv} (installing is off)")
    print(f"[bench] installing litellm[proxy]=={version} into {venv} (up to {timeout:.0f} s)", flush=True)
    steps = [[python, "-m", "venv", str(venv)],
             [str(venv / "bin" / "pip"), "install", "-q", f"litellm[proxy]=={version}"]]
    for argv in steps:
        try:
            out = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired as e:
            raise InstallError(f"{' '.join(argv[:3])} timed out after {timeout:.0f} s") from e
        if out.returncode != 0:
            errors = [line for line in out.stderr.splitlines() if line.startswith("ERROR")]
            raise InstallError(f"{' '.join(argv[:3])} failed: {' | '.join(errors[-3:]) or out.stderr[-300:]}")
    if not exe.exists():
        raise InstallError(f"{exe} missing after install")
    return exe
