-- One container running /bin/true through the Lua API, as a whole process:
--   lua5.4 bench/one.lua ROOTFS [rss]   ("rss": print the parent's and the child's peak RSS in KiB)
local nsbox = require "nsbox"
local box = assert(nsbox.container { rootfs = arg[1] or "build/rootfs", command = { "/bin/true" } })
local status = assert(box:run())
if arg[2] == "rss" then print(nsbox.core.maxrss("self"), nsbox.core.maxrss("children")) end
os.exit(status)
