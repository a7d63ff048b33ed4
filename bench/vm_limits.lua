-- What limits cost a start on cgroup v2, as a ratio to the same VM's start without
-- them (tcg makes absolute times meaningless): run as a busted file in the VM,
-- `make vmtest VMTEST_SPECS=bench/vm_limits.lua`; the ratios are printed as TAP
-- comments. A measurement, not a test: it passes whatever the times.
local nsbox = require "nsbox"

local function clock()
  local f = io.open("/proc/uptime")
  local t = f:read("n")
  f:close()
  return t
end

describe("bench", function()
  it("limits on cgroup v2 against none, in the same rounds", function()
    local variants = {
      { "no limits", {} },
      { "memory 256M, pids 64", { memory = "256M", pids = 64 } },
      { "memory, pids, cpus 1, cpu_weight 100", { memory = "256M", pids = 64, cpus = 1, cpu_weight = 100 } },
    }
    local ROUNDS, PER, times = 6, 10, {}
    for i = 1, #variants do times[i] = {} end
    for round = 1, ROUNDS do
      for j = 1, #variants do
        local i = round % 2 == 1 and j or #variants + 1 - j
        local t0 = clock()
        for _ = 1, PER do
          local r = { rootfs = "build/rootfs", command = { "/bin/true" } }
          if next(variants[i][2]) then r.resources = variants[i][2] end
          assert(nsbox.container(r):run() == 0)
        end
        times[i][#times[i] + 1] = (clock() - t0) / PER
      end
    end
    local med = {}
    for i, t in ipairs(times) do
      table.sort(t)
      med[i] = (t[ROUNDS // 2] + t[ROUNDS // 2 + 1]) / 2
    end
    for i, v in ipairs(variants) do
      print(string.format("# vm bench: %-40s %.3fx", v[1], med[i] / med[1]))
    end
  end)
end)
