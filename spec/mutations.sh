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
# SPECS=DIR takes the spec directory from DIR/spec instead (e.g. an older
# revision's, `git archive REV spec | tar -x -C DIR`), to see which mutations it misses.
set -u
here=$(cd "$(dirname "$0")/.." && pwd)
scratch=$(mktemp -d /tmp/nsbox-mutations.XXXXXX)
# a mutation may leak mounts onto the host (that is what some specs look for): undo them
cleanup() {
  findmnt -rn -o TARGET | grep "^$scratch/" | sort -r | while read -r m; do umount -l "$m"; done
  rm -rf "$scratch"
}
trap cleanup EXIT

# Replace the one occurrence of text by repl in file; fail if it is not there exactly once.
edit() {
  lua5.4 - "$1" "$2" "$3" <<'EOF'
local path, text, repl = arg[1], arg[2], arg[3]
local f = assert(io.open(path)) local s = f:read("a") f:close()
local n, i, at = 0, 1, nil
while true do
  local a, b = s:find(text, i, true)
  if not a then break end
  n, i, at = n + 1, b + 1, at or a
end
if n ~= 1 then io.stderr:write(path, ": the text is there ", n, " times, not once: ", text, "\n") os.exit(1) end
f = assert(io.open(path, "w")) f:write(s:sub(1, at - 1), repl, s:sub(at + #text)) f:close()
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
# mutation NAME SPEC FILTER FILE TEXT REPLACEMENT [FILE TEXT REPLACEMENT...]
# FILTER: busted --filter, a Lua pattern without spaces or quotes (busted passes it
# through a shell). Each TEXT is literal and must occur exactly once in its FILE.
mutation() {
  local name=$1 spec=$2 filter=$3 sum work
  shift 3
  if [ ${#only[@]} -gt 0 ] && ! printf '%s\n' "${only[@]}" | grep -qx -- "$name"; then return; fi
  sum=$(run_spec "$base" "$spec" "$filter")
  case "$sum" in
    0\ success*|"") echo "BASELINE  $name: no test matches $filter in $spec"; bad=1; return ;;
    *" 0 failures / 0 errors"*) ;;
    *) echo "BASELINE  $name: red without the mutation: $sum"; bad=1; return ;;
  esac
  work=$scratch/m
  rm -rf "$work" && cp -a "$base" "$work"
  while [ $# -gt 0 ]; do
    if ! edit "$work/$1" "$2" "$3"; then echo "MOVED     $name: update its text in spec/mutations.sh"; bad=1; return; fi
    shift 3
  done
  if ! make -s -C "$work" all >/dev/null 2>&1; then echo "killed    $name (the build fails)"; return; fi
  sum=$(run_spec "$work" "$spec" "$filter")
  case "$sum" in
    *" 0 failures / 0 errors"*) echo "SURVIVED  $name: $spec $filter: $sum"; survived=1 ;;
    *) echo "killed    $name: $sum" ;;
  esac
}
only=("$@")

I=lua/nsbox/inside.lua
# The joiner's two PR_SET_DUMPABLE: in a user namespace either one alone keeps it
# non-dumpable, so the first mutation removes both; without one, only the first runs.
mutation join-dumpable spec/container_spec.lua 'non%-dumpable.before.it.joins' \
  $I $'  try(core.prctl(core.PR_SET_DUMPABLE, 0))\n  try(core.setns(pidfd, r.flags))' '  try(core.setns(pidfd, r.flags))' \
  $I $'    try(core.prctl(core.PR_SET_DUMPABLE, 0))\n    try(core.prctl(core.PR_SET_PDEATHSIG' '    try(core.prctl(core.PR_SET_PDEATHSIG'
mutation join-dumpable-exe spec/hardening_spec.lua 'CVE%-2019%-5736' \
  $I $'  try(core.prctl(core.PR_SET_DUMPABLE, 0))\n  try(core.setns(pidfd, r.flags))' '  try(core.setns(pidfd, r.flags))' \
  $I $'    try(core.prctl(core.PR_SET_DUMPABLE, 0))\n    try(core.prctl(core.PR_SET_PDEATHSIG' '    try(core.prctl(core.PR_SET_PDEATHSIG'
mutation join-dumpable-before-setns spec/hardening_spec.lua 'is.non%-dumpable.before.it.joins' \
  $I $'  try(core.prctl(core.PR_SET_DUMPABLE, 0))\n  try(core.setns(pidfd, r.flags))' '  try(core.setns(pidfd, r.flags))'
mutation init-dumpable spec/hardening_spec.lua 'init.=.true' \
  $I $'  try(core.prctl(core.PR_SET_DUMPABLE, 0))\n  -- a signal sent once' '  -- a signal sent once'
mutation hostname-default-id spec/container_spec.lua 'defaults.its.hostname.to.its.id' \
  lua/nsbox/recipe.lua 'host_name("hostname", r.hostname) or id,' \
  'host_name("hostname", r.hostname) or string.format("%012x", math.random(0, 2^47)),'
mutation join-cgroup-namespace spec/container_spec.lua 'runs.a.command.joined.to.all.its.namespaces' \
  $I '  try(core.setns(pidfd, r.flags))' '  try(core.setns(pidfd, r.flags & ~core.CLONE_NEWCGROUP))'
mutation init-sys-ptrace-refusal spec/hardening_spec.lua 'even.of.a.command.given.CAP_SYS_PTRACE' \
  lua/nsbox/recipe.lua 'bad("capabilities", "sys_ptrace with init = true would let the command reach init: refused")' \
  'local _ = 0'
mutation dangling-symlink-refusal spec/hardening_spec.lua 'behind.a.dangling.symlink' \
  csrc/resolve.c $'\t\tif (r == -2) {' $'\t\tif (r == -2 && 0) {'
mutation no-new-privs spec/hardening_spec.lua 'sets.no_new_privs,.unless' \
  $I '  if r.no_new_privs then try(core.prctl(core.PR_SET_NO_NEW_PRIVS, 1)) end' '  local _ = r.no_new_privs'
mutation setsid spec/hardening_spec.lua 'runs.the.command.in.a.new.session:' \
  $I '  if r.new_session then try(core.setsid()) end' '  local _ = r.new_session'
mutation masked-paths spec/hardening_spec.lua 'masks.the.OCI.default.paths' \
  lua/nsbox/rootfs.lua '  for _, p in ipairs(M.MASKED) do' '  for _, p in ipairs({}) do'
# The fds: the forked child closes the parent's at once, exec marks every one
# close-on-exec; either one alone keeps them from the command.
mutation close-fds-before-exec spec/hardening_spec.lua 'closes.every.fd.but.0,.1,.2' \
  $I $'  try(core.close_range(3, nil, core.CLOSE_RANGE_CLOEXEC))\n  for _, k in ipairs(r.keep_fds)' '  for _, k in ipairs(r.keep_fds)' \
  $I $'  core.close_range(from)\n  if held then' '  if held then'
mutation forked-child-closes-fds spec/hardening_spec.lua 'holds.none.of.the.parent.s.fds' \
  $I $'  core.close_range(from)\n  if held then' '  if held then'
mutation mounts-private spec/failure_spec.lua 'leaves.no.mount.on.the.host.without' \
  lua/nsbox/rootfs.lua '  try(core.mount(nil, "/", nil, core.MS_REC | core.MS_PRIVATE))' '  local _ = core.MS_PRIVATE'
mutation channel-cloexec spec/hardening_spec.lua 'keeps.its.channel' \
  csrc/fdio.c 'socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv)' 'socketpair(AF_UNIX, SOCK_STREAM, 0, sv)'

# Issue 10's transport and channel rules.
mutation dump-reset spec/rtnl_spec.lua 'come.back.whole.while.links' \
  csrc/nl.c $'\t\t\tif (reset)\n\t\t\t\treset(data);' $'\t\t\t(void)reset;'
mutation dump-retry spec/rtnl_spec.lua 'come.back.whole.while.links' \
  csrc/nl.c $'\t\tif (err != EINTR || n->err)\n\t\t\treturn err;' $'\t\treturn err;'
mutation channel-eof-is-death spec/channel_spec.lua 'await.treats.EOF.as.the.parent' \
  lua/nsbox/channel.lua '  if got == nil and payload == nil then core._exit(1) end' '  local _ = 0'

# Issue 15's egress (table inet nsbox).
E=spec/egress_spec.lua
mutation masquerade $E 'masquerades.the.bridge.s.subnet' \
  csrc/nft.c '	    add_expr(r, nftnl_expr_alloc("masq")) ||' '	    0 ||'
mutation ip-forward $E 'masquerades.the.bridge.s.subnet' \
  lua/nsbox/nat.lua '  ok, err = forwarding()' '  ok, err = true, nil'
mutation masquerade-once $E 'adds.a.subnet.s.rule.once' \
  csrc/nft.c '		if (have == 1)' '		if (have == 2)'
mutation masquerade-mended $E 'puts.the.rule.back' \
  csrc/nft.c '		if (have == 1)' '		if (have >= 0)'
mutation foreign-table $E 'refuses.a.table.inet.nsbox' \
  csrc/nft.c '	if (state == NFT_TABLE_FOREIGN) {' '	if (0) {'
mutation forward-drop-warning $E 'another.table.s.forward.chain.drops' \
  lua/nsbox/nat.lua '    warn_drops(nft, bridge)' '    local _ = warn_drops'
mutation nat-false $E 'gives.no.egress.with.nat' \
  lua/nsbox/net.lua '  n.nat = v.nat ~= false' '  n.nat = true'
P=spec/ports_spec.lua
mutation port-dnat $P 'is.reached.from.outside' \
  csrc/nft_ports.c '				nft_dport(r, p->dport) || nft_dnat(r, p->to, p->toport), comment);' \
  '				nft_dport(r, p->dport), comment);'
mutation port-localhost $P 'is.reached.from.the.host.itself' \
  csrc/nft_ports.c 'nft_ensure(n, &bt, c, 4, w, 3)' 'nft_ensure(n, &bt, c, 4, w, 2)'
mutation port-route-localnet $P 'is.reached.from.the.host.itself' \
  lua/nsbox/ports.lua '  if local_net then' '  if false then'
mutation port-hairpin $P 'hairpin' \
  csrc/nft.c 'nft_ensure(n, &bt, c, 1, w, 2)' 'nft_ensure(n, &bt, c, 1, w, 1)'
mutation port-ct-forget $P 'moves.a.UDP.flow' \
  lua/nsbox/ports.lua '  nft.ct_forget(pub.to)' '  local _ = pub.to'
mutation port-hold $P 'refuses.a.host.port.in.use' \
  lua/nsbox/net.lua '  if n.ports then
    held, herr, herrno = ports.hold(n.ports)' '  if false then
    held, herr, herrno = ports.hold(n.ports)'
mutation port-sweep $P 'SIGKILLed' \
  lua/nsbox/net.lua '  if n.nat or n.ports then ports.sweep(M.STATE_DIR) end' ''
mutation port-release $P 'is.reached.from.outside' \
  lua/nsbox/net.lua '  if info.ports then ports.release(info.ports, M.STATE_DIR) end' ''
N=spec/names_spec.lua
mutation names-bound $N 'reach.another.by.its.name' \
  lua/nsbox/etc.lua '  local ok, err, errno = core.move_mount(tree, place, "hosts", "/etc/hosts")' '  local ok, err, errno = true, nil, nil'
mutation names-unique $N 'refuses.a.name.another.container.has' \
  lua/nsbox/names.lua '        if want[n] then' '        if false then'
mutation names-readonly $N 'binds.the.file.read.only' \
  lua/nsbox/names.lua '    ok, err, errno = core.mount_setattr(tree, core.MOUNT_ATTR_RDONLY | core.MOUNT_ATTR_NOSUID | core.MOUNT_ATTR_NODEV |' \
  '    ok, err, errno = core.mount_setattr(tree, core.MOUNT_ATTR_NOSUID | core.MOUNT_ATTR_NODEV |'
mutation names-removed $N 'stops.resolving.a.name' \
  lua/nsbox/net.lua '  if info.hosts_tree then names.remove(M.STATE_DIR, info.bridge, info.owner) end' ''
mutation names-stale $N 'SIGKILLed' \
  lua/nsbox/names.lua '    for _, e in ipairs(parse(text)) do if alive(e) then live[#live + 1] = e end end' \
  '    for _, e in ipairs(parse(text)) do live[#live + 1] = e end'
mutation quiet-links spec/network_spec.lua 'brings.both.ends.of.its.veth.up.quietly' \
  lua/nsbox/net.lua '  local ok, err, errno = rtnl.link_set { name = name, addrgenmode = "none" }' '  local ok, err, errno = true, nil, nil'
mutation announce-named spec/network_spec.lua 'announces.an.address.the.recipe.names' \
  lua/nsbox/net.lua '      ok, err = in_netns(pid, function() return core.arp_announce { name = info.interface, address = addr } end)' ''
mutation rtnl-add-master spec/rtnl_spec.lua 'port.in.the.request.that.creates.it' \
  csrc/rtnl.c $'\tif (has_master)\n\t\tmnl_attr_put_u32(nlh, IFLA_MASTER, (uint32_t)master);' ''
mutation rtnl-addrgenmode spec/rtnl_spec.lua 'address.generation.mode' \
  csrc/rtnl.c $'\tif (mode != -1)\n\t\tput_addrgen_mode(nlh, mode);' $'\tif (mode != -1)\n\t\t(void)put_addrgen_mode;'
mutation isolate-input $E 'does.not.reach.the.host.s.own.addresses' \
  csrc/nft_ports.c '		r = r ? nft_rule_done(r, new_from(r, addr) || nft_drop(r), comment) : NULL;' \
  '		r = r ? nft_rule_done(r, new_from(r, addr), comment) : NULL;'
mutation isolate-forward $E 'does.not.reach.the.host.s.own.addresses' \
  csrc/nft_ports.c $'\t\t\t\t\t nft_drop(r), comment) : NULL;' $'\t\t\t\t\t 0, comment) : NULL;'
mutation isolate-replies $E 'keeps.its.published.ports.reachable' \
  csrc/nft.c '	       mask(r, &old, 4) ?: nft_cmp(r, NFT_CMP_EQ, &zero, 4);' '	       mask(r, &old, 4) ?: (int)(0 * zero);'
mutation isolate-release $E 'keeps.its.published.ports.reachable' \
  lua/nsbox/net.lua '  if info.isolate then require("nsbox.isolate").release(info.isolate, M.STATE_DIR) end
  if info.hosts_tree' '  if info.hosts_tree'

PA=spec/pasta_spec.lua
mutation pasta-pdeathsig $PA 'SIGKILLed' \
  lua/nsbox/pasta.lua '                                         pdeathsig = core.SIGKILL, close_fds = true }' \
  '                                         close_fds = true }'
mutation pasta-stop $PA 'egress.with.the.host.s.address' \
  lua/nsbox/net.lua '  if info.pasta then require("nsbox.pasta").stop(info.pasta) return true end' \
  '  if info.pasta then return true end'
mutation pasta-loopback $PA 'nothing.of.the.host.s.loopback' \
  lua/nsbox/pasta.lua '"--no-map-gw", "-T", "none", "-U", "none",' '"--no-map-gw",'
mutation pasta-stop-kill $PA 'does.not.end.on.SIGTERM' \
  lua/nsbox/pasta.lua '  if not (gone and gone[1]) then core.kill(p.pidfd, core.SIGKILL) end' ''
mutation pasta-pidfd $PA 'egress.with.the.host.s.address' \
  lua/nsbox/pasta.lua '  core.wait(p.pidfd)
  core.close(p.pidfd)' '  core.wait(p.pidfd)'
mutation pasta-ports $PA 'publishes.ports' \
  lua/nsbox/pasta.lua '  port_args(argv, n.ports)' ''
mutation pasta-hold $PA 'a.host.port.in.use' \
  lua/nsbox/pasta.lua '  if n.ports then
    local held' '  if false then
    local held'
mutation pasta-ready $PA 'egress.with.the.host.s.address' \
  lua/nsbox/pasta.lua '  local ready, why = await_ready(fifo, pidfd, ppid)' '  local ready, why = true, nil'
AS=spec/antispoof_spec.lua
mutation antispoof-off $AS 'another.container.s.address' \
  lua/nsbox/net.lua '    if ok and n.antispoof then' '    if false then'
mutation antispoof-arp-sender $AS 'another.container.s.address' \
  csrc/nft_antispoof.c '	return lookup_rule(chain, ETH_P_ARP, 8, 14, comment, arg);' \
  '	struct nftnl_rule *r = nft_rule_new_in(NFPROTO_BRIDGE, chain); uint16_t t = htons(ETH_P_ARP); (void)arg;
	return nft_rule_done(r, nft_payload_eq(r, NFT_PAYLOAD_LL_HEADER, 12, &t, 2) ?: nft_verdict(r, NF_ACCEPT), comment);'
mutation antispoof-ip-source $AS 'another.container.s.address' \
  csrc/nft_antispoof.c '	return lookup_rule(chain, ETH_P_IP, -1, 12, comment, arg);' \
  '	struct nftnl_rule *r = nft_rule_new_in(NFPROTO_BRIDGE, chain); uint16_t t = htons(ETH_P_IP); (void)arg;
	return nft_rule_done(r, nft_payload_eq(r, NFT_PAYLOAD_LL_HEADER, 12, &t, 2) ?: nft_verdict(r, NF_ACCEPT), comment);'
mutation antispoof-mac $AS 'a.MAC.not.its.own' \
  csrc/nft_antispoof.c '	memcpy(k->mac, g->mac, 6);
	memcpy(k->sender, g->mac, 6);' '' \
  csrc/nft_antispoof.c '	struct nftnl_expr *e = nftnl_expr_alloc("payload");

	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_BASE, base);' '	static const char z[8];
	struct nftnl_expr *e = nftnl_expr_alloc(len == 6 ? "immediate" : "payload");

	if (e && len == 6) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, reg);
		nftnl_expr_set(e, NFTNL_EXPR_IMM_DATA, z, 8);
		return nft_expr_add(r, e);
	}
	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_BASE, base);'
