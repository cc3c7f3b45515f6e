#!/usr/bin/env bash
# Host side of `make test-kernel`: qemu and busybox on the host (idempotent, apt
# only when something is missing), and the Debian kernel .deb fetched with
# `apt-get download` into a cache directory and unpacked there with dpkg -x.
# The kernel is never installed into the host's /boot.
#
# Usage: host-deps.sh CACHE_DIR      prints the unpacked kernel's version (e.g. 6.1.0-56-amd64)
set -euo pipefail
cache=${1:?usage: host-deps.sh CACHE_DIR}
mkdir -p "$cache"

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
updated=0
apt_update_once() {
  if [ $updated -eq 0 ]; then
    $SUDO apt-get update -qq >&2
    updated=1
  fi
}

PKGS=(qemu-system-x86 busybox-static xz-utils cpio)
missing=()
for p in "${PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "test-kernel: installing ${missing[*]} on the host" >&2
  apt_update_once
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2 \
    || { echo "test-kernel: FAILED: could not install ${missing[*]} (apt-get install)" >&2; exit 1; }
fi
command -v qemu-system-x86_64 >/dev/null || { echo "test-kernel: FAILED: qemu-system-x86_64 not found after installing qemu-system-x86" >&2; exit 1; }
[ -x /bin/busybox ] || { echo "test-kernel: FAILED: /bin/busybox (busybox-static) not found" >&2; exit 1; }

# The kernel package the linux-image-amd64 metapackage points at.
resolve_kernel_pkg() {
  apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ { print $2; exit }'
}
pkg=$(resolve_kernel_pkg || true)
if [ -z "$pkg" ]; then
  apt_update_once
  pkg=$(resolve_kernel_pkg || true)
fi
[ -n "$pkg" ] || { echo "test-kernel: FAILED: apt knows no linux-image-amd64 (check /etc/apt/sources.list)" >&2; exit 1; }
version=${pkg#linux-image-}

debs=("$cache"/"${pkg}"_*.deb)
if [ ! -f "${debs[0]}" ]; then
  echo "test-kernel: downloading $pkg (apt-get download) into $cache" >&2
  if ! (cd "$cache" && apt-get download -q -o APT::Sandbox::User=root "$pkg" >&2); then
    apt_update_once
    (cd "$cache" && apt-get download -q -o APT::Sandbox::User=root "$pkg" >&2) \
      || { echo "test-kernel: FAILED: apt-get download $pkg failed" >&2; exit 1; }
  fi
  debs=("$cache"/"${pkg}"_*.deb)
fi
root="$cache/root-$version"
if [ ! -f "$root/.unpacked" ]; then
  echo "test-kernel: unpacking ${debs[0]##*/} (dpkg -x)" >&2
  rm -rf "$root"
  dpkg -x "${debs[0]}" "$root"
  touch "$root/.unpacked"
  # Older kernels the metapackage no longer points at.
  find "$cache" -mindepth 1 -maxdepth 1 \( -name 'root-*' ! -name "root-$version" -o -name 'linux-image-*.deb' ! -name "${pkg}_*" \) \
    -exec rm -rf {} + 2>/dev/null || true
fi
[ -f "$root/boot/vmlinuz-$version" ] || { echo "test-kernel: FAILED: $root/boot/vmlinuz-$version missing in the package" >&2; exit 1; }
echo "$version"
