#!/usr/bin/env lua5.4
--- ns-process with netsetgo's network: the seed's final container.
--
-- On the host: bridge brg0 with 10.10.10.1/24 and veth0 attached to it. In the
-- container: veth1 with 10.10.10.2/24, a default route via 10.10.10.1, and
-- `ping 10.10.10.1` answers. When the shell exits, veth0 is gone; brg0 stays.
-- As root this changes the network namespace you run it in (try it under
-- `unshare -n`); unprivileged, it needs the setuid helper (make install-helper).
--
--   lua5.4 examples/ns-process-net.lua [ROOTFS] [COMMAND...]
--   unshare -n lua5.4 examples/ns-process-net.lua build/rootfs sh -c 'ip addr; ping -c 1 10.10.10.1'
local nsbox = require "nsbox"

local rootfs = arg[1] or "build/rootfs"
local command = { "/bin/sh" }
if arg[2] then command = { table.unpack(arg, 2) } end

local box = assert(nsbox.container {
  rootfs = rootfs,
  command = command,
  hostname = "ns-process",
  env = { PATH = "/bin:/sbin:/usr/bin:/usr/sbin", PS1 = "-[ns-process]- # " },
  network = { bridge = "brg0", gateway = "10.10.10.1", address = "10.10.10.2/24",
              host_interface = "veth0", interface = "veth1" },
})
local status, err = box:run()
if not status then
  io.stderr:write("nsbox: ", err, "\n")
  os.exit(125)
end
os.exit(status)
