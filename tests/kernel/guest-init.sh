#!/bin/busybox sh
# /init of the `make test-kernel` guest: loads vivid and snd-aloop, runs
# trw-kernel-check (CHECK lines on the serial console), writes /tmp/out as a
# tar stream to the raw results disk (/dev/vda) and powers off.
/bin/busybox --install -s /bin
export PATH=/bin:/sbin:/opt/trw/bin
export HOME=/tmp TMPDIR=/tmp
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mkdir -p /dev/pts /dev/shm
mount -t devpts -o ptmxmode=0666 devpts /dev/pts
mount -t tmpfs tmp /tmp
mount -t tmpfs shm /dev/shm
mkdir -p /tmp/out
echo "TRW-GUEST booted kernel $(uname -r), $(grep -c ^processor /proc/cpuinfo) cpu(s), uptime $(cut -d' ' -f1 /proc/uptime) s"

while read -r mod params; do
  # shellcheck disable=SC2086
  insmod "/lib/modules/$mod.ko" $params || echo "TRW-GUEST insmod $mod $params failed"
done < /etc/trw/modules

# Device nodes appear through devtmpfs; wait for them briefly.
i=0
while [ $i -lt 50 ] && ! { [ -e /dev/video0 ] && ls /dev/snd/pcmC*D1c >/dev/null 2>&1; }; do
  sleep 0.1; i=$((i + 1))
done
echo "TRW-GUEST devices: $(ls /dev/video* 2>/dev/null | tr '\n' ' ')| $(cat /proc/asound/cards 2>/dev/null | grep -E '^ *[0-9]' | tr -s ' ' | tr '\n' ';')"
echo "TRW-GUEST modules loaded at $(cut -d' ' -f1 /proc/uptime) s"

trw-kernel-check --out /tmp/out $(cat /etc/trw/check-args 2>/dev/null) 2>&1 | tee /tmp/out/check.log
echo "TRW-GUEST checks ended at $(cut -d' ' -f1 /proc/uptime) s"
dmesg > /tmp/out/dmesg.txt 2>/dev/null

if [ -b /dev/vda ]; then
  tar -cf /dev/vda -C /tmp/out . && sync && echo "TRW-GUEST results written to /dev/vda"
else
  echo "TRW-GUEST no results disk (/dev/vda missing)"
fi
echo "TRW-GUEST powering off"
poweroff -f
