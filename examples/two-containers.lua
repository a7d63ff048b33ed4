#!/usr/bin/env lua5.4
--- Two containers on one bridge ping each other.
--
-- Starts box-a and box-b (each `sleep 60` on the busybox rootfs) attached to
-- bridge brg0 (gateway 10.10.10.1/24, made if missing); each gets a veth and
-- the next free address. Then runs a command in box-a, by joining its
-- namespaces with box:exec: by default `ping -c 1 <box-b's address>`. $PEER
-- holds box-b's address. Both boxes are killed at the end.
--
-- Needs root (or the setuid helper), and changes the network namespace it runs
-- in: run it in a throwaway one.
--   unshare -n sh -c 'ip link set lo up; lua5.4 examples/two-containers.lua'
--   unshare -n sh -c 'ip link set lo up; lua5.4 examples/two-containers.lua sh -c "ping -c 3 \$PEER"'
--   unshare -n sh -c 'ip link set lo up; lua5.4 examples/two-containers.lua /bin/sh'   -- a shell in box-a
--
-- You will see both boxes with their addresses, ping's output ending with
-- "1 packets transmitted, 1 packets received, 0% packet loss", and
-- "ping from box-a: status 0".
-- From a checkout, find nsbox beside this script (no LUA_PATH needed).
local here = debug.getinfo(1, "S").source:match("^@(.-)[^/]*$")
assert(loadfile(here .. "checkout.lua"))(here)

local nsbox = require "nsbox"

io.stdout:setvbuf("line")
local rootfs = os.getenv("ROOTFS") or "build/rootfs"

local function start(name)
  local box = assert(nsbox.container {
    rootfs = rootfs, command = { "sleep", "60" }, hostname = name, name = name,
    env = { PS1 = "-[" .. name .. "]- # " },
    network = { bridge = "brg0", gateway = "10.10.10.1" },
    -- busybox's ping opens raw ICMP sockets only, and NET_RAW is not in the default set
    capabilities = { add = { "net_raw" } },
  })
  assert(box:start())
  print(string.format("%s: pid %d, address %s", name, box.pid, box.net.address))
  return box
end

local box_a, box_b = start("box-a"), start("box-b")
local peer = box_b.net.address:match("^[^/]+")
local command = #arg > 0 and { table.unpack(arg) } or { "ping", "-c", "1", "-W", "2", peer }
local status, err = box_a:exec { command = command, env = { PEER = peer, PS1 = "-[box-a]- # " } }
print(string.format("%s from box-a: status %s%s", command[1], tostring(status), err and (" " .. err) or ""))
for _, box in ipairs { box_a, box_b } do
  box:kill(nsbox.core.SIGKILL)
  box:wait()
end
os.exit(status or 125)
