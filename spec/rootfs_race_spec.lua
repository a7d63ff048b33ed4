-- Issue 11, security breaks 1 and 2: the owner of a rootfs attacks the set-up.
-- 1. While containers start, a racer (spec/support/exchange.c) keeps swapping the
--    image's /proc and /dev for symlinks to a host directory: every container that
--    starts has its /proc masked and /proc/sys read-only, and nothing is ever made
--    in the host directory. By construction too: once the rootfs is opened, no
--    syscall of the set-up names a path under it (strace of a start).
-- 2. A device node shipped in the image is dead inside (nodev on the root and on
--    /dev), with and without a user namespace; nsbox's own /dev nodes work.
-- NSBOX_RACE_ROUNDS sets the number of starts (default 300, 60 in the VM).
local H = require "spec.support.helpers"
local core = H.core
local q = H.sh_quote
local tmpdir, rm = H.tmpdir, H.rm

local ROUNDS = tonumber(os.getenv("NSBOX_RACE_ROUNDS")) or (os.getenv("NSBOX_VM") and 60 or 300)
local NO_USERNS = { "mount", "uts", "ipc", "pid", "net", "cgroup" }

-- A copy of the test rootfs in a directory any uid may enter; returns the rootfs and the directory.
local function copy_rootfs(tag)
  local dir = tmpdir(tag)
  assert(os.execute(string.format("chmod 755 %s && cp -a %s %s/rootfs", q(dir), q(H.rootfs), q(dir))))
  return dir .. "/rootfs", dir
end

-- Everything below dir, one path a line.
local function listing(dir)
  return H.sh("cd " .. q(dir) .. " && find . -mindepth 1 | sort")
end

-- Start a container (a forked child of this process, as H.capture does); true,
-- stdout or false, the start error.
local function start(recipe)
  local st, out, err = H.capture(recipe)
  if st == nil then return false, out end
  assert.equal(0, st, err)
  return true, out
end

