-- Containers per second from one long-lived Lua process, sequential and 4 at
-- a time, without and with a bridge network, next to the C floor doing the
-- same. Root only (the network runs in a network namespace of its own).
-- Returns rows for RESULTS.md.
local nsbox = require "nsbox"
local core = nsbox.core
local net = require "nsbox.net"
local clock = require("bench.clock").clock -- run.lua sets the paths

local ROOTFS = arg and arg[1] or "build/rootfs"
local FLOOR = arg and arg[2] or "build/bench/floor"
local N = tonumber(arg and arg[3]) or 200

assert(core.unshare(core.CLONE_NEWNET))
assert(core.rtnl.link_set { name = "lo", up = true })
net.STATE_DIR = "/dev/shm/nsbox-bench-tp-" .. core.getpid()
assert(core.mkdir(net.STATE_DIR, 448))

-- Run n containers, at most par at once; returns ms per container.
local function run(n, par, network)
  local t0, live, started = clock(), {}, 0
  while started < n or #live > 0 do
    if started < n and #live < par then
      local box = assert(nsbox.container { rootfs = ROOTFS, command = { "/bin/true" },
        network = network and { bridge = "brg0", gateway = "10.201.0.1/16" } or false })
      assert(box:launch()) -- wait() collects its start: par children set up side by side
      live[#live + 1] = box
      started = started + 1
    else
      assert(table.remove(live, 1):wait() == 0)
    end
  end
  return (clock() - t0) * 1000 / n
end

local function floor(n, par, full)
  local t0 = clock()
  assert(os.execute(string.format("%s %s%s %d %d", FLOOR, full and "--full " or "", ROOTFS, n, par)))
  return (clock() - t0) * 1000 / n
end

run(20, 1, true) -- warm up, and the bridge exists from here on
local rows = {}
for _, par in ipairs { 1, 4 } do
  local f = floor(N, par)
  local plain = run(N, par, false)
  local bridged = run(N, par, true)
  local ff = floor(N, par, true)
  rows[#rows + 1] = { string.format("C floor, %d at a time", par), f, f, ff }
  rows[#rows + 1] = { string.format("C floor --full, %d at a time", par), ff, f, ff }
  rows[#rows + 1] = { string.format("nsbox, %d at a time, no network", par), plain, f, ff }
  rows[#rows + 1] = { string.format("nsbox, %d at a time, bridge network", par), bridged, f, ff }
  rows[#rows + 1] = { string.format("bridge network minus no network, %d at a time", par), bridged - plain }
end
os.execute("rm -rf " .. net.STATE_DIR)
return rows
