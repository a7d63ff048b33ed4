-- The pasta spec's side as an unprivileged uid (run from the unprivileged tree):
--   pasta_probe.lua run LINE              a container on pasta (dns: the spec's
--                                         internet) runs sh -c LINE: its output, "fds N"
--                                         (fds it left open), "status N"
--   pasta_probe.lua serve FIFO PORTS...   a container on pasta publishing PORTS
--                                         (HOST:CONTAINER[/udp]) runs busybox httpd on
--                                         80 and /www/udp on 9000; once both listen:
--                                         "up BOX NSBOX PASTA" (pids); a line read from
--                                         FIFO stops it: "status N"
-- Errors: "error: MESSAGE". ROOTFS: the image (default rootfs).
local nsbox = require "nsbox"
local core = nsbox.core

local mode = arg[1]
local base = { rootfs = os.getenv("ROOTFS") or "rootfs", network = "pasta", dns = { servers = { "198.51.100.1" } },
               mounts = { { source = assert(core.realpath(".")) .. "/www", destination = "/www" } } }

local function box_of(r)
  for k, v in pairs(base) do if r[k] == nil then r[k] = v end end
  local box, err = nsbox.container(r)
  if not box then print("error: " .. err) os.exit(1) end
  return box
end

-- Whether pid's network namespace has a listener on port (TCP LISTEN, or a bound UDP socket).
local function listens(pid, proto, port)
  local f = io.open("/proc/" .. pid .. "/net/" .. proto)
  local t = f and f:read("a") or ""
  if f then f:close() end
  return t:find(string.format(":%04X 0+:0000 %s", port, proto == "tcp" and "0A" or "07")) ~= nil
end

-- The pasta this process started: its child running passt.
local function pasta_pid()
  for _, name in ipairs(core.readdir("/proc")) do
    local pid = tonumber(name)
    local f = pid and io.open("/proc/" .. pid .. "/stat")
    local stat = f and f:read("a")
    if f then f:close() end
    local comm, ppid = (stat or ""):match("^%d+ %((.-)%) %a (%d+)")
    if comm and comm:match("^passt") and tonumber(ppid) == core.getpid() then return pid end
  end
end

-- This process's open fds: a container on pasta leaves none behind.
local function fds() return #core.readdir("/proc/self/fd") end

if mode == "run" then
  local before = fds()
  local r, w = assert(core.pipe())
  local box = box_of { command = { "/bin/sh", "-c", arg[2] .. " 2>&1" }, stdout = w }
  local ok, err = box:start()
  core.close(w)
  if not ok then print("error: " .. err) os.exit(1) end
  io.write(core.read_all(r))
  core.close(r)
  local st = box:wait()
  print("fds " .. (fds() - before))
  print("status " .. tostring(st))
elseif mode == "serve" then
  local ports = {}
  for i = 3, #arg do ports[#ports + 1] = assert(require("nsbox.ports").parse(arg[i])) end
  local box = box_of { ports = ports, command = { "/bin/sh", "-c",
    "busybox httpd -p 80 -h /www; exec /www/udp 9000" } }
  local ok, err = box:start()
  if not ok then print("error: " .. err) os.exit(1) end
  for _ = 1, 200 do
    if listens(box.pid, "tcp", 80) and listens(box.pid, "udp", 9000) then break end
    os.execute("sleep 0.05")
  end
  print(string.format("up %d %d %d", box.pid, core.getpid(), pasta_pid() or 0))
  io.stdout:flush()
  local f = assert(io.open(arg[2]))
  f:read("l")
  f:close()
  box:kill(core.SIGTERM)
  print("status " .. tostring(box:wait()))
end
