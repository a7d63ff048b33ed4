-- Shared spec helpers: run containers and capture what they print, count what a
-- process holds, run a probe script as an unprivileged uid, make temporary
-- directories, read /proc and `ip -j`, mark what needs root as pending.
local nsbox = require "nsbox"
local core = nsbox.core
local json = require "cjson"

local H = {}

H.nsbox, H.core = nsbox, core
H.root = assert(core.realpath("."))
H.rootfs = H.root .. "/build/rootfs"
-- root of the machine: uid 0 in the initial user namespace (rtnl_spec, run by
-- another user, moves this process into a user namespace where it is uid 0)
H.is_root = core.geteuid() == 0 and (function()
  local f = assert(io.open("/proc/self/uid_map"))
  local map = f:read("a")
  f:close()
  return map:match("^%s*0%s+0%s+4294967295%s*$") ~= nil
end)()

local function sh_quote(s)
  return "'" .. s:gsub("'", "'\\''") .. "'"
end
H.sh_quote = sh_quote

--- The environment a shell line needs to load nsbox from a tree (default this
-- checkout): "LUA_PATH='...' LUA_CPATH='...'".
function H.lua_env(tree)
  tree = tree or H.root
  return "LUA_PATH=" .. sh_quote(tree .. "/lua/?.lua;" .. tree .. "/lua/?/init.lua;;") ..
    " LUA_CPATH=" .. sh_quote(tree .. "/lua/?.so;;")
end
H.LUA_ENV = H.lua_env()
-- `busted --lua=lua5.4 spec/...` by hand: .busted puts lua/ on this process's
-- paths, and the interpreters the specs start inherit the same from here.
if not os.getenv("LUA_PATH") then
  core.setenv("LUA_PATH", H.root .. "/lua/?.lua;" .. H.root .. "/lua/?/init.lua;;")
  core.setenv("LUA_CPATH", H.root .. "/lua/?.so;;")
end

