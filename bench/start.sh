#!/usr/bin/env bash
# Whole-process start of a /bin/true container, side by side with hyperfine:
# the C floor, nsbox (CLI and a Lua script), unshare, bwrap, crun and runc.
# Run as root from the repository root; writes build/bench/start-ROUND.json.
# BENCH_BASE=<git rev>: nsbox at that revision too, built and installed beside
# (build/bench/base), so a change is measured before/after in one run.
# crun refuses hybrid cgroups, so everything runs inside a private mount
# namespace where /sys/fs/cgroup is a cgroup2 mount, with crun's cgroup manager off.
set -eu
top=$(pwd)
out=$top/build/bench
mkdir -p "$out"
cc -O2 -std=c11 -Wall -Wextra -Werror -o "$out/floor" bench/floor.c
bundle=$out/bundle
if [ ! -f "$bundle/config.json" ]; then
  rm -rf "$bundle" && mkdir -p "$bundle" && cp -a build/rootfs "$bundle/rootfs"
  (cd "$bundle" && crun spec && python3 - <<'PY'
import json
c = json.load(open('config.json'))
c['process']['terminal'] = False
c['process']['args'] = ['/bin/true']
c['root']['readonly'] = True
json.dump(c, open('config.json', 'w'), indent=1)
PY
  )
fi
# the image the --in-place row writes (its /etc mount points): a copy, never build/rootfs
inplace=$out/inplace-rootfs
[ -d "$inplace" ] || cp -a build/rootfs "$inplace"
# nsbox as a user installs it (make install: the modules precompiled)
prefix=$out/prefix
make -s -C "$top" install PREFIX="$prefix" >/dev/null
export LUA_PATH="$prefix/share/lua/5.4/?.lua;$prefix/share/lua/5.4/?/init.lua;;"
export LUA_CPATH="$prefix/lib/lua/5.4/?.so;;"
export NSBOX_STATE_DIR=$out/state
base_rows=()
if [ -n "${BENCH_BASE:-}" ]; then
  base=$out/base
  rm -rf "$base" && mkdir -p "$base/src"
  git -C "$top" archive "$BENCH_BASE" | tar -x -C "$base/src"
  make -s -C "$base/src" install PREFIX="$base/prefix" >/dev/null
  benv="LUA_PATH='$base/prefix/share/lua/5.4/?.lua;$base/prefix/share/lua/5.4/?/init.lua;;' LUA_CPATH='$base/prefix/lib/lua/5.4/?.so;;'"
  rev=$(git -C "$top" rev-parse --short "$BENCH_BASE")
  base_rows=(-n "nsbox run (CLI) at $rev" "env $benv $base/prefix/bin/nsbox run --rootfs $top/build/rootfs /bin/true"
             -n "nsbox Lua API script at $rev" "env $benv lua5.4 $base/src/bench/one.lua $top/build/rootfs")
fi
# bwrap doing what an nsbox container does by default: /dev, /proc with the OCI
# masks (those this kernel has) and read-only paths, a read-only /sys, no
# capabilities, a new session, death with its parent, its own hostname (the
# masks with the host's /dev/null, as bwrap cannot bind its own new /dev).
bw="bwrap --unshare-all --die-with-parent --new-session --cap-drop ALL --hostname bench"
bw="$bw --bind $top/build/rootfs / --proc /proc --dev /dev --ro-bind /sys /sys"
for p in /proc/acpi /proc/asound /proc/scsi /sys/firmware /sys/devices/virtual/powercap; do
  [ -d "$p" ] && bw="$bw --tmpfs $p --remount-ro $p"
done
for p in /proc/kcore /proc/keys /proc/latency_stats /proc/timer_list /proc/timer_stats /proc/sched_debug; do
  [ -e "$p" ] && bw="$bw --ro-bind /dev/null $p"
done
for p in /proc/bus /proc/fs /proc/irq /proc/sys /proc/sysrq-trigger; do
  [ -e "$p" ] && bw="$bw --ro-bind $p $p"
done
runs=${RUNS:-200}
# In rounds: each round runs every command runs/ROUNDS times, the order reversed
# every other round, so a slow spell of this shared machine falls on all of them
# alike (a before/after pair measured in two blocks minutes apart says little).
rounds=${ROUNDS:-10}
rows=(-n floor "$out/floor $top/build/rootfs"
  -n 'floor --full (+ nsbox defaults: /dev, /sys, masks, lo, caps)' "$out/floor --full $top/build/rootfs"
  -n 'floor --full --image (+ issue 12 defaults in C: a range, the image idmapped, an overlay, /etc files)' \
     "$out/floor --full --image $top/build/rootfs"
  -n 'nsbox run (CLI)' "$prefix/bin/nsbox run --rootfs $top/build/rootfs /bin/true"
  -n 'nsbox run (CLI), host ids (--uid-map/--gid-map 0:0:65536: no range lease, no idmap)' \
     "$prefix/bin/nsbox run --rootfs $top/build/rootfs --uid-map 0:0:65536 --gid-map 0:0:65536 /bin/true"
  -n 'nsbox run (CLI), host ids, --in-place (no overlay either; /etc files bound)' \
     "$prefix/bin/nsbox run --rootfs $inplace --uid-map 0:0:65536 --gid-map 0:0:65536 --in-place /bin/true"
  -n 'nsbox Lua API script' "lua5.4 $top/bench/one.lua $top/build/rootfs"
  -n 'unshare -Urmpiun --fork --mount-proc' 'unshare -Urmpiun --fork --mount-proc /bin/true'
  -n 'bwrap --unshare-all' "bwrap --unshare-all --bind $top/build/rootfs / --proc /proc --dev /dev /bin/true"
  -n 'bwrap, the same work as nsbox (masks, ro /sys, caps, session, die-with-parent)' "$bw /bin/true"
  "${base_rows[@]}"
  -n 'crun run (cgroups off)' "crun --cgroup-manager=disabled run -b $bundle nsbox-bench-crun"
  -n 'runc run' "runc run -b $bundle nsbox-bench-runc")
reversed=()
for ((i = ${#rows[@]} - 3; i >= 0; i -= 3)); do reversed+=("${rows[@]:i:3}"); done
q() { [ $# -eq 0 ] || printf '%q ' "$@"; }
rm -f "$out"/start-*.json
for ((r = 1; r <= rounds; r++)); do
  if ((r % 2)); then set -- "${rows[@]}"; else set -- "${reversed[@]}"; fi
  unshare -m bash -c "
    mount --make-rprivate / && umount -l /sys/fs/cgroup && mount -t cgroup2 none /sys/fs/cgroup
    hyperfine -N ${HYPERFINE_OPTS:-} --warmup $((r == 1 ? 20 : 3)) --runs $((runs / rounds)) \
      --export-json '$out/start-$r.json' $(q "$@")
  " >${HYPERFINE_OUT:-/dev/null}
done
