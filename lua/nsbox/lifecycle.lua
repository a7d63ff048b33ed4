--- Containers after `nsbox run`: the monitor of a detached one (conmon's
-- role: it is the container's parent, holds its pidfd, logs its output,
-- records how it ended and tears down what it had), and the commands that
-- act on a container by name: logs, stop, kill, wait, rm, inspect.
-- Every refusal is an error naming the container and why; nothing changes then.
-- @module nsbox.lifecycle
local core = require "nsbox.core"
local state = require "nsbox.state"

local M = {}

local SIGNALS = { HUP = 1, INT = 2, QUIT = 3, KILL = 9, USR1 = 10, USR2 = 12, TERM = 15, CONT = 18, STOP = 19,
                  WINCH = 28 }

--- A signal as `kill` takes it: a number, or a name with or without SIG.
function M.signal(s)
  local n = math.tointeger(tonumber(s))
  if n and n >= 1 and n <= 64 then return n end
  n = SIGNALS[tostring(s):upper():gsub("^SIG", "")]
  if n then return n end
  return nil, "signal '" .. tostring(s) .. "': not a signal name (TERM, KILL, HUP, INT, ...) or number"
end

--- Run box detached: a monitor process of its own (its session, no terminal,
-- stdin /dev/null, stdout and stderr its log) starts it and reports back on
-- a pipe; this process returns once it has. keep: the entry stays after the
-- end (no --rm). stop_timeout: as a foreground run's.
-- @treturn integer|nil 0, or nil, message, the status (126/127: no exec)
function M.detach(box, keep, stop_timeout)
  local rd, wr = assert(core.pipe())
  local log, lerr = state.open_log({ name = box.name, id = box.id, log = true })
  if not log then
    core.close(rd) core.close(wr)
    return nil, lerr
  end
  local null = assert(core.openat(nil, "/dev/null", "read"))
  local pid, pidfd, errno = core.spawn { fork = true }
  if not pid then
    for _, fd in ipairs { rd, wr, log, null } do core.close(fd) end
    return nil, pidfd, errno
  end
  if pid == 0 then -- the monitor
    core.close(rd)
    core.setsid()
    for i, fd in ipairs { null, log, log } do core.dup2(fd, i - 1) end
    local r = box.recipe
    r.stdio = { null, log, log }
    local adir
    if type(r.tty) == "table" then -- nsbox attach connects here
      r.tty.input = false
      adir = state.attach_dir()
      box.attach_listen = adir and core.unix_listen(adir, box.id) or nil
    end
    box.detached, box.keep_entry, box.record = true, keep, true
    local ok, err = box:start()
    if not ok then
      if box.attach_listen then core.unlinkat(adir, box.id) end
      core.write(wr, string.format("%d %s", box.status or 125, err or "the start failed"))
      state.remove(box.name, box.id)
      core._exit(1)
    end
    core.write(wr, "ok")
    core.close(wr)
    local _, note = box:wait { stop_timeout = stop_timeout }
    if note then io.stderr:write("nsbox: ", note, "\n") end
    if box.attach_listen then core.unlinkat(adir, box.id) end
    core._exit(0)
  end
  core.close(pidfd)
  for _, fd in ipairs { wr, log, null } do core.close(fd) end
  local said = core.read_all(rd) or ""
  core.close(rd)
  if said == "ok" then return 0 end
  state.remove_log { name = box.name, id = box.id, log = true } -- its entry was never (or is no longer) its own
  local st, msg = said:match("^(%d+) (.*)$")
  if not st then return nil, "the monitor ended without a report" end
  return nil, msg, tonumber(st)
end

-- The entry of a container by name (or pid), ended ones too.
local function find(what)
  return state.find(what, true)
end

-- A pidfd of pid if it still is the process of that start time, else nil.
local function pidfd_of(pid, start)
  if not pid or not start then return nil end
  local fd = core.pidfd_open(pid)
  if fd and state.starttime(pid) ~= start then
    core.close(fd)
    return nil
  end
  return fd
end

-- Wait for a detached container's monitor to have ended: it records the status,
-- then goes. (A foreground run's or a script's nsbox lives on past its container.)
local function owner_done(e, ms)
  if not e.detached then return true end
  local fd = pidfd_of(e.owner, e.owner_start)
  if not fd then return true end
  local ended = core.pidfd_ended(fd, ms or -1)
  core.close(fd)
  return ended
end

local function not_running(e)
  if not e.exited then return "container " .. e.name .. " is not running" end
  return string.format("container %s is not running (it exited with status %s)", e.name, tostring(e.status))
end

--- Stop a container: SIGTERM (or sig), SIGKILL after timeout seconds; returns once it has ended.
function M.stop(what, timeout, sig)
  local e, err = find(what)
  if not e then return nil, err end
  local fd = state.running(e) and pidfd_of(e.pid, e.starttime)
  if not fd then return nil, not_running(e) end
  core.kill(fd, sig or core.SIGTERM)
  if not core.pidfd_ended(fd, math.floor(timeout * 1000)) then
    core.kill(fd, core.SIGKILL)
    core.pidfd_ended(fd, -1)
  end
  core.close(fd)
  owner_done(e, 10000)
  return e
