-- Issue 5's faults: a failure at each setup step, the parent killed at random
-- moments, many containers at once from several processes, and random recipes.
-- Each leaves nothing behind: fds, child processes, mounts, veths, address leases.
-- Everything runs in a network namespace this spec makes for itself.
local H = require "spec.support.helpers"
local nsbox, core = H.nsbox, H.core
local fault = require "nsbox.fault"
local net = require "nsbox.net"
local q = H.sh_quote

local NETWORK = { bridge = "fbr0", gateway = "10.78.0.1/24" }
local KILLNET = { bridge = "fbr1", gateway = "10.78.1.1/24" } -- the parent-kill spec's own
local ENV = H.LUA_ENV

local state -- the lease directory of this spec (net.STATE_DIR)

local tmpdir = H.tmpdir

local function links() return H.sh("ip -o link | cut -d: -f2 | cut -d@ -f1 | sort") end

-- Host-side veths nsbox made ("nsb..."), polled for up to 2 s when wait is set: a
-- dead network namespace takes its veths with it, asynchronously.
local function veths(wait)
  local left
  for _ = 1, wait and 40 or 1 do
    left = H.sh("ip -o link | cut -d: -f2 | cut -d@ -f1 | tr -d ' ' | grep '^nsb' || true")
    if left == "" then break end
    os.execute("sleep 0.05")
  end
  return left
end

-- Lease files (one per leased address; the per-bridge lock file is not one).
local function leases(bridge)
  return H.sh("find " .. q(state) .. " -type f ! -name lock" .. (bridge and " -path '*-" .. bridge .. "/*'" or ""))
end

local function snapshot()
  collectgarbage()
  veths(true) -- a dead container's veth goes with its namespace, in the background
  return { fds = H.fd_count(), kids = H.child_count(), mounts = H.host_mounts(), links = links(), leases = leases() }
end

local function assert_unchanged(before, label)
  local now = snapshot()
  -- which fds, when one is left open: a flake says what it was
  assert.equal(before.fds, now.fds, label .. ": fds" ..
    (before.fds ~= now.fds and "\n" .. H.sh("ls -l /proc/" .. core.getpid() .. "/fd") or ""))
  assert.equal(before.kids, now.kids, label .. ": child processes")
  assert.equal(before.mounts, now.mounts, label .. ": mounts")
  assert.equal(before.links, now.links, label .. ": links")
  assert.equal(before.leases, leases(), label .. ": leases")
end

-- The re-executed child is a fresh interpreter: what arms a step there is an
-- interpreter that runs fault.arm(step) before nsbox's bootstrap (its -e).
local function arming_interpreter(dir, step)
  local path = dir .. "/lua-" .. step
  local f = assert(io.open(path, "w"))
  f:write("#!/bin/sh\nexec ", core.realpath("/proc/self/exe"), " -e ",
    q(string.format("package.path=%q require('nsbox.fault').arm(%q)",
      H.root .. "/lua/?.lua;" .. H.root .. "/lua/?/init.lua", step)), ' "$@"\n')
  f:close()
  assert(os.execute("chmod 755 " .. q(path)))
  return path
end

local function run_true(network)
  local box = assert(nsbox.container { rootfs = H.rootfs, command = { "true" }, network = network })
  return box:run()
end