-- The shell probe of a started container, and what it must print: find the proc
-- mount (under either name the racer gives it; it swaps while we look, so try
-- again; no 2>/dev/null: /dev may be the symlink), then from inside it the
-- masked files and directories this kernel has, the read-only mounts, and an
-- open for writing (no write: `: >>`) of core_pattern, which the host's root could.
local function proc_probe()
  -- (named from inside the proc found: the shell has cd'd into it)
  local lines, expect = H.mask_checks(require("nsbox.rootfs").MASKED, function(p) return p:match("^/proc/(.*)") end)
  for _, p in ipairs(require("nsbox.rootfs").READONLY) do
    if core.stat(p) then
      local name = p:match("^/proc/(.*)")
      lines[#lines + 1] = string.format("grep -q ' [^ ]*/%s proc ro,' self/mounts && echo %s ro", name, name)
      expect[#expect + 1] = name .. " ro"
    end
  end
  local f = "sys/kernel/core_pattern"
  lines[#lines + 1] = string.format("echo %s $( (: >> %s && echo WRITABLE) 2>&1 | sed 's/.*: //')", f, f)
  expect[#expect + 1] = f .. " Read-only file system"
  assert.is_true(#expect >= 5, "this kernel has few of the masked paths")
  local find = "for i in $(seq 200); do for d in /proc /proc.evil; do " ..
    "cd $d 2>&- && [ -e self/stat ] && break 2; cd /; done; done; " ..
    "[ -e self/stat ] || { echo no proc mount found; exit 0; }; "
  -- with ids of its own (root's default) the container's root is refused by the file's
  -- owner before the read-only mount refuses it
  local ranged = table.concat(expect, "\n"):gsub("Read%-only file system$", "Permission denied")
  return find .. table.concat(lines, "; "), table.concat(expect, "\n") .. "\n", ranged .. "\n"
end

describe("a rootfs whose owner swaps /proc and /dev for symlinks while containers start", function()
  if H.needs_root("runs containers as root: the case where an unmasked /proc is the host's") then return end
  local root, dir, target, racer

  setup(function()
    root, dir = copy_rootfs("race")
    target = tmpdir("target")
    local exe = dir .. "/exchange"
    assert(os.execute(string.format("cc -O2 -o %s %s/spec/support/exchange.c", q(exe), q(H.root))))
    assert(os.execute(string.format("ln -s %s %s/proc.evil && ln -s %s %s/dev.evil",
      q(target), q(root), q(target), q(root))))
    local _
    _, racer = assert(core.spawn { path = exe, pdeathsig = core.SIGKILL,
      argv = { exe, root .. "/proc", root .. "/proc.evil", root .. "/dev", root .. "/dev.evil" } })
  end)

  teardown(function()
    if racer then core.kill(racer, core.SIGKILL) core.wait(racer) core.close(racer) end
    rm(dir, target)
  end)

  it("masks /proc and keeps /proc/sys read-only in every container that starts, and makes nothing on the host", function()
    local probe, expect, ranged = proc_probe()
    local mounts = H.host_mounts(target)
    local started, refused, bad = 0, 0, {}
    for i = 1, ROUNDS do
      -- odd rounds without a user namespace: the container's root is the host's
      local ok, out = start { rootfs = root, command = { "/bin/sh", "-c", probe },
        namespaces = i % 2 == 1 and NO_USERNS or nil }
      if not ok then
        refused = refused + 1
        -- the only refusal: the racer's symlink seen where a directory belongs
        if not out:match("^rootfs: /%a+ is a link, not a directory: refused$") then bad[#bad + 1] = out end
      else
        started = started + 1
        if out ~= (i % 2 == 1 and expect or ranged) then bad[#bad + 1] = out end
      end
    end
    local counts = string.format("%d rounds: %d started, %d refused", ROUNDS, started, refused)
    -- what went wrong inside, and what was made in the host directory: nothing
    assert.same({ bad = {}, made = "" }, { bad = bad, made = listing(target) }, counts)
    assert.equal(mounts, H.host_mounts(target))
    assert.is_true(started >= ROUNDS // 20, "too few containers to prove anything: " .. counts)
    assert.is_true(core.kill(racer, 0), "the racer ran throughout")
  end)
end)

describe("the set-up, by construction", function()
  it("names no path under the rootfs in any syscall once it has opened the rootfs (strace -f)", function()
    H.needs_root("traces a start as root")
    if not H.run("command -v strace") then return pending("needs strace (Debian package strace)") end
    local dir = tmpdir("strace")
    finally(function() rm(dir) end)
    assert(os.execute("mkdir " .. q(dir .. "/src")))
    local script = string.format([[
      local nsbox = require "nsbox"
      local box = assert(nsbox.container { rootfs = %q, command = { "true" }, readonly = true,
        mounts = { { type = "tmpfs", destination = "/tmp/t", size = "1m" },
          { source = %q, destination = "/mnt/src", readonly = true } } })
      assert(box:run() == 0)
    ]], H.rootfs, dir .. "/src")
    local calls = "%file,openat2,mount,umount2,pivot_root,chdir,fchdir,open_tree,move_mount,fsopen,fsconfig," ..
      "fsmount,mount_setattr,symlinkat,mkdirat,mknodat"
    local ok, out = H.run(string.format("%s strace -f -qq -s 4096 -o %s -e trace=%s lua5.4 -e %s",
      H.LUA_ENV, q(dir .. "/trace"), calls, q(script)))
    assert.is_true(ok, out)
    -- the set-up process: the one that pivots
    local lines, child = {}, nil
    for line in io.lines(dir .. "/trace") do
      lines[#lines + 1] = line
      child = child or line:match("^(%d+) +pivot_root%(")
    end
    assert.truthy(child, "no pivot_root in the trace")
    local quoted = '"' .. H.rootfs
    local opened, after, named = nil, 0, {}
    for _, line in ipairs(lines) do
      local pid, call = line:match("^(%d+) +(.*)$")
      local hit = call and (call:find(quoted .. '"', 1, true) or call:find(quoted .. "/", 1, true))
      -- the one open: the child's, or (root's default, the image idmapped) the parent's clone
      if not opened then
        if hit and call:find("O_PATH", 1, true) then opened = call end
      elseif pid == child then
        after = after + 1
        if hit then named[#named + 1] = call end
      end
    end
    assert.truthy(opened, "the set-up never opened the rootfs")
    assert.is_true(after >= 20, "too few syscalls traced after the open: " .. after)
    assert.same({}, named)
  end)
end)

-- Device nodes: shipped in the image (made with mknod in a copy: 1:3 and 1:5 at
-- /root/null and /root/zero, mode 0666), and nsbox's own under /dev.
local NODE_PROBE = table.concat({
  "echo /root/null $( (: >> /root/null && echo usable) 2>&1 | sed 's/.*: //')",
  "echo /root/zero $( (: < /root/zero && echo usable) 2>&1 | sed 's/.*: //')",
  "echo /dev/null $( (echo x > /dev/null && echo usable) 2>&1 | sed 's/.*: //')",
  "echo /dev/zero $(head -c 3 /dev/zero | wc -c)",
  "echo /dev/full $( (echo x > /dev/full) 2>&1 | sed 's/.*: //')",
  "echo /dev/urandom $(head -c 4 /dev/urandom | wc -c)",
  "echo /dev/tty $( (: < /dev/tty) 2>&1 | sed 's/.*: //')", -- no terminal: ENXIO from the driver, not EACCES
  "awk '$2 == \"/\" || $2 == \"/dev\" { n = split($4, o, \",\"); f = \"dev\";" ..
    " for (i = 1; i <= n; i++) if (o[i] == \"nodev\") f = \"nodev\"; print $2, f }' /proc/mounts",
}, "; ")
local NODE_EXPECT = table.concat({
  "/root/null Permission denied", "/root/zero Permission denied", "/dev/null usable", "/dev/zero 3",
  "/dev/full No space left on device", "/dev/urandom 4", "/dev/tty No such device or address",
  "/ nodev", "/dev nodev", "",
}, "\n")

describe("a device node shipped in the image", function()
  if H.needs_root("makes device nodes with mknod") then return end
  local root, dir

  setup(function()
    root, dir = copy_rootfs("nodes")
    assert(os.execute(string.format("mknod -m 666 %s/root/null c 1 3 && mknod -m 666 %s/root/zero c 1 5",
      q(root), q(root))))
  end)

  teardown(function()
    rm(dir)
    H.cleanup()
  end)

  it("cannot be opened inside, with a user namespace: / and /dev are nodev, nsbox's nodes work", function()
    local ok, out = start { rootfs = root, command = { "/bin/sh", "-c", NODE_PROBE } }
    assert.is_true(ok, out)
    assert.equal(NODE_EXPECT, out)
  end)

  it("cannot be opened inside without a user namespace, by the host's root", function()
    local ok, out = start { rootfs = root, command = { "/bin/sh", "-c", NODE_PROBE }, namespaces = NO_USERNS }
    assert.is_true(ok, out)
    assert.equal(NODE_EXPECT, out)
  end)

  it("cannot be opened inside a container of an unprivileged user (uid 65534)", function()
    local tree = H.unprivileged_tree()
    local script = string.format([[
      local nsbox = require "nsbox"
      local core = nsbox.core
      local r, w = assert(core.pipe())
      local box = assert(nsbox.container { rootfs = %q, command = { "/bin/sh", "-c", %q }, stdout = w, stderr = w })
      local ok, err = box:start()
      core.close(w)
      io.write(assert(core.read_all(r)))
      if not ok then io.write("start: ", err, "\n") else box:wait() end
    ]], root, NODE_PROBE)
    local out = H.sh(string.format("setpriv --reuid=65534 --regid=65534 --clear-groups env -i PATH=/usr/bin:/bin " ..
      "%s lua5.4 -e %s 2>&1", H.lua_env(tree), q(script)))
    assert.equal(NODE_EXPECT, out)
  end)
end)
