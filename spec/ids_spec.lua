-- Issue 11 (defect 5, security breaks 11 and 13): the ids a container runs with and
-- what it may do with them. A uid/gid range as root: the container side becomes uid
-- and gid 0 of its user namespace before it builds anything, and setgroups(2) is
-- allowed where the maps make it safe. The default bounding set is podman's 11 (no
-- NET_RAW, no MKNOD); ping goes through ICMP datagram sockets instead, which
-- nsbox opens to the container's gids in its own network namespace.
-- spec/support/ids_probe.c is the probe (setgroups, ICMP sockets, a datagram ping).
local H = require "spec.support.helpers"
local core = H.core
local q = H.sh_quote

local RANGE = { { inside = 0, outside = 100000, count = 65536 } }
local PODMAN = "00000000800405fb" -- CHOWN DAC_OVERRIDE FOWNER FSETID KILL SETGID SETUID SETPCAP NET_BIND_SERVICE SYS_CHROOT SETFCAP

-- The static probe, built once into a directory anyone may read; mounted at /run.
local probe_dir
local function probe()
  if not probe_dir then
    probe_dir = H.tmpdir("idsprobe")
    assert(os.execute(string.format("chmod 755 %s && cc -static -O2 -std=c11 -D_GNU_SOURCE -Wall -Wextra " ..
      "-Werror -o %s/ids_probe %s/spec/support/ids_probe.c", q(probe_dir), q(probe_dir), q(H.root))))
  end
  return probe_dir
end

-- A shell line in a container with the probe at /run/ids_probe: status, stdout and stderr together.
-- The rootfs for a uid range, and nsbox's modules for a re-executed child: the
-- range's root (host uid 100000) must reach them, so copies under H.TMP (0755),
-- not the checkout, which may sit under a 0700 home (/root on a fresh machine).
local range_dir
local function range_tree()
  if not range_dir then
    range_dir = H.tmpdir("rangefs")
    assert(os.execute(string.format("chmod 755 %s && cp -a %s %s/rootfs && cp -a %s/lua %s/lua", q(range_dir),
      q(H.rootfs), q(range_dir), q(H.root), q(range_dir))))
  end
  return range_dir
end
local function range_rootfs() return range_tree() .. "/rootfs" end
-- the shell environment that loads nsbox from that copy
local function range_env() return H.lua_env(range_tree()) end

local function run(line, extra)
  local r = extra or {}
  if r.uid_map then r.rootfs = r.rootfs or range_rootfs() end
  r.mounts = r.mounts or {}
  table.insert(r.mounts, { source = probe(), destination = "/run", readonly = true })
  local st, out, err = H.run_sh(line .. " 2>&1", r)
  return st, out, err
end

-- "Name:\tvalue" of a /proc/PID/status text.
local function field(text, name)
  return text:match(name .. ":%s*(%S+)")
end

local function read(path) return H.sh("cat " .. q(path)) end

