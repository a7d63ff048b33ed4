-- What each of issue 12's and 13's defaults costs a start, from one long-lived Lua
-- process (no module loading): one container at a time running /bin/true,
-- the variants taken in turn, round after round (so slow spells fall on all),
-- each step adding one default: the image written in place with the host's
-- ids and no /etc (the start before issue 12), the copy-on-write overlay, the
-- container's own /etc files, (root's default) a range of ids of its own
-- with the image idmapped, the default seccomp filter; then what limits cost
-- (a cgroup with memory and pids); and, in the same rounds, bench/floor.c doing all
-- three in C with the fewest syscalls (--image): the kernel's share. Root
-- only. Returns rows for RESULTS.md.
local nsbox = require "nsbox"
local core = nsbox.core
local clock = require("bench.clock").clock -- run.lua sets the paths

local ROOTFS = arg and arg[1] or "build/rootfs"
local ROUNDS, PER = tonumber(arg and arg[2]) or 20, 10
local FLOOR = arg and arg[3] -- bench/floor.c built: the same defaults in C, in the same rounds

-- the image without /etc (no /etc files are written), beside it: the same filesystem
local noetc = ROOTFS:gsub("/*$", "") .. "-noetc-" .. core.getpid()
assert(os.execute(string.format("cp -a %s %s && rm -r %s/etc", ROOTFS, noetc, noetc)))
local HOST = { inside = 0, outside = 0, count = 65536 }
local VARIANTS = {
  { "in place, host ids, no /etc (as before issue 12)", { rootfs = noetc, in_place = true, uid_map = HOST, gid_map = HOST } },
  { "+ copy-on-write overlay (private tmpfs upper)", { rootfs = noetc, uid_map = HOST, gid_map = HOST } },
  { "+ /etc/hostname, hosts, resolv.conf", { rootfs = ROOTFS, uid_map = HOST, gid_map = HOST } },
  { "+ a range of ids of its own, the image idmapped", { rootfs = ROOTFS, seccomp = false } },
  { "+ the default seccomp filter (the default)", { rootfs = ROOTFS } },
  { "+ limits: a cgroup, memory 256M and pids 64", { rootfs = ROOTFS, resources = { memory = "256M", pids = 64 } } },
  -- against the default row: a pty of the container's devpts, its master sent back, not relayed
  { "the default + a pty (tty = { relay = false })", { rootfs = ROOTFS, tty = { relay = false } }, base = true },
}
-- cgroup v1 (this host): the kernel's share of the limits row. A v1 migration (a pid
-- written to cgroup.procs) waits for an RCU grace period when none passed lately;
-- this row is the default start followed by one migration of a sleeping process,
-- at the same pace as the starts, into a cgroup of this bench's own and back.
local V1 = io.open("/sys/fs/cgroup/cgroup.controllers") == nil and core.stat("/sys/fs/cgroup/pids/cgroup.procs")
local sleeper, own_pids
if V1 then
  for line in io.lines("/proc/self/cgroup") do own_pids = own_pids or line:match("^%d+:pids:(.*)$") end
  own_pids = ("/sys/fs/cgroup/pids" .. own_pids):gsub("/$", "")
  assert(core.mkdir(own_pids .. "/nsbox-bench-" .. core.getpid()))
  local p = assert(io.popen("sleep 600 & echo $!"))
  sleeper = p:read("l")
  p:close()
  VARIANTS[#VARIANTS + 1] = { "kernel: the default start, then one v1 cgroup migration of a sleeping process",
    { rootfs = ROOTFS }, function()
      for _, d in ipairs { own_pids .. "/nsbox-bench-" .. core.getpid(), own_pids } do
        local f = assert(io.open(d .. "/cgroup.procs", "w"))
        f:write(sleeper)
        f:close()
      end
    end }
end
local NSBOX_ROWS = #VARIANTS
local DEFAULT_ROW = 5

-- the C floor's rows: one floor process runs PER containers (its own exec is in both alike)
if FLOOR then
  for _, v in ipairs {
    { "C: floor --full (before issue 12)", "--full" },
    { "C: + a range, the image idmapped, an overlay, /etc files (floor --full --image)", "--full --image" },
  } do
    VARIANTS[#VARIANTS + 1] = { v[1], string.format("%s %s %s %d", FLOOR, v[2], ROOTFS, PER) }
  end
end

local times = {}
for i = 1, #VARIANTS do times[i] = {} end
for round = 1, ROUNDS do
  for j = 1, #VARIANTS do
    local i = round % 2 == 1 and j or #VARIANTS + 1 - j
    local t0 = clock()
    if type(VARIANTS[i][2]) == "string" then
      assert(os.execute(VARIANTS[i][2]))
    else
      local r = {}
      for k, v in pairs(VARIANTS[i][2]) do r[k] = v end
      r.command = { "/bin/true" }
      for _ = 1, PER do
        assert(assert(nsbox.container(r)):run() == 0)
        if VARIANTS[i][3] then VARIANTS[i][3]() end
      end
    end
    times[i][#times[i] + 1] = (clock() - t0) * 1000 / PER
  end
end
os.execute("rm -rf " .. noetc)
if sleeper then
  os.execute("kill " .. sleeper)
  os.execute("rmdir " .. own_pids .. "/nsbox-bench-" .. core.getpid())
end

local function median(t)
  table.sort(t)
  local n = #t
  return n % 2 == 1 and t[(n + 1) // 2] or (t[n // 2] + t[n // 2 + 1]) / 2
end
local rows, prev, medians = {}, nil, {}
for i, v in ipairs(VARIANTS) do
  local m = median(times[i])
  medians[i] = m
  if i == NSBOX_ROWS + 1 then prev = nil end -- the C rows: their own base
  if v[3] or v.base then prev = medians[DEFAULT_ROW] end -- the migration and pty rows: against the default start
  rows[#rows + 1] = { v[1], m, prev and m - prev or nil }
  prev = m
end
return rows
