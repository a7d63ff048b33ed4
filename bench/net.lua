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

-- 1. nsbox host side (bridge check, lease, veth with peer in the target netns, master+up, inside
-- config), and in turn with each, sample by sample, the bare requests: the same bridge, the same moment.
local infos, pids, bpids, attach, raw = {}, {}, {}, {}, {}
for i = 1, N do pids[i], bpids[i] = target(), target() end
for i = 1, N do
  local t0 = clock()
  infos[i] = assert(net.attach(pids[i], n))
  local t1 = clock()
  bare_port("rv" .. i, bpids[i])
  attach[i], raw[i] = (t1 - t0) * 1000, (clock() - t1) * 1000
end
local detach = stats.sample(N, function(i) net.detach(infos[i]) end)

-- 1b. The same with egress (a recipe's default: network.nat, the masquerade rules checked
-- each time), and with one published port (held, two DNAT rules, removed with conntrack).
local function with(extra)
  local c = {}
  for k, v in pairs(n) do c[k] = v end
  for k, v in pairs(extra) do c[k] = v end
  return c
end
local nat_n = with { nat = true }
net.detach(assert(net.attach(target(), nat_n))) -- the table made once
for i = 1, N do pids[i] = target() end
local attach_nat = stats.sample(N, function(i) infos[i] = assert(net.attach(pids[i], nat_n)) end)
for i = 1, N do net.detach(infos[i]) end
for i = 1, N do pids[i] = target() end
local attach_port = stats.sample(N, function(i)
  infos[i] = assert(net.attach(pids[i], with { nat = true, ports = { { host = 20000 + i, container = 80,
    protocol = "tcp", address = "0.0.0.0" } } }))
end)
local detach_port = stats.sample(N, function(i) net.detach(infos[i]) end)
-- 1c. A recipe's defaults: egress and anti-spoofing (a chain per port in table bridge nsbox).
local def_n = with { nat = true, antispoof = true }
for i = 1, N do pids[i] = target() end
local attach_def = stats.sample(N, function(i) infos[i] = assert(net.attach(pids[i], def_n)) end)
local detach_def = stats.sample(N, function(i) net.detach(infos[i]) end)

-- 2. The bare veths' deletion.
local raw_del = stats.sample(N, function(i) assert(rtnl.link_del { name = "rv" .. i }) end)

-- 3. The same with ip(8) commands.
local M = math.min(N, 50)
for i = 1, M do pids[i] = target() end
local ipcmd = stats.sample(M, function(i)
  assert(os.execute(string.format("ip link add iv%d type veth peer name eth0 netns %d && ip link set iv%d master brg0 up",
    i, pids[i], i)))
end)
for i = 1, M do os.execute("ip link del iv" .. i) end

local base = stats.median(raw)
rows[#rows + 1] = stats.row("bare netlink: veth made a port, up (2 requests)", base, base)
rows[#rows + 1] = stats.row("nsbox net.attach (+ bridge, lease, inside config)", stats.median(attach), base)
rows[#rows + 1] = stats.row("net.attach with egress (network.nat, the default)", stats.median(attach_nat), base)
rows[#rows + 1] = stats.row("net.attach with egress and one published port", stats.median(attach_port), base)
rows[#rows + 1] = stats.row("net.attach with egress and anti-spoofing (the defaults)", stats.median(attach_def), base)
rows[#rows + 1] = stats.row("ip link add ... && ip link set ... (2 execs)", stats.median(ipcmd), base)
rows[#rows + 1] = stats.row("bare netlink: link_del", stats.median(raw_del))
rows[#rows + 1] = stats.row("nsbox net.detach (lease only; veth goes with netns)", stats.median(detach))
rows[#rows + 1] = stats.row("net.detach of a published port (rules, conntrack, lease)", stats.median(detach_port))
rows[#rows + 1] = stats.row("net.detach with anti-spoofing (its chain, lease)", stats.median(detach_def))

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
local marks, scale = { [1] = true, [10] = true, [100] = true, [500] = true }, {}
local function grow(conf, label)
  local window, live, population, fds = {}, {}, {}, {}
  for k = 1, 500 do population[k], fds[k] = target() end -- spawned first, as in step 1: time only the attach
  for k = 1, 500 do
    local t0 = clock()
    live[k] = assert(net.attach(population[k], conf))
    window[#window + 1] = (clock() - t0) * 1000
    if #window > 10 then table.remove(window, 1) end
    if marks[k] then
      -- the kernel's own cost at this population: 10 bare veth+master/up, then removed
      local bare, spare = {}, {}
      for j = 1, 10 do spare[j] = target() end
      for j = 1, 10 do
        local t1 = clock()
        bare_port("bv" .. j, spare[j])
        bare[j] = (clock() - t1) * 1000
      end
      for j = 1, 10 do rtnl.link_del { name = "bv" .. j } end
      local b = stats.median(bare)
      scale[#scale + 1] = stats.row(string.format("%d on the bridge: bare netlink (median of 10)", k), b, b)
      scale[#scale + 1] = stats.row(string.format("%d on the bridge: %s (median of last %d)", k, label, #window),
        stats.median(window), b)
    end
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
