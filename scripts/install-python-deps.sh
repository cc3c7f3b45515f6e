#!/usr/bin/env bash
# Python packages: test readers (numpy, pytest) and the model code in models/
# (JAX, Flax, Optax, scikit-learn, safetensors, PyWavelets; CPU wheels).
# Idempotent: skipped when everything imports, pip skips what is present otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."
if python3 -c "import numpy, pytest, jax, flax, optax, sklearn, safetensors, pywt" 2>/dev/null; then exit 0; fi
python3 -m pip install --quiet --disable-pip-version-check -r tests/python/requirements.txt -r models/requirements.txt
