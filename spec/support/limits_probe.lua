-- The resources spec runs this as uid 65534: a container with limits (or, with
-- "none", without) and what came of it. Usage: lua5.4 limits_probe.lua ROOTFS [none]
local nsbox = require "nsbox"
local r = { rootfs = arg[1], command = { "/bin/true" } }
if arg[2] ~= "none" then r.resources = { pids = 16 } end
local status, err = nsbox.container(r):run()
print(status or err)
