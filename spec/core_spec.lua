-- The C primitives of nsbox.core on their own.
local H = require "spec.support.helpers"
local core = H.core

-- The shell command that runs Lua code in a fresh interpreter (so namespace changes stay there).
local function lua_cmd(code)
  return H.LUA_ENV .. " lua5.4 -e " .. H.sh_quote("local core = require 'nsbox.core' " .. code)
end

-- Run Lua code in a fresh interpreter; returns its stdout and stderr.
local function lua(code)
  return H.sh(lua_cmd(code) .. " 2>&1")
end

describe("core.spawn", function()
  it("runs a program and wait reports its exit code", function()
    local pid, pidfd = core.spawn { path = "/bin/sh", argv = { "sh", "-c", "exit 5" } }
    assert.is_number(pid)
    assert.same({ "exited", 5 }, { core.wait(pidfd) })
    core.close(pidfd)
  end)

  it("reports an exec failure with the path and errno, leaving no child", function()
    local kids = H.child_count()
    local ok, err, errno = core.spawn { path = "/nonexistent", argv = { "x" } }
    assert.is_nil(ok)
    assert.equal("execve(/nonexistent): No such file or directory", err)
    assert.equal(2, errno)
    assert.equal(kids, H.child_count())
  end)

  it("holds the child in its new namespaces until setup returns, and aborts if it fails", function()
    H.needs_root("a UTS namespace without a user namespace")
    local kids, seen = H.child_count(), nil
    local ok, err = core.spawn { path = "/bin/true", argv = { "true" }, flags = core.CLONE_NEWUTS,
      setup = function(pid)
        seen = H.ns_inode(pid, "uts") ~= H.ns_inode("self", "uts") and core.readlink("/proc/" .. pid .. "/exe")
        return nil, "setup said no"
      end }
    assert.is_nil(ok)
    assert.equal("setup said no", err)
    assert.is_string(seen)
    assert.is_nil(seen:find("true", 1, true)) -- not exec'd yet
    assert.equal(kids, H.child_count())
  end)

  it("lets setup write the id maps of a new user namespace", function()
    H.needs_root("maps uid 0 and 100000 of the host")
    local r, w = core.pipe()
    local _, pidfd = assert(core.spawn { path = "/bin/sh",
      argv = { "sh", "-c", "cat /proc/self/uid_map /proc/self/setgroups >&" .. w }, keep_fds = { w },
      flags = core.CLONE_NEWUSER,
      setup = function(pid)
        assert(core.setgroups(pid, "deny"))
        assert(core.id_map(pid, "gid", { { inside = 0, outside = 0, count = 1 } }))
        return core.id_map(pid, "uid", { { inside = 0, outside = 0, count = 1 }, { inside = 1, outside = 100000, count = 1000 } })
      end })
    core.close(w)
    local out = core.read(r, 4096)
    core.close(r)
    assert.same({ "exited", 0 }, { core.wait(pidfd) })
    core.close(pidfd)
    assert.equal("0 0 1\n1 100000 1000\ndeny\n", (out:gsub(" +", " "):gsub("\n ", "\n"):gsub("^ ", "")))
  end)

  it("with fork = true returns 0 in the child, which goes on in this Lua state once setup is done", function()
    H.needs_root("a UTS namespace without a user namespace")
    local r, w = core.pipe()
    local marker = "parent state " .. core.getpid()
    local setup_done = false
    local pid, pidfd = core.spawn { fork = true, flags = core.CLONE_NEWUTS,
      setup = function() setup_done = true return true end }
    if pid == 0 then -- the child: a copy of this state, after setup ran in the parent
      pcall(function()
        core.close(r)
        core.sethostname("forked")
        local f = io.open("/proc/sys/kernel/hostname")
        -- the collector is stopped before Lua runs again: no finalizer of the parent's objects
        core.write(w, marker .. " " .. tostring(setup_done) .. " " .. f:read("l") .. " " ..
          tostring(collectgarbage("isrunning")))
        f:close()
      end)
      core._exit(7) -- never back into busted
    end
    core.close(w)
    assert.is_true(pid > 0)
    local out = core.read_all(r)
    core.close(r)
    assert.same({ "exited", 7 }, { core.wait(pidfd) })
    core.close(pidfd)
    -- the child saw the parent's values, but not setup's (it ran in the parent after the clone)
    assert.equal(marker .. " false forked false", out)
  end)

  it("with fork = true refuses a path, and a spec without one", function()
    assert.has_error(function() core.spawn { fork = true, path = "/bin/true", argv = { "true" } } end,
      "field 'path': not with fork")
    assert.has_error(function() core.spawn { argv = { "true" } } end, "field 'path': string expected")
  end)

  it("with a channel, holds the child until the caller's first message, which it leaves unread", function()
    local psock, csock = assert(core.socketpair())
    local r, w = core.pipe()
    local pid, pidfd = assert(core.spawn { path = "/bin/sh", channel = csock, peer = psock, hold = true,
      argv = { "sh", "-c", "echo ran >&" .. w .. "; head -c 2 <&" .. csock .. " >&" .. w }, keep_fds = { w, csock } })
    core.close(csock)
    core.close(w)
    -- returned at once: the child waits on the channel, nothing exec'd yet
    assert.is_false(core.poll(pidfd))
    assert.are_not.equal(core.realpath("/bin/sh"), core.readlink("/proc/" .. pid .. "/exe"))
    assert(core.write(psock, "go"))
    assert.equal("ran\ngo", core.read_all(r))
    core.close(r)
    assert.same({ "exited", 0 }, { core.wait(pidfd) })
    core.close(pidfd)
    core.close(psock)
  end)

  it("with a channel, reports a failed exec on it as the message exec_failed <errno>", function()
    local psock, csock = assert(core.socketpair())
    local kids = H.child_count()
    local _, pidfd = assert(core.spawn { path = "/nonexistent", argv = { "x" }, channel = csock, peer = psock })
    core.close(csock)
    local kind, errno = require("nsbox.channel").recv(psock)
    assert.equal("exec_failed", kind)
    assert.equal(core.ENOENT, errno)
    assert.same({ "exited", 127 }, { core.wait(pidfd) })
    core.close(pidfd)
    core.close(psock)
    assert.equal(kids, H.child_count())
  end)

  it("with a channel, a held child whose parent dies exits without exec (EOF, no pdeathsig needed)", function()
    local dir = H.sh("mktemp -d"):gsub("%s+$", "")
    local pid
    finally(function()
      if pid then os.execute("kill -9 " .. pid .. " 2>/dev/null") end
      os.execute("rm -rf " .. H.sh_quote(dir))
    end)
    -- The parent, in the background: spawns the held child (no parent-death
    -- signal), writes its pid, dies by SIGKILL. Nothing of it holds our stdout.
    os.execute(lua_cmd(string.format([[
      local psock, csock = assert(core.socketpair())
      local pid = assert(core.spawn { path = "/bin/sh", argv = { "sh", "-c", "echo ran > %s/ran" },
        channel = csock, peer = psock, hold = true, pdeathsig = 0 })
      local f = io.open("%s/pid.tmp", "w") f:write(pid) f:close()
      os.rename("%s/pid.tmp", "%s/pid")
      core.kill(assert(core.pidfd_open(core.getpid())), core.SIGKILL)
    ]], dir, dir, dir, dir)) .. " </dev/null >/dev/null 2>&1 &")
    local gone
    pid, gone = H.await_exit(dir .. "/pid")
    assert.is_number(pid, "the parent did not start its child")
    assert.is_true(gone, "the held child outlived its parent")
    assert.is_nil(io.open(dir .. "/ran"), "the child went on to exec after its parent died")
  end)

  it("names the file when an id map cannot be written", function()
    local ok, err, errno = core.id_map(999999999, "uid", { { inside = 0, outside = 0, count = 1 } })
    assert.is_nil(ok)
    assert.equal("open(/proc/999999999/uid_map): No such file or directory", err)
    assert.equal(2, errno)
    assert.has_error(function() core.id_map(1, "pid", {}) end)
  end)
end)

