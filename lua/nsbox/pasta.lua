--- Rootless networking (`network = { mode = "pasta" }`): Debian's passt
-- package's pasta, started by nsbox for the container's network namespace and
-- ended with it. pasta copies the host's address and routes into a tap device
-- there (--config-net) and carries its traffic over ordinary sockets of the
-- caller's, so an unprivileged user gets egress and published ports with no
-- setuid helper and no change to the host.
--
-- pasta runs in the foreground as this process's child, with a parent-death
-- signal: it cannot outlive a nsbox that was SIGKILLed (given a pid, Debian's
-- pasta of 2023-03-09 does not quit when the namespace goes). Its readiness is
-- its pid file (-P), written once it has configured the namespace, to a FIFO
-- this process waits on beside pasta's pidfd: no polling. Its files are under
-- /tmp, where Debian's AppArmor profile lets pasta write, in a directory of
-- this process's (0700, a new random name), removed once pasta is ready.
-- @module nsbox.pasta
local core = require "nsbox.core"

local M = {}

M.PROGRAM = os.getenv("NSBOX_PASTA") or "pasta"
M.TIMEOUT = 10000 -- ms for pasta to get ready: it configures a namespace, it waits for nothing

--- The pasta program: its path, or nil and a message for network.mode.
function M.find()
  if M.PROGRAM:find("/", 1, true) then
    if core.executable(M.PROGRAM) then return M.PROGRAM end
  else
    for dir in (os.getenv("PATH") or "/usr/bin:/bin"):gmatch("[^:]+") do
      if core.executable(dir .. "/" .. M.PROGRAM) then return dir .. "/" .. M.PROGRAM end
    end
  end
  return nil, string.format("network.mode: pasta needs %s, not found (Debian: apt-get install passt)", M.PROGRAM)
end

-- pasta's -t/-u for the published ports: "[ADDR/]HOST:CONTAINER" each; all
-- addresses (no ADDR) for 0.0.0.0, so IPv6 is published too where the host has it.
local function port_args(argv, list)
  local spec = { tcp = {}, udp = {} }
  for _, p in ipairs(list or {}) do
    local addr = p.address ~= "0.0.0.0" and p.address .. "/" or ""
    table.insert(spec[p.protocol], string.format("%s%d:%d", addr, p.host, p.container))
  end
  for proto, opt in pairs { tcp = "-t", udp = "-u" } do
    if #spec[proto] == 0 then
      argv[#argv + 1], argv[#argv + 2] = opt, "none"
    else
      for _, s in ipairs(spec[proto]) do argv[#argv + 1], argv[#argv + 2] = opt, s end
    end
  end
end

-- What pasta logged (its reason when it failed), on one line.
local function log_of(dir)
  local fd = core.openat(dir, "log", "read")
  if not fd then return "" end
  local text = core.read_all(fd) or ""
  core.close(fd)
  text = text:gsub("%s+$", ""):gsub("\n", "; ")
  return text ~= "" and ": " .. text or ""
end

-- Until pasta has written its pid to the FIFO (true) or has ended (false, and why if known).
local function await_ready(fifo, pidfd, pid)
  local said = ""
  while true do
    local ready, err = core.ready({ fifo, pidfd }, M.TIMEOUT)
    if not ready then return false, err end
    if not next(ready) then return false, string.format("not ready after %d s", M.TIMEOUT // 1000) end
    if ready[2] and not ready[1] then return false end
    local chunk = core.read_some(fifo, 64, 0)
    said = said .. (chunk or "")
    -- its pid, whole (a line), or its writer closed without one; a pid is a few bytes: no endless wait
    if chunk == nil or said:find("\n") or #said > 32 then
      local got = tonumber(said:match("^%d+"))
      if got == pid then return true end
      return false, got and string.format("wrote pid %d, not its own %d", got, pid) or "no pid written"
    end
  end
end

--- Start pasta for the container whose init is pid, with n.ports published:
-- { pid =, pidfd = } once the namespace is configured, or nil and a message.
function M.start(pid, n)
  local path, err = M.find()
  if not path then return nil, err end
  -- a host port in use is named before pasta starts (pasta says only that it failed)
  if n.ports then
    local held, herr, herrno = require("nsbox.ports").hold(n.ports)
    if not held then return nil, herr, herrno end
    for _, fd in ipairs(held) do core.close(fd) end
  end
  local name = "/tmp/nsbox-pasta-" .. assert(core.random_hex(8))
  local ok, merr, errno = core.mkdirat(nil, name, tonumber("700", 8))
  if not ok then return nil, "network: pasta's directory: " .. merr, errno end
  local dir, derr, derrno = core.openat(nil, name, "dir")
  if not dir then os.remove(name) return nil, "network: pasta's directory: " .. derr, derrno end
  local function clean()
    core.unlinkat(dir, "pid")
    core.unlinkat(dir, "log")
    core.close(dir)
    os.remove(name)
  end
  local fifo
  ok, merr, errno = core.mkfifoat(dir, "pid")
  if ok then fifo, merr, errno = core.openat(dir, "pid", "read") end -- never blocks: no writer yet
  if not fifo then clean() return nil, "network: pasta's pid file: " .. merr, errno end
  -- -T/-U none: the container reaches none of the host's loopback ports; --no-map-gw:
  -- the gateway's address is the gateway, not the host
  local argv = { path, "--config-net", "--quiet", "--foreground", "--no-map-gw", "-T", "none", "-U", "none",
                 "--log-file", name .. "/log", "--pid", name .. "/pid" }
  port_args(argv, n.ports)
  argv[#argv + 1] = tostring(pid)
  local null, nerr, nerrno = core.openat(nil, "/dev/null", "read")
  if not null then core.close(fifo) clean() return nil, "network: pasta: " .. nerr, nerrno end
  local ppid, pidfd, serr = core.spawn { path = path, argv = argv, stdin = null, stdout = null, stderr = null,
                                         pdeathsig = core.SIGKILL, close_fds = true }
  core.close(null)
  if not ppid then
    core.close(fifo)
    clean()
    return nil, "network: pasta: " .. tostring(pidfd), serr
  end
  local ready, why = await_ready(fifo, pidfd, ppid)
  core.close(fifo)
  if not ready then
    core.kill(pidfd, core.SIGKILL)
    local how, code = core.wait(pidfd)
    core.close(pidfd)
    local said = log_of(dir)
    clean()
    return nil, string.format("network: pasta failed (%s)%s", why or (how .. " " .. tostring(code)), said)
  end
  clean()
  return { pid = ppid, pidfd = pidfd }
end

M.STOP_TIMEOUT = 2000 -- ms for pasta to go on SIGTERM before it is killed: a stopped one would hang the teardown

--- End pasta (the container has ended) and reap it.
function M.stop(p)
  core.kill(p.pidfd, core.SIGTERM)
  local gone = core.ready({ p.pidfd }, M.STOP_TIMEOUT)
  if not (gone and gone[1]) then core.kill(p.pidfd, core.SIGKILL) end
  core.wait(p.pidfd)
  core.close(p.pidfd)
end

return M
