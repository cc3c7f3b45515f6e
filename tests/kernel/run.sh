#!/usr/bin/env bash
# `make test-kernel`: trw's drivers against a real Linux kernel (vivid, snd-aloop) in qemu.
#
#  1. host-deps.sh: qemu + busybox on the host (apt, idempotent), the Debian kernel
#     .deb fetched with apt-get download into $TRW_KERNEL_CACHE and unpacked (dpkg -x);
#  2. build-image.sh: initramfs from the normal debug build (.build/debug);
#  3. qemu (TCG) boots it; the guest runs trw-kernel-check, whose `CHECK` lines come
#     back on the serial console, and writes its files (session, logs) as a tar
#     stream to a raw disk image, unpacked here;
#  4. `trw info` on the host reads the guest's session back; every expected check
#     must PASS. Anything missing (no qemu, no kernel, no report) is a failure.
set -euo pipefail
cd "$(dirname "$0")/../.."
t0=$(date +%s.%N)
elapsed() { awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }
fail() { echo "test-kernel: FAILED: $*" >&2; exit 1; }

cache=${TRW_KERNEL_CACHE:-$HOME/.cache/trw-kernel}
bindir=${TRW_BIN_DIR:-.build/debug}
work=${TRW_KERNEL_WORK:-.build/kernel-test}
timeout_s=${TRW_KERNEL_TIMEOUT:-420}
mem=${TRW_KERNEL_MEM:-2048}
smp=${TRW_KERNEL_SMP:-1}
# icount: the guest's clock advances with the instructions it executes (1 ns each),
# not with the host's wall clock, and idle time is skipped (sleep=off). A busy host
# then slows the guest down without starving it: no frames or periods are lost to
# the host's scheduler, so every drop and xrun the checks see is one they caused.
icount=${TRW_KERNEL_ICOUNT:-shift=0,sleep=off}

version=$(bash tests/kernel/host-deps.sh "$cache") || fail "host dependencies (see above)"
kroot="$cache/root-$version"
echo "test-kernel: kernel $version from $cache ($(elapsed) s)"

rm -rf "$work"
mkdir -p "$work/results"
bash tests/kernel/build-image.sh "$kroot" "$version" "$bindir" "$work/initrd.cpio" || fail "building the guest image"
rm -rf "$work/initrd.cpio.d"
echo "test-kernel: guest image built ($(elapsed) s)"

# The results disk: the guest writes a tar stream to it; sparse, no filesystem.
truncate -s 512M "$work/results.img"
console="$work/console.log"
echo "test-kernel: booting qemu (TCG, ${smp} cpu, ${mem} MiB, icount ${icount:-off}, timeout ${timeout_s} s)"
set +e
timeout --kill-after=10 "$timeout_s" qemu-system-x86_64 \
  -machine pc -accel tcg -cpu max -smp "$smp" -m "$mem" ${icount:+-icount "$icount"} \
  -kernel "$kroot/boot/vmlinuz-$version" -initrd "$work/initrd.cpio" \
  -append "console=ttyS0 panic=-1 quiet loglevel=3" \
  -drive "file=$work/results.img,format=raw,if=virtio" \
  -display none -serial stdio -monitor none -nic none -no-reboot </dev/null \
  | tr -d '\r' | tee "$console" | grep --line-buffered -E '^(CHECK|TRW-GUEST)'
qemu_rc=${PIPESTATUS[0]}
set -e
echo "test-kernel: qemu exited with $qemu_rc after $(elapsed) s"
[ "$qemu_rc" -eq 124 ] && echo "test-kernel: the guest did not finish within ${timeout_s} s (console: $console)" >&2

# The guest's files: the session, the logs, dmesg.
if tar -xf "$work/results.img" -C "$work/results" 2>/dev/null; then
  echo "test-kernel: guest files: $(cd "$work/results" && ls | tr '\n' ' ')"
else
  echo "test-kernel: no readable tar stream on the results disk" >&2
fi

# Host-side check: the session recorded in the guest opens here.
session="$work/results/kernel-record.sqlite"
if [ -f "$session" ]; then
  if info=$("$bindir/trw" info "$session" 2>&1); then
    printf '%s\n' "$info" > "$work/results/trw-info-host.txt"
    frames=$(grep -E '^\s+ir0 ' <<<"$info" | grep -oE '[0-9]+ frames' | head -1 || true)
    chunks=$(grep -E '^\s+ae0 ' <<<"$info" | grep -oE '[0-9]+ chunks' | head -1 || true)
    samples=$(grep -E '^\s+bms0 ' <<<"$info" | grep -oE '[0-9]+ samples' | head -1 || true)
    status=$(grep -E '^status ' <<<"$info" | awk '{ print $2 }')
    if [ "$status" = complete ] && [ -n "$frames" ] && [ -n "$chunks" ] && [ -n "$samples" ]; then
      echo "CHECK host.info PASS trw info on the host: status=$status ir0=$frames ae0=$chunks bms0=$samples" | tee -a "$console"
    else
      echo "CHECK host.info FAIL trw info on the host: status=${status:-?} ir0=${frames:-none} ae0=${chunks:-none} bms0=${samples:-none}" | tee -a "$console"
    fi
  else
    echo "CHECK host.info FAIL trw info on the host failed: $(head -3 <<<"$info" | tr '\n' ' ')" | tee -a "$console"
  fi
else
  echo "CHECK host.info FAIL the guest's session file did not come back" | tee -a "$console"
fi

expected=(cli.devices v4l2.negotiate.Y16 v4l2.negotiate.GREY v4l2.capture v4l2.drop v4l2.unsupported
          alsa.bitexact alsa.clockfit alsa.xrun serial.pty cli.record v4l2.replug host.info)
failed=0
echo "test-kernel: summary"
for c in "${expected[@]}"; do
  line=$(grep -E "^CHECK $c (PASS|FAIL)" "$console" | tail -1 || true)
  if [ -z "$line" ]; then
    echo "  MISSING $c"
    failed=$((failed + 1))
  else
    r=$(awk '{ print $3 }' <<<"$line")
    echo "  $r $c"
    [ "$r" = PASS ] || failed=$((failed + 1))
  fi
done
if ! grep -q '^CHECKS DONE' "$console"; then
  echo "test-kernel: the guest never reported CHECKS DONE (console: $console)" >&2
  failed=$((failed + 1))
fi
echo "test-kernel: $(( ${#expected[@]} )) checks expected, $failed failed or missing, $(elapsed) s in all"
[ "$failed" -eq 0 ] || fail "$failed check(s) failed or missing; console log: $console, guest files: $work/results"
echo "test-kernel: OK"
