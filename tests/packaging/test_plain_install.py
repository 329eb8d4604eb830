"""A plain ``pip install gatehouse`` (no test extras) loads hook files written like the seeds' examples.

One fresh virtual environment per session: the checkout is installed into it
with pip (wheels come from pip's cache after the first run; about 20 s), and
nothing of the test extras (pytest, openai, PyJWT) is there. Each seed example
gets only its import lines changed (``for_gatehouse``), then ``gatehouse
check-config`` from that environment must load it; one is served and its
``fastapi.HTTPException`` must give the documented status and body.
"""

from __future__ import annotations

import os
import subprocess
import venv
from pathlib import Path
from typing import Iterator

import httpx
import pytest

from gatehouse.testing import ServerProcess, free_port

from seed_hooks import copies, examples, for_gatehouse, instance_name

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.install

SEEDS = ROOT.parent / "shared" / "seeds"
#: The seeds' configs call gpt-3.5-turbo; their pre-call hooks switch the model to "my-new-model".
MODELS = ("model_list:\n"
          "  - {model_name: gpt-3.5-turbo, litellm_params: {model: mock/gpt-3.5-turbo}}\n"
          "  - {model_name: my-new-model, litellm_params: {model: mock/my-new-model}}\n")


@pytest.fixture(scope="module")
def plain_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A new venv with Gatehouse installed the way a user installs it (no extras)."""
    where = tmp_path_factory.mktemp("plain-install") / "venv"
    venv.create(where, with_pip=True)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    result = subprocess.run([str(where / "bin" / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check",
                             str(ROOT)], capture_output=True, text=True, timeout=600, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    yield where


def _run(env_dir: Path, args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    return subprocess.run([str(env_dir / "bin" / "gatehouse"), *args], cwd=cwd, capture_output=True, text=True,
                          timeout=120, env=env, stdin=subprocess.DEVNULL)


def test_the_environment_has_no_test_extras(plain_env: Path) -> None:
    probe = "import importlib.util as u; print([m for m in ('pytest', 'openai', 'jwt') if u.find_spec(m)])"
    out = subprocess.run([str(plain_env / "bin" / "python"), "-c", probe], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr


def test_the_committed_copies_are_the_seeds_examples() -> None:
    if not SEEDS.is_dir():
        pytest.skip(f"{SEEDS} is not beside this checkout")  # the copies are then the reference
    found = examples((SEEDS / "002_55dae72a85d68726.txt").read_text())
    assert list(copies().values()) == found


@pytest.mark.parametrize("name", sorted(copies()))
def test_a_seed_example_loads_with_only_its_imports_changed(plain_env: Path, tmp_path: Path, name: str) -> None:
    code = copies()[name]
    module = name.removesuffix(".py")
    (tmp_path / name).write_text(for_gatehouse(code))
    (tmp_path / "config.yaml").write_text(
        f"{MODELS}litellm_settings:\n  callbacks: {module}.{instance_name(code)}\n")
    result = _run(plain_env, ["check-config", "config.yaml"], tmp_path)
    assert result.returncode == 0, result.stderr
    assert f"{module}.{instance_name(code)}.async_pre_call_hook" in result.stdout


def test_a_litellm_import_gets_a_clear_hint(plain_env: Path, tmp_path: Path) -> None:
    name, code = next(iter(copies().items()))
    (tmp_path / name).write_text(code)  # unchanged: imports litellm
    (tmp_path / "config.yaml").write_text(f"litellm_settings:\n  callbacks: {name[:-3]}.{instance_name(code)}\n")
    result = _run(plain_env, ["check-config", "config.yaml"], tmp_path)
    assert result.returncode == 2
    assert "ModuleNotFoundError: No module named 'litellm'" in result.stderr
    assert "change `from litellm... import X` to `from gatehouse import X`" in result.stderr


def test_a_fastapi_http_exception_from_a_seed_hook(plain_env: Path, tmp_path: Path) -> None:
    name = "seed_002_2.py"  # the moderation example: raise HTTPException(400, {"error": ...}) on "hello world"
    code = copies()[name]
    (tmp_path / name).write_text(for_gatehouse(code))
    (tmp_path / "config.yaml").write_text(
        f"{MODELS}litellm_settings:\n  callbacks: seed_002_2.{instance_name(code)}\n")
    port = free_port()
    env = {"PYTHONPATH": "", "VIRTUAL_ENV": ""}
    with ServerProcess([str(plain_env / "bin" / "gatehouse"), "config.yaml", "--port", str(port), "--host",
                        "127.0.0.1"], env=env, cwd=tmp_path) as server:
        server.start(f"http://127.0.0.1:{port}/health/readiness")
        url = f"http://127.0.0.1:{port}/chat/completions"
        ok = httpx.post(url, json={"model": "gpt-3.5-turbo", "messages": [{"role": "user", "content": "hi"}]})
        blocked = httpx.post(url, json={"model": "gpt-3.5-turbo",
                                        "messages": [{"role": "user", "content": "hello world"}]})
    assert ok.status_code == 200, ok.text
    assert blocked.status_code == 400, blocked.text
    assert blocked.json()["error"] == {
        "message": "Violated content safety policy", "type": "invalid_request_error", "param": None, "code": "400",
        "provider_specific_fields": {"error": "Violated content safety policy"}}


def test_the_admin_console_ships_built(plain_env: Path) -> None:
    """``/ui`` needs no Node at run time: the built files are package data."""
    probe = "from gatehouse.ui.assets import Assets; a = Assets(); print(a.built, sorted(a.files)[:1])"
    out = subprocess.run([str(plain_env / "bin" / "python"), "-c", probe], capture_output=True, text=True, timeout=60,
                         cwd=str(plain_env))
    assert out.stdout.startswith("True ['assets/"), out.stdout + out.stderr
