"""The OpenAPI document is true: schemathesis over /openapi.json against a running gateway.

Every request the document allows must be served (no ST202 "schema-valid
request rejected") and nothing may answer a 5xx (no ST101). Bounded: a fixed
number of examples per operation, deterministic generation, about a minute at
most. Not checked: that requests the schema forbids are refused: the gateway
passes OpenAI parameters it does not read through to the provider, which
validates them.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Callable

from gatehouse.testing import GatewayProcess

MASTER = "sk-contract-master-1c9e"
CONFIG = {
    "model_list": [{"model_name": "mock", "litellm_params": {"model": "mock/anything"}},
                   {"model_name": "mock-2", "litellm_params": {"model": "mock/other"}}],
    "general_settings": {"master_key": MASTER},
}


def test_schemathesis_finds_no_rejected_valid_request_and_no_server_error(
        gateway: Callable[..., GatewayProcess], tmp_path: Path) -> None:
    gw = gateway(CONFIG)
    command = [str(Path(sys.executable).parent / "schemathesis"), "run", gw.base_url + "/openapi.json",
               "--header", f"Authorization: Bearer {MASTER}", "--max-examples", "25", "--generation-deterministic",
               "--phases", "examples,fuzzing", "--workers", "2", "--exclude-checks", "negative_data_rejection",
               "--request-timeout", "30"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=tmp_path)  # its cache goes there
    output = done.stdout + done.stderr
    assert "ST202" not in output and "ST101" not in output, output[-6000:]
    assert done.returncode == 0, output[-6000:]
    assert "passed" in output