describe("a uid/gid range as root", function()
  if H.needs_root("maps host ids other than its own") then return end

  it("starts, runs as uid and gid 0 of its user namespace, and its files are owned by 0 inside", function()
    for _, reexec in ipairs { false, true } do -- the forked child and the re-executed one
      local host = H.tmpdir("owned")
      finally(function() H.rm(host) end)
      assert(os.execute("chown 100000:100000 " .. q(host)))
      local st, out = run("id -u; id -g; touch /tmp/f /home/f && stat -c '%u %g' /tmp/f /home/f",
        { uid_map = RANGE, gid_map = RANGE, reexec = reexec, mounts = { { type = "tmpfs", destination = "/tmp" },
          { source = host, destination = "/home" } } })
      assert.equal(0, st, out)
      assert.equal("0\n0\n0 0\n0 0\n", out)
      -- inside's 0 is the host's 100000: container root is not host root
      assert.equal("100000 100000\n", H.sh("stat -c '%u %g' " .. q(host .. "/f")))
    end
  end)

  it("drops the caller's supplementary groups (host groups: adm, sudo) with setgroups allowed", function()
    local script = string.format([[
      local nsbox = require "nsbox"
      local core = nsbox.core
      local m = { { inside = 0, outside = 100000, count = 65536 } }
      for _, maps in ipairs { m, false } do
        for _, reexec in ipairs { false, true } do
          local r, w = core.pipe()
          local box = assert(nsbox.container { rootfs = %q, uid_map = maps or nil, gid_map = maps or nil,
            reexec = reexec, stdout = w, command = { "grep", "^Groups", "/proc/self/status" } })
          assert(box:start()) core.close(w)
          io.write(core.read_all(r)) box:wait()
        end
      end
    ]], range_rootfs())
    local out = H.sh("setpriv --groups 4,27 env " .. range_env() .. " lua5.4 -e " .. q(script) .. " 2>&1")
    assert.equal(("Groups:\t \n"):rep(4), out)
  end)

  it("drops them for a command joining with box:exec too", function()
    local script = string.format([[
      local nsbox = require "nsbox"
      local core = nsbox.core
      local m = { { inside = 0, outside = 100000, count = 65536 } }
      for _, reexec in ipairs { false, true } do
        local box = assert(nsbox.container { rootfs = %q, uid_map = m, gid_map = m, reexec = reexec,
          command = { "sleep", "30" } })
        assert(box:start())
        local r, w = core.pipe()
        assert(box:exec { command = { "grep", "^Groups", "/proc/self/status" }, stdout = w })
        core.close(w)
        io.write(core.read_all(r)) box:kill(core.SIGKILL) box:wait()
      end
    ]], range_rootfs())
    local out = H.sh("setpriv --groups 4,27 env " .. range_env() .. " lua5.4 -e " .. q(script) .. " 2>&1")
    assert.equal(("Groups:\t \n"):rep(2), out)
  end)

  it("drops them without a user namespace too, for the container and box:exec", function()
    local script = string.format([[
      local nsbox = require "nsbox"
      local core = nsbox.core
      local r, w = core.pipe()
      local ns = { "mount", "uts", "ipc", "pid", "net" }
      assert(nsbox.container { rootfs = %q, namespaces = ns, stdout = w,
        command = { "grep", "^Groups", "/proc/self/status" } }):run()
      local box = assert(nsbox.container { rootfs = %q, namespaces = ns, command = { "sleep", "30" } })
      assert(box:start())
      assert(box:exec { command = { "grep", "^Groups", "/proc/self/status" }, stdout = w })
      core.close(w)
      box:kill(core.SIGKILL) box:wait()
      io.write(core.read_all(r))
    ]], H.rootfs, H.rootfs)
    local out = H.sh("setpriv --groups 4,27 env " .. H.LUA_ENV .. " lua5.4 -e " .. q(script) .. " 2>&1")
    assert.equal(("Groups:\t \n"):rep(2), out)
  end)

  it("keeps the parent-death signal through the change of ids: the container dies with its parent", function()
    for _, reexec in ipairs { false, true } do
      local dir = H.tmpdir("pdeath")
      finally(function() H.rm(dir) end)
      local script = string.format([[
        local nsbox = require "nsbox"
        local m = { { inside = 0, outside = 100000, count = 65536 } }
        local box = assert(nsbox.container { rootfs = %q, uid_map = m, gid_map = m, reexec = %s,
          command = { "sleep", "60" } })
        assert(box:start())
        local f = io.open(%q, "w") f:write(box.pid, "\n") f:close()
        box:wait()
      ]], range_rootfs(), tostring(reexec), dir .. "/pid")
      local parent = tonumber(H.sh(range_env() .. " lua5.4 -e " .. q(script) .. " >/dev/null 2>&1 & echo $!"))
      for _ = 1, 100 do
        if core.stat(dir .. "/pid") then break end
        os.execute("sleep 0.05")
      end
      assert(os.execute("kill -9 " .. parent))
      local pid, ended = H.await_exit(dir .. "/pid")
      if pid and not ended then os.execute("kill -9 " .. pid) end
      assert.truthy(pid, "reexec " .. tostring(reexec))
      assert.is_true(ended, "reexec " .. tostring(reexec))
    end
  end)

  it("allows setgroups(2) inside: any mapped gid may be set", function()
    local st, out = run("cat /proc/self/setgroups; /run/ids_probe setgroups 1 2 65535",
      { uid_map = RANGE, gid_map = RANGE })
    assert.equal(0, st, out)
    assert.equal("allow\nsetgroups: ok, groups 1 2 65535\n", out)
  end)

  it("allows it with a one-id map too, where only gid 0 is there to set", function()
    local one = { inside = 0, outside = 0, count = 1 }
    local st, out = run("cat /proc/self/uid_map /proc/self/gid_map /proc/self/setgroups; " ..
      "/run/ids_probe setgroups 0; /run/ids_probe setgroups 1", { uid_map = one, gid_map = one })
    assert.equal(1, st, out)
    assert.matches("^%s*0%s+0%s+1\n%s*0%s+0%s+1\nallow\nsetgroups: ok, groups 0\nsetgroups: Invalid argument\n$", out)
  end)
end)

