-- Issue 5: the protections that make nsbox safe to point at a rootfs it did not build
-- and to run thousands of times from one Lua process. Each is checked from inside a
-- container (busybox) or from the host, as root and, where it matters, as an
-- unprivileged uid (spec/support/hardening_probe.lua). SECURITY.md maps each `it`
-- here to the attack it stops.
local H = require "spec.support.helpers"
local nsbox, core = H.nsbox, H.core
local q = H.sh_quote

local tmpdir, rm = H.tmpdir, H.rm

local function esc(s) return (s:gsub("%p", "%%%0")) end

-- Everything below dir, one line each (path, type, size, mode, mtime), sorted.
local function listing(dir)
  return H.sh("cd " .. q(dir) .. " && find . -printf '%p %y %s %m %T@\\n' | sort")
end

-- The fd this process has open on path, or nil.
local function fd_of(path)
  for fd = 3, 1023 do
    if core.readlink("/proc/self/fd/" .. fd) == path then return fd end
  end
end

-- True if fd is close-on-exec (the "flags" line of /proc/self/fdinfo, octal).
local function cloexec(fd)
  for line in io.lines("/proc/self/fdinfo/" .. fd) do
    local flags = line:match("^flags:%s*(%d+)")
    if flags then return tonumber(flags, 8) & tonumber("2000000", 8) ~= 0 end
  end
end

-- "Name:\tvalue" of a /proc/PID/status text.
local function field(text, name)
  return text:match(name .. ":%s*(%S+)")
end

-- A scratch copy of the test rootfs with symlinks that point out of it at a host
-- directory `host` (holding keep and sub/): /abs (absolute), /rel (../.. past the
-- root), /etc/deep (../.. from a subdirectory) and /dangling (a target that exists
-- only on the host). The targets of the first three also exist inside the rootfs, as
-- they would in an image built to attack the host.
local function evil_rootfs()
  local host = tmpdir("host")
  assert(os.execute(string.format("mkdir %s/sub && echo secret > %s/keep", q(host), q(host))))
  local scratch = tmpdir("evil")
  local root = scratch .. "/rootfs"
  local up = ("../"):rep(16) .. host:sub(2)
  assert(os.execute(string.format(
    "cp -a %s %s && mkdir -p %s && ln -s %s %s/abs && ln -s %s %s/rel && ln -s %s %s/etc/deep" ..
    " && ln -s %s %s/dangling",
    q(H.rootfs), q(root), q(root .. host .. "/sub"), q(host), q(root), q(up), q(root), q(up .. "/sub"),
    q(root), q(host .. "/missing"), q(root))))
  return root, host, scratch
end