mutation antispoof-release $AS 'removed.at.exit' \
  lua/nsbox/net.lua '  if info.antispoof then require("nsbox.antispoof").release(info.antispoof, M.STATE_DIR) end
  if info.hosts_tree' '  if info.hosts_tree'
mutation antispoof-sweep $AS 'was.SIGKILLed' \
  csrc/nft_antispoof.c '	    ((const struct key *)key)->addr != l->skip && gone(c.text))' \
  '	    ((const struct key *)key)->addr != l->skip && ((void)gone, 0))'
mutation antispoof-sweep-due $AS 'was.SIGKILLed' \
  csrc/nft_antispoof.c '	return ifindex % SWEEP_EVERY == 0;' '	return (void)ifindex, 0;'
mutation antispoof-helper-sweep spec/netns_helper_spec.lua 'guards.each.port' \
  csrc/nft_antispoof.c '	    ((const struct key *)key)->addr != l->skip && gone(c.text))' \
  '	    ((const struct key *)key)->addr != l->skip && ((void)gone, 0))'
mutation antispoof-old-drop $AS 'takes.over.the.table' \
  csrc/nft_antispoof.c '		err = drop_old(n, &bt);' '		err = ((void)drop_old, 0);'
mutation antispoof-free-address spec/netns_helper_spec.lua 'port.that.outlives' \
  csrc/nft_antispoof.c '		err = free_address(n, &bt, k.addr);' '		err = ((void)free_address, 0);'
