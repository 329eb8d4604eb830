"""Loading ``litellm_settings.callbacks`` (and ``post_call_rules``) at start-up.

``module.attribute`` comes from a file beside the config, else from an
importable module; a bare name is a built-in. Mistakes stop start-up with exit
code 2 and one message saying what to write instead — never a traceback.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from policy_support import MASTER_KEY, RULES_PY, model_entry, new_id, post, with_id

from gatehouse.testing import GatewayProcess, free_port

RECORDER = '''
import json, os


class Recorder:
    def __init__(self, name):
        self.name = name

    async def async_pre_call_hook(self, user_api_key_dict, cache, data, call_type):
        with open(os.environ["POLICY_EVENTS"], "a") as f:
            f.write(json.dumps({"who": self.name, "call_id": data.get("litellm_trace_id"),
                                "tags": (data.get("metadata") or {}).get("tags")}) + "\\n")
'''


def recorded(path: Path, call_id: str) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [e for e in map(json.loads, path.read_text().splitlines()) if e["call_id"] == call_id]


@pytest.fixture(scope="module")
def loaded(tmp_path_factory, fake_upstream):
    """A config in its own directory (not the working directory), its modules beside it, others importable."""
    config_dir = tmp_path_factory.mktemp("config-dir")
    (config_dir / "mymod.py").write_text(RECORDER + 'alpha = Recorder("alpha-beside-the-config")\n')
    (config_dir / "pkg").mkdir()
    (config_dir / "pkg" / "hooks.py").write_text(RECORDER + 'gamma = Recorder("gamma-in-pkg/hooks.py")\n')
    config = {
        "model_list": [model_entry(fake_upstream.url, "nova-embeddings-v1", "nova-embeddings-v1")],
        "litellm_settings": {"callbacks": ["mymod.alpha", "nova_task_router", "libmod.beta", "pkg.hooks.gamma"]},
        "general_settings": {"master_key": MASTER_KEY},
    }
    config_path = config_dir / "config.yaml"
    config_path.write_text(yaml.safe_dump(config))
    events = config_dir / "events.jsonl"
    # In the working directory (importable): another mymod that must NOT win, and libmod.
    files = {"mymod.py": RECORDER + 'alpha = Recorder("alpha-importable")\n',
             "libmod.py": RECORDER + 'beta = Recorder("beta-importable")\n'}
    gw = GatewayProcess(config_path, env={"POLICY_EVENTS": str(events)}, files=files).start()
    yield gw, events
    gw.stop()


def test_callbacks_load_in_order_from_beside_the_config_then_importable(loaded, fake_upstream):
    gw, events = loaded
    call_id = new_id()
    response = post(gw.api_base, "/embeddings", {"model": "nova-embeddings-v1", "input": "q", "task": "retrieval"},
                    headers=with_id(call_id))
    assert response.status_code == 200, response.text
    seen = recorded(events, call_id)
    assert [e["who"] for e in seen] == ["alpha-beside-the-config", "beta-importable", "gamma-in-pkg/hooks.py"]
    # The built-in between them ran in its place: after alpha, before beta.
    assert [e["tags"] for e in seen] == [None, ["retrieval"], ["retrieval"]]


def _write(directory: Path, config: dict[str, Any], files: dict[str, str]) -> Path:
    directory.mkdir(parents=True)
    for name, text in files.items():
        (directory / name).write_text(text)
    path = directory / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


HANDLER_FILE = '''
from gatehouse import CustomLogger


class MyHandler(CustomLogger):
    async def async_pre_call_hook(self, user_api_key_dict, cache, data, call_type):
        return None


proxy_handler_instance = MyHandler()
settings = {"not": "a callback"}
'''

#: name → (litellm_settings, fragments the message must contain)
BAD_CONFIGS = {
    "class": ({"callbacks": "custom_callbacks.MyHandler"},
              ["litellm_settings.callbacks[0]", "is the class MyHandler",
               "proxy_handler_instance = MyHandler()", "custom_callbacks.proxy_handler_instance"]),
    "missing module": ({"callbacks": ["nosuchmod.handler"]},
                       ["cannot find 'nosuchmod'", "beside the config", "custom_callbacks"]),
    "missing attribute": ({"callbacks": ["custom_callbacks.nope"]},
                          ["has no attribute 'nope'", "write one of: custom_callbacks.proxy_handler_instance"]),
    "module fails to import": ({"callbacks": ["broken.handler"]},
                               ["loading", "broken.py failed: ZeroDivisionError", "(line"]),
    "unknown built-in": ({"callbacks": ["not_a_builtin"]},
                         ["'not_a_builtin' is not a built-in hook", "nova_task_router",
                          "custom_callbacks.proxy_handler_instance"]),
    "object without hooks": ({"callbacks": ["custom_callbacks.settings"]},
                             ["'custom_callbacks.settings' has none of the hook methods"]),
    "not a list": ({"callbacks": 5}, ["litellm_settings.callbacks", "must be a string or a list of strings"]),
    "missing rule": ({"post_call_rules": "rules.nope"},
                     ["litellm_settings.post_call_rules", "has no attribute 'nope'",
                      "write one of: rules.my_rule, rules.audit_rule"]),
}
#: These three start the real server (the others are checked in-process, the same loader).
STARTED = ("class", "missing module", "missing attribute")
FILES = {"custom_callbacks.py": HANDLER_FILE, "broken.py": "handler = 1 / 0\n", "rules.py": RULES_PY}


def test_a_broken_callback_stops_the_server_with_exit_code_2_and_a_hint(tmp_path):
    procs = {}
    for name in STARTED:
        directory = tmp_path / name.replace(" ", "-")
        path = _write(directory, {"litellm_settings": BAD_CONFIGS[name][0]}, FILES)
        procs[name] = subprocess.Popen(
            [sys.executable, "-m", "gatehouse", "--config", str(path), "--port", str(free_port()),
             "--host", "127.0.0.1"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=directory)
    problems = []
    for name, proc in procs.items():
        try:
            out, err = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            problems.append(f"{name}: still running (the gateway started)")
            continue
        if proc.returncode != 2:
            problems.append(f"{name}: exit code {proc.returncode}: {err}")
        if "Traceback" in out + err:
            problems.append(f"{name}: traceback printed: {err}")
        if not err.startswith("gatehouse: config error: "):
            problems.append(f"{name}: unexpected stderr: {err!r}")
        missing = [fragment for fragment in BAD_CONFIGS[name][1] if fragment not in err]
        if missing:
            problems.append(f"{name}: message {err.strip()!r} lacks {missing}")
    assert problems == []


@pytest.mark.parametrize("name", [n for n in BAD_CONFIGS if n not in STARTED])
def test_other_loading_mistakes_are_config_errors_with_a_hint(tmp_path, name):
    from gatehouse.app import Gateway
    from gatehouse.config import ConfigError, load_config

    path = _write(tmp_path / "cfg", {"litellm_settings": BAD_CONFIGS[name][0]}, FILES)
    with pytest.raises(ConfigError) as err:
        Gateway(load_config(path, warn=False))
    message = str(err.value)
    assert str(path) in message
    assert [fragment for fragment in BAD_CONFIGS[name][1] if fragment not in message] == []
