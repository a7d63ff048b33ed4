-- The setgroups checks of spec/ids_spec.lua, run in containers by an unprivileged
-- user; prints the results as one Lua table literal.
-- Usage: lua5.4 ids_probe.lua ROOTFS PROBE_DIR [SUBID]
--   own:   a map of the caller's own ids alone (root inside, written directly; the
--          default without /etc/subuid ranges)
--   SUBID: also uid and gid 1-65536 inside mapped from SUBID on (/etc/subuid and
--          /etc/subgid entries of the caller), written by newuidmap and newgidmap
local nsbox = require "nsbox"
local core = nsbox.core
local rootfs, probe_dir = assert(arg[1], "usage: ids_probe.lua ROOTFS PROBE_DIR [SUBID]"), assert(arg[2])
local subid = tonumber(arg[3])

-- Run a shell line with the probe at /run/ids_probe; its stdout and stderr, or the error.
local function sh(line, extra)
  local r = extra or {}
  r.rootfs, r.command = rootfs, { "/bin/sh", "-c", line }
  r.mounts = { { source = probe_dir, destination = "/run", readonly = true } }
  local out_r, out_w = assert(core.pipe())
  r.stdout, r.stderr = out_w, out_w
  local box, err = nsbox.container(r)
  if not box then core.close(out_r) core.close(out_w) return "container: " .. err end
  local ok, serr = box:start()
  core.close(out_w)
  local out = assert(core.read_all(out_r))
  core.close(out_r)
  if not ok then return out .. "start: " .. serr end
  box:wait()
  return out
end

local res = { uid = core.getuid(), gid = core.getgid() }
res.own = sh("cat /proc/self/setgroups; /run/ids_probe setgroups 0",
  { uid_map = { inside = 0, outside = res.uid, count = 1 }, gid_map = { inside = 0, outside = res.gid, count = 1 } })
if subid then
  local map = { { inside = 0, outside = res.uid, count = 1 }, { inside = 1, outside = subid, count = 65536 } }
  local gmap = { { inside = 0, outside = res.gid, count = 1 }, { inside = 1, outside = subid, count = 65536 } }
  res.subid = sh("id -u; id -g; cat /proc/self/setgroups; /run/ids_probe setgroups 1 2",
    { uid_map = map, gid_map = gmap })
end
local out = {}
for k, v in pairs(res) do out[#out + 1] = string.format("%s = %q", k, v) end
io.write("{ ", table.concat(out, ", "), " }\n")