describe("file descriptors and the working directory", function()
  it("closes every fd but 0, 1, 2 and keep_fds before the command runs, io.open'd ones included", function()
    local dir = tmpdir("fds")
    assert(os.execute("echo kept > " .. q(dir .. "/kept") .. " && echo leaked > " .. q(dir .. "/leaked")))
    local kept = assert(io.open(dir .. "/kept"))
    local leaked = assert(io.open(dir .. "/leaked"))
    local hostdir = assert(io.open(dir)) -- a directory fd, the CVE-2024-21626 kind
    finally(function() kept:close() leaked:close() hostdir:close() rm(dir) end)
    local k, l, d = fd_of(dir .. "/kept"), fd_of(dir .. "/leaked"), fd_of(dir)
    -- not close-on-exec: only nsbox's closing keeps them from the command
    assert.is_false(cloexec(k))
    assert.is_false(cloexec(l))
    assert.is_false(cloexec(d))
    local st, out, err = H.run_sh("ls /proc/self/fd | sort -n | tr '\\n' ' '; cat /proc/self/fd/" .. k,
      { keep_fds = { k } })
    assert.equal(0, st, err)
    local expect = { 0, 1, 2, k }
    local own = 3 -- ls's own directory fd: the lowest free one
    while own == k do own = own + 1 end
    expect[#expect + 1] = own
    table.sort(expect)
    assert.equal(table.concat(expect, " ") .. " kept\n", out)
  end)

  it("keeps its channel to a launched child out of the programs it runs meanwhile (close-on-exec)", function()
    -- a shell started from here inherits every fd of ours that is not close-on-exec
    local function sockets() return H.sh("ls -l /proc/$$/fd | grep -c 'socket:' || true") end
    local before = sockets()
    local box = assert(nsbox.container { rootfs = H.rootfs, command = { "true" } })
    assert(box:launch())
    local during = sockets()
    assert.equal(0, box:wait())
    assert.equal(before, during)
  end)

  it("refuses a cwd through /proc/self/fd/N, the leaked-fd escape of CVE-2024-21626", function()
    local dir = tmpdir("cwd")
    assert(os.execute("touch " .. q(dir .. "/host-secret")))
    local hostdir = assert(io.open(dir))
    finally(function() hostdir:close() rm(dir) end)
    local n = fd_of(dir)
    local cwd = "/proc/self/fd/" .. n
    -- kept: open in the container's setup process whatever the numbering of nsbox's own fds
    local box = assert(nsbox.container { rootfs = H.rootfs, command = { "ls" }, cwd = cwd, keep_fds = { n } })
    local ok, err = box:start()
    assert.is_nil(ok)
    assert.equal("cwd: '" .. cwd .. "' leads outside the container: refused", err)
    assert.is_nil(box.pid)
  end)

  it("refuses a cwd through a symlink that leaves the root, absolute or ../..", function()
    local root, host, scratch = evil_rootfs()
    finally(function() rm(scratch, host) end)
    for _, cwd in ipairs { "/abs", "/rel", "/rel/sub", "/etc/deep" } do
      local st, err = H.run_sh("ls", { rootfs = root, cwd = cwd })
      assert.is_nil(st, cwd)
      assert.equal("cwd: '" .. cwd .. "' leads outside the container: refused", err)
    end
    -- a symlink that stays inside is followed
    assert(os.execute("ln -s bin " .. q(root .. "/inbin")))
    local st, out = H.run_sh("ls busybox", { rootfs = root, cwd = "/inbin" })
    assert.equal(0, st)
    assert.equal("busybox\n", out)
  end)
end)

describe("a rootfs with symlinks pointing out of it", function()
  local root, host, scratch, src

  before_each(function()
    root, host, scratch = evil_rootfs()
    src = tmpdir("src")
    assert(os.execute("echo bound > " .. q(src .. "/file")))
  end)

  after_each(function() rm(scratch, host, src) end)

  it("resolves mount destinations inside the rootfs: the mkdir and the mount land there", function()
    local before, mounts = listing(host), H.host_mounts()
    local st, out, err = H.run_sh("cat /proc/mounts; cat /abs/f", H.in_place { rootfs = root, mounts = {
      { type = "tmpfs", destination = "/abs/x" },
      { type = "tmpfs", destination = "/rel/y/z", readonly = true },
      { source = src, destination = "/etc/deep/d" },
      { source = src .. "/file", destination = "/abs/f" },
      { source = src .. "/file", destination = "/abs/keep" }, -- an existing file behind the link
    } })
    assert.equal(0, st, err)
    out = "\n" .. out -- the binds' trees are cloned first: their lines may come first
    -- inside, each mount is where its path leads when resolved in the root
    assert.matches("\ntmpfs " .. esc(host) .. "/x tmpfs rw,", out)
    assert.matches("\ntmpfs " .. esc(host) .. "/y/z tmpfs ro,", out)
    assert.matches("\n%S+ " .. esc(host) .. "/sub/d ", out)
    assert.matches("\n%S+ " .. esc(host) .. "/keep ", out)
    assert.matches("\nbound\n$", out)
    for _, p in ipairs { "/x", "/y/z", "/sub/d", "/f", "/keep" } do
      assert.truthy(core.stat(root .. host .. p), "made inside the rootfs: " .. p)
    end
    -- and nothing on the host
    assert.equal(before, listing(host))
    assert.equal(mounts, H.host_mounts())
  end)

  it("refuses a rootfs whose /proc, /sys or /dev is a symlink", function()
    for _, d in ipairs { "/proc", "/sys", "/dev" } do
      assert(os.execute(string.format("mv %s %s.real && ln -s %s %s", q(root .. d), q(root .. d), q(host), q(root .. d))))
      local before = listing(host)
      local st, err = H.run_sh("true", { rootfs = root })
      assert.is_nil(st, d)
      assert.equal("rootfs: " .. d .. " is a link, not a directory: refused", err)
      assert.equal(before, listing(host))
      assert(os.execute(string.format("rm %s && mv %s.real %s", q(root .. d), q(root .. d), q(root .. d))))
    end
  end)

  it("refuses a mount destination behind a dangling symlink inside the rootfs, by name", function()
    -- /dangling -> HOST/missing: a target only the host has.
    local before, mounts = listing(host), H.host_mounts()
    local st, out = H.run_sh("grep ' " .. host .. "/missing/x ' /proc/mounts",
      { rootfs = root, mounts = { { type = "tmpfs", destination = "/dangling/x" } } })
    assert.equal(before, listing(host))
    assert.equal(mounts, H.host_mounts())
    -- a refusal must say what it refused and why, not "File exists"
    assert.is_nil(st)
    assert.matches("/dangling/x", out)
    assert.matches("symlink", out)
    assert.equal("open(" .. root .. "/dangling/x): " .. root .. "/dangling is a symlink that leads nowhere: refused", out)
    assert.is_nil(core.stat(root .. host .. "/missing"), "nothing made inside the rootfs either")
  end)

  it("never creates a file or directory on the host outside the rootfs", function()
    local before, mounts = listing(host), H.host_mounts()
    -- the rootfs's own /dev/pts and /dev/shm lead out too: /dev is nsbox's tmpfs
    assert(os.execute(string.format("rm -rf %s/dev/pts %s/dev/shm && ln -s %s %s/dev/pts && ln -s %s %s/dev/shm",
      q(root), q(root), q(host), q(root), q(host), q(root))))
    local tries = {
      { mounts = { { type = "tmpfs", destination = "/abs/a/b/c" } } },
      { mounts = { { type = "tmpfs", destination = "/rel/sub/e" } } },
      { mounts = { { source = src, destination = "/etc/deep/f/g" } } },
      { mounts = { { source = src .. "/file", destination = "/rel/h" } } },
      { mounts = { { source = src .. "/file", destination = "/dangling/i" } } },
      { mounts = { { type = "tmpfs", destination = "/dangling" } } },
      { mounts = { { type = "tmpfs", destination = "/abs", readonly = true } } },
      { cwd = "/abs" }, { cwd = "/rel/sub" }, { cwd = "/dangling" },
      { readonly = true, mounts = { { type = "tmpfs", destination = "/rel/j" } } },
      {},
    }
    for _, extra in ipairs(tries) do
      extra.rootfs = root
      H.run_sh("touch /dev/pts/k /dev/shm/l 2>/dev/null; true", extra)
    end
    assert.equal(before, listing(host))
    assert.equal(mounts, H.host_mounts())
  end)
end)

describe("defaults inside the container", function()
  local STATUS = "grep -E '^(CapInh|CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs):' /proc/self/status"

  it("sets no_new_privs, unless the recipe says no_new_privs = false", function()
    local _, on = H.run_sh(STATUS)
    assert.equal("1", field(on, "NoNewPrivs"))
    local _, off = H.run_sh(STATUS, { no_new_privs = false })
    assert.equal("0", field(off, "NoNewPrivs"))
  end)

  it("bounds capabilities to podman's 11: no mount, no sethostname inside", function()
    local st, out = H.run_sh(STATUS)
    assert.equal(0, st)
    for _, f in ipairs { "CapBnd", "CapPrm", "CapEff" } do assert.equal("00000000800405fb", field(out, f), f) end
    assert.equal("0000000000000000", field(out, "CapInh"))
    assert.equal("0000000000000000", field(out, "CapAmb"))
    local _, denied = H.run_sh("mount -t tmpfs none /tmp 2>&1 || echo mount refused; " ..
      "hostname other 2>&1 || echo hostname refused; hostname", { hostname = "box" })
    assert.matches("mount refused\n", denied)
    assert.matches("hostname refused\nbox\n$", denied)
  end)

  it("adds and drops capabilities as the recipe says, by either name form", function()
    local _, out = H.run_sh(STATUS, { capabilities = { add = { "net_admin" }, drop = { "CAP_CHOWN" } } })
    assert.equal("00000000800415fa", field(out, "CapBnd"))
    assert.equal("00000000800415fa", field(out, "CapEff"))
    local _, admin = H.run_sh("ip link set lo down 2>&1 && echo done",
      { capabilities = { add = { "CAP_NET_ADMIN" } } })
    assert.equal("done\n", admin)
    local _, plain = H.run_sh("ip link set lo down 2>&1 || echo refused")
    assert.matches("refused\n$", plain)
  end)

  it("rejects an unknown capability name", function()
    assert.same({ nil, 'capabilities.add: unknown capability "foo"' },
      { nsbox.container { rootfs = H.rootfs, capabilities = { add = { "foo" } } } })
    assert.same({ nil, 'capabilities.drop: unknown capability "CAP_NOPE"' },
      { nsbox.container { rootfs = H.rootfs, capabilities = { drop = { "CAP_NOPE" } } } })
  end)

  it("clears the inheritable and ambient sets the caller had, with or without a user namespace", function()
    H.needs_root("the caller gives itself inheritable and ambient capabilities; a container without a user namespace")
    -- A caller started with inheritable + ambient CAP_SYS_ADMIN (systemd's AmbientCapabilities=,
    -- setpriv): ambient capabilities survive exec past the bounding set.
    local script = string.format([[
      local H = { run = function(ns)
        local nsbox = require "nsbox"
        local core = nsbox.core
        local r, w = core.pipe()
        local box = assert(nsbox.container { rootfs = %q, namespaces = ns, stdout = w,
          command = { "/bin/sh", "-c", %q } })
        assert(box:start()) core.close(w)
        local out = core.read(r, 4096) box:wait() return out
      end }
      io.write(H.run(nil), "--\n", H.run { "mount", "uts", "ipc", "pid", "net", "cgroup" })
    ]], H.rootfs, STATUS)
    local env = H.LUA_ENV
    local out = H.sh(env .. " setpriv --inh-caps=+sys_admin,+net_admin --ambient-caps=+sys_admin,+net_admin" ..
      " lua5.4 -e " .. q(script) .. " 2>&1")
    local userns, nouserns = out:match("^(.-)%-%-\n(.*)$")
    assert.truthy(userns, out)
    for which, text in pairs { ["user namespace"] = userns, ["no user namespace"] = nouserns } do
      assert.equal("0000000000000000", field(text, "CapInh"), which .. ":\n" .. text)
      assert.equal("0000000000000000", field(text, "CapAmb"), which .. ":\n" .. text)
      assert.equal("00000000800405fb", field(text, "CapEff"), which .. ":\n" .. text)
    end
  end)

  it("runs the command in a new session: session leader, no controlling terminal", function()
    -- field 6 of /proc/self/stat: the session, as the container's pid namespace numbers it
    local _, own = H.run_sh("cut -d' ' -f6,7 /proc/self/stat")
    assert.equal("1 0\n", own) -- the shell (pid 1) leads it; no tty
    local _, kept = H.run_sh("cut -d' ' -f6 /proc/self/stat", { new_session = false })
    assert.equal("0\n", kept) -- the caller's session, outside the namespace
  end)

  it("keeps TIOCSTI out of the caller's terminal (CVE-2017-5226)", function()
    local dir = tmpdir("tty")
    finally(function() rm(dir) end)
    assert(os.execute(string.format("cc -static -O2 -o %s/tiocsti %s/spec/support/tiocsti.c", q(dir), q(H.root))))
    -- A Lua process whose controlling terminal is a pty (script(1)) runs the probe in a
    -- container with that terminal as stdin. By default nsbox puts a pipe between
    -- them (no terminal to push into, in either session, even without the filter). Handed over as it is
    -- (tty = "inherit"), in a new session and in the caller's, without the seccomp
    -- filter (its own guard), then in the caller's with it.
    local script = string.format([[
      local nsbox = require "nsbox"
      for _, s in ipairs { { true, false, nil }, { false, false, nil }, { true, false, "inherit" },
                           { false, false, "inherit" }, { false, nil, "inherit" } } do
        local box = assert(nsbox.container { rootfs = %q, command = { "/tiocsti" }, new_session = s[1],
          seccomp = s[2], tty = s[3], mounts = { { source = %q, destination = "/tiocsti" } } })
        io.write("new_session=", tostring(s[1]), " seccomp=", tostring(s[2] ~= false), " tty=", tostring(s[3]), " ")
        io.flush()
        box:run()
      end
    ]], H.rootfs, dir .. "/tiocsti")
    local env = H.LUA_ENV
    local out = H.sh("script -qec " .. q(env .. " lua5.4 -e " .. q(script)) .. " /dev/null </dev/null 2>&1")
      :gsub("\r", "")
    assert.matches("new_session=true seccomp=false tty=nil TIOCSTI: Inappropriate ioctl for device\n", out)
    assert.matches("new_session=false seccomp=false tty=nil TIOCSTI: Inappropriate ioctl for device\n", out)
    assert.matches("new_session=true seccomp=false tty=inherit TIOCSTI: Operation not permitted\n", out)
    -- the filter refuses it in the caller's session too
    assert.matches("new_session=false seccomp=true tty=inherit TIOCSTI: Operation not permitted\n", out)
    -- the same probe in the caller's session reaches the terminal where the kernel still allows it
    local f = io.open("/proc/sys/dev/tty/legacy_tiocsti")
    local legacy = f and f:read("l")
    if f then f:close() end
    if legacy == "1" then assert.matches("new_session=false seccomp=false tty=inherit .*TIOCSTI: injected\n", out) end
  end)

  it("masks the OCI default paths: files behind the real /dev/null, directories under an empty ro tmpfs", function()
    local checks, expect = H.mask_checks(require("nsbox.rootfs").MASKED)
    assert.is_true(#checks >= 3, "this kernel has few of the masked paths")
    local st, out = H.run_sh(table.concat(checks, "; "))
    assert.equal(0, st)
    assert.equal(table.concat(expect, "\n") .. "\n", out)
  end)

  it("masks only with a /dev/null that is the character device 1:3 (CVE-2025-31133)", function()
    H.needs_root("binds a fake /dev/null in a mount namespace of the caller's")
    -- In a mount namespace of its own, a Lua process whose /dev/null is a regular file
    -- (bound over it) starts a container: masking with it would hand /proc/keys and the
    -- rest to whatever that file is. Refused instead.
    local dir = tmpdir("null")
    finally(function() rm(dir) end)
    local script = string.format([[
      local nsbox = require "nsbox"
      local box = assert(nsbox.container { rootfs = %q, command = { "cat", "/proc/keys" } })
      local st, err = box:run()
      print(st, err)
    ]], H.rootfs)
    local env = H.LUA_ENV
    local out = H.sh(string.format("echo fake > %s/null && unshare -m --propagation private sh -c %s 2>&1",
      q(dir), q("mount --bind " .. q(dir .. "/null") .. " /dev/null && " .. env .. " lua5.4 -e " .. q(script))))
    assert.equal("nil\tmask: /dev/null is not the character device 1:3: refused\n", out)
  end)

  it("makes /proc/sys, /proc/sysrq-trigger, /proc/irq, /proc/bus and /proc/fs read-only", function()
    H.needs_root("as another user the host's root owns these files: the write is refused before the mount refuses it")
    local lines, expect = {}, {}
    for _, p in ipairs(require("nsbox.rootfs").READONLY) do
      if core.stat(p) then
        lines[#lines + 1] = string.format("grep -q ' %s proc ro,' /proc/mounts && echo %s ro", p, p)
        expect[#expect + 1] = p .. " ro"
      end
    end
    -- opened for writing (appending nothing): the kernel's files, refused by the mount
    -- (the container's root is the host's here: with ids of its own, the files' owner refuses first)
    for _, p in ipairs { "/proc/sysrq-trigger", "/proc/sys/kernel/core_pattern", "/proc/sys/kernel/hostname" } do
      if core.stat(p) then
        lines[#lines + 1] = string.format("dd if=/dev/null of=%s conv=notrunc oflag=append 2>&1 | head -1", p)
        expect[#expect + 1] = "dd: can't open '" .. p .. "': Read-only file system"
      end
    end
    local st, out = H.run_sh(table.concat(lines, "; "), { uid_map = { inside = 0, outside = 0, count = 1 },
      gid_map = { inside = 0, outside = 0, count = 1 } })
    assert.equal(0, st)
    assert.equal(table.concat(expect, "\n") .. "\n", out)
  end)

  it("mounts /sys read-only: sysfs of its own with a private net namespace", function()
    local _, out = H.run_sh("grep ' /sys' /proc/mounts; dd if=/dev/null of=/sys/kernel/uevent_helper " ..
      "conv=notrunc oflag=append 2>&1 | head -1")
    assert.matches("^sysfs /sys sysfs ro,", out)
    assert.matches("dd: can't open '/sys/kernel/uevent_helper': Read%-only file system\n$", out)
  end)

  it("binds the host's /sys read-only throughout, /sys/fs/cgroup included, without one", function()
    local _, out = H.run_sh("grep ' /sys' /proc/mounts",
      { namespaces = { "user", "mount", "uts", "ipc", "pid", "cgroup" } })
    local n = 0
    for line in out:gmatch("[^\n]+") do
      n = n + 1
      assert.matches("^%S+ %S+ %S+ ro,", line)
    end
    assert.is_true(n >= 2, out) -- /sys and the mounts below it
    assert.matches(" /sys/fs/cgroup[ /]", out)
  end)
end)

describe("a process joining a running container (exec)", function()
  it("gets the container's bounding set and no_new_privs", function()
    local box = assert(nsbox.container { rootfs = H.rootfs, command = { "sleep", "30" },
      capabilities = { drop = { "kill" } } })
    assert(box:start())
    finally(function() box:kill(core.SIGKILL) box:wait() end)
    local r, w = assert(core.pipe())
    assert.equal(0, box:exec { command = { "grep", "-E", "^(CapBnd|CapEff|NoNewPrivs):", "/proc/self/status" },
      stdout = w })
    core.close(w)
    local out = core.read(r, 4096)
    core.close(r)
    assert.equal("00000000800405db", field(out, "CapBnd"))
    assert.equal("00000000800405db", field(out, "CapEff"))
    assert.equal("1", field(out, "NoNewPrivs"))
  end)

  it("is non-dumpable: the container's root cannot open its /proc/PID/exe (CVE-2019-5736)", function()
    local shared = tmpdir("join")
    local box = assert(nsbox.container { rootfs = H.rootfs, command = { "sleep", "30" },
      mounts = { { source = shared, destination = "/shared" } } })
    assert(box:start())
    finally(function() box:kill(core.SIGKILL) box:wait() rm(shared) end)
    -- While the joined command waits, a host shell with the credentials and every
    -- capability of the container's root (nsenter into its user namespace) reads
    -- the joining process's /proc/PID/exe.
    local st, res = H.joiner_probe(box, shared, "nsenter --preserve-credentials -t $BOX -U -- readlink -v /proc/$j/exe")
    assert.equal(0, st)
    assert.matches("^joiner=%d+\n", res)
    assert.matches("\nreadlink: /proc/%d+/exe: Permission denied\nrc=1\n$", res)
  end)

  it("is non-dumpable before it joins: without a user namespace the prctl before setns is the only one", function()
    H.needs_root("a container without a user namespace")
    local shared = tmpdir("join") -- under H.TMP: removed at the end even if cc fails
    assert(os.execute(string.format("cc -std=c11 -O2 -o %s/kcmp %s/spec/support/kcmp.c", q(shared), q(H.root))))
    local box = assert(nsbox.container { rootfs = H.rootfs, command = { "sleep", "30" },
      namespaces = { "mount", "uts", "ipc", "pid", "net", "cgroup" },
      mounts = { { source = shared, destination = "/shared" } } })
    assert(box:start())
    finally(function() box:kill(core.SIGKILL) box:wait() rm(shared) end)
    -- a root observer as privileged as the joiner but for CAP_SYS_PTRACE in effect:
    -- allowed to inspect the (dumpable) command, refused the joiner only if non-dumpable
    -- (the command: PID 1 is nsbox-init, non-dumpable too)
    assert.equal("allowed\n", H.sh(shared .. "/kcmp $(pgrep -P " .. box.pid .. ")"))
    local st, res = H.joiner_probe(box, shared, q(shared .. "/kcmp") .. " $j")
    assert.equal(0, st)
    assert.matches("^joiner=%d+\nOperation not permitted\nrc=1\n$", res)
  end)
end)

describe("init = true", function()
  -- A host shell line run with the credentials and every capability of the root of
  -- a running init = true container (nsenter into its user namespace), $INIT the
  -- init's pid; returns its output and "rc=N\n".
  local function init_seen_from_userns(line)
    local box = assert(nsbox.container { rootfs = H.rootfs, init = true, command = { "sleep", "30" } })
    assert(box:start())
    -- through the command's pid: a non-dumpable init's /proc/PID/ns are root's
    local out = H.sh(string.format("INIT=%d nsenter --preserve-credentials -t $(pgrep -P %d) -U -- sh -c %s 2>&1; echo rc=$?",
      box.pid, box.pid, q(line)))
    box:kill(core.SIGKILL)
    box:wait()
    return out
  end
  -- the same line run by the host's root
  local function init_seen_from_host(line)
    local box = assert(nsbox.container { rootfs = H.rootfs, init = true, command = { "sleep", "30" } })
    assert(box:start())
    local out = H.sh(string.format("INIT=%d sh -c %s 2>&1", box.pid, q(line)))
    box:kill(core.SIGKILL)
    box:wait()
    return out
  end

  it("runs as PID 1 a non-dumpable init whose host binary the command cannot reach", function()
    local st, out = H.run_sh("ps -o pid,args | grep -c '^ *2 /bin/sh'; readlink /proc/1/exe || echo refused",
      { init = true })
    assert.equal(0, st)
    assert.equal("1\nrefused\n", out)
    -- init is nsbox-init exec'd in the container's user namespace, from a memfd of the
    -- host's root: with the container's own id range not even that namespace's root may
    -- look; the host's root finds the sealed memfd, no host binary
    assert.matches("Permission denied\nrc=1\n$", init_seen_from_userns("readlink -v /proc/$INIT/exe"))
    assert.equal("/memfd:nsbox-init (deleted)\n", init_seen_from_host("readlink /proc/$INIT/exe"))
  end)

  it("holds none of the parent's fds: a forked init closes them before it is seen", function()
    H.needs_root("a non-dumpable init's /proc/PID/fd is the host root's")
    local f = assert(io.open("/etc/hostname"))
    local r, w = assert(core.pipe())
    local box = assert(nsbox.container { rootfs = H.rootfs, init = true, command = { "sleep", "30" } })
    assert(box:start())
    finally(function() box:kill(core.SIGKILL) box:wait() f:close() core.close(r) core.close(w) end)
    local held = H.sh("ls -l /proc/" .. box.pid .. "/fd | awk 'NR > 1 { print $9, $11 }'")
    assert.matches("^0 ", held) -- the listing is there: stdin first
    assert.is_nil(held:find("/etc/hostname", 1, true), held)
    assert.is_nil(held:find(core.readlink("/proc/self/fd/" .. r), 1, true), held)
    -- init's own: its signalfd and its end of the channel to this process (EOF: our death)
    local sockets = 0
    for fd, what in held:gmatch("(%d+) (%S+)") do
      if what:match("^socket:") then sockets = sockets + 1 end
      assert.truthy(tonumber(fd) <= 2 or what == "anon_inode:[signalfd]" or what:match("^socket:"), held)
    end
    assert.equal(1, sockets, held)
  end)

  it("keeps init's memory out of the command's reach, and holds none of the parent's", function()
    -- init is non-dumpable: /proc/1/mem, environ and maps are refused to the command
    local st, out = H.run_sh("for f in mem environ maps; do head -c 64 /proc/1/$f >/dev/null 2>&1 && echo $f || echo refused; done",
      { init = true })
    assert.equal(0, st)
    assert.equal("refused\nrefused\nrefused\n", out)
    -- init is no longer a fork of this process but nsbox-init: its maps (read by the
    -- host's root) show the sealed stub and nothing of this process (no interpreter, no library)
    local maps = init_seen_from_host("cat /proc/$INIT/maps")
    assert.matches("/memfd:nsbox%-init", maps)
    assert.is_nil(maps:find("lua", 1, true), maps)
    assert.is_nil(maps:find("%.so"), maps)
  end)

  it("keeps init's host binary out of reach even of a command given CAP_SYS_PTRACE", function()
    -- by refusing the combination: the recipe never starts
    local st, out = H.run_sh("readlink /proc/1/exe || echo refused",
      { init = true, capabilities = { add = { "sys_ptrace" } } })
    assert.is_nil(st)
    assert.matches("sys_ptrace", out)
    assert.equal("capabilities: sys_ptrace would let the command take over nsbox's init (PID 1 of a new pid " ..
      "namespace, or init = true): refused", out)
  end)

  it("reaps orphaned zombies, which a PID 1 not written to be init leaves", function()
    -- A subshell forks a background sleep and exits: the short sleep, orphaned,
    -- becomes a zombie unless PID 1 reaps it. The control: sh forks it itself and
    -- replaces itself with a long sleep, which never waits (a zombie whatever init does).
    local function zombie_after_orphan(orphan)
      local r0, w0 = assert(core.pipe())
      local box = assert(nsbox.container { rootfs = H.rootfs, init = true, stdout = w0,
        command = { "/bin/sh", "-c", (orphan and "(sleep 0.05 &); " or "sleep 0.05 & ") .. "echo forked; exec sleep 30" } })
      assert(box:start())
      core.close(w0)
      assert.equal("forked\n", core.read(r0, 7))
      core.close(r0)
      local seen
      for _ = 1, 100 do -- until the short sleep has ended (reaped or zombie), 5 s at most
        local r, w = assert(core.pipe())
        box:exec { command = { "ps", "-o", "stat,args" }, stdout = w }
        core.close(w)
        local ps = core.read(r, 65536)
        core.close(r)
        if ps:match("\nZ") then seen = "zombie" break end
        if not ps:find("sleep 0.05", 1, true) then seen = "reaped" break end
        os.execute("sleep 0.05")
      end
      box:kill(core.SIGKILL)
      box:wait()
      return seen
    end
    assert.equal("zombie", zombie_after_orphan(false)) -- the probe sees what it looks for
    assert.equal("reaped", zombie_after_orphan(true))
  end)

  it("forwards box:kill(SIGTERM) to the command, which dies of it: 143", function()
    local r, w = assert(core.pipe())
    local box = assert(nsbox.container { rootfs = H.rootfs, init = true, stdout = w,
      command = { "/bin/sh", "-c", "echo ready; exec sleep 30" } })
    assert(box:start())
    core.close(w)
    assert.equal("ready\n", core.read(r, 6))
    core.close(r)
    assert(box:kill(core.SIGTERM))
    -- no handler, not PID 1: SIGTERM kills sleep. A lost signal would leave it running: give up after 5 s.
    local done = false
    for _ = 1, 100 do
      local state = H.proc_state(box.pid)
      if state == nil or state == "Z" then done = true break end
      os.execute("sleep 0.05")
    end
    if not done then box:kill(core.SIGKILL) end
    assert.equal(143, box:wait())
    assert.is_true(done)
  end)
end)

describe("as an unprivileged user", function()
  if H.needs_root("runs its probe as uid 65534 through setpriv") then return end
  local res

  setup(function()
    local dir = H.unprivileged_tree()
    local out, code = H.run_unprivileged("hardening_probe.lua", dir .. "/rootfs")
    assert(code == 0, out)
    res = assert(load("return " .. out, "probe", "t", {}))()
  end)

  teardown(function() H.cleanup() end)

  it("is really unprivileged", function()
    assert.equal(65534, res.uid)
  end)

  it("sets no_new_privs and podman's bounding set; the recipe changes them", function()
    assert.equal("1", field(res.status, "NoNewPrivs"))
    assert.equal("00000000800405fb", field(res.status, "CapBnd"))
    assert.equal("00000000800405fb", field(res.status, "CapEff"))
    assert.equal("0", field(res.status_nnp_off, "NoNewPrivs"))
    assert.equal("00000000800415fa", field(res.status_add_drop, "CapBnd"))
    assert.matches("mount refused\n.*hostname refused\n$", res.denied)
  end)

  it("gives the joining process the same", function()
    assert.equal(res.status, res.exec_status)
  end)

  it("runs the command in a new session", function()
    assert.equal("1\n", res.session)
  end)

  it("masks the OCI paths and mounts /proc/sys and /sys read-only", function()
    for line in res.masked:gmatch("[^\n]+") do
      assert.is_truthy(line:match("^%S+ dir 0$") or line:match("^%S+ file 1:3 0$"), line)
    end
    assert.matches("\n/sys/firmware dir 0\n", "\n" .. res.masked)
    assert.matches("\nproc /proc/sys proc ro,", res.mounts)
    assert.matches("\nsysfs /sys sysfs ro,", res.mounts)
  end)

  it("keeps init's host binary out of the command's reach", function()
    assert.equal("refused\n", res.init_exe)
  end)
end)

describe("running 500 containers from one process", function()
  if H.needs_root("makes a network namespace without a user namespace for its bridge") then return end
  setup(function()
    assert(core.unshare(core.CLONE_NEWNET))
    assert(core.rtnl.link_set { name = "lo", up = true })
  end)

  it("leaves its fd count, children, the mount table and the network links as they were", function()
    local net = require "nsbox.net"
    local state, saved = tmpdir("leases"), net.STATE_DIR
    net.STATE_DIR = state
    finally(function() net.STATE_DIR = saved rm(state) end)
    local network = { bridge = "hbr0", gateway = "10.77.0.1/24" }
    -- one of each first: the bridge stays, modules and caches are loaded
    assert.equal(0, nsbox.container { rootfs = H.rootfs, command = { "true" }, network = network }:run())
    local function links() return H.sh("ip -o link | cut -d: -f2 | sort") end
    for _ = 1, 40 do -- the first one's veth goes with its namespace, in the background
      if not links():find("nsb", 1, true) then break end
      os.execute("sleep 0.05")
    end
    local fds, kids, mounts, ls = H.fd_count(), H.child_count(), H.host_mounts(), links()
    for i = 1, 500 do
      local box = assert(nsbox.container { rootfs = H.rootfs, command = { "true" },
        network = i % 10 == 0 and network or nil })
      local st, err = box:run()
      assert(st == 0, "run " .. i .. ": " .. tostring(err))
    end
    collectgarbage()
    assert.equal(fds, H.fd_count())
    assert.equal(kids, H.child_count())
    assert.equal(mounts, H.host_mounts())
    for _ = 1, 40 do -- the last veths go with their namespaces, in the background
      if links() == ls then break end
      os.execute("sleep 0.05")
    end
    assert.equal(ls, links())
    -- no lease; the bridge's hosts file (which stays with it, as does the table's lock) names no one
    assert.equal("", H.sh("find " .. q(state) .. " -type f ! -name lock ! -name nft.lock ! -path '*/hosts/*'"))
    assert.equal("", H.sh("cat " .. q(state) .. "/hosts/*-hbr0 | grep 'nsbox pid'"))
  end)
end)
