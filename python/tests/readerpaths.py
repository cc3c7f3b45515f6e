"""Shared paths for the reader tests (not a conftest: models/tests has one, and both run in one pytest): the repository root, the trw binary the tests compare with (TRW_BIN, or
.build/debug/trw from `swift build`), and the published test vectors."""
import os
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TRW = os.environ.get("TRW_BIN", os.path.join(ROOT, ".build", "debug", "trw"))
VECTORS = os.path.join(ROOT, "schemas", "test-vectors")


def run_trw(*args, cwd=None):
    if not os.access(TRW, os.X_OK):
        pytest.fail(f"{TRW} is not built: run `swift build` (or set TRW_BIN) before these tests")
    return subprocess.run([TRW, *args], cwd=cwd, check=True, capture_output=True, text=True).stdout
