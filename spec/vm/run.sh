#!/usr/bin/env bash
# make vmtest: boot Debian 12's stock kernel (linux-image-amd64, downloaded and
# unpacked into build/vm, never installed) under qemu with the initramfs of
# build-initramfs.sh, and write the specs' TAP to build/vmtest.tap. A VM that does
# not boot, hangs (VMTEST_TIMEOUT seconds) or ends without the specs' last line
# leaves a "not ok" line that says so. Usage: run.sh SPEC...   (from the checkout)
set -uo pipefail
vm=build/vm
tap=build/vmtest.tap
timeout=${VMTEST_TIMEOUT:-1800}
mkdir -p "$vm/kernel"
rm -f "$tap"

fail() { # the reason as one failed test, so CI counts it
  printf '%s\n' "not ok 1 - vmtest: $1" >> "$tap"
  echo "vmtest: $1" >&2
  exit 1
}

# The kernel package that linux-image-amd64 points at, downloaded once.
fetch() {
  (cd "$vm/kernel" && apt-get download linux-image-amd64 >/dev/null 2>&1) || return 1
  local meta pkg
  meta=$(ls "$vm"/kernel/linux-image-amd64_*.deb | tail -1)
  pkg=$(dpkg-deb -f "$meta" Depends | grep -oE 'linux-image-[0-9][^ ,]*-amd64' | head -1)
  [ -n "$pkg" ] && (cd "$vm/kernel" && apt-get download "$pkg" >/dev/null 2>&1)
}
if ! ls "$vm"/kernel/x/boot/vmlinuz-* >/dev/null 2>&1; then
  if ! fetch; then
    echo "vmtest: apt-get download failed; apt-get update once and again"
    apt-get update -qq && fetch || fail "cannot download linux-image-amd64 (apt-get download)"
  fi
  for d in "$vm"/kernel/linux-image-[0-9]*.deb; do dpkg-deb -x "$d" "$vm/kernel/x"; done
fi
kernel=$(ls "$vm"/kernel/x/boot/vmlinuz-* | tail -1)
kver=${kernel##*/vmlinuz-}

spec/vm/build-initramfs.sh "$vm/kernel/x/lib/modules/$kver" "$vm/initramfs.cpio" "$@" ||
  fail "building the initramfs failed"

# -accel tcg: KVM hangs on these machines. -nic none: no network out of the VM.
# ttyS0 is the console (build/vm/console.log), ttyS1 carries the TAP.
rm -f "$vm/console.log" "$vm/tap.raw"
echo "vmtest: booting $kver under qemu (tcg), at most ${timeout} s; console in $vm/console.log"
start=$(date +%s.%N)
: > "$vm/tap.raw"
tail -n +1 -f "$vm/tap.raw" & # the TAP as it comes, like the host's tee (init sets ttyS1 raw)
follow=$!
trap 'kill $follow 2>/dev/null' EXIT
timeout -k 10 "$timeout" qemu-system-x86_64 -accel tcg -cpu max -smp 2 -m 2G -nodefaults -nic none \
  -display none -monitor none -no-reboot \
  -kernel "$kernel" -initrd "$vm/initramfs.cpio" \
  -append "console=ttyS0 panic=-1 quiet systemd.unified_cgroup_hierarchy=1 cgroup_no_v1=all" \
  -serial "file:$vm/console.log" -serial "file:$vm/tap.raw"
rc=$?
sleep 0.5; kill $follow 2>/dev/null
secs=$(echo "$(date +%s.%N) $start" | awk '{printf "%.0f", $1 - $2}')
tr -d '\r' < "$vm/tap.raw" > "$tap" 2>/dev/null
grep -h '^vmtest:' "$vm/console.log" 2>/dev/null
echo "vmtest: qemu ran ${secs} s"
[ "$rc" -eq 124 ] || [ "$rc" -eq 137 ] && fail "the VM did not finish within ${timeout} s (VMTEST_TIMEOUT); see $vm/console.log"
[ "$rc" -eq 0 ] || fail "qemu exited $rc; see $vm/console.log"
last=$(grep '^# vmtest: busted exited' "$tap") || fail "the VM stopped before the specs ended; see $vm/console.log"
grep -qE '^not ok' "$tap" && exit 1
[[ $last == *"exited 0 "* ]] || fail "busted ${last#\# vmtest: busted }"
