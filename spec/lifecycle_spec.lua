-- Containers after nsbox run: detached (-d) with a monitor, logs, stop, kill,
-- wait, ps -a, rm, inspect, --rm; a foreground run's signals and stop timeout;
-- library boxes with a name in the state; every bad input refused with nothing changed.
local H = require "spec.support.helpers"
local core = H.core

local STATE = H.tmpdir("lifecycle-state", true)
local nsbox = H.cli(STATE)
local NSBOX = "NSBOX_STATE_DIR=" .. STATE .. " " .. H.root .. "/bin/nsbox"

local function json(s) return require("cjson").decode(s) end

-- What the state directory holds: entries and logs.
local function held()
  local out = {}
  for _, d in ipairs { "containers", "logs" } do
    for _, n in ipairs(core.readdir(STATE .. "/" .. d) or {}) do out[#out + 1] = d .. "/" .. n end
  end
  table.sort(out)
  return out
end

local sleep = H.sleep

describe("nsbox run -d", function()
  teardown(function() H.rm(STATE) end)

  it("runs detached: prints the name, ps shows it, logs has its output, stop ends it, rm forgets it", function()
    local out, err, code = nsbox("run -d --name web sh -c 'echo started; trap \"echo bye; exit 3\" TERM; " ..
      "while :; do sleep 0.1; done'")
    assert.same({ "web\n", "", 0 }, { out, err, code })
    out = nsbox("ps")
    assert.matches("\nweb%s+%d+%s+%-%s+Up %d+s%s+sh %-c echo started", out)
    sleep(0.5)
    out, err, code = nsbox("logs web")
    assert.same({ "started\n", "", 0 }, { out, err, code })
    local e = json((nsbox("inspect web")))
    assert.equal("running", e.state)
    assert.equal("web", e.name)
    assert.same({ "sh", "-c" }, { e.command[1], e.command[2] })
    assert.equal(H.rootfs, e.recipe.rootfs)
    assert.is_number(e.pid)
    out, err, code = nsbox("stop web")
    assert.same({ "web\n", "", 0 }, { out, err, code })
    assert.equal("", ((nsbox("ps")):gsub("^NAME[^\n]*\n", ""))) -- the header only
    out = nsbox("ps -a")
    assert.matches("\nweb%s+%-%s+%-%s+Exited %(3%) %d+s ago", out)
    local _
    out, _, code = nsbox("wait web")
    assert.same({ "3\n", 3 }, { out, code })
    out = nsbox("logs web")
    assert.equal("started\nbye\n", out)
    e = json((nsbox("inspect web")))
    assert.same({ "exited", 3 }, { e.state, e.status })
    out, err, code = nsbox("rm web")
    assert.same({ "web\n", "", 0 }, { out, err, code })
    assert.same({}, held())
  end)

  it("stop kills a container that ignores SIGTERM after -t seconds (137)", function()
    assert.equal(0, select(3, nsbox("run -d --name stubborn sh -c 'trap \"\" TERM; while :; do sleep 0.1; done'")))
    sleep(0.3)
    local t0 = os.time()
    local out, _, code = nsbox("stop -t 1 stubborn")
    assert.same({ "stubborn\n", 0 }, { out, code })
    assert.is_true(os.time() - t0 >= 1)
    assert.same({ "137\n", "", 137 }, { nsbox("wait stubborn") })
    nsbox("rm stubborn")
    assert.same({}, held())
  end)

  it("logs -f follows until the container ends; wait returns its status; --rm leaves nothing", function()
    assert.equal(0, select(3, nsbox("run -d --rm --name follow sh -c 'for i in 1 2 3; do echo $i; sleep 0.3; done; exit 4'")))
    local out, _, code = nsbox("logs -f follow")
    assert.same({ "1\n2\n3\n", 0 }, { out, code })
    sleep(0.3)
    assert.same({}, held()) -- --rm: its entry and log went with it
    assert.equal("NAME", (nsbox("ps -a")):match("^(%S+)"))
  end)

  it("kill sends a signal by name or number", function()
    assert.equal(0, select(3, nsbox("run -d --name k sh -c 'trap \"exit 9\" USR1; while :; do sleep 0.1; done'")))
    sleep(0.3)
    assert.same({ "k\n", "", 0 }, { nsbox("kill k USR1") })
    assert.same({ "9\n", "", 9 }, { nsbox("wait k") })
    local _, err, code = nsbox("kill k TERM")
    assert.same({ "nsbox: container k is not running (it exited with status 9)\n", 125 }, { err, code })
    nsbox("rm k")
  end)

  it("refuses every bad input with exit 125 and changes nothing", function()
    assert.equal(0, select(3, nsbox("run -d --name busy sleep 100")))
    finally(function() nsbox("rm -f busy") end)
    assert.equal(0, select(3, nsbox("run -d --name done true")))
    sleep(0.5)
    local before = held()
    local cases = {
      { "logs nosuch", "no container named or with pid 'nosuch'" },
      { "stop nosuch", "no container named or with pid 'nosuch'" },
      { "rm nosuch", "no container named or with pid 'nosuch'" },
      { "wait nosuch", "no container named or with pid 'nosuch'" },
      { "inspect nosuch", "no container named or with pid 'nosuch'" },
      { "stop done", "container done is not running (it exited with status 0)" },
      { "rm busy", "container busy is running: stop it first (nsbox stop busy) or rm -f" },
      { "kill busy NOSIG", "signal 'NOSIG': not a signal name (TERM, KILL, HUP, INT, ...) or number" },
      { "stop -t x busy", "--time: 'x' is not a number of seconds >= 0" },
      { "run -d --name busy true", "name busy is in use" },
      { "run -d --name done true", "name done is in use by a container that has ended (nsbox rm done)" },
      { "run --rm true", "--rm: only with --detach (a foreground run leaves no entry)" },
      { "run --stop-timeout -1 true", "--stop-timeout: '-1' is not a number of seconds >= 0" },
    }
    for _, c in ipairs(cases) do
      local out, err, code = nsbox(c[1])
      assert.same({ "", "nsbox: " .. c[2] .. "\n", 125 }, { out, err, code }, c[1])
    end
    local _, err, code = nsbox("run --tty=maybe true")
    assert.same({ "nsbox: option '--tty' takes no value but true or false (try nsbox --help)\n", 125 }, { err, code })
    assert.same(before, held())
    -- logs of a container not started detached
    local p = io.popen(NSBOX .. " run --name fg sleep 2")
    sleep(0.7)
    _, err, code = nsbox("logs fg")
    assert.same({ "nsbox: container fg: it was not started detached (-d): no log\n", 125 }, { err, code })
    p:close()
    assert.same({ "done\n", "", 0 }, { nsbox("rm done") })
  end)

  it("keeps its entry and log its user's only: 0600 in 0700 directories", function()
    assert.equal(0, select(3, nsbox("run -d --name private true")))
    finally(function() nsbox("rm -f private") end)
    local e = json((nsbox("inspect private")))
    for path, mode in pairs { [STATE .. "/containers"] = 448, [STATE .. "/logs"] = 448,
                              [STATE .. "/containers/private"] = 384, [STATE .. "/logs/" .. e.id] = 384 } do
      local st = assert(core.stat(path))
      assert.equal(string.format("%o", mode), string.format("%o", st.mode), path)
    end
  end)

  it("its monitor takes its network down when it ends: no veth left", function()
    H.needs_root("a bridge in a network namespace of the spec's own")
    -- the veth goes with the container's network namespace (the kernel's clean-up, a moment after)
    local veths = "ip -o link | grep -c '^[0-9]*: nsb'"
    local out = H.sh("unshare -n sh -c " .. H.sh_quote(
      "ip link set lo up; " .. NSBOX .. " run -d --name netd --net bridge --gateway 10.77.0.1/24 sleep 2 >/dev/null; " ..
      veths .. "; " .. NSBOX .. " wait netd; for i in $(seq 40); do [ $(" .. veths .. ") = 0 ] && break; sleep 0.05; done; " ..
      veths .. "; " .. NSBOX .. " rm netd >/dev/null") .. " 2>&1")
    assert.equal("1\n0\n0\n", out) -- the veth while it runs, its status, no veth after
  end)

  it("50 at once: run -d, ps -a, stop and rm of all, nothing left", function()
    local names = {}
    for i = 1, 50 do names[i] = "many" .. i end
    finally(function()
      local cmd = {}
      for _, n in ipairs(names) do cmd[#cmd + 1] = NSBOX .. " rm -f " .. n .. " >/dev/null 2>&1 &" end
      os.execute(table.concat(cmd, " ") .. " wait")
    end)
    local cmd = {}
    for _, n in ipairs(names) do cmd[#cmd + 1] = NSBOX .. " run -d --name " .. n .. " sleep 100 >/dev/null &" end
    os.execute(table.concat(cmd, " ") .. " wait")
    local list = json((nsbox("ps -a --json")))
    local listed = {}
    for _, e in ipairs(list) do listed[#listed + 1] = e.name end
    assert.equal(50, #list, table.concat(listed, " "))
    local pids = {}
    for _, e in ipairs(list) do pids[#pids + 1] = { e.pid, H.core.starttime(e.pid) } end
    cmd = {}
    for _, n in ipairs(names) do cmd[#cmd + 1] = NSBOX .. " stop -t 2 " .. n .. " >/dev/null &" end
    os.execute(table.concat(cmd, " ") .. " wait")
    list = json((nsbox("ps -a --json")))
    assert.equal(50, #list)
    for _, e in ipairs(list) do assert.equal("exited", e.state) end
    cmd = {}
    for _, n in ipairs(names) do cmd[#cmd + 1] = NSBOX .. " rm " .. n .. " >/dev/null &" end
    os.execute(table.concat(cmd, " ") .. " wait")
    assert.same({}, held())
    for _, p in ipairs(pids) do assert.is_nil(H.core.starttime(p[1]) == p[2] or nil, "pid " .. p[1] .. " lives on") end
  end)
end)

describe("a foreground nsbox run", function()
  -- nsbox run with its stdout on a pipe, as a script runs it: its pid, and what it printed once it ends
  local function start(words)
    local out_r, out_w = assert(core.pipe())
    local err_r, err_w = assert(core.pipe())
    local argv = { H.root .. "/bin/nsbox", "run" }
    for _, w in ipairs(words) do argv[#argv + 1] = w end
    local env = { "NSBOX_STATE_DIR=" .. STATE, "PATH=/usr/sbin:/usr/bin:/sbin:/bin",
                  "LUA_PATH=" .. os.getenv("LUA_PATH"), "LUA_CPATH=" .. os.getenv("LUA_CPATH") }
    local pid, pidfd = assert(core.spawn { path = H.root .. "/bin/nsbox", argv = argv, env = env, stdout = out_w,
                                           stderr = err_w })
    core.close(out_w)
    core.close(err_w)
    return pidfd, function()
      local how, code = core.wait(pidfd)
      core.close(pidfd)
      local o, e = core.read_all(out_r), core.read_all(err_r)
      core.close(out_r)
      core.close(err_r)
      return how == "exited" and code or 128 + code, o, e
    end, pid
  end

  it("passes SIGTERM, SIGINT and SIGHUP on to the command", function()
    for sig, code in pairs { [core.SIGTERM] = 5, [core.SIGINT] = 6, [core.SIGHUP] = 7 } do
      local pidfd, finish = start { "sh", "-c", "trap 'exit 5' TERM; trap 'exit 6' INT; trap 'exit 7' HUP; " ..
        "while :; do sleep 0.1; done" }
      sleep(0.8)
      core.kill(pidfd, sig)
      assert.equal(code, (finish()))
    end
  end)

  it("gives the command /dev/null as stdin without -i, the caller's with it", function()
    assert.equal("\n", H.sh("echo x | " .. NSBOX .. " run sh -c 'cat; echo'"))
    assert.equal("y\n", H.sh("echo y | " .. NSBOX .. " run -i cat"))
  end)

  it("ends a command that ignores SIGTERM at the stop timeout: 137 and a note", function()
    local pidfd, finish = start { "--stop-timeout", "1", "sh", "-c", "trap '' TERM INT; while :; do sleep 0.1; done" }
    sleep(0.8)
    core.kill(pidfd, core.SIGTERM)
    local st, _, err = finish()
    assert.same({ 137, "nsbox: stopped: still running 1 s after it was asked to end, so killed\n" }, { st, err })
  end)

  it("nsbox --init: nsbox-init as the parent without a pid namespace", function()
    H.needs_root("the host's pid namespace shared, so the host's user namespace too")
    local out, err, code = nsbox("run --init --share pid --share user sh -c 'cat /proc/$PPID/comm'")
    assert.same({ "nsbox-init\n", "", 0 }, { out, err, code })
    out = nsbox("run --share pid --share user sh -c 'cat /proc/$PPID/comm'")
    assert.equal("lua5.4\n", out) -- without it, nsbox itself
  end)
end)

describe("library boxes with a name", function()
  it("are in nsbox ps while they run, and gone after", function()
    local old = os.getenv("NSBOX_STATE_DIR")
    core.setenv("NSBOX_STATE_DIR", STATE)
    finally(function() core.setenv("NSBOX_STATE_DIR", old) end)
    local box = assert(H.nsbox.container { rootfs = H.rootfs, name = "lib-box", command = { "sleep", "100" } })
    assert(box:start())
    assert.matches("\nlib%-box%s+" .. box.pid, (nsbox("ps")))
    assert.same({ "x\n", "", 0 }, { nsbox("exec lib-box echo x") })
    assert.same({ "lib-box\n", "", 0 }, { nsbox("stop -t 1 lib-box") })
    assert.equal(143, box:wait())
    assert.same({}, held())
    -- a box without a name stays out of the state
    local anon = assert(H.nsbox.container { rootfs = H.rootfs, command = { "true" } })
    assert.equal(0, anon:run())
    assert.same({}, held())
  end)

  it("an entry whose owner was killed is reaped at the next ps", function()
    local script = string.format([[
      local nsbox = require "nsbox"
      local box = assert(nsbox.container { rootfs = %q, name = "orphan", command = { "sleep", "100" } })
      assert(box:start())
      io.write("up\n") io.flush()
      require("nsbox.core").kill(require("nsbox.core").pidfd_open(require("nsbox.core").getpid()), 9)
    ]], H.rootfs)
    local out = H.sh("NSBOX_STATE_DIR=" .. STATE .. " " .. H.LUA_ENV .. " lua5.4 -e " .. H.sh_quote(script) ..
      " 2>/dev/null")
    assert.equal("up\n", out)
    sleep(0.3)
    assert.equal("NAME", (nsbox("ps -a")):match("^(%S+)"))
    assert.is_nil((nsbox("ps -a")):match("orphan"))
    assert.same({}, held())
  end)
end)
