"""What the results were measured on: the machine and the software versions."""

from __future__ import annotations

import json
import os
import platform
import subprocess
from pathlib import Path

__all__ = ["machine", "versions"]

_VERSIONS_SCRIPT = """
import json, sys, importlib.metadata as m
out = {"python": sys.version.split()[0]}
for name in ("aiohttp", "uvloop", "gatehouse", "litellm"):
    try:
        out[name] = m.version(name)
    except m.PackageNotFoundError:
        pass
print(json.dumps(out))
"""


def machine() -> dict[str, object]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gb = 0.0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_gb = round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "memory_gb": mem_gb,
            "kernel": platform.release(), "os": platform.platform(terse=True),
            "loadavg_1m_at_start": round(os.getloadavg()[0], 2)}


def versions(python: str) -> dict[str, str]:
    """Versions of Python and the packages that matter, as seen by ``python``."""
    try:
        out = subprocess.run([python, "-c", _VERSIONS_SCRIPT], capture_output=True, text=True, timeout=60,
                             cwd="/")  # not the repo: its gatehouse.egg-info would show up everywhere
        return json.loads(out.stdout) if out.returncode == 0 else {}
    except (OSError, ValueError, subprocess.TimeoutExpired):
        return {}
