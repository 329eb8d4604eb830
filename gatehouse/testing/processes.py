"""Servers as subprocesses: start, wait until ready, read logs, stop.

:class:`ServerProcess` runs any command with its output in a log file;
:class:`GatewayProcess` runs ``python -m gatehouse`` on a config written into
a temporary directory. Both are synchronous (tests and fixtures call them from
plain functions) and context managers::

    with GatewayProcess({"model_list": [...]}) as gw:
        OpenAI(base_url=gw.api_base, api_key="sk-test")...

A server that dies or is not ready in time raises :class:`ServerStartError`
carrying the last 50 lines of its log.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Mapping, Sequence

import yaml

__all__ = ["free_port", "ServerStartError", "ServerProcess", "GatewayProcess"]

STOP_GRACE_SECONDS = 5.0
LOG_TAIL_LINES = 50


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free a moment ago (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class ServerStartError(RuntimeError):
    """The server exited or did not answer its ready URL in time."""


class ServerProcess:
    """One server subprocess, stdout and stderr going to ``log_path``.

    ``env`` is added to (and overrides) the current environment. The process
    runs in its own session, so :meth:`stop` also reaches its children.
    """

    def __init__(self, args: Sequence[str], env: Mapping[str, str] | None = None,
                 log_path: str | Path | None = None, cwd: str | Path | None = None) -> None:
        self.args = [str(a) for a in args]
        self.env = dict(env or {})
        self.cwd = Path(cwd) if cwd is not None else None
        self._own_log_dir: str | None = None
        if log_path is None:
            self._own_log_dir = tempfile.mkdtemp(prefix="gatehouse-proc-")
            log_path = Path(self._own_log_dir) / "server.log"
        self.log_path = Path(log_path)
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self, ready_url: str, timeout: float = 20.0) -> ServerProcess:
        """Launch, then poll ``ready_url`` until it answers 200.

        Raises :class:`ServerStartError` (after stopping the process) if the
        process exits or ``timeout`` seconds pass first.
        """
        if self.proc is not None:
            raise RuntimeError("ServerProcess already started")
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                self.args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                env={**os.environ, **self.env}, cwd=self.cwd, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self._fail(f"exited with code {self.proc.returncode} before {ready_url} "
                           "was ready")
            if _answers_200(ready_url):
                return self
            time.sleep(0.05)
        self._fail(f"not ready at {ready_url} after {timeout:g} s")
        raise AssertionError("unreachable")

    def _fail(self, why: str) -> None:
        self.stop()
        raise ServerStartError(f"{' '.join(self.args)}: {why}\n"
                               f"--- last {LOG_TAIL_LINES} log lines ---\n"
                               f"{self.tail(LOG_TAIL_LINES)}")

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after 5 s; leftover children are killed too."""
        proc = self.proc
        if proc is None:
            return
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(STOP_GRACE_SECONDS)
            except subprocess.TimeoutExpired:
                pass
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        proc.wait()

    def logs(self) -> str:
        """Everything the process wrote so far ("" if nothing)."""
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def tail(self, lines: int = LOG_TAIL_LINES) -> str:
        return "\n".join(self.logs().splitlines()[-lines:])

    def __enter__(self) -> ServerProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _answers_200(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return bool(resp.status == 200)
    except (urllib.error.URLError, OSError, ValueError):
        return False


class GatewayProcess(ServerProcess):
    """``python -m gatehouse --config <path> --port <free port> --host 127.0.0.1``.

    ``config``: YAML text (``str``), a mapping (dumped as YAML), or a ``Path``
    used in place. ``files`` (name -> text, e.g. a callbacks module) are
    written next to a written config; the working directory and PYTHONPATH
    include that directory so ``callbacks: custom_callbacks.handler`` imports.
    The directory is removed by :meth:`stop`; :meth:`logs` still works after.
    """

    def __init__(self, config: str | Mapping[str, Any] | Path,
                 env: Mapping[str, str] | None = None,
                 files: Mapping[str, str] | None = None,
                 args: Sequence[str] = (), port: int | None = None) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="gatehouse-gw-"))
        for name, text in (files or {}).items():
            target = self.dir / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
        if isinstance(config, Path):
            self.config_path = config
        else:
            self.config_path = self.dir / "config.yaml"
            text = config if isinstance(config, str) else yaml.safe_dump(dict(config))
            self.config_path.write_text(text)
        self.port = port or free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.api_base = self.base_url + "/v1"
        python_path = os.pathsep.join(p for p in (
            str(self.dir), _package_root(), os.environ.get("PYTHONPATH", "")) if p)
        command = [sys.executable, "-m", "gatehouse", "--config", str(self.config_path),
                   "--port", str(self.port), "--host", "127.0.0.1", *args]
        super().__init__(command, env={"PYTHONPATH": python_path, **(env or {})},
                         log_path=self.dir / "gateway.log", cwd=self.dir)
        self._final_logs: str | None = None

    def start(self, ready_url: str | None = None, timeout: float = 20.0) -> GatewayProcess:
        """Launch and wait for ``/health/readiness`` (or ``ready_url``)."""
        super().start(ready_url or self.base_url + "/health/readiness", timeout)
        return self

    def stop(self) -> None:
        """Stop the gateway, keep its logs in memory, remove the temp directory."""
        super().stop()
        if self.dir.exists():
            self._final_logs = super().logs()
            shutil.rmtree(self.dir, ignore_errors=True)

    def logs(self) -> str:
        return self._final_logs if self._final_logs is not None else super().logs()

    def __enter__(self) -> GatewayProcess:
        return self.start() if self.proc is None else self


def _package_root() -> str:
    """The directory holding the ``gatehouse`` package (for PYTHONPATH)."""
    return str(Path(__file__).resolve().parents[2])
