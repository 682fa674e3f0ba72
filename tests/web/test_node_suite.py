"""Runs the browser client's unit tests (``node --test tests/web/``) as part of pytest."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from tests.support import skip_or_fail

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT_S = 120


def test_node_suite_passes() -> None:
    node = shutil.which("node")
    if node is None:
        skip_or_fail("node is not installed (needed for the web client's tests)")
        return
    result = subprocess.run(
        [node, "--test", "tests/web/"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        check=False,
    )
    assert result.returncode == 0, (
        f"node --test tests/web/ failed (exit {result.returncode}):\n{result.stdout}\n{result.stderr}"
    )
    assert "# fail 0" in result.stdout, result.stdout
