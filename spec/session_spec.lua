-- Issue 11 (defect 4, security breaks 5 and 8): what a container may not take from
-- the session of whoever started it or joins it. Its terminal: a command run by
-- box:exec or `nsbox exec` leads a new session of its own, so TIOCSTI cannot push a
-- line into the caller's shell (CVE-2017-5226), as for run. Its session keyring: the
-- container and every exec'd command get an empty keyring of their own, also 250
-- containers of one unprivileged uid at once (the default key quota is 200 keys).
-- These guards are checked on their own, without the seccomp filter (seccomp = false),
-- which refuses TIOCSTI and keyctl besides (spec/seccomp_spec.lua).
local H = require "spec.support.helpers"
local q = H.sh_quote

local tmpdir, rm = H.tmpdir, H.rm

-- spec/support/NAME.c built static into dir (it runs inside the busybox rootfs)
local function static(name, dir)
  local out = dir .. "/" .. name
  assert(os.execute(string.format("cc -static -O2 -o %s %s/spec/support/%s.c && chmod 755 %s",
    q(out), q(H.root), name, q(out))))
  return out
end

-- The mounts field (Lua source) that puts bin at /NAME: none for the unprivileged
-- tree, whose rootfs copy has it already (its rootfs is root's: no mount point can be made)
local function probe_mounts(bin, name, uid)
  if uid then return "nil" end
  return string.format("{ { source = %q, destination = %q } }", bin, "/" .. name)
end

-- A shell line that runs lua5.4 -e script as uid (nil: as this process) with nsbox
-- from tree (default this checkout); wrap: a program line put before lua5.4.
local function lua_line(script, uid, tree, wrap)
  -- unbuffered: its lines and the containers' land in the order they were written
  local lua = (wrap and wrap .. " " or "") .. "lua5.4 -e " .. q("io.stdout:setvbuf('no') " .. script)
  if not uid then return H.LUA_ENV .. " " .. lua end
  return string.format("cd %s && setpriv --reuid=%d --regid=%d --clear-groups env -i PATH=/usr/bin:/bin %s %s",
    q(tree), uid, uid, H.lua_env(tree), lua)
end

-- Output of a shell line run with a pty as its controlling terminal (script(1)).
local function in_terminal(line)
  return (H.sh("script -qec " .. q(line) .. " /dev/null </dev/null 2>&1"):gsub("\r", ""))
end

local function legacy_tiocsti()
  local f = io.open("/proc/sys/dev/tty/legacy_tiocsti")
  local v = f and f:read("l")
  if f then f:close() end
  return v == "1"
end

-- the static probes for the root runs (under H.TMP: removed with it)
local PROBES = tmpdir("probes")
assert(os.execute("chmod 755 " .. q(PROBES)))

describe("the caller's terminal (CVE-2017-5226)", function()
  local probe = static("tiocsti", PROBES)

  -- A Lua process whose controlling terminal is a pty starts a container and runs
  -- the TIOCSTI probe in it with box:exec: by default (a pipe between: no terminal
  -- at all), then with the terminal handed over (tty = "inherit") by default,
  -- new_session = true, false.
  local function exec_probe(uid, tree, rootfs, bin)
    local script = string.format([[
      local nsbox = require "nsbox"
      local box = assert(nsbox.container { seccomp = false, rootfs = %q, command = { "/bin/sleep", "30" }, mounts = %s })
      assert(box:start())
      io.write("interposed ") io.flush()
      box:exec { command = { "/tiocsti" }, new_session = false }
      for _, s in ipairs { "default", true, false } do
        io.write("new_session=", tostring(s), " ") io.flush()
        local spec = { command = { "/tiocsti" }, tty = "inherit" }
        if s ~= "default" then spec.new_session = s end
        local st, err = box:exec(spec)
        if not st then io.write(tostring(err), "\n") end
      end
      box:kill(9) box:wait()
    ]], rootfs, probe_mounts(bin, "tiocsti", uid))
    return in_terminal(lua_line(script, uid, tree))
  end

  local function check(out)
    assert.matches("interposed TIOCSTI: Inappropriate ioctl for device\n", out, 1, true)
    assert.matches("new_session=default TIOCSTI: Operation not permitted\n", out, 1, true)
    assert.matches("new_session=true TIOCSTI: Operation not permitted\n", out, 1, true)
    -- the caller's session, where the kernel still allows TIOCSTI: the line gets in
    if legacy_tiocsti() then assert.matches("new_session=false .*TIOCSTI: injected\n", out) end
  end

  it("keeps box:exec's command out of the caller's terminal: a new session unless new_session = false", function()
    check(exec_probe(nil, nil, H.rootfs, probe))
  end)

  it("keeps box:exec's command out of the caller's terminal as an unprivileged user", function()
    H.needs_root("becomes uid 65534 through setpriv")
    local tree = H.unprivileged_tree()
    local bin = static("tiocsti", tree .. "/rootfs")
    check(exec_probe(65534, tree, tree .. "/rootfs", bin))
  end)

  it("keeps nsbox exec's command out of the caller's shell", function()
    local state = tmpdir("tty-state", true)
    local nsbox = "NSBOX_STATE_DIR=" .. q(state) .. " " .. q(H.root .. "/bin/nsbox")
    local runner = io.popen(nsbox .. " run --name tty-box --bind " .. q(probe) .. ":/tiocsti sleep 30 2>&1")
    finally(function()
      os.execute("pkill -KILL -f 'run --name tty-box'")
      runner:close()
      rm(state)
    end)
    for _ = 1, 100 do
      if H.sh(nsbox .. " ps"):find("tty-box", 1, true) then break end
      os.execute("sleep 0.02")
    end
    local out = in_terminal(nsbox .. " exec tty-box /tiocsti")
    assert.matches("TIOCSTI: Operation not permitted\n", out, 1, true)
  end)

  it("refuses a new_session that is no boolean", function()
    local box = assert(H.nsbox.container { seccomp = false, rootfs = H.rootfs, command = { "/bin/sleep", "30" } })
    assert(box:start())
    finally(function() box:kill(9) box:wait() end)
    assert.same({ nil, "new_session: boolean expected, got string" },
      { box:exec { command = { "true" }, new_session = "yes" } })
  end)
end)

describe("the caller's session keyring", function()
  local probe = static("keyring", PROBES)

  -- The caller's session keyring holds a user key "secret"; the caller runs a
  -- container that shows its own session keyring (forked, then re-executed), then
  -- box:exec's the same.
  local function run_and_exec(uid, tree, rootfs, bin)
    local script = string.format([[
      local nsbox = require "nsbox"
      local core = nsbox.core
      local show = { "/keyring", "show", "secret", os.getenv("KEY_ID") }
      local mounts = %s
      io.write("caller=", os.getenv("KEY_SESSION"), "\n") io.flush()
      local box = assert(nsbox.container { seccomp = false, rootfs = %q, command = show, mounts = mounts })
      io.write("run ") io.flush()
      assert(box:run())
      box = assert(nsbox.container { seccomp = false, rootfs = %q, command = show, mounts = mounts, reexec = true })
      io.write("reexec ") io.flush()
      assert(box:run())
      box = assert(nsbox.container { seccomp = false, rootfs = %q, command = { "/bin/sleep", "30" }, mounts = mounts })
      assert(box:start())
      io.write("exec ") io.flush()
      assert(box:exec { command = show })
      box:kill(core.SIGKILL) box:wait()
    ]], probe_mounts(bin, "keyring", uid), rootfs, rootfs, rootfs)
    return H.sh(lua_line(script, uid, tree, q(bin) .. " add secret s3cr3t") .. " 2>&1")
  end

  local function check(out)
    local caller = out:match("caller=(%d+)\n")
    assert.truthy(caller, out)
    local seen = {}
    for step in ("run reexec exec"):gmatch("%S+") do
      local ses, rest = out:match("\n" .. step .. " session=(%-?%d+) (.-)\n")
      assert.truthy(ses, step .. ":\n" .. out)
      assert.not_equal(caller, ses, step .. ":\n" .. out)
      assert.is_nil(seen[ses], out)
      seen[ses] = true
      -- empty, the secret not found, its serial not readable (the uid may only view it)
      assert.equal("keys=0 search=Required key not available read=Permission denied", rest, step)
    end
  end

  it("gives the container and box:exec an empty keyring of their own, not the caller's", function()
    check(run_and_exec(nil, nil, H.rootfs, probe))
  end)

  -- In a user namespace shared with the host (and so with other containers of
  -- the uid), a process keyring made findable by name for a moment could be
  -- joined by another container looping on the name: there the keyring is anonymous.
  it("in the host's user namespace, joins an anonymous keyring, never one findable by name", function()
    H.needs_root("a container without a user namespace")
    local ns = { "mount", "uts", "ipc", "pid", "net" }
    local mounts = { { source = probe, destination = "/keyring" } }
    local r, w = H.core.pipe()
    local box = assert(H.nsbox.container { seccomp = false, rootfs = H.rootfs, namespaces = ns, mounts = mounts, stdout = w,
      command = { "/keyring", "desc" } })
    assert.equal(0, box:run())
    box = assert(H.nsbox.container { seccomp = false, rootfs = H.rootfs, namespaces = ns, mounts = mounts,
      command = { "/bin/sleep", "30" } })
    assert(box:start())
    finally(function() box:kill(H.core.SIGKILL) box:wait() end)
    assert.equal(0, box:exec { command = { "/keyring", "desc" }, stdout = w })
    H.core.close(w)
    assert.equal(("keyring;0;0;3f010000;_ses\n"):rep(2), H.core.read_all(r))
  end)

  describe("as an unprivileged user", function()
    if H.needs_root("becomes another uid through setpriv") then return end
    local tree, bin
    setup(function()
      tree = H.unprivileged_tree()
      bin = static("keyring", tree .. "/rootfs")
    end)
    teardown(function() H.cleanup() end)

    it("gives the container and box:exec an empty keyring of their own", function()
      check(run_and_exec(65534, tree, tree .. "/rootfs", bin))
    end)

    it("starts 250 containers at once, each with an empty keyring of its own (the quota is 200 keys)", function()
      local script = string.format([[
        local nsbox = require "nsbox"
        local core = nsbox.core
        local N = 250
        local out_r, out_w = assert(core.pipe())
        local in_r, in_w = assert(core.pipe())
        local boxes = {}
        for i = 1, N do
          -- each shows its keyring, then holds it until stdin ends: all N at once
          local box = assert(nsbox.container { seccomp = false, rootfs = %q, stdin = in_r, stdout = out_w,
            command = { "/bin/sh", "-c", "/keyring show secret " .. os.getenv("KEY_ID") .. "; read x" } })
          local ok, err = box:start()
          if not ok then io.write("start ", i, ": ", err, "\n") break end
          boxes[#boxes + 1] = box
        end
        core.close(out_w) core.close(in_r)
        local text, lines = {}, 0
        while lines < #boxes do -- a byte at a time: core.read waits for all it asks
          local c = core.read(out_r, 1)
          if not c or c == "" then break end
          text[#text + 1] = c
          if c == "\n" then lines = lines + 1 end
        end
        text = table.concat(text)
        core.close(in_w)
        for _, b in ipairs(boxes) do b:wait() end
        io.write("caller=", os.getenv("KEY_SESSION"), " started=", #boxes, "\n", text)
      ]], tree .. "/rootfs")
      local out = H.sh(lua_line(script, 65534, tree, q(bin) .. " add secret s3cr3t") .. " 2>&1")
      local caller, started = out:match("caller=(%d+) started=(%d+)\n")
      assert.same({ caller, "250" }, { caller or out, started })
      local seen, n = {}, 0
      for ses, rest in out:gmatch("session=(%-?%d+) (.-)\n") do
        assert.equal("keys=0 search=Required key not available read=Permission denied", rest)
        assert.not_equal(caller, ses)
        assert.is_nil(seen[ses], "shared keyring " .. ses)
        seen[ses], n = true, n + 1
      end
      assert.equal(250, n, out)
    end)

    it("still starts with the uid's key quota full; exec fails clearly where only the quota would do", function()
      -- A process in the container makes a keyring it may find by the name of a process
      -- keyring (what nsbox joins by name): a joiner that finds that one first must take
      -- a new keyring in quota. With the quota full that is refused by name, never shared.
      local script = string.format([[
        local nsbox = require "nsbox"
        local core = nsbox.core
        local show = { "/keyring", "show", "secret", os.getenv("KEY_ID") }
        local mounts = nil
        local r, w = assert(core.pipe())
        local box = assert(nsbox.container { seccomp = false, rootfs = %q, mounts = mounts, stdout = w,
          command = { "/bin/sh", "-c", "/keyring plant; exec sleep 30" } })
        assert(box:start()) core.close(w)
        repeat local c = core.read(r, 1) io.write(c) until c == "\n" or c == ""
        io.write("exec free: ", tostring(box:exec { command = show }), "\n") io.flush()
        assert(os.execute(%q .. " fill true"))
        local st, err = box:exec { command = show }
        io.write("exec full: ", tostring(st), " ", tostring(err), "\n") io.flush()
        local other = assert(nsbox.container { seccomp = false, rootfs = %q, mounts = mounts, command = show })
        io.write("run full ") io.flush()
        io.write("status ", tostring(other:run()), "\n")
        box:kill(core.SIGKILL) box:wait()
      ]], tree .. "/rootfs", bin, tree .. "/rootfs")
      -- a uid of its own: its quota is filled for a moment
      local out = H.sh(lua_line(script, 61234, tree, q(bin) .. " add secret s3cr3t") .. " 2>&1")
      local planted = out:match("planted (%d+)\n")
      assert.truthy(planted, out)
      local free = out:match("\nsession=(%d+) keys=0 search=Required key not available read=Permission denied\n" ..
        "exec free: 0\n")
      assert.truthy(free, out)
      assert.not_equal(planted, free)
      assert.matches("filled %d+ keys\n", out)
      assert.matches("exec full: nil session keyring: this user's key quota is exhausted " ..
        "(/proc/key-users; /proc/sys/kernel/keys/maxkeys and maxbytes)\n", out, 1, true)
      assert.matches("run full session=%d+ keys=0 search=Required key not available read=Permission denied\n" ..
        "status 0\n", out)
    end)
  end)
end)