describe("setgroups as an unprivileged user", function()
  if H.needs_root("becomes other users through setpriv, writes /etc/subuid") then return end
  local USER = "nsbox-ids-spec"

  -- Run support/ids_probe.lua as uid:gid; its results.
  local function probe_as(uid, gid, ...)
    local dir = H.unprivileged_tree()
    local args = {}
    for _, a in ipairs { dir .. "/rootfs", probe(), ... } do args[#args + 1] = q(a) end
    local out = H.sh(string.format("cd %s && setpriv --reuid=%d --regid=%d --clear-groups env -i PATH=/usr/bin:/bin " ..
      "%s lua5.4 support/ids_probe.lua %s 2>&1", q(dir), uid, gid, H.lua_env(dir), table.concat(args, " ")))
    local res = load("return " .. out, "probe", "t", {})
    return assert(res, out)()
  end

  teardown(function()
    os.execute("userdel " .. USER .. " 2>/dev/null")
    H.cleanup()
  end)

  it("denies it when the caller maps only its own ids (the kernel's rule)", function()
    local res = probe_as(65534, 65534)
    assert.same({ 65534, 65534 }, { res.uid, res.gid })
    assert.equal("deny\nsetgroups: Operation not permitted\n", res.own)
  end)

  it("allows it when newgidmap maps a range of /etc/subgid", function()
    -- TEST_DEBS has uidmap; the VM's image has neither it nor useradd
    if not (core.executable("/usr/bin/newgidmap") and H.run("command -v useradd")) then
      return pending("needs newuidmap and newgidmap (Debian package uidmap) and useradd")
    end
    assert(os.execute("useradd --system --user-group --no-create-home --shell /usr/sbin/nologin " .. USER))
    local uid, gid = tonumber(H.sh("id -u " .. USER)), tonumber(H.sh("id -g " .. USER))
    local first = 420000 + uid % 1000 * 65536 -- far from the ranges useradd gives out
    assert(os.execute(string.format("usermod --add-subuids %d-%d --add-subgids %d-%d %s",
      first, first + 65535, first, first + 65535, USER)))
    local res = probe_as(uid, gid, tostring(first))
    assert.equal("deny\nsetgroups: Operation not permitted\n", res.own)
    assert.equal("0\n0\nallow\nsetgroups: ok, groups 1 2\n", res.subid)
  end)

  it("leaves no entry of its user behind", function()
    os.execute("userdel " .. USER .. " 2>/dev/null")
    for _, f in ipairs { "/etc/passwd", "/etc/group", "/etc/subuid", "/etc/subgid" } do
      assert.is_nil(read(f):find(USER, 1, true), f)
    end
  end)
end)

describe("the default capabilities and ping", function()
  if H.needs_root("makes a network namespace without a user namespace for its bridge") then return end
  local net = require "nsbox.net"
  local saved, leases
  local NET = { bridge = "nsids0", gateway = "10.77.0.1" }
  local RANGE_PING = "/proc/sys/net/ipv4/ping_group_range"

  setup(function()
    assert(core.unshare(core.CLONE_NEWNET))
    assert(core.rtnl.link_set { name = "lo", up = true })
    saved, leases = net.STATE_DIR, H.tmpdir("leases")
    net.STATE_DIR = leases
  end)

  teardown(function()
    net.STATE_DIR = saved
    H.rm(leases)
  end)

  it("bounds capabilities to podman's 11: no NET_RAW, no MKNOD", function()
    local st, out = run("grep -E '^Cap(Bnd|Eff)' /proc/self/status; /run/ids_probe raw; mknod /tmp/n c 1 3")
    assert.equal(1, st, out)
    assert.equal(PODMAN, field(out, "CapBnd"))
    assert.equal(PODMAN, field(out, "CapEff"))
    assert.matches("\nraw: Operation not permitted\nmknod: /tmp/n: Operation not permitted\n$", out)
  end)

  it("pings the gateway over an ICMP datagram socket, ping_group_range opened to its gids", function()
    assert.equal("1\t0\n", read(RANGE_PING)) -- what a new network namespace starts with
    local one = { inside = 0, outside = 0, count = 1 }
    local st, out = run("cat " .. RANGE_PING .. "; /run/ids_probe ping 10.77.0.1", { network = NET, uid_map = one,
      gid_map = one })
    assert.equal(0, st, out)
    assert.equal("0\t0\nping 10.77.0.1: reply\n", out)
    st, out = run("cat " .. RANGE_PING .. "; /run/ids_probe ping 10.77.0.1",
      { network = NET, uid_map = RANGE, gid_map = RANGE })
    assert.equal(0, st, out)
    assert.equal("0\t65535\nping 10.77.0.1: reply\n", out)
    -- busybox's ping opens raw sockets only: it needs net_raw back
    st, out = run("ping -c 1 -W 2 10.77.0.1", { network = NET })
    assert.equal(1, st, out)
    assert.matches("permission denied %(are you root%?%)", out)
  end)

  it("opens every gid without a user namespace (the host's gids)", function()
    local _, out = run("cat " .. RANGE_PING, { namespaces = { "mount", "uts", "ipc", "pid", "net", "cgroup" } })
    assert.equal("0\t2147483647\n", out)
  end)

  it("leaves ping_group_range alone without a network namespace of its own", function()
    local st, out = run("echo ran", { namespaces = { "mount", "uts", "ipc", "pid", "cgroup" } })
    assert.equal(0, st, out)
    assert.equal("ran\n", out)
    assert.equal("1\t0\n", read(RANGE_PING))
  end)

  it("gives raw sockets back with capabilities.add = { \"net_raw\" }: busybox's ping answers", function()
    local st, out = run("grep CapBnd /proc/self/status; ping -c 1 -W 2 10.77.0.1",
      { network = NET, capabilities = { add = { "net_raw" } } })
    assert.equal(0, st, out)
    assert.equal("00000000800425fb", field(out, "CapBnd"))
    assert.matches("1 packets received", out)
  end)
end)
