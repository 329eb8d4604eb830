"""Processes under test: spawn, wait until ready, measure from /proc, stop.

Every process is started in its own session, so stopping it stops the whole
group it made (workers included) and nothing else. CPU and memory are read
from /proc for the process and all its live descendants; CPU also counts the
reaped children (``cutime``/``cstime``), so a worker that exits mid-cell is not
lost.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Proc", "ProcError", "free_port", "http_get", "tree_usage", "Usage"]

_TICK = os.sysconf("SC_CLK_TCK")


class ProcError(RuntimeError):
    """A process did not start, or died, or did not become ready in time."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_get(url: str, timeout: float = 2.0) -> tuple[int, bytes]:
    """GET ``url`` (loopback only); (status, body), status 0 when unreachable."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:  # noqa: S310 - loopback URL we built
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()
    except (OSError, ValueError):
        return 0, b""


@dataclass(frozen=True)
class Usage:
    cpu_s: float      # utime+stime of the tree, plus reaped children
    rss_mb: float     # sum of VmRSS over the tree
    procs: int        # live processes in the tree


def _stat(pid: int) -> tuple[int, float] | None:
    """(ppid, cpu seconds incl. reaped children) of ``pid``, None if it is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return None
    fields = raw[raw.rfind(b")") + 2:].split()
    ppid = int(fields[1])
    ticks = sum(int(x) for x in fields[11:15])  # utime stime cutime cstime
    return ppid, ticks / _TICK


def _rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _descendants(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            st = _stat(int(entry))
            if st is not None:
                children.setdefault(st[0], []).append(int(entry))
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo.extend(children.get(pid, []))
    return tree


def tree_usage(root: int) -> Usage:
    cpu, rss, n = 0.0, 0.0, 0
    for pid in _descendants(root):
        st = _stat(pid)
        if st is None:
            continue
        cpu += st[1]
        rss += _rss_mb(pid)
        n += 1
    return Usage(cpu, rss, n)


@dataclass
class Proc:
    """One spawned process (and its group); ``log`` holds its stdout and stderr."""

    name: str
    argv: list[str]
    log: Path
    env: dict[str, str] = field(default_factory=dict)
    cwd: str | None = None
    popen: subprocess.Popen | None = None
    spawned_at: float = 0.0

    def start(self) -> None:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log, "wb") as out:
            self.spawned_at = time.monotonic()
            try:
                self.popen = subprocess.Popen(
                    self.argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                    env=self.env or None, cwd=self.cwd, start_new_session=True,
                )
            except OSError as e:
                raise ProcError(f"{self.name}: cannot spawn {self.argv[0]}: {e}") from e

    def wait_ready(self, url: str, timeout: float) -> float:
        """Poll ``url`` until it answers 200; seconds from spawn to ready."""
        deadline = self.spawned_at + timeout
        while time.monotonic() < deadline:
            if self.popen.poll() is not None:
                raise ProcError(f"{self.name} exited with {self.popen.returncode}: {self.log_tail()}")
            if http_get(url, timeout=1.0)[0] == 200:
                return time.monotonic() - self.spawned_at
            time.sleep(0.01)
        raise ProcError(f"{self.name} not ready after {timeout:.0f} s at {url}: {self.log_tail()}")

    def usage(self) -> Usage:
        return tree_usage(self.popen.pid)

    def log_tail(self, lines: int = 12) -> str:
        try:
            text = self.log.read_text(errors="replace").strip().splitlines()
        except OSError:
            return "(no log)"
        return " | ".join(text[-lines:]) or "(empty log)"

    def stop(self, grace: float = 5.0) -> None:
        """SIGTERM the process group, SIGKILL it after ``grace`` seconds."""
        if self.popen is None or self.popen.poll() is not None:
            return
        pgid = self.popen.pid  # start_new_session: the group id is our child's pid
        tree = _descendants(pgid)
        for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
            try:
                os.killpg(pgid, sig)
            except ProcessLookupError:
                break
            try:
                self.popen.wait(timeout=wait)
                break
            except subprocess.TimeoutExpired:
                continue
        _kill_leftovers(tree, pgid)


def _kill_leftovers(pids: list[int], pgid: int) -> None:
    """SIGKILL what is left of a stopped tree: only those pids still in our group."""
    for pid in pids:
        try:
            if os.getpgid(pid) == pgid:
                os.kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            continue
