"""schemathesis against the running service's /openapi.json, every operation, with the key:
no 5xx, every response within its documented schema, status code and content type.

``SOAK_SCHEMATHESIS_EXAMPLES`` sets the examples per operation (default 10 here).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from conftest import Service

EXAMPLES = os.environ.get("SOAK_SCHEMATHESIS_EXAMPLES", "10")
CHECKS = "not_a_server_error,response_schema_conformance,status_code_conformance,"
CHECKS += "content_type_conformance"


def test_schemathesis_finds_no_server_error_and_no_schema_violation(tmp_path: Path):
    svc = Service(
        tmp_path, {"QWENTRADE_API_KEY": "fuzz-key-1", "QWENTRADE_SYMBOLS": "BTC-USDT-SWAP"}
    ).start()
    try:
        cli = Path(sys.executable).parent / "schemathesis"
        command = [str(cli), "run", f"{svc.url}/openapi.json", "-H", "X-API-Key: fuzz-key-1"]
        command += ["--max-examples", EXAMPLES, "-c", CHECKS, "--seed", "1"]
        result = subprocess.run(
            command,
            cwd=tmp_path,  # its .schemathesis cache goes there, not into the checkout
            capture_output=True,
            text=True,
            timeout=600,
            env={**os.environ, "NO_COLOR": "1"},
        )
    finally:
        svc.stop()
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    counts = re.search(r"(\d+) generated, (\d+) passed", output)
    assert counts, output[-2000:]
    generated, passed = map(int, counts.groups())
    assert generated == passed and generated > 100, output[-2000:]
    print(f"schemathesis: {generated} cases, all passed")
