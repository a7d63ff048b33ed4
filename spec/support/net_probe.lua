-- A networked container as an unprivileged user: lua5.4 net_probe.lua ROOTFS HELPER BRIDGE GATEWAY
-- Prints the container's output and "status=N", or "error=message".
local nsbox = require "nsbox"
require("nsbox.net").HELPER = arg[2]
-- net_raw: busybox's ping opens raw ICMP sockets only
local box = assert(nsbox.container { rootfs = arg[1], network = { bridge = arg[3] }, capabilities = { add = { "net_raw" } },
  command = { "/bin/sh", "-c", "ip -4 -o addr show eth0 | awk '{print \"addr=\" $4}'; " ..
    "ip route | grep default; ping -c 1 -W 2 " .. arg[4] .. " | grep -o '1 packets received'" } })
local st, err = box:run()
if st then print("status=" .. st) else print("error=" .. err) end
