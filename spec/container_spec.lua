-- The seed's container, seen from outside and inside, as root.
local H = require "spec.support.helpers"
local nsbox, core = H.nsbox, H.core

-- Every behaviour holds whichever way the child side runs: forked (the
-- default) or re-executed (reexec = true, as a threaded host gets).
local function behaviours(title, reexec)
describe(title, function()
  local real = nsbox.container
  setup(function()
    if reexec then
      nsbox.container = function(spec)
        if spec.reexec == nil and spec.interpreter == nil then spec.reexec = true end
        return real(spec)
      end
    end
  end)
  teardown(function() nsbox.container = real end)

  it("has the hostname it was given", function()
    local st, out = H.capture { command = { "hostname" }, hostname = "ns-process" }
    assert.equal(0, st)
    assert.equal("ns-process\n", out)
  end)

  it("defaults its hostname to its id", function()
    local r, w = assert(core.pipe())
    local box = assert(nsbox.container { rootfs = H.rootfs, command = { "hostname" }, stdout = w })
    assert.matches("^%x+$", box.id)
    local st = box:run()
    core.close(w)
    local out = core.read_all(r)
    core.close(r)
    assert.equal(0, st)
    assert.matches("^%x%x%x%x%x%x%x%x%x%x%x%x\n$", out)
    assert.equal(box.id .. "\n", out) -- its own id, not any id
  end)

  it("sets the domain name", function()
    local _, out = H.run_sh("cat /proc/sys/kernel/domainname", { domainname = "example.org" })
    assert.equal("example.org\n", out)
  end)

  it("runs the command as root inside, setgroups allowed, with a range of 65536 ids that is not the host's root", function()
    H.needs_root("gets a range of ids picked for its container")
    local st, out = H.run_sh("id -u; id -g; cat /proc/self/uid_map /proc/self/gid_map /proc/self/setgroups")
    assert.equal(0, st)
    local lines = {}
    for l in out:gmatch("[^\n]+") do lines[#lines + 1] = l:gsub("%s+", " "):gsub("^ ", "") end
    local base = tonumber(lines[3]:match("^0 (%d+) 65536$"))
    assert.truthy(base and base >= 65536, out)
    assert.same({ "0", "0", "0 " .. base .. " 65536", "0 " .. base .. " 65536", "allow" }, lines)
  end)

  it("lives in namespaces of its own, all seven", function()
    local box = assert(nsbox.container { rootfs = H.rootfs, command = { "sleep", "30" } })
    assert(box:start())
    for _, ns in ipairs { "user", "mnt", "uts", "ipc", "pid", "net", "cgroup" } do
      local mine, its = H.ns_inode("self", ns), H.ns_inode(box.pid, ns)
      assert.truthy(its, ns)
      assert.are_not.equal(mine, its, ns)
    end
    assert(box:kill(core.SIGKILL))
    assert.equal(137, box:wait())
  end)

  it("keeps the namespaces not asked for", function()
    local box = assert(nsbox.container { rootfs = H.rootfs, command = { "sleep", "30" },
      namespaces = { "user", "mount", "pid" } })
    assert(box:start())
    assert.equal(H.ns_inode("self", "uts"), H.ns_inode(box.pid, "uts"))
    assert.equal(H.ns_inode("self", "net"), H.ns_inode(box.pid, "net"))
    assert.are_not.equal(H.ns_inode("self", "pid"), H.ns_inode(box.pid, "pid_for_children"))
    box:kill(core.SIGKILL)
    box:wait()
  end)

  it("sees only its own mounts in /proc/mounts", function()
    local _, out = H.run_sh("cat /proc/mounts")
    local points = {}
    for point in out:gmatch("[^\n]- (%S+) %S+ %S+ %d+ %d+\n") do points[#points + 1] = point end
    assert.equal("/", points[1])
    local allowed = { ["/"] = true, ["/proc"] = true, ["/dev"] = true, ["/dev/pts"] = true,
      ["/dev/shm"] = true, ["/sys"] = true }
    for _, d in ipairs { "null", "zero", "full", "random", "urandom", "tty" } do allowed["/dev/" .. d] = true end
    local rootfs = require "nsbox.rootfs"
    for _, p in ipairs(rootfs.MASKED) do allowed[p] = true end
    for _, p in ipairs(rootfs.READONLY) do allowed[p] = true end
    for _, p in ipairs(points) do assert.is_true(allowed[p] or false, "unexpected mount " .. p) end
    assert.is_nil(out:find(H.root, 1, true))
  end)

  -- PID 1 is nsbox-init (a sealed memfd, spec/pid1_spec.lua), not the command:
  -- only an init of nsbox's keeps the container tied to its parent whatever the
  -- command does to its credentials (issue 11, security break 6)
  it("shows nsbox's init as PID 1, the command its only child, and nothing of the host in ps", function()
    local _, out = H.capture { command = { "ps", "-o", "pid,ppid,args" } }
    local pids = {}
    for pid, ppid, args in out:gmatch("\n%s*(%d+)%s+(%d+)%s+([^\n]*)") do
      pids[#pids + 1] = { tonumber(pid), tonumber(ppid), args }
    end
    assert.equal(2, #pids)
    assert.same({ 1, 0, "nsbox-init" }, { pids[1][1], pids[1][2], pids[1][3]:match("^%S+") })
    assert.same({ 2, 1, "ps -o pid,ppid,args" }, pids[2])
  end)

  it("does not see the host's SysV shared memory", function()
    local id = H.sh("ipcmk -M 4096"):match("(%d+)")
    assert.truthy(id)
    finally(function() os.execute("ipcrm -m " .. id) end)
    assert.matches("\n" .. id .. " ", H.sh("ipcs -m -i " .. id .. " >/dev/null && echo; ipcs -m | awk '{print $2}' | sed 's/$/ /'"))
    local _, out = H.run_sh("cat /proc/sysvipc/shm")
    local rows = 0
    for _ in out:gmatch("\n") do rows = rows + 1 end
    assert.equal(1, rows) -- the header only
  end)

  it("has a minimal /dev", function()
    local _, out = H.run_sh("ls /dev | sort | tr '\\n' ' '; echo x > /dev/null && head -c 4 /dev/zero | wc -c")
    assert.equal("fd full null ptmx pts random shm stderr stdin stdout tty urandom zero 4\n", out)
  end)

  it("brings up lo and nothing else in its network", function()
    local _, out = H.run_sh("cat /sys/class/net/lo/operstate; ls /sys/class/net")
    assert.equal("unknown\nlo\n", out)
    local _, flags = H.run_sh("cat /sys/class/net/lo/flags")
    assert.equal(1, tonumber(flags) & 1) -- IFF_UP
  end)

  for _, code in ipairs { 0, 3, 42 } do
    it("returns the exit code " .. code, function()
      assert.equal(code, (H.run_sh("exit " .. code)))
    end)
  end

  it("returns 137 when killed by SIGKILL", function()
    local box = assert(nsbox.container { rootfs = H.rootfs, command = { "sleep", "30" } })
    assert(box:start())
    assert.is_number(box.pid)
    assert(box:kill(core.SIGKILL))
    assert.equal(137, box:wait())
  end)

  it("returns 128+N for a command that handles and re-raises a signal", function()
    local r, w = assert(core.pipe())
    local box = assert(nsbox.container { rootfs = H.rootfs, stdout = w,
      command = { "/bin/sh", "-c", "trap 'exit 143' TERM; echo ready; while :; do sleep 0.05; done" } })
    assert(box:start())
    core.close(w)
    assert.equal("ready\n", core.read(r, 6)) -- the trap is set: pid 1 ignores what it does not handle
    core.close(r)
    assert(box:kill(core.SIGTERM))
    assert.equal(143, box:wait())
  end)

  it("passes stdin to the command", function()
    local st, out = H.capture({ command = { "/bin/sh", "-c", "tr a-z A-Z" } }, "hello nsbox\n")
    assert.equal(0, st)
    assert.equal("HELLO NSBOX\n", out)
  end)

  it("gives the command the environment of the recipe and no marker", function()
    local _, out = H.run_sh("env | sort", { env = { FOO = "bar" } })
    assert.matches("\nFOO=bar\n", "\n" .. out)
    assert.matches("PATH=/usr/local/sbin", out)
    assert.is_nil(out:find("NSBOX", 1, true))
    assert.is_nil(out:find("LUA_", 1, true))
  end)

  it("starts the command in cwd", function()
    local _, out = H.run_sh("pwd", { cwd = "/tmp" })
    assert.equal("/tmp\n", out)
  end)

  it("binds host paths and mounts tmpfs where asked, read-only when asked", function()
    local dir = H.tmpdir("bind")
    finally(function() H.rm(dir) end)
    local f = assert(io.open(dir .. "/hello", "w")); f:write("from host\n"); f:close()
    local st, out = H.run_sh("cat /data/hello; touch /data/x 2>/dev/null || echo ro; touch /scratch/y && echo rw", {
      mounts = { { source = dir, destination = "/data", readonly = true },
                 { type = "tmpfs", destination = "/scratch" } } })
    assert.equal(0, st)
    assert.equal("from host\nro\nrw\n", out)
  end)

  it("answers 127 and names a command that is not there", function()
    local st, err = H.capture { command = { "no-such-command" } }
    assert.equal(127, st)
    assert.equal("exec(no-such-command): No such file or directory", err)
    local box = assert(nsbox.container { rootfs = H.rootfs, command = { "/bin/nope" } })
    local s2, e2 = box:run()
    assert.equal(127, s2)
    assert.equal("exec(/bin/nope): No such file or directory", e2)
  end)

  it("answers 126 for a command that is not executable", function()
    local st, err = H.capture { command = { "/etc/passwd" } }
    assert.equal(126, st)
    assert.equal("exec(/etc/passwd): Permission denied", err)
  end)

  it("closes fds the Lua script opened before the command runs", function()
    local f = assert(io.open("/etc/hostname"))
    finally(function() f:close() end)
    local _, out = H.run_sh("ls /proc/self/fd | sort -n | tr '\\n' ' '")
    assert.equal("0 1 2 3 ", out) -- 3 is ls's own directory fd
  end)

  it("runs a command joined to all its namespaces with exec", function()
    local box = assert(nsbox.container { rootfs = H.rootfs, command = { "sleep", "30" }, hostname = "target",
      env = { GREETING = "hi" } })
    assert(box:start())
    finally(function() box:kill(core.SIGKILL) box:wait() end)
    local r, w = core.pipe()
    local st = box:exec { command = { "/bin/sh", "-c",
      "hostname; id -u; echo $GREETING; ps -o args | grep -c '^sleep 30'; grep -E '^(TracerPid)' /proc/self/status >/dev/null; " ..
      "for n in user mnt uts ipc pid net cgroup; do readlink /proc/self/ns/$n; done; exit 4" },
      stdout = w }
    core.close(w)
    local out = core.read_all(r)
    core.close(r)
    assert.equal(4, st)
    assert.equal("target\n0\nhi\n1\n", out:match("^[^\n]*\n[^\n]*\n[^\n]*\n[^\n]*\n"))
    -- the joined command is in each namespace of the container, none of the host's
    local joined = {}
    for l in out:gmatch("[^\n]+") do joined[#joined + 1] = l end
    for i, ns in ipairs { "user", "mnt", "uts", "ipc", "pid", "net", "cgroup" } do
      assert.is_string(H.ns_inode(box.pid, ns))
      assert.equal(H.ns_inode(box.pid, ns), joined[4 + i], ns)
      assert.are_not.equal(H.ns_inode("self", ns), joined[4 + i], ns)
    end
    assert.equal(11, #joined)
    assert.same({ 127, "exec(nosuch): No such file or directory" }, { box:exec { command = { "nosuch" } } })
    assert.same({ nil, "exec: unknown field 'comand'" }, { box:exec { comand = { "x" } } })
  end)

  it("makes the joining process non-dumpable before it joins", function()
    local shared = H.tmpdir("join")
    local box = assert(nsbox.container { rootfs = H.rootfs, command = { "sleep", "30" },
      mounts = { { source = shared, destination = "/shared" } } })
    assert(box:start())
    finally(function() box:kill(core.SIGKILL) box:wait() H.rm(shared) end)
    -- The joiner is the parent of the joined shell; its PPid is outside the pid namespace (0),
    local r, w = core.pipe()
    assert.equal(0, box:exec { command = { "/bin/sh", "-c", "echo PPid $PPID" }, stdout = w })
    core.close(w)
    assert.equal("PPid 0\n", core.read(r, 100))
    core.close(r)
    -- so look at it from the host, with the credentials and every capability of the
    -- container's root (its user namespace): the joiner's memory (a copy of ours) is refused.
    local st, res = H.joiner_probe(box, shared, "nsenter --preserve-credentials -t $BOX -U -- head -c 1 /proc/$j/environ >/dev/null")
    assert.equal(0, st)
    assert.matches("^joiner=%d+\nhead: cannot open '/proc/%d+/environ' for reading: Permission denied\nrc=1\n$", res)
  end)

  it("forwards SIGTERM sent to the parent while it waits", function()
    local r, w = assert(core.pipe())
    local box = assert(nsbox.container { rootfs = H.rootfs, stdout = w,
      command = { "/bin/sh", "-c", "trap 'exit 7' TERM; echo ready; while :; do sleep 0.05; done" } })
    assert(box:start())
    core.close(w)
    assert.equal("ready\n", core.read(r, 6))
    core.close(r)
    os.execute("(sleep 0.2; kill -TERM " .. core.getpid() .. ") &")
    assert.equal(7, box:wait())
  end)

  it("launches containers side by side; start() collects each one's exec", function()
    local r, w = assert(core.pipe())
    local boxes = {}
    for i = 1, 3 do
      boxes[i] = assert(nsbox.container { rootfs = H.rootfs, hostname = "side" .. i, stdout = w,
        command = { "/bin/sh", "-c", "sleep 0.2; hostname" } })
      assert.equal(boxes[i], boxes[i]:launch())
      assert.is_nil(boxes[i].pid) -- not known to have exec'd yet
    end
    core.close(w)
    for i = 1, 3 do
      assert.equal(boxes[i], boxes[i]:start())
      assert.is_number(boxes[i].pid)
    end
    for i = 1, 3 do assert.equal(0, boxes[i]:wait()) end
    local out = core.read_all(r)
    core.close(r)
    local names = {}
    for n in out:gmatch("[^\n]+") do names[#names + 1] = n end
    table.sort(names)
    assert.same({ "side1", "side2", "side3" }, names)
  end)

  it("reports a launched container's failed start from start() or wait(), and leaves nothing", function()
    local kids = H.child_count()
    local box = assert(nsbox.container { rootfs = H.rootfs, command = { "nosuch" } })
    assert(box:launch())
    assert.same({ 127, "exec(nosuch): No such file or directory" }, { box:wait() })
    local box2 = assert(nsbox.container { rootfs = H.rootfs, command = { "nosuch" } })
    assert(box2:launch())
    assert.same({ nil, "exec(nosuch): No such file or directory", 2 }, { box2:start() })
    assert.same({ nil, "container: already started" }, { box2:launch() })
    assert.equal(kids, H.child_count())
  end)

  it("kills and reaps a launched container that is closed or killed before start()", function()
    local kids = H.child_count()
    local box = assert(nsbox.container { rootfs = H.rootfs, command = { "sleep", "60" } })
    assert(box:launch())
    box:close()
    local box2 = assert(nsbox.container { rootfs = H.rootfs, command = { "sleep", "60" } })
    assert(box2:launch())
    assert(box2:kill(core.SIGKILL))
    local st = box2:wait()
    assert.truthy(st == 137 or st == nil, tostring(st)) -- killed before or after its exec
    assert.equal(kids, H.child_count())
  end)

  it("moves new, launched, running, done, and refuses what its state does not allow", function()
    local box = assert(nsbox.container { rootfs = H.rootfs, command = { "sleep", "60" } })
    local function exec() return box:exec { command = { "true" } } end
    assert.equal("new", box.state)
    assert.same({ nil, "container: not started" }, { box:wait() })
    assert.same({ nil, "container: not running (new)" }, { exec() })
    assert.same({ nil, "container: not running (new)" }, { box:kill() })
    assert.equal(box, box:launch())
    finally(function() box:close() end)
    assert.equal("launched", box.state)
    assert.same({ nil, "container: already started" }, { box:launch() })
    assert.same({ nil, "container: not running (launched)" }, { exec() })
    assert.equal(box, box:start())
    assert.equal("running", box.state)
    assert.same({ nil, "container: already started" }, { box:start() })
    assert.same({ nil, "container: already started" }, { box:launch() })
    assert.equal(0, exec())
    assert(box:kill(core.SIGKILL))
    assert.equal(137, box:wait())
    assert.equal("done", box.state)
    assert.equal(137, box:wait()) -- asked again: the same status, nothing waited for
    assert.same({ nil, "container: not running (done)" }, { exec() })
    assert.same({ nil, "container: not running (done)" }, { box:kill() })
    assert.same({ nil, "container: already started" }, { box:start() })
    assert.equal("done", box.state)
  end)

  it("is done once its start failed: no second start, wait says so", function()
    local box = assert(nsbox.container { rootfs = H.rootfs, cwd = "/no/such", command = { "true" } })
    assert.same({ nil, "chdir(/no/such): No such file or directory", 2 }, { box:start() })
    assert.equal("done", box.state)
    assert.same({ nil, "container: its start failed" }, { box:wait() })
    assert.same({ nil, "container: already started" }, { box:start() })
    assert.same({ nil, "container: already started" }, { box:launch() })
    assert.same({ nil, "container: not running (done)" }, { box:exec { command = { "true" } } })
  end)

  it("kills the container when the parent dies", function()
    local script = [[
      local nsbox = require "nsbox"
      local box = assert(nsbox.container { rootfs = ROOTFS, command = { "sleep", "60" } })
      assert(box:start())
      io.write(box.pid, "\n") io.flush()
      os.exit(0, false) -- the parent leaves without waiting
    ]]
    local p = io.popen("lua5.4 -e " .. H.sh_quote("ROOTFS=" .. string.format("%q", H.rootfs) .. " " .. script))
    local pid = tonumber(p:read("l"))
    p:close()
    assert.is_number(pid)
    os.execute("sleep 0.2")
    -- gone, or a zombie waiting for the host's init to reap it
    local state = H.proc_state(pid)
    assert.is_true(state == nil or state == "Z", "state " .. tostring(state))
  end)
end)
end

behaviours("a container", false)
behaviours("a container whose child re-executes the interpreter (reexec = true)", true)

describe("a process with threads", function()
  it("gets a re-executed child: a fork may not run Lua there", function()
    local dir = H.tmpdir("thread")
    finally(function() H.rm(dir) end)
    -- a preloaded library whose constructor starts a thread that sleeps
    local src = dir .. "/thread.c"
    local f = assert(io.open(src, "w"))
    f:write([[
#include <pthread.h>
#include <unistd.h>
static void *nap(void *a) { (void)a; for (;;) pause(); return 0; }
__attribute__((constructor)) static void start(void) { pthread_t t; pthread_create(&t, 0, nap, 0); }
]])
    f:close()
    assert(os.execute(string.format("cc -shared -fPIC -o %s/thread.so %s -lpthread", dir, src)))
    local script = string.format([[
      local core = require "nsbox.core"
      local ok, err, errno = core.spawn { fork = true }
      print(ok, err, errno)
      local box = assert(require("nsbox").container { rootfs = %q,
        command = { "hostname" }, hostname = "threaded" })
      print(box:run())
    ]], H.rootfs)
    local p = io.popen(string.format("LD_PRELOAD=%s/thread.so lua5.4 -e %s 2>&1", dir, H.sh_quote(script)))
    local out = p:read("a")
    p:close()
    assert.matches("^nil\tfork: this process has 2 threads: Device or resource busy\t16\n", out)
    assert.matches("\nthreaded\n", out)
    assert.matches("\n0\n$", out)
  end)
end)

describe("a process that runs a container without a network", function()
  it("never loads libmnl: core.rtnl (nsbox.rtnl) is loaded on first use", function()
    local script = string.format([[
      local nsbox = require "nsbox"
      assert(nsbox.container { rootfs = %q, command = { "true" } }:run() == 0)
      local function mnl()
        local f = io.open("/proc/self/maps") local maps = f:read("a") f:close()
        return maps:find("libmnl", 1, true) and "loaded" or "absent"
      end
      local before = mnl()
      local up = nsbox.core.rtnl.link_get { name = "lo" } ~= nil
      io.write(before, " ", mnl(), " ", tostring(up))
    ]], H.rootfs)
    local p = io.popen("lua5.4 -e " .. H.sh_quote(script) .. " 2>&1")
    local out = p:read("a")
    p:close()
    assert.equal("absent loaded true", out)
  end)
end)
