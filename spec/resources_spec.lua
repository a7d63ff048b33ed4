-- Issue 13: a container's resources. A cgroup per container under the caller's
-- own (v2, in make vmtest; v1 controllers on this host), its limits written
-- before the command runs, an out-of-memory kill reported as such, the cgroup
-- gone after; rlimits seen in /proc/self/limits; bad input named by its field.
local H = require "spec.support.helpers"
local nsbox, core = H.nsbox, H.core

local V2 = io.open("/sys/fs/cgroup/cgroup.controllers") ~= nil
local VM = os.getenv("NSBOX_VM") ~= nil

-- This process's cgroup directories, per controller (v2: the one, as nsbox's
-- base: the parent of the leaf it may have moved into).
local function own_dirs()
  local dirs = {}
  for line in io.lines("/proc/self/cgroup") do
    local ctrls, path = line:match("^%d+:([^:]*):(.*)$")
    if V2 and ctrls == "" then
      dirs[1] = ("/sys/fs/cgroup" .. path:gsub("/nsbox%.caller$", "")):gsub("/$", "")
    elseif not V2 then
      for c in ctrls:gmatch("[^,]+") do
        if c == "memory" or c == "pids" or c == "cpu" or c == "cpuset" or c == "blkio" then
          dirs[#dirs + 1] = ("/sys/fs/cgroup/" .. c .. path):gsub("/$", "")
        end
      end
    end
  end
  return dirs
end

-- The nsbox-<id> cgroups under this process's own, by path.
local function leftovers()
  local out = {}
  for _, d in ipairs(own_dirs()) do
    for _, name in ipairs(core.readdir(d) or {}) do
      if name:match("^nsbox%-") then out[#out + 1] = d .. "/" .. name end
    end
  end
  table.sort(out)
  return out
end

local sleep = H.sleep

describe("resources", function()
  if H.needs_root("cgroups of the host (unprivileged: see the last block)") then return end

  it("limits pids: a fork bomb fails to fork, the host is unharmed, nothing is left", function()
    local box = assert(nsbox.container { rootfs = H.rootfs, resources = { pids = 64 },
      command = { "/bin/sh", "-c", "exec 2>/dev/null; while :; do sleep 100 & done" } })
    assert(box:start())
    local events = box:cgroup_paths().paths[1] .. "/pids.events"
    local most, refused = 0, 0
    for _ = 1, 100 do
      local s = box:stats()
      if not s or not s.pids.current then break end
      most = math.max(most, s.pids.current)
      refused = tonumber((io.open(events) or io.open("/dev/null")):read("a"):match("max (%d+)") or 0)
      if refused > 0 then break end
      sleep(0.1)
    end
    assert.is_true(os.execute("true"), "the host still forks")
    box:kill(core.SIGKILL)
    assert(box:wait()) -- 137, or 2 where the shell gave up at a refused fork
    assert.is_true(most <= 64, "pids.current " .. most)
    assert.is_true(refused > 0, "forks refused at the limit (pids.events max)")
    assert.are.same({}, leftovers())
  end)

  it("reports an out-of-memory kill of the command: 137 and the limit", function()
    local status, err = nsbox.container { rootfs = H.rootfs, resources = { memory = "64M" },
      command = { "/bin/sh", "-c", "x=$(head -c 200000000 /dev/zero | tr '\\0' a); echo survived" } }:run()
    assert.are.equal(137, status)
    assert.are.equal("killed: out of memory (memory limit 64M)", err)
  end)

  it("reports an out-of-memory kill of another process of the container, in a note and in stats", function()
    local box = assert(nsbox.container { rootfs = H.rootfs, resources = { memory = "64M" },
      command = { "/bin/sh", "-c", "head -c 200000000 /dev/zero | tr '\\0' a | (x=$(cat)); exit 3" } })
    local status, note = box:run()
    assert.are.equal(3, status)
    -- the kernel's OOM killer may take a second process of the pipeline (seen once in the VM)
    local n, word = tostring(note):match("^(%d+) (process%a*) of the container killed: out of memory %(memory limit 64M%)$")
    assert.truthy(n, note)
    assert.are.equal(n == "1" and "process" or "processes", word)
    local s = assert(box:stats())
    assert.are.equal(tonumber(n), s.oom_kills)
    assert.is_true(s.memory.peak >= 60 * 1024 * 1024 and s.memory.peak <= 64 * 1024 * 1024, tostring(s.memory.peak))
  end)

  it("counts memory, cpu time and pids in stats, whatever the limits, during the run and after", function()
    local box = assert(nsbox.container { rootfs = H.rootfs, resources = { pids = 32 },
      command = { "/bin/sh", "-c", "i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done; sleep 30" } })
    assert(box:start())
    local during
    for _ = 1, 100 do
      during = assert(box:stats())
      if (during.cpu.usage_usec or 0) > 0 and during.pids.current >= 2 then break end
      sleep(0.1)
    end
    box:kill(core.SIGKILL)
    box:wait()
    local after = assert(box:stats())
    assert.is_true(during.memory.current > 0, "memory.current")
    assert.is_true(during.memory.peak >= during.memory.current, "memory.peak")
    assert.is_true(during.cpu.usage_usec > 0, "cpu usage")
    assert.is_true(during.cpu.user_usec ~= nil and during.cpu.system_usec ~= nil, "user and system time")
    assert.is_true(during.pids.current >= 2, "pids.current") -- nsbox-init, sleep (sh, until it execs it)
    assert.are.equal(0, during.oom_kills)
    assert.is_true(after.cpu.usage_usec >= during.cpu.usage_usec)
  end)

  it("throttles cpus = 0.5: the cgroup's throttling counter grows", function()
    local box = assert(nsbox.container { rootfs = H.rootfs, command = { "/bin/sh", "-c", "while :; do :; done" },
      resources = { cpus = 0.5 } })
    assert(box:start())
    sleep(1)
    local s = assert(box:stats())
    box:kill(core.SIGKILL)
    box:wait()
    assert.is_true((s.cpu.nr_throttled or 0) > 0, "nr_throttled " .. tostring(s.cpu.nr_throttled))
  end)

  it("writes every limit before the command runs, on a cgroup out of the container's reach", function()
    local res = { memory = "100m", pids = 50, cpus = 1.5, cpuset = "0", cpu_weight = 200 }
    -- inside: its cgroup namespace's root; on v2 it mounts it (sys_admin, no filter: the most it
    -- could be given) and finds there no limit to raise: they are on the cgroup above
    local inside = V2 and "mount -t cgroup2 none /sys/fs/cgroup && ls /sys/fs/cgroup | grep -E '^(memory|pids|cpu)\\.max$'; "
      or ""
    local r, w = assert(core.pipe())
    local box = assert(nsbox.container { rootfs = H.rootfs, resources = res, stdout = w, seccomp = false,
      capabilities = { add = { "sys_admin" } },
      command = { "/bin/sh", "-c", "cat /proc/self/cgroup; " .. inside .. "echo end; exec sleep 30" } })
    assert(box:start())
    core.close(w)
    local out = ""
    while not out:find("end\n$") do
      local c = core.read(r, 1)
      if not c or c == "" then break end
      out = out .. c
    end
    core.close(r)
    local seen = {}
    for _, p in ipairs(box:cgroup_paths().paths) do
      for _, f in ipairs(V2 and { "memory.max", "memory.swap.max", "pids.max", "cpu.max", "cpuset.cpus", "cpu.weight" } or
          { "memory.limit_in_bytes", "memory.memsw.limit_in_bytes", "pids.max", "cpu.cfs_quota_us", "cpu.cfs_period_us",
            "cpu.shares", "cpuset.cpus" }) do
        local fh = io.open(p .. "/" .. f)
        if fh then seen[f] = fh:read("l") fh:close() end
      end
    end
    box:kill(core.SIGKILL)
    box:wait()
    if V2 then
      assert.are.same({ ["memory.max"] = "104857600", ["memory.swap.max"] = "104857600", ["pids.max"] = "50",
        ["cpu.max"] = "150000 100000", ["cpuset.cpus"] = "0", ["cpu.weight"] = "200" }, seen)
      assert.are.equal("0::/\nend\n", out)
    else
      assert.are.same({ ["memory.limit_in_bytes"] = "104857600", ["memory.memsw.limit_in_bytes"] = "209715200",
        ["pids.max"] = "50", ["cpu.cfs_quota_us"] = "150000", ["cpu.cfs_period_us"] = "100000", ["cpu.shares"] = "2048",
        ["cpuset.cpus"] = "0" }, seen)
      for _, c in ipairs { "memory", "pids", "cpu", "cpuset" } do assert.matches("\n%d+:" .. c .. ":/\n", out) end
    end
  end)

  it("sets rlimits, seen in /proc/self/limits", function()
    local status, out = H.run_sh("grep -E 'open files|processes|core file' /proc/self/limits",
      { rlimits = { nofile = { 1000, 2000 }, nproc = 300, core = { soft = 0, hard = "unlimited" } } })
    assert.are.equal(0, status)
    assert.matches("Max core file size%s+0%s+unlimited", out)
    assert.matches("Max processes%s+300%s+300", out)
    assert.matches("Max open files%s+1000%s+2000", out)
  end)

  it("raises a hard rlimit above the caller's own, with CAP_SYS_RESOURCE (root's), or says it cannot", function()
    local _, hard = core.getrlimit(core.RLIMIT_NOFILE)
    local caps = io.open("/proc/self/status"):read("a"):match("CapEff:%s*(%x+)")
    if (tonumber(caps, 16) >> 24) & 1 == 0 then
      local box, err = nsbox.container { rootfs = H.rootfs, rlimits = { nofile = hard + 1000 } }
      assert.is_nil(box)
      assert.are.equal(string.format("rlimits.nofile: hard limit %d is above this process's own (%d): raising it " ..
        "takes CAP_SYS_RESOURCE (root's)", hard + 1000, hard), err)
      return pending("this root lacks CAP_SYS_RESOURCE: the refusal is checked, not the raise")
    end
    local status, out = H.run_sh("grep 'open files' /proc/self/limits", { rlimits = { nofile = hard + 1000 } })
    assert.are.equal(0, status)
    assert.matches("Max open files%s+" .. (hard + 1000) .. "%s+" .. (hard + 1000), out)
  end)

  it("gives a command joined with exec the container's cgroup and rlimits", function()
    local box = assert(nsbox.container { rootfs = H.rootfs, command = { "/bin/sleep", "30" },
      resources = { pids = 20 }, rlimits = { nofile = 6, nproc = 50 } })
    assert(box:start())
    local r, w = assert(core.pipe())
    local status = box:exec { command = { "/bin/sh", "-c", "cat /proc/self/cgroup; grep 'open files' /proc/self/limits; " ..
      "cat /proc/self/status" }, stdout = w }
    core.close(w)
    local out = core.read_all(r)
    core.close(r)
    box:kill(core.SIGKILL)
    box:wait()
    assert.are.equal(0, status)
    assert.matches(V2 and "^0::/\n" or "\n%d+:pids:/\n", out)
    -- so low that the joining process's own steps would fail under it: set in its last step
    assert.matches("Max open files%s+6%s+6", out)
  end)

  it("removes the cgroups made below the container's own, and what runs there", function()
    local box = assert(nsbox.container { rootfs = H.rootfs, command = { "/bin/sleep", "30" }, resources = { pids = 8 } })
    assert(box:start())
    for _, p in ipairs(box:cgroup_paths().paths) do
      assert(core.mkdir(p .. "/sub"))
      assert(core.mkdir(p .. "/sub/deeper"))
    end
    box:kill(core.SIGKILL)
    box:wait()
    assert.are.same({}, leftovers())
  end)

  it("leaves no cgroup behind after 200 containers with limits", function()
    for _ = 1, VM and 40 or 200 do
      assert.are.equal(0, nsbox.container { rootfs = H.rootfs, command = { "/bin/true" },
        resources = { memory = "32m", pids = 16 } }:run())
    end
    assert.are.same({}, leftovers())
  end)

  it("reaps the cgroup of a container whose owner was killed, at a later start", function()
    local script = string.format([[
      local nsbox = require "nsbox"
      local box = assert(nsbox.container { rootfs = %q, command = { "/bin/sleep", "30" }, resources = { pids = 8 } })
      assert(box:start())
      io.write("started\n") io.flush()
      os.execute("sleep 30")
    ]], H.rootfs)
    local p = assert(io.popen(H.LUA_ENV .. " lua5.4 -e " .. H.sh_quote(script) .. " & echo $!"))
    local pid = p:read("l")
    local started = p:read("l")
    local during = #leftovers()
    os.execute("kill -9 " .. pid)
    p:close()
    assert.are.equal("started", started)
    assert.is_true(during >= 1) -- one per hierarchy on v1
    -- the container died with its owner (parent-death signal); its cgroup stays until a later start
    for _ = 1, 50 do if core.stat("/proc/" .. pid) == nil then break end sleep(0.1) end
    for _ = 1, 16 do -- reaped at a process's first start and every 16th
      assert.are.equal(0, nsbox.container { rootfs = H.rootfs, command = { "/bin/true" }, resources = { pids = 8 } }:run())
    end
    assert.are.same({}, leftovers())
  end)

  it("costs nothing without limits: no cgroup, no stats", function()
    local box = assert(nsbox.container { rootfs = H.rootfs, command = { "/bin/sleep", "30" } })
    assert(box:start())
    local during = leftovers()
    local s, err = box:stats()
    box:kill(core.SIGKILL)
    box:wait()
    assert.are.same({}, during)
    assert.is_nil(s)
    assert.are.equal("container: no cgroup (the recipe asks for no resources)", err)
  end)

  it("makes the cgroup under cgroup_parent", function()
    local parent
    for _, d in ipairs(own_dirs()) do if V2 or d:match("^/sys/fs/cgroup/pids") then parent = d .. "/nsbox-spec-parent" end end
    local rel = parent:gsub(V2 and "^/sys/fs/cgroup" or "^/sys/fs/cgroup/[^/]+", "")
    assert(core.mkdir(parent))
    local box = assert(nsbox.container { rootfs = H.rootfs, command = { "/bin/sleep", "30" },
      resources = { pids = 10 }, cgroup_parent = rel })
    local ok, err = box:start()
    local listed = core.readdir(parent) or {}
    box:kill(core.SIGKILL)
    box:wait()
    local after = core.readdir(parent) or {}
    os.execute("rmdir " .. H.sh_quote(parent))
    assert(ok, err)
    local found = false
    for _, n in ipairs(listed) do if n == "nsbox-" .. box.id then found = true end end
    assert.is_true(found, "nsbox-" .. box.id .. " under " .. parent)
    for _, n in ipairs(after) do assert.is_nil(n:match("^nsbox%-%x+$")) end
  end)

  if V2 then
    it("moves the caller once into a leaf of its own cgroup, where controllers must be handed down", function()
      local own = io.open("/proc/self/cgroup"):read("a")
      assert.matches("^0::/.-/nsbox%.caller\n$", own)
      local base = own_dirs()[1]
      local control = io.open(base .. "/cgroup.subtree_control"):read("a")
      assert.matches("memory", control)
      assert.matches("pids", control)
    end)

    it("writes io_weight to io.weight (or BFQ's io.bfq.weight), or refuses it naming the field, leaving nothing", function()
      local box = assert(nsbox.container { rootfs = H.rootfs, command = { "/bin/sleep", "30" }, resources = { io_weight = 200 } })
      local ok, err = box:start()
      if not ok then
        assert.matches("^resources.io_weight: this kernel has no io weight", err)
        assert.are.same({}, leftovers())
        return pending("this kernel has neither io.cost nor BFQ: the refusal is checked")
      end
      local path = box:cgroup_paths().paths[1]
      local bfq, cost = io.open(path .. "/io.bfq.weight"), io.open(path .. "/io.weight")
      local w = (bfq or cost):read("a")
      box:kill(core.SIGKILL)
      box:wait()
      assert.matches("default 200\n", w)
      assert.are.same({}, leftovers())
    end)

    it("says which cgroup holds other processes, and the fix, when it cannot hand controllers down", function()
      local cg = own_dirs()[1] .. "/nsbox-spec-busy"
      assert(core.mkdir(cg))
      local script = string.format([[
        local nsbox = require "nsbox"
        print(select(2, nsbox.container { rootfs = %q, command = { "/bin/true" }, resources = { memory = "32m" } }:run()))
      ]], H.rootfs)
      local file = H.tmpname("busy") .. ".lua"
      local f = assert(io.open(file, "w"))
      f:write(script)
      f:close()
      local p = assert(io.popen(string.format("sh -c \"echo \\$\\$ > %s/cgroup.procs; sleep 20 & s=\\$!; %s lua5.4 %s; " ..
        "kill \\$s\" 2>&1", cg, H.LUA_ENV, file)))
      local out = p:read("a")
      p:close()
      sleep(0.2)
      os.execute("rmdir " .. cg .. "/nsbox.caller " .. cg)
      assert.matches("resources.memory: cgroup " .. cg:gsub("%p", "%%%0") .. " holds processes %(%d+ sh, %d+ sleep%), " ..
        "besides nsbox's %(moved to " .. cg:gsub("%p", "%%%0") .. "/nsbox%.caller%)", out)
      assert.matches("systemd%-run %-%-user %-%-scope %-p Delegate=yes", out)
    end)
  else
    it("writes io_weight to BFQ's blkio.bfq.weight on cgroup v1, or refuses it naming the field, leaving nothing", function()
      local probe
      for _, d in ipairs(own_dirs()) do if d:match("^/sys/fs/cgroup/blkio") then probe = d .. "/nsbox-spec-bfq" end end
      assert(core.mkdir(probe))
      local bfq = core.stat(probe .. "/blkio.bfq.weight") ~= nil
      os.execute("rmdir " .. probe)
      local box = assert(nsbox.container { rootfs = H.rootfs, command = { "/bin/sleep", "30" }, resources = { io_weight = 200 } })
      local ok, err = box:start()
      if bfq then
        assert(ok, err)
        local w = io.open(box:cgroup_paths().paths[1] .. "/blkio.bfq.weight"):read("a")
        box:kill(core.SIGKILL)
        box:wait()
        assert.are.equal("200\n", w)
      else
        assert.is_nil(ok)
        assert.matches("^resources.io_weight: cgroup v1 has no io weight without the BFQ scheduler", err)
      end
      assert.are.same({}, leftovers())
    end)
  end
end)

describe("resources and rlimits, bad input", function()
  local function refused(r, msg)
    r.rootfs, r.command = H.rootfs, { "/bin/true" }
    local box, err = nsbox.container(r)
    assert.is_nil(box)
    assert.are.equal(msg, err)
  end

  it("names the field and the reason", function()
    refused({ resources = { memory = "lots" } },
      "resources.memory: lots is not a size (bytes, or a number with b, k, m, g or t: \"256m\")")
    refused({ resources = { memory = "12q" } },
      "resources.memory: 12q is not a size (bytes, or a number with b, k, m, g or t: \"256m\")")
    refused({ resources = { memory = 0 } }, "resources.memory: must be positive, got 0")
    refused({ resources = { memory = -5 } }, "resources.memory: must be positive, got -5")
    refused({ resources = { memory = "1k" } }, "resources.memory: 1k is below the smallest limit nsbox allows (6291456 bytes)")
    refused({ resources = { memory = "64m", memory_swap = "32m" } },
      "resources.memory_swap: 32m is less than resources.memory (64m): it counts memory and swap together")
    refused({ resources = { memory_swap = "1g" } },
      "resources.memory_swap: needs resources.memory (it is memory and swap together)")
    refused({ resources = { pids = 0 } }, "resources.pids: an integer from 1 to 4194304 expected, got 0")
    refused({ resources = { pids = -1 } }, "resources.pids: an integer from 1 to 4194304 expected, got -1")
    refused({ resources = { pids = 1.5 } }, "resources.pids: an integer from 1 to 4194304 expected, got 1.5")
    refused({ resources = { cpus = 0 } }, "resources.cpus: must be positive, got 0")
    refused({ resources = { cpus = "fast" } }, "resources.cpus: a number of CPUs expected (1.5), got fast")
    refused({ resources = { cpus = 0 / 0 } }, "resources.cpus: must be positive, got " .. tostring(0 / 0))
    refused({ resources = { memory = math.maxinteger } }, "resources.memory: " .. math.maxinteger ..
      " is not a size (bytes, or a number with b, k, m, g or t: \"256m\")")
    refused({ resources = { cpuset = "0-4000000000" } }, "resources.cpuset: '0-4000000000' is not a list of CPUs (\"0-1,3\")")
    local n = 0
    for _ in io.lines("/proc/cpuinfo") do end
    for c in (io.open("/sys/devices/system/cpu/online"):read("l") .. ","):gmatch("(.-),") do
      local a, b = c:match("^(%d+)%-(%d+)$")
      n = n + (a and (b - a + 1) or 1)
    end
    refused({ resources = { cpus = n + 1 } },
      string.format("resources.cpus: %d is more than this machine has (%d online)", n + 1, n))
    refused({ resources = { cpuset = "0-1,99" } }, "resources.cpuset: CPU 99 is not online here (online: " ..
      io.open("/sys/devices/system/cpu/online"):read("l") .. ")")
    refused({ resources = { cpuset = "1-0" } }, "resources.cpuset: '1-0' is not a list of CPUs (\"0-1,3\")")
    refused({ resources = { cpu_weight = 0 } }, "resources.cpu_weight: an integer from 1 to 10000 expected, got 0")
    refused({ resources = { io_weight = 10001 } }, "resources.io_weight: an integer from 1 to 10000 expected, got 10001")
    refused({ resources = { memroy = "1g" } },
      "resources: unknown field 'memroy' (memory, memory_swap, pids, cpus, cpu_weight, cpuset, io_weight)")
    refused({ rlimits = { nofiles = 10 } }, "rlimits: unknown limit 'nofiles' (as, core, cpu, data, fsize, locks, " ..
      "memlock, msgqueue, nice, nofile, nproc, rss, rtprio, rttime, sigpending, stack)")
    refused({ rlimits = { nofile = { 20, 10 } } }, "rlimits.nofile: soft limit 20 is above the hard limit 10")
    refused({ rlimits = { nofile = -3 } }, "rlimits.nofile: a limit >= 0 or \"unlimited\" expected, got -3")
    refused({ rlimits = { nofile = "unlimited" } }, "rlimits.nofile: the kernel allows at most " ..
      io.open("/proc/sys/fs/nr_open"):read("l") .. " open files (fs.nr_open), got unlimited")
    refused({ cgroup_parent = "relative" }, "cgroup_parent: 'relative' is not an absolute path")
  end)

  it("refuses a cgroup_parent that does not exist, leaving nothing", function()
    if H.needs_root("cgroups of the host") then return end
    local box = assert(nsbox.container { rootfs = H.rootfs, command = { "/bin/true" }, resources = { pids = 5 },
      cgroup_parent = "/nsbox-no-such-parent" })
    local ok, err = box:start()
    assert.is_nil(ok)
    assert.matches("^resources.pids: open%(/sys/fs/cgroup/.-nsbox%-no%-such%-parent%): No such file or directory " ..
      "%(cgroup_parent must be an existing cgroup%)$", err)
    assert.are.same({}, leftovers())
  end)
end)

describe("resources, unprivileged", function()
  it("names the cgroup, the reason and the fix where it may not make one", function()
    if H.needs_root("to switch to uid 65534") then return end
    local out = H.run_unprivileged("limits_probe.lua", "rootfs")
    assert.matches("resources.pids: ", out)
    assert.matches("systemd%-run %-%-user %-%-scope %-p Delegate=yes", out)
    assert.matches("cgroup_parent", out)
  end)

  it("asks nothing of cgroups for a container without limits", function()
    if H.needs_root("to switch to uid 65534") then return end
    local out = H.run_unprivileged("limits_probe.lua", "rootfs", "none")
    assert.are.equal("0\n", out)
  end)
end)
