-- The state directory of nsbox run/ps/exec (issue 11): a name is taken atomically,
-- a dead or half-made entry never holds it, entries are JSON (lua-cjson) files of
-- mode 0600 in directories only their user reaches, and a zombie is not running.
local H = require "spec.support.helpers"
local cjson = require "cjson"
local core = H.core
local q = H.sh_quote

local STATE = H.tmpdir("state", true)
local NSBOX = "NSBOX_STATE_DIR=" .. STATE .. " " .. H.root .. "/bin/nsbox"

local nsbox = H.cli(STATE) -- stdout, stderr and exit status of an nsbox command line
local read = H.read_file

-- `nsbox ps --json`, decoded: name -> row; and how many rows.
local function ps()
  local out, err, code = nsbox("ps --json")
  assert(code == 0, err)
  local rows = {}
  local list = H.json_decode(out)
  for _, r in ipairs(list) do rows[r.name] = r end
  return rows, #list
end

-- Poll (every 20 ms, up to about 10 s) until pred() is true; returns whether it was.
local function until_true(pred)
  for _ = 1, 500 do
    if pred() then return true end
    os.execute("sleep 0.02")
  end
  return false
end

-- Start `nsbox run --name NAME sleep 30` in the background; returns the pid of
-- the nsbox process (the shell execs it).
local function run_bg(name, extra)
  local p = assert(io.popen(("%s run --name %s %s sleep 30 >/dev/null 2>&1 & echo $!")
    :format(NSBOX, name, extra or "")))
  local pid = tonumber(p:read("l"))
  p:close()
  return pid
end

-- Five `nsbox run --name NAME sleep 30` let go at once (each waits for one file).
-- Returns the directory where each writes err.I (its stderr) and rc.I (its exit status).
local function five_at_once(name)
  local d = H.tmpdir("five")
  assert(os.execute(("for i in 1 2 3 4 5; do (until [ -e %s/go ]; do sleep 0.005; done; " ..
    "%s run --name %s sleep 30 >/dev/null 2>%s/err.$i; echo $? > %s/rc.$i.tmp; mv %s/rc.$i.tmp %s/rc.$i) & done")
    :format(q(d), NSBOX, name, q(d), q(d), q(d), q(d))))
  os.execute("sleep 0.2; touch " .. q(d) .. "/go")
  return d
end

-- The exit statuses written so far in a five_at_once directory: i -> status; how many.
local function statuses(d)
  local rc, n = {}, 0
  for i = 1, 5 do
    rc[i] = tonumber(read(d .. "/rc." .. i) or "")
    if rc[i] then n = n + 1 end
  end
  return rc, n
end

-- Of five at once: exactly one runs (ps shows it), four exit 125 saying the name is
-- in use; once the one ends, the name is free again and nothing is left behind.
local function exactly_one_wins(name)
  local d = five_at_once(name)
  finally(function() H.rm(d) end)
  until_true(function() return select(2, statuses(d)) >= 4 end)
  os.execute("sleep 0.3") -- a fifth would have ended by now too
  local rc = statuses(d)
  local losers, winner = 0, nil
  for i = 1, 5 do
    if rc[i] then
      assert.equal(125, rc[i])
      assert.equal("nsbox: name " .. name .. " is in use\n", read(d .. "/err." .. i))
      losers = losers + 1
    else
      winner = i
    end
  end
  assert.equal(4, losers)
  local rows, n = ps()
  local row = rows[name]
  assert.is_table(row, "ps does not show " .. name)
  assert.same({ "sleep", "30" }, row.command)
  assert.equal(1, n)
  -- the one ends (its command killed): its entry goes, the name is free again
  assert(os.execute("kill -KILL " .. row.pid))
  assert.is_true(until_true(function() return statuses(d)[winner] ~= nil end))
  assert.equal(137, statuses(d)[winner])
  assert.equal("[]\n", (nsbox("ps --json"))) -- the empty array, not {}
  local _, err, code = nsbox("run --name " .. name .. " true")
  assert.same({ "", 0 }, { err, code })
  assert.equal("", H.sh("ls -A " .. q(STATE .. "/containers")))
end

