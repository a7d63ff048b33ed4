#!/bin/bash
# Mutation check of the guards the specs claim: for each guarded line, a scratch
# copy of this checkout has that line removed or neutralised, is rebuilt, and runs
# only the spec that guards it, which must go red. One line per mutation:
#   killed    NAME   the spec failed without the line, as it should
#   SURVIVED  NAME   the spec stayed green: it cannot see the behaviour it names
# Exits non-zero if any survived, if a spec is red or runs no test on the
# unmutated copy, or if a mutation's text is not found exactly once (the code
# moved: update the mutation). Run as root (the guarding specs need it):
#   spec/mutations.sh [NAME...]
# SPECS=DIR takes the spec directory from DIR instead (e.g. an older revision's,
# from `git archive REV spec | tar -x -C DIR`), to see which mutations it misses.
set -u
here=$(cd "$(dirname "$0")/.." && pwd)
scratch=$(mktemp -d /tmp/nsbox-mutations.XXXXXX)
# a mutation may leak mounts onto the host (that is what some specs look for): undo them
cleanup() {
  findmnt -rn -o TARGET | grep "^$scratch/" | sort -r | while read -r m; do umount -l "$m"; done
  rm -rf "$scratch"
}
trap cleanup EXIT

# name @ file @ text @ replacement [@ file @ text @ replacement ...] @ spec file @ busted
# --filter (a Lua pattern, no spaces or quotes: busted passes it through a shell). Texts are literal, "\n" is a newline; each must
# occur exactly once in its file. Where two lines guard one behaviour each on its own
# (the joiner's two PR_SET_DUMPABLE in a user namespace, the forked child's close and
# exec's close-on-exec of every fd), the mutation removes both: one alone leaves the
# behaviour intact. The joiner's first PR_SET_DUMPABLE alone is seen without a user
# namespace, where the second is not reached.
MUTATIONS=(
  "join-dumpable@lua/nsbox/inside.lua@  try(core.prctl(core.PR_SET_DUMPABLE, 0))\n  try(core.setns(pidfd, r.flags))@  try(core.setns(pidfd, r.flags))@lua/nsbox/inside.lua@    try(core.prctl(core.PR_SET_DUMPABLE, 0))\n    try(core.prctl(core.PR_SET_PDEATHSIG@    try(core.prctl(core.PR_SET_PDEATHSIG@spec/container_spec.lua@non%-dumpable.before.it.joins"
  "join-dumpable-exe@lua/nsbox/inside.lua@  try(core.prctl(core.PR_SET_DUMPABLE, 0))\n  try(core.setns(pidfd, r.flags))@  try(core.setns(pidfd, r.flags))@lua/nsbox/inside.lua@    try(core.prctl(core.PR_SET_DUMPABLE, 0))\n    try(core.prctl(core.PR_SET_PDEATHSIG@    try(core.prctl(core.PR_SET_PDEATHSIG@spec/hardening_spec.lua@CVE%-2019%-5736"
  "join-dumpable-before-setns@lua/nsbox/inside.lua@  try(core.prctl(core.PR_SET_DUMPABLE, 0))\n  try(core.setns(pidfd, r.flags))@  try(core.setns(pidfd, r.flags))@spec/hardening_spec.lua@is.non%-dumpable.before.it.joins"
  "init-dumpable@lua/nsbox/inside.lua@  try(core.prctl(core.PR_SET_DUMPABLE, 0))\n  -- a signal sent once@  -- a signal sent once@spec/hardening_spec.lua@init.=.true"
  "hostname-default-id@lua/nsbox/recipe.lua@host_name(\"hostname\", r.hostname) or id,@host_name(\"hostname\", r.hostname) or string.format(\"%012x\", math.random(0, 2^47)),@spec/container_spec.lua@defaults.its.hostname.to.its.id"
  "join-cgroup-namespace@lua/nsbox/inside.lua@  try(core.setns(pidfd, r.flags))@  try(core.setns(pidfd, r.flags & ~core.CLONE_NEWCGROUP))@spec/container_spec.lua@runs.a.command.joined.to.all.its.namespaces"
  "init-sys-ptrace-refusal@lua/nsbox/recipe.lua@        bad(\"capabilities\", \"sys_ptrace with init = true would let the command reach init: refused\")@        local _ = 0@spec/hardening_spec.lua@even.of.a.command.given.CAP_SYS_PTRACE"
  "dangling-symlink-refusal@csrc/resolve.c@		if (r == -2) {@		if (r == -2 && 0) {@spec/hardening_spec.lua@behind.a.dangling.symlink"
  "no-new-privs@lua/nsbox/inside.lua@  if r.no_new_privs then try(core.prctl(core.PR_SET_NO_NEW_PRIVS, 1)) end@  local _ = r.no_new_privs@spec/hardening_spec.lua@sets.no_new_privs,.unless"
  "setsid@lua/nsbox/inside.lua@  if r.new_session then try(core.setsid()) end@  local _ = r.new_session@spec/hardening_spec.lua@runs.the.command.in.a.new.session:"
  "masked-paths@lua/nsbox/rootfs.lua@  for _, p in ipairs(M.MASKED) do@  for _, p in ipairs({}) do@spec/hardening_spec.lua@masks.the.OCI.default.paths"
  "close-fds-before-exec@lua/nsbox/inside.lua@  try(core.close_range(3, nil, core.CLOSE_RANGE_CLOEXEC))\n  for _, k in ipairs(r.keep_fds)@  for _, k in ipairs(r.keep_fds)@lua/nsbox/inside.lua@  core.close_range(from)\n  run(STEPS[entry]@  run(STEPS[entry]@spec/hardening_spec.lua@closes.every.fd.but.0,.1,.2"
  "forked-child-closes-fds@lua/nsbox/inside.lua@  core.close_range(from)\n  run(STEPS[entry]@  run(STEPS[entry]@spec/hardening_spec.lua@holds.none.of.the.parent.s.fds"
  "mounts-private@lua/nsbox/rootfs.lua@  try(core.mount(nil, \"/\", nil, core.MS_REC | core.MS_PRIVATE))@  local _ = core.MS_PRIVATE@spec/failure_spec.lua@leaves.no.mount.on.the.host.without"
  "channel-cloexec@csrc/process.c@socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv)@socketpair(AF_UNIX, SOCK_STREAM, 0, sv)@spec/hardening_spec.lua@keeps.its.channel"
)

