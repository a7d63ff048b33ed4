-- Run a shell line in a container of a rootfs, with the recipe fields given as
-- arguments (k=v; rootfs=a,b for layers), and print its status, stdout and
-- stderr: the image specs run it as an unprivileged user and under
-- `unshare -m` (a private /etc/resolv.conf of the host).
-- Usage: lua5.4 image_probe.lua LINE [k=v ...]
local nsbox = require "nsbox"
local core = require "nsbox.core"

local r = { command = { "/bin/sh", "-c", arg[1] } }
for i = 2, #arg do
  local k, v = arg[i]:match("^([%w_]+)=(.*)$")
  if k == "rootfs" and v:find(",", 1, true) then
    r.rootfs = {}
    for l in v:gmatch("[^,]+") do r.rootfs[#r.rootfs + 1] = l end
  elseif k == "dns" then
    r.dns = { servers = { v } }
  else
    r[k] = (v == "true" and true) or v
  end
end
local out_r, out_w = assert(core.pipe())
local err_r, err_w = assert(core.pipe())
r.stdout, r.stderr = out_w, err_w
local box, err = nsbox.container(r)
if not box then
  print("refused: " .. err)
  os.exit(2)
end
local ok, serr = box:start()
core.close(out_w)
core.close(err_w)
local out, errs = core.read_all(out_r), core.read_all(err_r)
if not ok then
  print("start: " .. serr)
  os.exit(3)
end
io.write("status=", tostring(box:wait()), "\n", out, errs)