describe("nsbox state: a name", function()
  teardown(function() -- whatever a failed test left running: its command, then nsbox ends too
    for _, r in pairs(ps()) do os.execute("kill -KILL " .. r.pid) end
  end)

  it("is taken by one of five runs started at once; the others exit 125 saying it is in use", function()
    exactly_one_wins("st-dup")
  end)

  it("is not held by the entry of a killed nsbox, of a reused pid, or a half-written one", function()
    local owner = run_bg("st-stale")
    assert.is_true(until_true(function() return ps()["st-stale"] ~= nil end))
    assert(os.execute("kill -KILL " .. owner)) -- nsbox dies; its container with it; the entry stays
    assert.is_true(until_true(function() return not core.stat("/proc/" .. owner) end))
    assert.truthy(core.stat(STATE .. "/containers/st-stale"))
    local _, err, code = nsbox("run --name st-stale true")
    assert.same({ "", 0 }, { err, code })
    -- an entry whose pids are alive but are other processes now (their start times differ)
    local me, start = core.getpid(), core.starttime(core.getpid())
    local f = assert(io.open(STATE .. "/containers/st-reused", "w"))
    f:write(cjson.encode { name = "st-reused", id = "0", pid = me, starttime = start + 1,
                           owner = me, owner_start = start + 1, started = os.time(), command = { "x" } })
    f:close()
    -- a file cut short, and a claim never finished (nsbox killed while writing it)
    f = assert(io.open(STATE .. "/containers/st-half", "w"))
    f:write('{"name":"st-half","pi')
    f:close()
    f = assert(io.open(STATE .. "/containers/.st-half.tmp", "w"))
    f:write('{"name":"st-half","owner":1')
    f:close()
    for _, name in ipairs { "st-reused", "st-half" } do
      local _, e, c = nsbox("run --name " .. name .. " true")
      assert.same({ "", 0 }, { e, c }, name)
    end
    assert.same({}, ps())
    assert.equal("", H.sh("ls -A " .. q(STATE .. "/containers")))
  end)

  it("is taken by one of five at once even when a stale entry holds it (no two remove it and win)", function()
    local dead = tonumber(H.sh("sh -c 'echo $$'"))
    local f = assert(io.open(STATE .. "/containers/st-race", "w"))
    f:write(cjson.encode { name = "st-race", id = "0", pid = dead, starttime = 1, owner = dead,
                           owner_start = 1, started = os.time(), command = { "x" } })
    f:close()
    exactly_one_wins("st-race")
  end)

  it("is won once of 300 stale names that five processes claim at once", function()
    local dir, names = H.tmpdir("race-state", true), 300
    finally(function() H.rm(dir) end)
    local dead = tonumber(H.sh("sh -c 'echo $$'"))
    assert(os.execute("mkdir -m 0700 " .. q(dir .. "/containers")))
    for i = 1, names do
      local f = assert(io.open(dir .. "/containers/r" .. i, "w"))
      f:write(cjson.encode { name = "r" .. i, id = "0", pid = dead, starttime = 1, owner = dead, owner_start = 1 })
      f:close()
    end
    local racer = ([[
      local s = require "nsbox.state"
      while not io.open("%s/go") do end
      local won = {}
      for i = 1, %d do
        if s.save { name = "r" .. i, id = os.getenv("ID") } then won[#won + 1] = i end
      end
      io.write(table.concat(won, " "))
      io.stdout:flush()
      -- a winner that ended would free its names: all stay until all are done
      io.open("%s/done." .. os.getenv("ID"), "w"):close()
      for i = 1, 5 do
        while not io.open("%s/done." .. i) do os.execute("sleep 0.01") end
      end]]):format(dir, names, dir, dir)
    assert(os.execute(("for i in 1 2 3 4 5; do ID=$i NSBOX_STATE_DIR=%s %s lua5.4 -e %s > %s/won.$i & done; " ..
      "sleep 0.3; touch %s/go; wait"):format(q(dir), H.LUA_ENV, q(racer), q(dir), q(dir))))
    local wins = {}
    for i = 1, 5 do
      for n in read(dir .. "/won." .. i):gmatch("%d+") do wins[#wins + 1] = tonumber(n) end
    end
    table.sort(wins)
    local want = {}
    for i = 1, names do want[i] = i end
    assert.same(want, wins)
  end)
end)

describe("nsbox state: a zombie", function()
  it("is not listed by ps nor joined by exec", function()
    local owner = run_bg("st-zombie")
    finally(function() os.execute("{ kill -CONT " .. owner .. "; kill -KILL " .. owner .. "; } 2>/dev/null") end)
    assert.is_true(until_true(function() return ps()["st-zombie"] ~= nil end))
    local pid = ps()["st-zombie"].pid
    -- its parent (nsbox) stopped, so it never reaps: the command killed stays a zombie
    assert(os.execute("kill -STOP " .. owner .. " && kill -KILL " .. pid))
    assert.is_true(until_true(function() return H.proc_state(pid) == "Z" end))
    assert.is_nil(ps()["st-zombie"])
    local _, err, code = nsbox("exec st-zombie true")
    assert.same({ "nsbox: no running container named or with pid 'st-zombie'\n", 125 }, { err, code })
    -- let go, nsbox reaps it, ends, and its entry goes
    assert(os.execute("kill -CONT " .. owner))
    assert.is_true(until_true(function() return not core.stat("/proc/" .. owner) end))
    assert.equal("", H.sh("ls -A " .. q(STATE .. "/containers")))
  end)

  it("is not running when its entry is saved after the command ended", function()
    core.setenv("NSBOX_STATE_DIR", STATE)
    local state = require "nsbox.state"
    local pid, pidfd = assert(core.spawn { path = "/bin/true", argv = { "true" } })
    finally(function()
      core.wait(pidfd)
      core.close(pidfd)
      state.remove("st-early", "e1")
      core.setenv("NSBOX_STATE_DIR", nil)
    end)
    assert.is_true(until_true(function() return H.proc_state(pid) == "Z" end))
    assert(state.save { name = "st-early", id = "e1", pid = pid, command = { "true" } })
    for _, e in ipairs(assert(state.list())) do assert.not_equal("st-early", e.name) end
  end)
end)

describe("nsbox state: JSON through lua-cjson", function()
  local state

  setup(function()
    core.setenv("NSBOX_STATE_DIR", STATE)
    state = require "nsbox.state"
  end)
  teardown(function() core.setenv("NSBOX_STATE_DIR", nil) end)

  it("has no hand-written encoder left", function()
    assert.is_nil(package.searchpath("nsbox.json", package.path))
  end)

  it("keeps both parts of a mixed table, and refuses inf and nan by name", function()
    assert.same({ a = 1, ["1"] = 2 }, cjson.decode(state.json.encode { a = 1, [1] = 2 }))
    for _, v in ipairs { math.huge, -math.huge, 0 / 0 } do
      local ok, err = pcall(state.json.encode, { age = v })
      assert.is_false(ok)
      assert.matches("Cannot serialise number: must not be NaN or Inf", err)
    end
    -- the library's own defaults are not changed for others in the process
    assert.equal(state.json.encode { 1, 2 }, cjson.encode { 1, 2 })
  end)

  it("stores an entry as JSON, read back whole by ps --json and exec", function()
    local value = 'quote" back\\slash / tab\tnl\n\1 \u{e9}'
    local owner = run_bg("st-json", "--env " .. q("V=" .. value))
    finally(function() os.execute("kill -KILL " .. owner .. " 2>/dev/null") end)
    assert.is_true(until_true(function() return ps()["st-json"] ~= nil end))
    local row = ps()["st-json"]
    assert.same({ "sleep", "30" }, row.command)
    assert.matches('"pid":' .. row.pid .. "[,}]", (nsbox("ps --json"))) -- an integer, not 123.0
    assert.is_true(row.age >= 0 and row.started <= os.time())
    local e = cjson.decode(read(STATE .. "/containers/st-json"))
    assert.same({ "st-json", row.pid, value }, { e.name, e.pid, e.env.V })
    local out, err, code = nsbox([[exec st-json sh -c 'printf "%s\n" "$V"']])
    assert.same({ value .. "\n", "", 0 }, { out, err, code })
  end)
end)

describe("nsbox state: the directories", function()
  if H.needs_root("makes directories of other owners, then runs as uid 65534") then return end
  local tree

  setup(function() tree = H.unprivileged_tree() end)
  teardown(H.cleanup)

  -- In a mount namespace of its own with an empty /tmp (the host's is not
  -- touched) and the Lua tree at /mnt: run the shell line setup as root, then
  -- as uid 65534 (env: its extra environment) try to save an entry.
  -- Returns what the probe printed and its exit status.
  local function as_nobody(setup_line, env)
    local probe = [[
      local s, c = require "nsbox.state", require "nsbox.core"
      local ok, err = s.save { name = "probe", id = "p1", pid = c.getpid() }
      if not ok then io.write("refused: ", err) os.exit(1) end
      local dir = assert(s.dir())
      local modes = {}
      for _, p in ipairs { dir:match("^(.*)/containers$"), dir, dir .. "/probe" } do
        local st = c.stat(p)
        modes[#modes + 1] = string.format("%s %04o %d", p, st.mode, st.uid)
      end
      io.write(table.concat(modes, "\n"))]]
    local cmd = ("unshare -m sh -c %s 2>&1"):format(q(
      "mount --bind " .. q(tree) .. " /mnt && mount -t tmpfs -o mode=1777 tmpfs /tmp && " .. setup_line ..
      " && umask 000 && setpriv --reuid=65534 --regid=65534 --clear-groups env -i PATH=/usr/bin:/bin " ..
      (env or "") .. " LUA_PATH='/mnt/lua/?.lua;/mnt/lua/?/init.lua;;' LUA_CPATH='/mnt/lua/?.so;;' lua5.4 -e " ..
      q(probe)))
    local p = assert(io.popen(cmd))
    local out = p:read("a")
    local _, _, code = p:close()
    return out, code
  end

  it("are made 0700, and an entry 0600 whatever the umask", function()
    local out, code = as_nobody("true")
    assert.equal(0, code, out)
    assert.equal("/tmp/nsbox-65534 0700 65534\n/tmp/nsbox-65534/containers 0700 65534\n" ..
                 "/tmp/nsbox-65534/containers/probe 0600 65534", out)
  end)

  it("are refused when another user owns one, one is a link, or one lets others in", function()
    local cases = {
      { "mkdir -m 0777 /tmp/nsbox-65534",
        "state directory /tmp/nsbox-65534: owned by uid 0, not by you (uid 65534)" },
      { "mkdir -m 0700 /tmp/mine && chown 65534:65534 /tmp/mine && ln -s /tmp/mine /tmp/nsbox-65534",
        "state directory /tmp/nsbox-65534: a symbolic link, not a directory" },
      { "mkdir -m 0755 /tmp/nsbox-65534 && chown 65534:65534 /tmp/nsbox-65534",
        "state directory /tmp/nsbox-65534: mode 0755 lets group or others in (must be 0700)" },
      { "mkdir -m 0700 /tmp/nsbox-65534 && chown 65534:65534 /tmp/nsbox-65534 && " ..
        "mkdir -m 0777 /tmp/nsbox-65534/containers",
        "state directory /tmp/nsbox-65534/containers: owned by uid 0, not by you (uid 65534)" },
      { "mkdir -m 0700 /tmp/nsbox-65534 /tmp/elsewhere && chown 65534:65534 /tmp/nsbox-65534 /tmp/elsewhere && " ..
        "ln -s /tmp/elsewhere /tmp/nsbox-65534/containers",
        "state directory /tmp/nsbox-65534/containers: a symbolic link, not a directory" },
      { "mkdir -m 0700 /tmp/xdg && chown 65534:65534 /tmp/xdg && mkdir -m 0777 /tmp/xdg/nsbox",
        "state directory /tmp/xdg/nsbox: owned by uid 0, not by you (uid 65534)", "XDG_RUNTIME_DIR=/tmp/xdg" },
      { "mkdir -m 0750 /tmp/given && chown 65534:65534 /tmp/given",
        "state directory /tmp/given: mode 0750 lets group or others in (must be 0700)", "NSBOX_STATE_DIR=/tmp/given" },
      { "touch /tmp/nsbox-65534 && chown 65534:65534 /tmp/nsbox-65534",
        "state directory /tmp/nsbox-65534: not a directory" },
    }
    for _, c in ipairs(cases) do
      local out, code = as_nobody(c[1], c[3])
      assert.same({ "refused: " .. c[2], 1 }, { out, code }, c[1])
    end
  end)
end)