-- Processes whose command line is exactly cmdline and that are not zombies
-- (a zombie of ours waits for the host's init to reap it), polled up to 2 s.
local function survivors(cmdline)
  local alive
  for _ = 1, 40 do
    alive = {}
    for pid in H.sh("pgrep -fx " .. q(cmdline) .. " || true"):gmatch("%d+") do
      local st = H.proc_state(pid)
      if st and st ~= "Z" then alive[#alive + 1] = pid .. ":" .. st end
    end
    if #alive == 0 then break end
    os.execute("sleep 0.05")
  end
  return table.concat(alive, " ")
end

describe("faults", function()
  if H.needs_root("makes a network namespace without a user namespace for its bridges") then return end
  local saved, wrappers

  setup(function()
    assert(core.unshare(core.CLONE_NEWNET))
    assert(core.rtnl.link_set { name = "lo", up = true })
    saved, state, wrappers = net.STATE_DIR, tmpdir("leases"), tmpdir("interp")
    net.STATE_DIR = state
    -- the bridges stay from here on
    assert.equal(0, run_true(NETWORK))
    assert.equal(0, run_true(KILLNET))
  end)

  teardown(function()
    fault.arm(nil)
    net.STATE_DIR = saved
    H.rm(state)
    H.rm(wrappers)
  end)

  -- forked: the child inherits the armed step; re-executed: the interpreter arms it
  for _, reexec in ipairs { false, true } do
  describe("a setup step that fails (" .. (reexec and "re-executed" or "forked") .. " child)", function()
    for _, step in ipairs(fault.STEPS) do
      it("at " .. step .. ": start() names the step, nothing is left behind, the next run works", function()
        local interpreter = reexec and arming_interpreter(wrappers, step) or nil
        local before = snapshot()
        fault.arm(step)
        finally(function() fault.arm(nil) end)
        -- the arming interpreter reads nsbox.fault from this checkout before nsbox's own
        -- bootstrap: with the host's ids, as a checkout under a 0700 home needs
        local host = reexec and core.geteuid() == 0 and { inside = 0, outside = 0, count = 65536 } or nil
        local box = assert(nsbox.container { rootfs = H.rootfs, command = { "true" }, network = NETWORK,
                                             interpreter = interpreter, uid_map = host, gid_map = host })
        assert.equal(reexec, box.recipe.reexec)
        local ok, err = box:start()
        fault.arm(nil)
        assert.is_nil(ok)
        assert.equal(step .. ": injected fault", err)
        assert.is_nil(box.pid)
        assert.equal("", veths(true)) -- gone with the child's network namespace
        assert_unchanged(before, step)
        assert.equal(0, run_true(NETWORK))
      end)
    end
  end)
  end

  it("is armed by fault.arm alone: NSBOX_FAULT in the environment changes nothing", function()
    core.setenv("NSBOX_FAULT", "mounts")
    finally(function() core.setenv("NSBOX_FAULT", nil) end)
    assert.equal(0, run_true(NETWORK))
    local box = assert(nsbox.container { rootfs = H.rootfs, command = { "true" }, reexec = true })
    assert.equal(0, box:run())
  end)

  describe("a setup step that fails on its input", function()
    local cases = {
      { "attach: a bridge name taken by a link of another kind", { network = { bridge = "lo", gateway = "10.79.0.1/24" } },
        "^network.bridge: lo exists and is not a bridge" },
      { "attach: an address another container holds", { network = { bridge = "fbr0", address = "10.78.0.250/24" } },
        "^network.address: 10.78.0.250 is already in use on fbr0$", "hold" },
      { "mounts: a tmpfs onto a file", { network = NETWORK, mounts = { { type = "tmpfs", destination = "/etc/passwd" } } },
        "^mount%(tmpfs, .*/etc/passwd%): Not a directory$" },
      { "cwd: a missing directory", { network = NETWORK, cwd = "/no/such" },
        "^chdir%(/no/such%): No such file or directory$" },
      { "exec: a missing command", { network = NETWORK, command = { "nosuch" } },
        "^exec%(nosuch%): No such file or directory$" },
      { "interpreter: one that cannot run nsbox", { interpreter = "/bin/false" },
        "^container setup ended without a report" },
    }
    for _, reexec in ipairs { false, true } do
    for _, c in ipairs(cases) do
      local name, extra, pattern, hold = c[1], c[2], c[3], c[4]
      if reexec or extra.interpreter == nil then -- an interpreter is always re-executed: that case runs once
      if reexec and not extra.interpreter then name = name .. " (re-executed child)" end
      it(name .. ": start() says so and leaves nothing behind", function()
        local holder
        if hold then -- a running container holding the address first
          holder = assert(nsbox.container { rootfs = H.rootfs, command = { "sleep", "30" }, network = extra.network })
          assert(holder:start())
        end
        local before
        if not hold then before = snapshot() end
        local r = { rootfs = H.rootfs, command = { "true" }, reexec = reexec or nil }
        for k, v in pairs(extra) do r[k] = v end
        local box = assert(nsbox.container(r))
        assert.equal(reexec, box.recipe.reexec)
        local ok, err = box:start()
        assert.is_nil(ok)
        assert.matches(pattern, err)
        assert.is_nil(box.pid)
        if holder then
          holder:kill(core.SIGKILL)
          holder:wait()
          before = before or snapshot()
        end
        assert.equal("", veths(true))
        assert_unchanged(before, name)
        assert.equal(0, run_true(NETWORK))
      end)
      end
    end
    end

    it("start() answers nil and a message, never raises, for fd numbers past the kernel's range", function()
      for _, extra in ipairs { { stdin = 1 << 40 }, { stdout = 1 << 33 }, { keep_fds = { 1 << 40 } } } do
        local before = snapshot()
        extra.rootfs, extra.command = H.rootfs, { "true" }
        local okc, box, cerr = pcall(nsbox.container, extra)
        assert.is_true(okc, tostring(box))
        if box then
          local oks, ok, err = pcall(box.start, box)
          assert.is_true(oks, "start() raised: " .. tostring(ok))
          assert.is_nil(ok)
          assert.is_string(err)
        else
          assert.is_string(cerr)
        end
        assert_unchanged(before, "fd")
      end
    end)
  end)

  describe("the parent killed with SIGKILL", function()
    it("at random moments, 20 times: no container process, veth or live lease survives; the next run works", function()
      local seed = tonumber(os.getenv("NSBOX_SEED")) or 5736
      math.randomseed(seed)
      local before = snapshot()
      local address = "10.78.1.200/24" -- the same each time: a stale lease must not keep it
      local network = { bridge = KILLNET.bridge, gateway = KILLNET.gateway, address = address }
      for i = 1, 20 do
        local delay = math.random(0, 50) / 1000
        local sleeper = "sleep " .. (100000 + i)
        local script = string.format([[
          require("nsbox.net").STATE_DIR = %q
          local nsbox = require "nsbox"
          local box = assert(nsbox.container { rootfs = %q, command = { "sleep", %q },
            network = { bridge = %q, gateway = %q, address = %q } })
          assert(box:start())
          box:wait()
        ]], state, H.rootfs, tostring(100000 + i), KILLNET.bridge, KILLNET.gateway, address)
        local label = string.format("seed %d, kill %d after %.3f s", seed, i, delay)
        os.execute(string.format("%s lua5.4 -e %s >/dev/null 2>&1 & p=$!; sleep %.3f; kill -9 $p; wait $p 2>/dev/null",
          ENV, q(script), delay))
        local left = survivors(sleeper)
        if left ~= "" then os.execute("kill -9 " .. left:gsub(":%a", "")) end -- by pid: do not keep them
        assert.equal("", left, label .. ": container processes")
        assert.equal("", veths(true), label .. ": veths")
        -- a lease left by the dead parent is stale: the same address is taken again, then freed
        local st, err = run_true(network)
        assert.equal(0, st, label .. ": next run: " .. tostring(err))
        assert.equal("", leases(KILLNET.bridge), label .. ": leases")
      end
      assert_unchanged(before, "after the kills")
    end)
  end)

  describe("the parent killed while its child waits on the channel", function()
    for _, reexec in ipairs { false, true } do
      it((reexec and "re-executed" or "forked") .. " child, no parent-death signal: it sees EOF and exits", function()
        local dir = tmpdir("eof")
        local pid
        finally(function()
          if pid then os.execute("kill -9 " .. pid .. " 2>/dev/null") end
          os.execute("rm -rf " .. q(dir))
        end)
        -- The parent dies (SIGKILL) in place of making the network, so the child
        -- waits for a "network" message that never comes; core.spawn is given no
        -- pdeathsig, so only the EOF of the channel can end the child.
        local script = string.format([[
          local core = require "nsbox.core"
          local spawn = core.spawn
          core.spawn = function(spec) spec.pdeathsig = 0 return spawn(spec) end
          require("nsbox.net").attach = function(p)
            local f = io.open(%q, "w") f:write(p) f:close()
            os.rename(%q, %q)
            core.kill(assert(core.pidfd_open(core.getpid())), core.SIGKILL)
          end
          local box = assert(require("nsbox").container { rootfs = %q, command = { "sleep", "30" },
            reexec = %s, network = { bridge = %q, gateway = %q } })
          box:start()
        ]], dir .. "/pid.tmp", dir .. "/pid.tmp", dir .. "/pid", H.rootfs, tostring(reexec),
          NETWORK.bridge, NETWORK.gateway)
        os.execute(ENV .. " lua5.4 -e " .. q(script) .. " </dev/null >/dev/null 2>&1 &")
        local gone
        pid, gone = H.await_exit(dir .. "/pid")
        assert.is_number(pid, "the parent did not reach the network")
        assert.is_true(gone, "the child outlived its parent")
      end)
    end
  end)

  describe("20 containers started at once from 4 processes", function()
    it("all succeed, 25 times over, and nothing leaks", function()
      local before = snapshot()
      local script = [[
        require("nsbox.net").STATE_DIR = STATE
        local nsbox = require "nsbox"
        local boxes = {}
        for i = 1, 5 do
          boxes[i] = assert(nsbox.container { rootfs = ROOTFS, command = { "true" },
            network = NET and { bridge = "fbr0", gateway = "10.78.0.1/24" } or nil })
          local ok, err = boxes[i]:start()
          if not ok then print("start: " .. tostring(err)) boxes[i] = nil end
        end
        for i = 1, 5 do
          if boxes[i] then local st, err = boxes[i]:wait() print(st == 0 and "ok" or ("status " .. tostring(st) .. " " .. tostring(err))) end
        end
      ]]
      for round = 1, 25 do
        local cmds = {}
        for p = 1, 4 do
          local s = string.format("STATE = %q ROOTFS = %q NET = %s\n", state, H.rootfs, tostring(p <= 2)) .. script
          cmds[p] = ENV .. " lua5.4 -e " .. q(s) .. " &"
        end
        local out = H.sh("( " .. table.concat(cmds, " ") .. " wait ) 2>&1")
        assert.equal(("ok\n"):rep(20), out, "round " .. round)
      end
      assert.equal("", veths(true))
      assert_unchanged(before, "after 25 rounds")
    end)
  end)

  describe("random recipes fed to nsbox.container", function()
    it("never raise, always answer a box or nil and a message naming the field, and leave nothing", function()
      local seed = tonumber(os.getenv("NSBOX_SEED")) or 20171
      math.randomseed(seed)
      local R = math.random
      local function pick(t) return t[R(#t)] end

      local WEIRD = { "", "/", "//", "/a/../b", "../../etc", "/a//b//", "/proc/self/fd/3", "/tmp/../..",
        "a\0b", "/x\0/y", "\0", "ünïcødé", "/tmp/€/😀", "\xff\xfe\x80", " ", "-", "--help", "%s%n",
        "/dev/null", "/etc/passwd", "/bin/sh", "..", ".", "lo", "brg0", "10.10.10.2/24", "999.1.1.1",
        "1.2.3.4/0", "0.0.0.0/31", "CAP_SYS_ADMIN", "net_admin", "user", "mnt", "tmpfs", "bind" }
      local function rstr()
        local k = R(6)
        if k == 1 then return ("a/"):rep(R(0, 1 << 19)) -- up to 1 MB
        elseif k == 2 then
          local b = {}
          for i = 1, R(0, 64) do b[i] = string.char(R(0, 255)) end
          return table.concat(b)
        elseif k == 3 then return "/" .. pick(WEIRD) .. "/" .. pick(WEIRD)
        else return pick(WEIRD) end
      end
      local NUMS = { 0, 1, -1, 2, 3, 65534, 1 << 31, -(1 << 31), 1 << 32, math.maxinteger, math.mininteger,
        0.5, -0.0, 1e308, math.huge, -math.huge, 0 / 0, 4294967295, 4294967296 }
      local rvalue
      local function rtable(depth)
        local t = {}
        for _ = 1, R(0, 4) do
          local key = R(2) == 1 and #t + 1 or rvalue(depth + 1)
          if key == nil or key ~= key then key = "k" end -- nil and NaN cannot be keys
          t[key] = rvalue(depth + 1)
        end
        return t
      end
      function rvalue(depth)
        local k = R(depth > 3 and 5 or 7)
        if k == 1 then return nil
        elseif k == 2 then return R(2) == 1
        elseif k == 3 then return pick(NUMS)
        elseif k == 4 or k == 5 then return rstr()
        elseif k == 6 then return rtable(depth)
        else return pick { print, io.stdout, coroutine.create(print), rtable(depth) } end
      end
      -- Values that are nearly right, so that many recipes get past the first field.
      local function path() return R(3) == 1 and rstr() or "/" .. pick { "x", "data", "a/b", "..", "tmp/x" } end
      local PLAUSIBLE = {
        rootfs = function() return R(4) == 1 and rstr() or H.rootfs end,
        command = function() return { pick { "true", "/bin/sh", rstr() }, R(2) == 1 and rstr() or nil } end,
        env = function() return { [R(2) == 1 and "A" or rstr()] = R(2) == 1 and rstr() or rvalue(0) } end,
        cwd = path, hostname = rstr, domainname = rstr, name = rstr, interpreter = path,
        namespaces = function() return { "mount", pick { "user", "uts", "net", rstr() } } end,
        uid_map = function() return { inside = pick(NUMS), outside = pick(NUMS), count = pick(NUMS) } end,
        gid_map = function() return { { inside = 0, outside = pick(NUMS), count = 1 }, rvalue(0) } end,
        mounts = function()
          return { R(2) == 1 and { type = "tmpfs", destination = path(), size = R(2) == 1 and pick(NUMS) or nil }
                   or { source = pick { "/etc", "/etc/hostname", rstr() }, destination = path(), readonly = rvalue(0) } }
        end,
        network = function()
          return R(4) == 1 and pick { false, "none", true } or { bridge = R(2) == 1 and "fbr0" or rstr(),
            address = R(2) == 1 and pick(WEIRD) or nil, gateway = R(2) == 1 and "10.78.0.1/24" or rstr(),
            interface = R(3) == 1 and rstr() or nil }
        end,
        keep_fds = function() return { pick(NUMS), R(2) == 1 and pick(NUMS) or nil } end,
        stdin = function() return pick(NUMS) end, stdout = function() return pick(NUMS) end,
        stderr = function() return pick(NUMS) end,
        capabilities = function()
          return { [pick { "add", "drop", rstr() }] = R(3) == 1 and rvalue(0) or { pick { "net_admin", "CAP_KILL", rstr() } } }
        end,
        no_new_privs = function() return rvalue(0) end, new_session = function() return rvalue(0) end,
        init = function() return rvalue(0) end, readonly = function() return rvalue(0) end,
      }
      -- Values that pass, so that many recipes get past their first fields.
      local VALID = {
        command = function() return { "true" } end, env = function() return { A = "b", N = 1 } end,
        cwd = function() return "/tmp" end, hostname = function() return "h" .. R(999) end,
        domainname = function() return "example.org" end, name = function() return "n" .. R(999) end,
        interpreter = function() return "/proc/self/exe" end,
        namespaces = function() return { "user", "mount", "pid", "net" } end,
        uid_map = function() return { inside = 0, outside = 0, count = 1 } end,
        gid_map = function() return { { inside = 0, outside = 0, count = 1 } } end,
        mounts = function() return { { type = "tmpfs", destination = "/x" }, { source = "/etc", destination = "/e" } } end,
        network = function() return { bridge = "fbr0", gateway = "10.78.0.1/24" } end,
        keep_fds = function() return { R(3, 100) } end,
        stdin = function() return R(0, 100) end, stdout = function() return R(0, 100) end,
        stderr = function() return R(0, 100) end,
        capabilities = function() return { add = { "net_admin" }, drop = { "CAP_KILL" } } end,
        no_new_privs = function() return R(2) == 1 end, new_session = function() return R(2) == 1 end,
        init = function() return R(2) == 1 end, readonly = function() return R(2) == 1 end,
        rootfs = function() return H.rootfs end,
      }
      local FIELDS = {}
      for k in pairs(PLAUSIBLE) do FIELDS[#FIELDS + 1] = k end
      table.sort(FIELDS)

      -- One value somewhere inside t (keys in a fixed order: the seed must reproduce it) made random.
      local function corrupt(t)
        local keys = {}
        for key in pairs(t) do keys[#keys + 1] = key end
        table.sort(keys, function(x, y) return tostring(x) < tostring(y) end)
        local key = pick(keys)
        if type(t[key]) == "table" and R(2) == 1 then corrupt(t[key]) else t[key] = rvalue(1) end
      end

      -- Some valid fields, then one or two of them broken: wholly, nearly, or deep inside.
      local function recipe()
        if R(20) == 1 then return rvalue(0) end -- not a table, most of the time
        local r = { rootfs = H.rootfs }
        for _, f in ipairs(FIELDS) do
          if R(100) <= 25 then r[f] = VALID[f]() end
        end
        for _ = 1, R(0, 2) do
          local f, m = pick(FIELDS), R(4)
          if m == 1 then r[f] = rvalue(0)
          elseif m == 2 then r[f] = PLAUSIBLE[f]()
          else
            local v = VALID[f]()
            if type(v) == "table" then corrupt(v) else v = rvalue(0) end
            r[f] = v
          end
        end
        if R(20) == 1 then r[rstr()] = rvalue(0) end -- an unknown field
        return r
      end

      local before = snapshot()
      -- what nsbox may write outside the rootfs: its state directory (pointed at one of
      -- ours) and, without it, /tmp/nsbox-UID; not the rest of /tmp, which others use
      local state_dir, own = tmpdir("state", true), "/tmp/nsbox-" .. core.geteuid()
      core.setenv("NSBOX_STATE_DIR", state_dir)
      finally(function() core.setenv("NSBOX_STATE_DIR", nil) H.rm(state_dir) end)
      local tmp_before = H.sh("ls -A " .. q(state_dir) .. "; ls -dA " .. q(own) .. " 2>/dev/null")
      local boxes, refused = 0, 0
      for i = 1, 300 do
        local r = recipe()
        local ok, box, err = pcall(nsbox.container, r)
        local where = string.format("seed %d, recipe %d", seed, i)
        assert.is_true(ok, where .. ": raised " .. tostring(box))
        if box ~= nil then
          assert.equal(require("nsbox.container").Box, getmetatable(box), where)
          assert.is_nil(err, where)
          boxes = boxes + 1
        else
          assert.is_string(err, where)
          local name = err:match("^(%a[%w_]*)")
          assert.is_truthy(name and (PLAUSIBLE[name] or name == "recipe") and err:find(": ", 1, true),
            where .. ": the message names no field: " .. err:sub(1, 200))
          refused = refused + 1
        end
      end
      assert.is_true(boxes > 0 and refused > 0, string.format("seed %d: %d boxes, %d refused", seed, boxes, refused))
      assert_unchanged(before, "seed " .. seed)
      assert.equal(tmp_before, H.sh("ls -A " .. q(state_dir) .. "; ls -dA " .. q(own) .. " 2>/dev/null"),
        "seed " .. seed .. ": files in the state directory or /tmp/nsbox-UID")
    end)
  end)
end)
