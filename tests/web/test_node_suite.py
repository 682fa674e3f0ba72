"""Runs the browser client's unit tests (node's built-in test runner) as part of pytest.

The test files are passed by name: Node 20 accepts a directory after ``--test`` but Node 21+
reads its arguments as globs and would treat ``tests/web/`` as one (missing) test file.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from tests.support import skip_or_fail

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
TIMEOUT_S = 120


def test_node_suite_passes() -> None:
    node = shutil.which("node")
    if node is None:
        skip_or_fail("node is not installed (needed for the web client's tests)")
        return
    files = sorted(str(path.relative_to(ROOT)) for path in HERE.glob("*.test.mjs"))
    assert files, "no *.test.mjs files found in tests/web"
    result = subprocess.run(
        [node, "--test", *files],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        check=False,
    )
    output = f"{result.stdout}\n{result.stderr}"
    assert result.returncode == 0, f"node --test failed (exit {result.returncode}):\n{output}"
    assert "# fail 0" in result.stdout, output
