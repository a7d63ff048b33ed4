#!/usr/bin/env lua5.4
--- The README's tour: one container with a bind mount, a tmpfs and a bridge network.
-- As root it makes bridge brg0 in the network namespace it runs in: run it in a throwaway one.
--   unshare -n sh -c 'ip link set lo up; lua5.4 examples/tour.lua'
-- It prints the container's hostname, the files of /data (this examples/ directory, read-only),
-- the address of eth0, and "status 0".
local here = debug.getinfo(1, "S").source:match("^@(.-)[^/]*$")
assert(loadfile(here .. "checkout.lua"))(here)
-- The tour starts here.
local nsbox = require "nsbox"

local box = assert(nsbox.container {
  rootfs   = "build/rootfs",                   -- required
  command  = { "/bin/sh", "-c", "hostname; ls /data | head -2; ip -4 -o addr show eth0 | awk '{print $4}'" },
  env      = { PATH = "/bin:/sbin:/usr/bin" }, -- merged over PATH, HOME, HOSTNAME, TERM
  hostname = "ns-process",                     -- default: the container id
  mounts   = { { source = "examples", destination = "/data", readonly = true },
               { type = "tmpfs", destination = "/scratch" } },
  network  = { bridge = "brg0", gateway = "10.10.10.1", address = "10.10.10.2/24" },
})
local status, err = box:run()    -- the command's exit status (128+N if killed by signal N)
print("status " .. status, err)
os.exit(status)
