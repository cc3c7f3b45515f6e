#!/usr/bin/env bash
# Python packages for the test readers (numpy, pytest). Idempotent: pip skips what is present.
set -euo pipefail
cd "$(dirname "$0")/.."
if python3 -c "import numpy, pytest" 2>/dev/null; then exit 0; fi
python3 -m pip install --quiet --disable-pip-version-check -r tests/python/requirements.txt
