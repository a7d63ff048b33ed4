#!/usr/bin/env bash
# Whole-process start of a /bin/true container, side by side with hyperfine:
# the C floor, nsbox (CLI and a Lua script), unshare, bwrap, crun and runc.
# Run as root from the repository root; writes build/bench/start.json.
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
# nsbox as a user installs it (make install: the modules precompiled)
prefix=$out/prefix
make -s -C "$top" install PREFIX="$prefix" >/dev/null
export LUA_PATH="$prefix/share/lua/5.4/?.lua;$prefix/share/lua/5.4/?/init.lua;;"
export LUA_CPATH="$prefix/lib/lua/5.4/?.so;;"
export NSBOX_STATE_DIR=$out/state
runs=${RUNS:-200}
unshare -m bash -c "
  mount --make-rprivate / && umount -l /sys/fs/cgroup && mount -t cgroup2 none /sys/fs/cgroup
  hyperfine -N --warmup 20 --runs $runs --export-json '$out/start.json' \
    -n floor '$out/floor $top/build/rootfs' \
    -n 'floor --full (+ nsbox defaults: /dev, /sys, masks, lo, caps)' '$out/floor --full $top/build/rootfs' \
    -n 'nsbox run (CLI)' '$prefix/bin/nsbox run --rootfs $top/build/rootfs /bin/true' \
    -n 'nsbox Lua API script' 'lua5.4 $top/bench/one.lua $top/build/rootfs' \
    -n 'unshare -Urmpiun --fork --mount-proc' 'unshare -Urmpiun --fork --mount-proc /bin/true' \
    -n 'bwrap --unshare-all' 'bwrap --unshare-all --bind $top/build/rootfs / --proc /proc --dev /dev /bin/true' \
    -n 'crun run (cgroups off)' 'crun --cgroup-manager=disabled run -b $bundle nsbox-bench-crun' \
    -n 'runc run' 'runc run -b $bundle nsbox-bench-runc'
" >/dev/null