describe("core.wait", function()
  it("forwards the signals it is given to the child", function()
    local r, w = core.pipe()
    local _, pidfd = assert(core.spawn { path = "/bin/sh", keep_fds = { w },
      argv = { "sh", "-c", "trap 'exit 9' USR1; echo ready >&" .. w .. "; while :; do sleep 0.05; done" } })
    core.close(w)
    assert.equal("ready\n", core.read(r, 6))
    core.close(r)
    -- Someone signals us (the parent) while we wait: the child gets it instead.
    os.execute("(sleep 0.2; kill -USR1 " .. core.getpid() .. ") &")
    assert.same({ "exited", 9 }, { core.wait(pidfd, { core.SIGUSR1 }) })
    core.close(pidfd)
  end)

  it("returns the error, and waits for nothing, when the signals cannot be caught (no fd for a signalfd)", function()
    local out = lua [[
      local _, pidfd = assert(core.spawn { path = "/bin/sleep", argv = { "sleep", "0.3" } })
      local fds, files = {}, {}
      while true do -- every fd taken
        local r, w = core.pipe()
        if not r then break end
        fds[#fds + 1] = r fds[#fds + 1] = w
      end
      while true do
        local f = io.open("/dev/null")
        if not f then break end
        files[#files + 1] = f
      end
      print(core.wait(pidfd, { core.SIGUSR1 }))
      core.close(table.remove(fds)) -- one free: now a signalfd fits
      print(core.wait(pidfd, { core.SIGUSR1 }))
    ]]
    assert.equal("nil\tsignalfd: Too many open files\t24\nexited\t0\n", out)
  end)

  it("reap forwards and reaps without changing the caller's signal list", function()
    local out = lua [[
      local pid = assert(core.spawn { path = "/bin/sh", argv = { "sh", "-c", "exit 3" } })
      local forward = { core.SIGUSR1 }
      print(core.reap(pid, forward))
      print(#forward, forward[1] == core.SIGUSR1)
    ]]
    assert.equal("exited\t3\n1\ttrue\n", out)
  end)

  it("reports a child killed through its pidfd", function()
    local _, pidfd = assert(core.spawn { path = "/bin/sleep", argv = { "sleep", "30" } })
    assert.is_false(core.poll(pidfd))
    assert(core.kill(pidfd, core.SIGKILL))
    assert.same({ "killed", 9 }, { core.wait(pidfd) })
    core.close(pidfd)
  end)
end)

describe("core fd calls", function()
  it("send and receive through a socketpair and a pipe", function()
    local a, b = assert(core.socketpair())
    assert(core.write(a, "hello"))
    assert.equal("hel", core.read(b, 3))
    core.close(a)
    assert.equal("lo", core.read(b, 10))
    assert.equal("", core.read(b, 10))
    core.close(b)
    local r, w = assert(core.pipe())
    local dup = 200
    assert(core.dup2(w, dup))
    assert(core.write(dup, "x"))
    core.close(w)
    core.close(dup)
    assert.equal("x", core.read(r, 5))
    core.close(r)
    local ok, err, errno = core.close(dup)
    assert.is_nil(ok)
    assert.equal("close(200): Bad file descriptor", err)
    assert.equal(9, errno)
  end)
end)

describe("core namespace and mount calls", function()
  it("unshare, mount, umount, sethostname and prctl work in a new namespace", function()
    H.needs_root("mount and UTS namespaces without a user namespace")
    local out = lua [[
      assert(core.unshare(core.CLONE_NEWNS | core.CLONE_NEWUTS))
      assert(core.mount(nil, "/", nil, core.MS_REC | core.MS_PRIVATE))
      assert(core.mount("tmpfs", "/mnt", "tmpfs", core.MS_NOSUID, "size=1m"))
      local f = io.open("/proc/self/mounts"):read("a")
      print(f:find("tmpfs /mnt tmpfs rw,nosuid", 1, true) ~= nil)
      assert(core.mount_setattr("/mnt", core.MOUNT_ATTR_RDONLY))
      print(io.open("/mnt/x", "w") == nil)
      assert(core.umount("/mnt", core.MNT_DETACH))
      assert(core.sethostname("inside-core"))
      print(io.popen("hostname"):read("l"))
      assert(core.prctl(core.PR_SET_NO_NEW_PRIVS, 1))
      print(core.prctl(core.PR_GET_NO_NEW_PRIVS))
      print(core.setns("/proc/self/ns/uts", core.CLONE_NEWUTS))
    ]]
    assert.equal("true\ntrue\ninside-core\n1\ntrue\n", out)
    assert.are_not.equal("inside-core", H.sh("hostname"):gsub("%s+$", ""))
  end)

  it("ifup brings a link up, and names it when it cannot", function()
    H.needs_root("a network namespace without a user namespace")
    local r, w = core.pipe()
    local pid, pidfd = core.spawn { fork = true, flags = core.CLONE_NEWNET }
    if pid == 0 then
      pcall(function()
        local before = core.rtnl.link_get { name = "lo" }.up
        local ok = core.ifup("lo")
        local after = core.rtnl.link_get { name = "lo" }.up
        local _, err, errno = core.ifup("nosuch0")
        core.write(w, table.concat({ tostring(before), tostring(ok), tostring(after), err, errno,
                                     (select(2, core.ifup(string.rep("x", 16)))) }, "|"))
      end)
      core._exit(0) -- never back into busted
    end
    core.close(w)
    local out = core.read_all(r)
    core.close(r)
    assert.same({ "exited", 0 }, { core.wait(pidfd) })
    core.close(pidfd)
    assert.equal("false|true|true|ifup(nosuch0): No such device|19|ifup(" .. string.rep("x", 16) .. "): Invalid argument", out)
  end)

  it("name the call and the path when they fail", function()
    H.needs_root("the calls fail with EPERM before they look at the path")
    assert.equal("nil\tpivot_root(/nonexistent): No such file or directory\t2\n",
      lua [[print(core.pivot_root("/nonexistent", "/"))]])
    assert.equal("nil\tmount(tmpfs, /nonexistent): No such file or directory\t2\n",
      lua [[print(core.mount("tmpfs", "/nonexistent", "tmpfs"))]])
    assert.equal("nil\tumount(/nonexistent): No such file or directory\t2\n",
      lua [[print(core.umount("/nonexistent"))]])
    assert.equal("nil\tsetns(/nonexistent): No such file or directory\t2\n",
      lua [[print(core.setns("/nonexistent"))]])
    assert.equal("nil\tsethostname(" .. string.rep("x", 65) .. "): Invalid argument\t22\n",
      lua [[print(core.sethostname(string.rep("x", 65)))]])
  end)

  it("mask checks every path of both lists before it mounts anything, and names the one it refuses", function()
    H.needs_root("a mount namespace of its own, where a mask could land")
    local dir = H.tmpdir("mask")
    finally(function() H.rm(dir) end)
    assert(os.execute("mkdir " .. H.sh_quote(dir .. "/proc") .. " " .. H.sh_quote(dir .. "/proc/acpi")))
    local out = H.sh("unshare -m --propagation private env " .. lua_cmd(string.format([[
      local proc = assert(core.open_in_root("/", %q))
      local null = assert(core.open_in_root("/", "/dev/null"))
      for _, bad in ipairs { "/sys/firmware", "/proc", "proc/", 42 } do
        print(core.mask("ROOT", { proc = proc }, null, { "/proc/acpi" }, { bad }))
      end
      local f = io.open("/proc/self/mountinfo") print(f:read("a"):find(%q, 1, true) == nil)
    ]], dir .. "/proc", dir)) .. " 2>&1")
    local msg = "nil\tmask: '%s' is not /TOP/PATH with an fd in mounts for TOP\t22\n"
    assert.equal(msg:format("/sys/firmware") .. msg:format("/proc") .. msg:format("proc/") .. msg:format("") ..
      "true\n", out)
  end)

  it("bind_devices binds host nodes on new files only, and names the one it cannot", function()
    H.needs_root("binds nodes in a mount namespace of its own")
    local dir = H.tmpdir("devices")
    finally(function() H.rm(dir) end)
    local out = H.sh("unshare -m --propagation private env " .. lua_cmd(string.format([[
      local dev = assert(core.open_in_root("/", %q))
      print(core.bind_devices(dev, { "null", "zero" }, "D"))
      local st = core.stat(%q) print(st.type, st.rdev_major, st.rdev_minor)
      print(core.bind_devices(dev, { "full", "zero" }, "D"))
      for _, bad in ipairs { "../null", "..", "" } do print(core.bind_devices(dev, { bad }, "D")) end
      print(core.bind_devices(dev, { 3 }, "D"))
    ]], dir, dir .. "/zero")) .. " 2>&1")
    assert.equal("true\nchar\t1\t5\nnil\tmount(/dev/zero, D/zero): File exists\t17\n" ..
      "nil\tmount(/dev/../null, D/../null): Invalid argument\t22\n" ..
      "nil\tmount(/dev/.., D/..): Invalid argument\t22\n" ..
      "nil\tmount(/dev/, D/): Invalid argument\t22\n" ..
      "nil\tbind_devices: names[1] is not a string\t22\n", out)
  end)

  it("raise on wrong argument types", function()
    assert.has_error(function() core.mount(nil, 42 > 1) end)
    assert.has_error(function() core.spawn { path = "/bin/true", argv = "true" } end)
    assert.has_error(function() core.spawn { path = "/bin/true", argv = { 1 } } end)
    assert.has_error(function() core.kill("x") end)
  end)
end)