end

--- Send a signal to a running container.
function M.kill(what, sig)
  local e, err = find(what)
  if not e then return nil, err end
  local fd = state.running(e) and pidfd_of(e.pid, e.starttime)
  if not fd then return nil, not_running(e) end
  local ok, kerr = core.kill(fd, sig)
  core.close(fd)
  if not ok then return nil, kerr end
  return e
end

--- Wait for a container to end: its status (a detached one's, recorded by its monitor).
function M.wait(what)
  local e, err = find(what)
  if not e then return nil, err end
  if not e.exited then
    local fd = pidfd_of(e.pid, e.starttime)
    if fd then core.pidfd_ended(fd, -1) core.close(fd) end
    owner_done(e)
    local after = state.find(e.name, true)
    if not (after and after.id == e.id and after.exited) then
      if e.detached then return nil, "container " .. e.name .. " has ended and was removed (--rm or nsbox rm)" end
      return nil, "container " .. e.name .. " has ended; its status went to the nsbox run or the script that " ..
        "started it (only a detached one's, -d, is kept)"
    end
    e = after
  end
  return e.status
end

--- Remove an ended container's entry and log; force: stop a running one first (SIGKILL).
function M.rm(what, force)
  local e, err = find(what)
  if not e then return nil, err end
  if not e.exited then
    if not force then
      return nil, "container " .. e.name .. " is running: stop it first (nsbox stop " .. e.name .. ") or rm -f"
    end
    local fd = pidfd_of(e.pid, e.starttime)
    if fd then
      core.kill(fd, core.SIGKILL)
      core.pidfd_ended(fd, -1)
      core.close(fd)
    end
    owner_done(e, 10000)
  end
  state.remove(e.name, e.id)
  return e
end

--- The entry of a container as JSON, with its state: "running" or "exited" and the status.
function M.inspect(what)
  local e, err = find(what)
  if not e then return nil, err end
  local out = {}
  for k, v in pairs(e) do out[k] = v end
  out.state = e.exited and "exited" or "running"
  out.owner, out.owner_start, out.starttime, out.exited, out.interpreter, out.flags = nil, nil, nil, nil, nil, nil
  if e.exited then out.pid = nil end
  return state.json.encode(out)
end

--- Attach the caller's terminal (in, out) to a detached container started with
-- -t: its screen and its keys, through its monitor, until it ends (its status)
-- or Ctrl-P Ctrl-Q detaches ("detached").
function M.attach(what, input, out)
  local e, err = find(what)
  if not e then return nil, err end
  if e.exited then return nil, not_running(e) end
  if not (e.detached and e.recipe and e.recipe.tty) then
    return nil, "container " .. e.name .. " was not started detached with a terminal (-d -t): nothing to attach to"
  end
  local owner = pidfd_of(e.owner, e.owner_start)
  if not owner then return nil, not_running(e) end
  local adir, aerr = state.attach_dir()
  local sock = adir and core.unix_connect(adir, e.id)
  if adir then core.close(adir) end
  if not sock then
    core.close(owner)
    return nil, "container " .. e.name .. ": its monitor takes no attach: " .. tostring(aerr or "no socket")
  end
  local tty = require "nsbox.tty"
  local saved = core.isatty(input) and tty.raw({ input = true }, { stdio = { input, out } })
  local ok, how = pcall(core.wait, owner, { core.SIGTERM, core.SIGHUP, core.SIGINT }, { watch = true,
    relay = { { from = input, to = sock, detach = true }, { from = sock, to = out, out = true } } })
  tty.restore(saved or nil)
  core.close(sock)
  if not ok then core.close(owner) error(how, 0) end
  if how == "detached" or how == "signalled" then core.close(owner) return how end
  local ended = core.pidfd_ended(owner, 2000)
  core.close(owner)
  if not ended then return nil, "container " .. e.name .. ": the attach was closed" end
  return M.wait(e.name)
end

--- Copy a detached container's log to fd out; follow: and what comes, until it has ended.
function M.logs(what, follow, out)
  local e, err = find(what)
  if not e then return nil, err end
  local fd, lerr = state.open_log(e, "read")
  if not fd then return nil, lerr end
  local owner = follow and not e.exited and pidfd_of(e.owner, e.owner_start)
  while true do
    local s = core.read_some(fd, 65536, 0)
    if s and #s > 0 then
      core.write(out, s)
    elseif not owner then
      break
    elseif core.pidfd_ended(owner, 200) then
      core.close(owner)
      owner = nil -- one last read: what it wrote before it went
    end
  end
  core.close(fd)
  return e
end

return M
