-- Network set-up cost: nsbox's host side versus the bare netlink requests and
-- versus `ip` commands, and how the cost per container changes as 1, 10, 100
-- and 500 containers join one bridge. Runs as root inside a network namespace
-- of its own; touches nothing of the machine's network.
local core = require "nsbox.core"
local net = require "nsbox.net"
local top = arg and arg[0] and arg[0]:match("^(.*)/bench/") or "."
package.path = top .. "/?.lua;" .. package.path
package.cpath = top .. "/build/?.so;" .. package.cpath
local clock = require("bench.clock").clock
local stats = require "bench.stats"
local rtnl = core.rtnl

assert(core.geteuid() == 0, "bench/net.lua: run as root")
assert(core.unshare(core.CLONE_NEWNET))
assert(rtnl.link_set { name = "lo", up = true })
-- A private lease dir on tmpfs, as /run is on most machines (on ext4 a lease costs ~1 ms more).
net.STATE_DIR = "/dev/shm/nsbox-bench-" .. core.getpid()
assert(core.mkdir(net.STATE_DIR, 448))

local targets = {}
-- A process in a network namespace of its own, standing in for a container.
local function target()
  local pid, pidfd = assert(core.spawn { path = "/bin/sleep", argv = { "sleep", "3600" }, flags = core.CLONE_NEWNET })
  targets[#targets + 1] = pidfd
  return pid, pidfd
end

local n = { bridge = "brg0", gateway = "10.200.0.1", prefix = 16, interface = "eth0" }
local N = tonumber(arg and arg[1]) or 200
local rows = {}

-- Warm up: the bridge exists from here on, as the issue asks.
net.detach(assert(net.attach(target(), n)))

-- The bare rtnl requests for the same kernel work, the fewest there are: a veth
-- (peer in the netns) made the bridge's port (master by ifindex: no lookup), then up.
local brindex = rtnl.link_get { name = "brg0" }.index
local function bare_port(name, pid)
  assert(rtnl.link_add { name = name, kind = "veth", master = brindex, peer = { name = "eth0", netns_pid = pid } })
  assert(rtnl.link_set { name = name, up = true })
end

-- The bare requests for all the kernel work of an attach, the same that nsbox makes: the
-- port as above, both ends up with no IPv6 link-local address, the host's neighbour entry,
-- and inside the target's netns its address, up and default route; then the wait until
-- the port forwards. No lease, no checks: an address of its own (10.200.128.0 on).
local function bare_attach(name, pid, k)
  local mac, addr = string.format("02:00:00:00:%02x:%02x", k // 256, k % 256),
    string.format("10.200.%d.%d", 128 + k // 256, k % 256)
  assert(rtnl.link_add { name = name, kind = "veth", master = brindex, peer = { name = "eth0", netns_pid = pid,
    address = mac } })
  assert(rtnl.link_set { name = name, addrgenmode = "none" })
  assert(rtnl.link_set { name = name, up = true })
  assert(rtnl.neigh_set { index = brindex, address = addr, lladdr = mac })
  local home = assert(core.open_ns("/proc/self/ns/net"))
  assert(core.setns("/proc/" .. pid .. "/ns/net", core.CLONE_NEWNET))
  assert(rtnl.addr_add { name = "eth0", address = addr .. "/16" })
  assert(rtnl.link_set { name = "eth0", addrgenmode = "none" })
  assert(rtnl.link_set { name = "eth0", up = true })
  assert(rtnl.route_add { dst = "default", gateway = n.gateway })
  assert(core.setns(home, core.CLONE_NEWNET))
  core.close(home)
  for _ = 1, 100 do if rtnl.link_get { name = name }.operstate == "UP" then break end end
end

local function with(extra)
  local c = {}
  for k, v in pairs(n) do c[k] = v end
  for k, v in pairs(extra) do c[k] = v end
  return c
end

-- 1. Each kind of attach in turn, sample by sample, on the same bridge (so that all
-- share the machine's slow spells and the bridge's growing number of ports), the order
-- turned by one each sample: nsbox's plain attach (bridge check, lease, veth with peer in
-- the target netns, master+up, inside config); the bare requests of the host side and of
-- the whole attach; with egress (a recipe's default: network.nat, the masquerade rules
-- checked each time); with egress and one published port (held, two DNAT rules); and a
-- recipe's defaults, egress and anti-spoofing (an element per port in bridge nsbox's set).
local nat_n, def_n = with { nat = true }, with { nat = true, antispoof = true }
net.detach(assert(net.attach(target(), def_n))) -- the tables made once
local kinds = {
  { "attach", function(pid) return assert(net.attach(pid, n)) end },
  { "raw", function(pid, i) bare_port("rv" .. i, pid) end },
  { "full", function(pid, i) bare_attach("fv" .. i, pid, i) end },
  { "nat", function(pid) return assert(net.attach(pid, nat_n)) end },
  { "port", function(pid, i) return assert(net.attach(pid, with { nat = true, ports = { { host = 20000 + i,
    container = 80, protocol = "tcp", address = "0.0.0.0" } } })) end },
  { "def", function(pid) return assert(net.attach(pid, def_n)) end },
}
local t, infos, pids = {}, {}, {}
for _, k in ipairs(kinds) do
  t[k[1]], infos[k[1]], pids[k[1]] = {}, {}, {}
  for i = 1, N do pids[k[1]][i] = target() end
end
for i = 1, N do
  for j = 0, #kinds - 1 do
    local k = kinds[(i + j) % #kinds + 1]
    local t0 = clock()
    infos[k[1]][i] = k[2](pids[k[1]][i], i)
    t[k[1]][i] = (clock() - t0) * 1000
  end
end
local attach, raw, full = t.attach, t.raw, t.full
local attach_nat, attach_port, attach_def = t.nat, t.port, t.def
local detach = stats.sample(N, function(i) net.detach(infos.attach[i]) end)
local detach_port = stats.sample(N, function(i) net.detach(infos.port[i]) end)
local detach_def = stats.sample(N, function(i) net.detach(infos.def[i]) end)
for i = 1, N do net.detach(infos.nat[i]) end
-- a bridge takes 1024 ports at most: the bare attaches' go now
for i = 1, N do assert(rtnl.link_del { name = "fv" .. i }) end

-- 2. The bare veths' deletion.
local raw_del = stats.sample(N, function(i) assert(rtnl.link_del { name = "rv" .. i }) end)

-- 3. The same with ip(8) commands.
local M = math.min(N, 50)
local ipids = {}
for i = 1, M do ipids[i] = target() end
local ipcmd = stats.sample(M, function(i)
  assert(os.execute(string.format("ip link add iv%d type veth peer name eth0 netns %d && ip link set iv%d master brg0 up",
    i, ipids[i], i)))
end)
for i = 1, M do os.execute("ip link del iv" .. i) end

local base = stats.median(full)
rows[#rows + 1] = stats.row("bare netlink: an attach's kernel work (10 requests, 2 setns)", base, base)
rows[#rows + 1] = stats.row("bare netlink: host side only, veth made a port, up (2)", stats.median(raw), base)
rows[#rows + 1] = stats.row("nsbox net.attach (+ bridge, lease, inside config)", stats.median(attach), base)
rows[#rows + 1] = stats.row("net.attach with egress (network.nat, the default)", stats.median(attach_nat), base)
rows[#rows + 1] = stats.row("net.attach with egress and one published port", stats.median(attach_port), base)
rows[#rows + 1] = stats.row("net.attach with egress and anti-spoofing (the defaults)", stats.median(attach_def), base)
rows[#rows + 1] = stats.row("ip link add ... && ip link set ... (2 execs)", stats.median(ipcmd), base)
rows[#rows + 1] = stats.row("bare netlink: link_del", stats.median(raw_del))
rows[#rows + 1] = stats.row("nsbox net.detach (lease only; veth goes with netns)", stats.median(detach))
rows[#rows + 1] = stats.row("net.detach of a published port (rules, conntrack, lease)", stats.median(detach_port))
rows[#rows + 1] = stats.row("net.detach with anti-spoofing (its element, lease)", stats.median(detach_def))

-- The targets so far go, and their veths with their namespaces: a bridge takes
-- 1024 ports at most, and the growths below add 500 each.
local function settle()
  for _ = 1, 600 do
    if #rtnl.links() < 100 then return end
    os.execute("sleep 0.1")
  end
end
for _, pidfd in ipairs(targets) do core.kill(pidfd, core.SIGKILL) core.wait(pidfd) core.close(pidfd) end
targets = {}
settle()

-- 4. Scaling: attach cost of the k-th container on one bridge, all kept attached;
-- as the raw host side, then with anti-spoofing on every port (a chain each).
local scale, S = {}, 10
local function grow(conf, label)
  local live, fds, population, spares = {}, {}, {}, {}
  -- spawned first, as in step 1: time only the attach
  for k = 1, 500 + 4 * S do population[k], fds[#fds + 1] = target() end
  for j = 1, 4 * S do spares[j], fds[#fds + 1] = target() end
  local function attach_next() live[#live + 1] = assert(net.attach(population[#live + 1], conf)) end
  for m, mark in ipairs { 0, 10, 100, 500 } do
    while #live < mark do attach_next() end
    -- at this population, S of nsbox's attaches and S bare ones (the kernel's own cost),
    -- in turn, the order swapped each time; the bare ones go after
    local ours, bare = {}, {}
    for j = 1, S do
      for turn = 0, 1 do
        local t0 = clock()
        if (j + turn) % 2 == 0 then
          attach_next()
          ours[#ours + 1] = (clock() - t0) * 1000
        else
          bare_attach("bv" .. j, spares[(m - 1) * S + j], 600 + j)
          bare[#bare + 1] = (clock() - t0) * 1000
        end
      end
    end
    for j = 1, S do rtnl.link_del { name = "bv" .. j } end
    local b = stats.median(bare)
    scale[#scale + 1] = stats.row(string.format("%d on the bridge: bare attach (median of %d)", mark, S), b, b)
    scale[#scale + 1] = stats.row(string.format("%d on the bridge: %s (median of %d)", mark, label, S),
      stats.median(ours), b)
  end
  for _, info in ipairs(live) do net.detach(info) end
  -- their veths go with their namespaces: a bridge takes 1024 ports at most
  for _, pidfd in ipairs(fds) do core.kill(pidfd, core.SIGKILL) core.wait(pidfd) end
  settle()
end
grow(n, "nsbox attach")
grow(with { antispoof = true }, "+ anti-spoofing")
for _, pidfd in ipairs(targets) do core.kill(pidfd, core.SIGKILL) core.wait(pidfd) core.close(pidfd) end
os.execute("rm -rf " .. net.STATE_DIR)

print(string.format("## Network set-up (host side), %d samples each, milliseconds\n", N))
print("| step                                                 | median ms |  ratio |")
print("|------------------------------------------------------|-----------|--------|")
for _, r in ipairs(rows) do print(r) end
print("\n## Cost per container as containers join one bridge\n")
print("| step                                                 | median ms |  ratio |")
print("|------------------------------------------------------|-----------|--------|")
for _, r in ipairs(scale) do print(r) end
