-- The hardening checks of spec/hardening_spec.lua, run in containers by an
-- unprivileged uid; prints the results as one Lua table literal.
-- Usage: lua5.4 hardening_probe.lua ROOTFS
local nsbox = require "nsbox"
local core = nsbox.core
local channel = require "nsbox.channel"
local rootfs = assert(arg[1], "usage: hardening_probe.lua ROOTFS")

local function drain(fd)
  local s = assert(core.read_all(fd))
  core.close(fd)
  return s
end

-- Run a shell line; return its stdout and stderr together (or the start error).
local function sh(line, extra)
  local r = extra or {}
  r.rootfs, r.command = rootfs, { "/bin/sh", "-c", line }
  local out_r, out_w = assert(core.pipe())
  r.stdout, r.stderr = out_w, out_w
  local box, err = nsbox.container(r)
  if not box then core.close(out_r) core.close(out_w) return "container: " .. err end
  local ok, serr = box:start()
  core.close(out_w)
  local out = drain(out_r)
  if not ok then return "start: " .. serr end
  box:wait()
  return out
end

local STATUS = "grep -E '^(CapInh|CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs):' /proc/self/status"

local res = { uid = core.getuid() }
res.status = sh(STATUS)
res.status_nnp_off = sh(STATUS, { no_new_privs = false })
res.status_add_drop = sh(STATUS, { capabilities = { add = { "net_admin" }, drop = { "CAP_CHOWN" } } })
res.session = sh("cut -d' ' -f6 /proc/self/stat")
res.mounts = sh("cat /proc/mounts")
res.denied = sh("mount -t tmpfs none /tmp || echo mount refused; hostname other || echo hostname refused")
-- masked paths: a line per path that exists here
local checks = {}
for _, p in ipairs(require("nsbox.rootfs").MASKED) do
  local st = core.stat(p)
  if st and st.type == "directory" then
    checks[#checks + 1] = string.format("echo %s dir $(ls -A %s | wc -l)", p, p)
  elseif st then
    checks[#checks + 1] = string.format("echo %s file $(stat -c %%t:%%T %s) $(wc -c < %s)", p, p, p)
  end
end
res.masked = sh(table.concat(checks, "; "))
res.init_exe = sh("readlink /proc/1/exe || echo refused", { init = true })
do -- the joining process gets the same bounding set and no_new_privs
  local box = assert(nsbox.container { rootfs = rootfs, command = { "sleep", "30" } })
  assert(box:start())
  local r, w = assert(core.pipe())
  box:exec { command = { "/bin/sh", "-c", STATUS }, stdout = w, stderr = w }
  core.close(w)
  res.exec_status = drain(r)
  box:kill(core.SIGKILL)
  box:wait()
end
io.write(channel.encode(res), "\n")
