#!/usr/bin/env bash
# Installs the Debian packages trw needs to build, test and benchmark.
# Idempotent: packages already present are skipped without touching apt.
set -euo pipefail
PKGS=(
  pkg-config
  libsqlite3-dev     # session store (GRDB on the system SQLite)
  libzstd-dev        # frame and audio codecs
  libasound2-dev     # ALSA acoustic-emission driver
  libasound2-plugins # ALSA test configs
  alsa-utils
  libv4l-dev         # V4L2 headers (linux/videodev2.h via linux-libc-dev)
  linux-libc-dev
  zlib1g-dev         # PNG output (deflate)
  libhdf5-dev        # trw export --format hdf5 (headers and pkg-config `hdf5` under hdf5/serial)
  librsvg2-bin       # rsvg-convert: SVG figures to PNG (trw plot|frame -o X.png)
  ffmpeg             # trw video (libx264 encoder, ffprobe in its test); FFV1 reference in `make bench`
  sox                # independent AE test signals
  tmux               # terminal test of the live dashboard
  python3            # the project's venv (.venv, scripts/make-venv.sh) is made from it
  python3-venv       # python3 -m venv (Debian splits it out of python3)
  mdbtools           # mdb-export: galvani reads Arbin .res files through it (trw import --format arbin)
  python3-dev        # Python.h: the C extension of the session reader (python/, trw._codec)
  gcc                # compiles it (pip install ./python)
)
missing=()
for p in "${PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
echo "install-deps: installing ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
