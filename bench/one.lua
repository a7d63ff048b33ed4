-- One container running /bin/true through the Lua API, as a whole process:
--   lua5.4 bench/one.lua ROOTFS [rss]   ("rss": print the parent's and the child's peak RSS in KiB)
local nsbox = require "nsbox"
local box = assert(nsbox.container { rootfs = arg[1] or "build/rootfs", command = { "/bin/true" } })
local status = assert(box:run())
if arg[2] == "rss" then
  package.cpath = (arg[0]:match("^(.*)/bench/") or ".") .. "/build/?.so;" .. package.cpath
  local maxrss = require("bench.clock").maxrss
  print(maxrss("self"), maxrss("children"))
end
os.exit(status)
