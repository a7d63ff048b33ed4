-- Shared spec helpers: run containers and capture what they print, count what a
-- process holds, run a probe script as an unprivileged uid.
local nsbox = require "nsbox"
local core = nsbox.core

local H = {}

H.nsbox, H.core = nsbox, core
H.root = assert(core.realpath("."))
H.rootfs = H.root .. "/build/rootfs"

local function sh_quote(s)
  return "'" .. s:gsub("'", "'\\''") .. "'"
end
H.sh_quote = sh_quote

--- A host shell command: true if it succeeded, its stdout and stderr together, its exit code.
function H.run(cmd)
  local p = assert(io.popen(cmd .. " 2>&1"))
  local out = p:read("a")
  local ok, _, code = p:close()
  return ok, out, code
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
  local tmp = os.tmpname()
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

--- This machine's mount table, as text.
function H.host_mounts()
  local f = assert(io.open("/proc/1/mountinfo"))
  local s = f:read("a")
  f:close()
  return s
end

--- A world-readable copy of the Lua tree, the rootfs and the given support
-- script, for running as an unprivileged uid; returns its directory.
function H.unprivileged_tree()
  if H._unpriv then return H._unpriv end
  local dir = H.sh("mktemp -d /tmp/nsbox-spec.XXXXXX"):gsub("%s+$", "")
  assert(os.execute(string.format("cp -r %s/lua %s/ && cp -a %s %s/rootfs && cp -r %s/spec/support %s/ && chmod -R a+rX %s",
    H.root, dir, H.rootfs, dir, H.root, dir, dir)))
  H._unpriv = dir
  return dir
end

--- Run a support script as uid/gid 65534 in the unprivileged tree; returns its stdout and exit status.
function H.run_unprivileged(script, ...)
  local dir = H.unprivileged_tree()
  local args = {}
  for _, a in ipairs { ... } do args[#args + 1] = sh_quote(a) end
  local cmd = string.format("cd %s && setpriv --reuid=65534 --regid=65534 --clear-groups " ..
    "env -i PATH=/usr/bin:/bin LUA_PATH='lua/?.lua;lua/?/init.lua;;' LUA_CPATH='lua/?.so;;' " ..
    "lua5.4 support/%s %s 2>&1", dir, script, table.concat(args, " "))
  local p = assert(io.popen(cmd, "r"))
  local out = p:read("a")
  local _, _, code = p:close()
  return out, code
end

function H.cleanup()
  if H._unpriv then os.execute("rm -rf " .. sh_quote(H._unpriv)) H._unpriv = nil end
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
      local st = f and f:read("a"):match("^%d+ %b() (%a)")
      if f then f:close() end
      if st == nil or st == "Z" then return pid, true end
    end
    os.execute("sleep 0.05")
  end
  return pid, false
end

return H
