-- Runs the seed's checks in containers and prints the results as one Lua table
-- literal; the unprivileged spec runs it as uid 65534. Usage: lua5.4 probe.lua ROOTFS
local nsbox = require "nsbox"
local core = nsbox.core
local channel = require "nsbox.channel"
local rootfs = assert(arg[1], "usage: probe.lua ROOTFS")

local function drain(fd)
  local s = assert(core.read_all(fd))
  core.close(fd)
  return s
end

-- Run a command; return status and stdout (or nil and the message).
local function run(command, extra, input)
  local r = extra or {}
  r.rootfs, r.command = rootfs, command
  local out_r, out_w = assert(core.pipe())
  local in_r, in_w = assert(core.pipe())
  r.stdout, r.stdin = out_w, in_r
  local box = assert(nsbox.container(r))
  local ok, err = box:start()
  core.close(out_w)
  core.close(in_r)
  if ok and input then core.write(in_w, input) end
  core.close(in_w)
  local out = drain(out_r)
  if not ok then return box.status, err end
  return box:wait(), out
end

local res = { uid = core.getuid(), euid = core.geteuid() }
res.hostname = select(2, run({ "hostname" }, { hostname = "unpriv" }))
res.id = select(2, run({ "/bin/sh", "-c", "id -u; id -g; cat /proc/self/setgroups" }))
res.mounts = select(2, run({ "cat", "/proc/mounts" }))
res.ps = select(2, run({ "ps", "-o", "pid,args" }))
res.stdin = select(2, run({ "tr", "a-z", "A-Z" }, nil, "piped\n"))
res.shm = select(2, run({ "cat", "/proc/sysvipc/shm" }))
res.codes = {}
for _, c in ipairs { 0, 3, 42 } do res.codes[#res.codes + 1] = run({ "/bin/sh", "-c", "exit " .. c }) end
local box = assert(nsbox.container { rootfs = rootfs, command = { "sleep", "30" } })
assert(box:start())
res.ns = {}
for _, ns in ipairs { "user", "mnt", "uts", "ipc", "pid", "net", "cgroup" } do
  res.ns[ns] = core.readlink("/proc/self/ns/" .. ns) ~= core.readlink("/proc/" .. box.pid .. "/ns/" .. ns)
end
do -- join it
  local r, w = assert(core.pipe())
  res.exec_status = box:exec { command = { "/bin/sh", "-c", "id -u; ps -o args | grep -c '^sleep 30'" }, stdout = w }
  core.close(w)
  res.exec = core.read(r, 4096)
  core.close(r)
end
box:kill(core.SIGKILL)
res.codes[#res.codes + 1] = box:wait()
io.write(channel.encode(res), "\n")