-- busted's pending() where the caller runs: in a test (the running test's
-- element, a local of busted's frames, holds it) it ends the test as pending;
-- in a describe block (its function's environment holds it) it adds a pending entry.
local function spec_pending()
  for level = 3, 60 do
    local info = debug.getinfo(level, "f")
    if not info then break end
    for i = 1, 255 do
      local name, v = debug.getlocal(level, i)
      if not name then break end
      if name == "element" and type(v) == "table" and type(v.env) == "table" and v.env.pending then
        return v.env.pending
      end
    end
  end
  for level = 3, 60 do
    local info = debug.getinfo(level, "f")
    if not info then break end
    for i = 1, 255 do
      local name, v = debug.getupvalue(info.func, i)
      if not name then break end
      if name == "_ENV" and type(v) == "table" and v.pending then return v.pending end
    end
  end
  error("H.needs_root: call it from a test or a describe block")
end

--- Mark what follows as needing root: as another user, pending with the reason.
-- In a test that ends the test; in a describe block it returns true, and the
-- block returns before it declares its tests: `if H.needs_root(why) then return end`.
function H.needs_root(why)
  if H.is_root then return false end
  local pending, msg = spec_pending(), "needs root: " .. why
  if pending == require("busted").pending then -- a describe block's
    pending(msg)
    return true
  end
  return pending(msg) -- a tail call: busted names the caller's line, not this one
end

-- Every temporary directory of this run is under one base, so a spec can look
-- at mounts under what it made and nothing else of the machine.
local base = (function()
  local p = assert(io.popen("mktemp -d /tmp/nsbox-spec.XXXXXX"))
  local d = assert(p:read("l"), "mktemp failed")
  p:close()
  assert(os.execute("chmod 755 " .. sh_quote(d))) -- an unprivileged uid must reach the copies
  return d
end)()
H.TMP = base
-- removed when the Lua state closes (busted ends with os.exit(code, true))
H._tmp_guard = setmetatable({}, { __gc = function() os.execute("rm -rf " .. sh_quote(base)) end })

local function mktemp(opt, tag)
  local p = assert(io.popen("mktemp " .. opt .. sh_quote(base .. "/" .. (tag or "tmp") .. ".XXXXXX")))
  local path = p:read("l")
  p:close()
  return assert(path, "mktemp failed")
end

--- Recipe fields r plus in_place = true, and as root the identity maps that
-- mode needs (the container's root is the host's: it writes the image as it).
function H.in_place(r)
  r.in_place = true
  if core.geteuid() == 0 then
    r.uid_map = { inside = 0, outside = 0, count = 65536 }
    r.gid_map = { inside = 0, outside = 0, count = 65536 }
  end
  return r
end

--- A new temporary directory under H.TMP; tag names it. Mode 0755: a container
-- of root runs as ids of its own range, which must reach its image; private
-- (0700) for a state directory, which nsbox wants so.
function H.tmpdir(tag, private)
  local d = mktemp("-d ", tag)
  if not private then assert(os.execute("chmod 755 " .. sh_quote(d))) end
  return d
end

--- Remove directory trees (made by H.tmpdir).
function H.rm(...)
  for _, d in ipairs { ... } do os.execute("rm -rf " .. sh_quote(d)) end
end

--- Sleep s seconds (a fraction too), as the specs that wait for a process do.
function H.sleep(s) os.execute("sleep " .. s) end

--- A new empty temporary file under H.TMP; tag names it.
function H.tmpname(tag) return mktemp("", tag) end

--- A host shell command: true if it succeeded, its stdout and stderr together, its exit code.
function H.run(cmd)
  local p = assert(io.popen(cmd .. " 2>&1"))
  local out = p:read("a")
  local ok, _, code = p:close()
  return ok, out, code
end

--- The contents of a file, nil if it cannot be read.
function H.read_file(path)
  local f = io.open(path)
  if not f then return nil end
  local s = f:read("a")
  f:close()
  return s
end

--- Shell lines that show how each of paths (nsbox.rootfs.MASKED's) is masked, and
-- what they print when it is: a directory empty and not writable, a file the
-- character device 1:3 and empty. at(p) is the path the shell names for p (p
-- itself by default; nil skips it); paths this kernel lacks are left out. No
-- /dev/null in them: a racer may have made /dev a symlink.
function H.mask_checks(paths, at)
  local lines, expect = {}, {}
  for _, p in ipairs(paths) do
    local st, a = core.stat(p), (at or function(x) return x end)(p)
    if a and st and st.type == "directory" then
      lines[#lines + 1] = string.format("echo %s $(ls -A %s | wc -l) $(touch %s/x 2>&- || echo refused)",
        a, a, a)
      expect[#expect + 1] = a .. " 0 refused"
    elseif a and st then
      lines[#lines + 1] = string.format("echo %s $(stat -c %%F,%%t:%%T %s) $(wc -c < %s)", a, a, a)
      expect[#expect + 1] = a .. " character special file,1:3 0"
    end
  end
  return lines, expect
end

--- Exit code, stdout and stderr of a shell command line.
function H.run3(cmd)
  local errf = H.tmpname("err")
  local h = assert(io.popen(cmd .. " 2>" .. sh_quote(errf)))
  local out = h:read("a")
  local _, _, code = h:close()
  local err = H.read_file(errf)
  os.remove(errf)
  return code, out, err
end

--- A runner of bin/nsbox with NSBOX_STATE_DIR=state: function(args) returning
-- its stdout, its stderr and its exit status.
function H.cli(state)
  return function(args)
    local code, out, err = H.run3("NSBOX_STATE_DIR=" .. sh_quote(state) .. " " .. H.root .. "/bin/nsbox " .. args)
    return out, err, code
  end
end

--- Output of a host shell command.
function H.sh(cmd)
  local p = assert(io.popen(cmd, "r"))
  local out = p:read("a")
  p:close()
  return out
end

local function drain(fd)
  local s = assert(core.read_all(fd))
  core.close(fd)
  return s
end

--- Run a recipe (rootfs defaults to the test rootfs) and capture stdout and stderr.
-- @return status, stdout, stderr (status nil and the message on failure)
function H.capture(recipe, stdin_data)
  recipe.rootfs = recipe.rootfs or H.rootfs
  local out_r, out_w = assert(core.pipe())
  local err_r, err_w = assert(core.pipe())
  local in_r, in_w
  recipe.stdout, recipe.stderr = out_w, err_w
  if stdin_data then
    in_r, in_w = assert(core.pipe())
    recipe.stdin = in_r
  end
  local box, err = nsbox.container(recipe)
  if not box then
    for _, fd in ipairs { out_r, out_w, err_r, err_w, in_r, in_w } do core.close(fd) end
    return nil, err
  end
  local ok, serr = box:start()
  core.close(out_w)
  core.close(err_w)
  if in_r then
    core.close(in_r)
    if ok then core.write(in_w, stdin_data) end
    core.close(in_w)
  end
  local out, errs = drain(out_r), drain(err_r)
  if not ok then return box.status, serr, errs end
  return box:wait(), out, errs
end

--- Containers that run `sleep 60` on network net (or the recipe's own): running(recipe)
-- starts one and returns its box; stop() kills and reaps them all (an after_each).
function H.sleepers_on(net)
  local boxes = {}
  local function running(r)
    r.rootfs, r.network, r.command = H.rootfs, r.network or net, { "sleep", "60" }
    local box = assert(H.nsbox.container(r))
    assert(box:start())
    boxes[#boxes + 1] = box
    return box
  end
  local function stop()
    for _, b in ipairs(boxes) do b:kill(core.SIGKILL) b:wait() end
    boxes = {}
  end
  return running, stop
end

--- Run a shell command line inside a fresh container; returns status, stdout, stderr.
function H.run_sh(line, extra)
  local r = extra or {}
  r.command = { "/bin/sh", "-c", line }
  return H.capture(r)
end

--- Number of open fds of this process. Counted through a file, not a pipe:
-- a popen pipe would itself show up twice while the child starts.
function H.fd_count()
  collectgarbage()
  collectgarbage() -- file handles others dropped are closed by their finalizers
  local tmp = H.tmpname("fds")
  assert(os.execute("ls /proc/" .. core.getpid() .. "/fd > " .. tmp))
  local n = 0
  for _ in io.lines(tmp) do n = n + 1 end
  os.remove(tmp)
  return n
end

--- Number of children of this process.
function H.child_count()
  return tonumber(H.sh("ps -o pid= --ppid " .. core.getpid() .. " | wc -l")) - 1 -- minus the ps itself
end

--- The mounts of this process's mount namespace (the host's) at or under the
-- paths nsbox is handed in specs: the test rootfs and H.TMP, plus any given;
-- as mountinfo lines. Never the whole table: other programs mount too.
function H.host_mounts(...)
  local under = { H.rootfs, base, ... }
  local f = assert(io.open("/proc/self/mountinfo"))
  local keep = {}
  for line in f:lines() do
    local point = line:match("^%S+ %S+ %S+ %S+ (%S+)")
    for _, p in ipairs(under) do
      if point == p or point:sub(1, #p + 1) == p .. "/" then keep[#keep + 1] = line break end
    end
  end
  f:close()
  return table.concat(keep, "\n")
end

--- Fields of /proc/PID/stat, numbered as in proc(5) (3: state, 22: start time),
-- or nil if there is no such process.
function H.proc_stat(pid)
  local f = io.open("/proc/" .. pid .. "/stat")
  if not f then return nil end
  local s = f:read("a")
  f:close()
  local pid_, comm, rest = s:match("^(%d+) (%b()) (.*)$")
  if not pid_ then return nil end
  local t = { pid_, comm }
  for w in rest:gmatch("%S+") do t[#t + 1] = w end
  return t
end

--- The state letter of a process (R, S, Z, ...), nil if it is gone.
function H.proc_state(pid)
  local t = H.proc_stat(pid)
  return t and t[3]
end

-- lua-cjson reads every number as a float: whole ones back to integers, so that
-- "/" .. prefixlen is "/24", not "/24.0".
local function integers(v)
  if type(v) == "table" then
    for k, x in pairs(v) do v[k] = integers(x) end
    return v
  end
  return math.type(v) == "float" and math.tointeger(v) or v
end

--- JSON text decoded (lua-cjson, as nsbox itself), whole numbers as integers.
function H.json_decode(s)
  return integers(json.decode(s))
end

--- `ip -j ARGS`, decoded ({} when ip prints nothing); in the network namespace of pid if given.
function H.ipj(args, pid)
  local pre = pid and ("nsenter -t " .. pid .. " -n ") or ""
  local out = H.sh(pre .. "ip -j " .. args .. " 2>/dev/null")
  return out ~= "" and H.json_decode(out) or {}
end

--- The links of this network namespace (or of pid's), by name: `ip -j link`'s objects.
function H.links(pid)
  local t = {}
  for _, l in ipairs(H.ipj("link", pid)) do t[l.ifname] = l end
  return t
end

--- A world-readable copy of the Lua tree, bin/nsbox, the rootfs and the support
-- scripts, for running as an unprivileged uid; returns its directory.
function H.unprivileged_tree()
  if H._unpriv then return H._unpriv end
  local dir = H.tmpdir("unprivileged")
  assert(os.execute(string.format("cp -r %s/lua %s/bin %s/ && cp -a %s %s/rootfs && cp -r %s/spec/support %s/ && " ..
    "chmod -R a+rX %s", H.root, H.root, dir, H.rootfs, dir, H.root, dir, dir)))
  H._unpriv = dir
  return dir
end

--- Run a support script as uid/gid 65534 in the unprivileged tree; returns its stdout and exit status.
function H.run_unprivileged(script, ...)
  local dir = H.unprivileged_tree()
  local args = {}
  for _, a in ipairs { ... } do args[#args + 1] = sh_quote(a) end
  local cmd = string.format("cd %s && setpriv --reuid=65534 --regid=65534 --clear-groups " ..
    "env -i PATH=/usr/bin:/bin %s lua5.4 support/%s %s 2>&1", dir, H.lua_env(dir), script, table.concat(args, " "))
  local p = assert(io.popen(cmd, "r"))
  local out = p:read("a")
  local _, _, code = p:close()
  return out, code
end

function H.cleanup()
  if H._unpriv then H.rm(H._unpriv) H._unpriv = nil end
end

--- Run a host shell line against the process that joins box while the joined
-- command waits: a background shell finds the joiner (our child other than the
-- container, with the joined command as its child), then runs probe with $j its
-- pid and $BOX the container's. shared is a host directory the box has at /shared.
-- Returns the box:exec status and "joiner=PID\n" .. the probe's output .. "rc=N\n".
function H.joiner_probe(box, shared, probe)
  local monitor = string.format([[
    BOX=%d
    for i in $(seq 250); do
      for p in $(pgrep -P %d); do
        [ "$p" != $BOX ] && [ -n "$(pgrep -P $p)" ] && j=$p
      done
      [ -n "$j" ] && break
      sleep 0.02
    done
    echo "joiner=$j" > %s/result
    { %s ; } >> %s/result 2>&1; echo "rc=$?" >> %s/result
    touch %s/done]], box.pid, core.getpid(), shared, probe, shared, shared, shared)
  assert(os.execute("(" .. monitor .. ") >/dev/null 2>&1 &"))
  local st = box:exec { command = { "/bin/sh", "-c",
    "i=0; while [ ! -e /shared/done ] && [ $i -lt 500 ]; do sleep 0.02; i=$((i+1)); done" } }
  local f = assert(io.open(shared .. "/result"))
  local res = f:read("a")
  f:close()
  return st, res
end

--- Namespace inode of a process, e.g. H.ns_inode("self", "uts").
function H.ns_inode(pid, name)
  return core.readlink("/proc/" .. pid .. "/ns/" .. name)
end

--- Wait (up to 3 s) for a pid written to the file path, then for that process
-- to end (gone, or a zombie); returns the pid (nil if never written) and
-- whether it ended.
function H.await_exit(path)
  local pid
  for _ = 1, 60 do
    local f = io.open(path)
    pid = pid or (f and tonumber(f:read("a")))
    if f then f:close() end
    if pid then
      f = io.open("/proc/" .. pid .. "/stat")
      local text = f and f:read("a") -- nil when the process went between the open and the read
      local st = text and text:match("^%d+ %b() (%a)")
      if f then f:close() end
      if st == nil or st == "Z" then return pid, true end
    end
    os.execute("sleep 0.05")
  end
  return pid, false
end

return H