mutation antispoof-release-owner $AS 'removed.at.exit' \
  csrc/nft_antispoof.c '	       (r && o.ifindex == k.ifindex && !memcmp(o.mac, k.mac, 6) ? elem(bt, NFT_MSG_DELSETELEM, &a) : 0);' \
  '	       ((void)a, (void)o, 0);'
mutation antispoof-cli $AS 'CLI.s...antispoof.false' \
  lua/nsbox/cli.lua '                  antispoof = a.antispoof }' '                  }'
mutation antispoof-helper spec/netns_helper_spec.lua 'guards.each.port' \
  csrc/nsbox-netns.c ' || set_neigh(c) || guard(c))' ' || set_neigh(c))'
mutation antispoof-unguarded $AS 'has.no.element' \
  csrc/nft_antispoof.c 'nft_cmp(r, NFT_CMP_EQ, &g, 4) ?: nft_drop(r),' 'nft_cmp(r, NFT_CMP_EQ, &g, 4) ?: nft_verdict(r, NF_ACCEPT),'
mutation antispoof-group $AS 'has.no.element' \
  lua/nsbox/net.lua ' group = n.antispoof and require("nsbox.antispoof").GROUP or nil,' ''
mutation antispoof-helper-group spec/netns_helper_spec.lua 'guards.each.port' \
  csrc/nsbox-netns.c '		mnl_attr_put_u32(nlh, IFLA_GROUP, NFT_PORT_GROUP);' ''
mutation antispoof-ll-learn $AS 'learn.no.MAC' \
  lua/nsbox/net.lua ' address = random_mac(), no_linklocal_learn = true }' ' address = random_mac() }'
mutation helper-quiet spec/netns_helper_spec.lua 'makes.the.host.end.quiet' \
  csrc/nsbox-netns.c '			return quiet(c);' '			return ((void)quiet, 0);'
mutation antispoof-helper-ll-learn spec/netns_helper_spec.lua 'attaches.a.veth.to.the.bridge' \
  csrc/nsbox-netns.c '		rtnl_put_no_ll_learn(nlh);' ''
rm -rf "$scratch/m"
[ $bad = 0 ] && [ $survived = 0 ]