# Replace the one occurrence of text by repl in file; fail if it is not there exactly once.
edit() {
  lua5.4 - "$1" "$2" "$3" <<'EOF'
local path, text, repl = arg[1], arg[2]:gsub("\\n", "\n"), arg[3]:gsub("\\n", "\n")
local f = assert(io.open(path)) local s = f:read("a") f:close()
local n, i = 0, 1
while true do
  local a, b = s:find(text, i, true)
  if not a then break end
  n, i = n + 1, b + 1
end
if n ~= 1 then io.stderr:write(path, ": the text is there ", n, " times, not once: ", text, "\n") os.exit(1) end
local a, b = s:find(text, 1, true)
f = assert(io.open(path, "w")) f:write(s:sub(1, a - 1), repl, s:sub(b + 1)) f:close()
EOF
}

# Run one spec file's tests matching filter in tree; prints busted's summary line.
run_spec() {
  (cd "$1" && LUA_PATH="$1/lua/?.lua;$1/lua/?/init.lua;;" LUA_CPATH="$1/lua/?.so;;" \
    busted --lua=lua5.4 --filter="$3" "$2" 2>&1 | grep -E '^[0-9]+ success' | tail -1)
}

# The unmutated copy, built once; each mutation starts from it (objects included,
# so only a changed C file is recompiled).
base=$scratch/base
mkdir -p "$base"
(cd "$here" && tar --exclude=./.git --exclude=./build -cf - .) | tar -C "$base" -xf -
if [ -n "${SPECS:-}" ]; then rm -rf "$base/spec" && cp -a "$SPECS/spec" "$base/spec"; fi
make -s -C "$base" all rootfs >/dev/null || { echo "build of the unmutated copy failed"; exit 2; }

bad=0 survived=0
for m in "${MUTATIONS[@]}"; do
  IFS='@' read -ra f <<<"$m"
  n=${#f[@]} name=${f[0]} spec=${f[n-2]} filter=${f[n-1]}
  if [ $# -gt 0 ] && ! printf '%s\n' "$@" | grep -qx "$name"; then continue; fi
  sum=$(run_spec "$base" "$spec" "$filter")
  case "$sum" in
    *" 0 failures / 0 errors"*) ;;
    *) echo "BASELINE  $name: red without the mutation: $sum"; bad=1; continue ;;
  esac
  case "$sum" in 0\ success*|"") echo "BASELINE  $name: no test matches $filter in $spec"; bad=1; continue ;; esac
  work=$scratch/m
  rm -rf "$work" && cp -a "$base" "$work"
  moved=0
  for ((i = 1; i < n - 2; i += 3)); do
    edit "$work/${f[i]}" "${f[i+1]}" "${f[i+2]}" || moved=1
  done
  if [ $moved = 1 ]; then echo "MOVED     $name: update its text in spec/mutations.sh"; bad=1; continue; fi
  if ! make -s -C "$work" all >/dev/null 2>&1; then echo "killed    $name (the build fails)"; continue; fi
  sum=$(run_spec "$work" "$spec" "$filter")
  case "$sum" in
    *" 0 failures / 0 errors"*) echo "SURVIVED  $name: $spec $filter: $sum"; survived=1 ;;
    *) echo "killed    $name: $sum" ;;
  esac
done
rm -rf "$scratch/m"
[ $bad = 0 ] && [ $survived = 0 ]
