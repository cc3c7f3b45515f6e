#!/usr/bin/env bash
# The project's own Python environment, .venv/ at the repository root: the test
# readers (numpy, pytest) and the package trw_models in models/ (models/pyproject.toml;
# JAX, Flax, Optax, scikit-learn, safetensors, PyWavelets; CPU wheels), installed
# editable so the venv always runs the worktree's code. Every make target puts
# .venv/bin first on PATH, and models/serve runs .venv/bin/python3, so nothing is
# ever installed into the system interpreter (a stock Debian python3 refuses
# that: PEP 668, "externally-managed-environment").
#
# The session reader python/ (module `trw`, with its C extension trw._codec built from
# python/src/trw/_codec.c and Sources/CTRWCodecKernels/kernels.c against the system
# libzstd) is installed non-editable, built without build isolation from the venv's own
# setuptools (python/build-requirements.txt), so it builds offline and a stale in-tree
# .so can never shadow it.
#
# Idempotent: a stamp holds the hash of the requirement files, models/pyproject.toml,
# the reader's sources (python/ and the C kernels) and the base interpreter; nothing
# runs when they are unchanged, the venv imports trw_models from this worktree's
# models/ and imports trw with its extension.
#
# TRW_BASE_PYTHON: the interpreter the venv is made from (default: Debian's
# /usr/bin/python3, for which scripts/install-deps.sh installs python3-venv;
# python3 on PATH where there is none).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${TRW_BASE_PYTHON:-}" ] && [ -x /usr/bin/python3 ]; then TRW_BASE_PYTHON=/usr/bin/python3; fi
base=${TRW_BASE_PYTHON:-python3}
# make puts .venv/bin first on PATH: the base interpreter is looked up without it.
PATH=$(printf '%s' "$PATH" | tr ':' '\n' | grep -vx "$PWD/.venv/bin" | paste -sd: -)
unset VIRTUAL_ENV
venv=.venv
reqs=(tests/python/requirements.txt python/build-requirements.txt)
pkg=models                     # pip install -e ./models[test]: dependencies from its pyproject.toml
reader=python                  # pip install ./python[test] (non-editable: a C extension)
reader_sources=$( (find $reader \( -path $reader/build -o -name "*.egg-info" -o -name __pycache__ \) -prune -o -type f \( -name '*.py' -o -name '*.c' -o -name '*.h' -o -name '*.toml' -o -name '*.txt' \) -print;
                   echo Sources/CTRWCodecKernels/kernels.c Sources/CTRWCodecKernels/include/trw_codec_kernels.h) | tr ' ' '\n' | grep -v '/tests/' | LC_ALL=C sort)
base_path=$(command -v "$base" || true)
if [ -z "$base_path" ]; then
  echo "make-venv: no '$base' interpreter on PATH; scripts/install-deps.sh installs python3 and python3-venv" >&2
  exit 1
fi
want=$( (cat "${reqs[@]}" $pkg/pyproject.toml $reader_sources; "$base_path" -c 'import sys; print(sys.version)'; echo "$base_path") | sha256sum | cut -d' ' -f1)
stamp=$venv/.trw-stamp
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -x $venv/bin/python3 ] \
   && [ "$(cd / && "$OLDPWD/$venv/bin/python3" -c "import numpy, pytest, jax, flax, optax, sklearn, safetensors, pywt, os, trw_models
print(os.path.realpath(trw_models.__file__))" 2>/dev/null)" = "$(pwd -P)/$pkg/trw_models/__init__.py" ] \
   && (cd / && "$OLDPWD/$venv/bin/python3" -c "import trw, trw._codec, pandas, jsonschema" 2>/dev/null); then
  exit 0
fi
echo "make-venv: building $venv from $base_path ($("$base_path" --version 2>&1))"
if [ -d $venv ] && ! [ -x $venv/bin/python3 ]; then rm -rf $venv; fi
if ! "$base_path" -m venv $venv; then
  echo "make-venv: '$base_path -m venv' failed; on Debian install python3-venv (scripts/install-deps.sh does)" >&2
  rm -rf $venv
  exit 1
fi
$venv/bin/python3 -m pip install --quiet --disable-pip-version-check --upgrade pip
# setuptools warns on every editable install that a folder named like the package may shadow it:
# models/trw_models is that package itself.
PYTHONWARNINGS="ignore:Editable installation:UserWarning" \
  $venv/bin/python3 -m pip install --quiet --disable-pip-version-check "${reqs[@]/#/-r}" -e "./$pkg[test]"
# Its own pip runs: without build isolation, ./python is built with the setuptools and wheel
# that the run above installed. The first brings its dependencies (pandas, jsonschema), the
# second rebuilds it even when its version number is unchanged (its sources changed: the stamp).
$venv/bin/python3 -m pip install --quiet --disable-pip-version-check --no-build-isolation "./$reader[test]"
$venv/bin/python3 -m pip install --quiet --disable-pip-version-check --no-build-isolation --force-reinstall --no-deps "./$reader"
echo "$want" > "$stamp"
echo "make-venv: $venv ready ($($venv/bin/python3 --version))"
