--- Anti-spoofing at a container's bridge port (`network.antispoof`, on by
-- default as root): what the container sends into the bridge passes only from
-- its own MAC and leased address, as IPv4 or as ARP for them; the rest (another
-- container's or the gateway's address, another MAC, IPv6, a VLAN tag) is
-- dropped before the bridge learns or forwards it. Table bridge nsbox, one
-- element per port in its set "guards" (ifindex . MAC . MAC . address),
-- commented with its owner, removed when it ends; the address's next holder
-- removes it too (map "owners"). A SIGKILLed owner's element is swept at one
-- add in 16. The port is in link group M.GROUP from its creation
-- (nsbox.net): from one of that group with no element (not yet, or no more),
-- everything is dropped.
-- @module nsbox.antispoof
local core = require "nsbox.core"

local M = {}

--- The link group of the ports nsbox guards (nft.h's NFT_PORT_GROUP).
M.GROUP = 28275

--- Guard the port (the host end of pid's veth) for mac and addr: the guard
-- to release ({ owner, index, mac, address }), or nil, message, errno.
function M.add(pid, port, mac, addr, dir)
  local nft, nat = require "nsbox.nft", require "nsbox.nat"
  -- none for a child that failed and is a zombie: the caller reports the child's own error
  local start = core.starttime(pid)
  if not start then return nil, "network: the container ended during its setup", core.ESRCH end
  local owner = string.format("nsbox antispoof pid=%d start=%s port=%s to=%s", pid, start, port, addr)
  local k = nat.known(nft)
  local ok, index, errno = nft.antispoof_add { port = port, mac = mac, address = addr, owner = owner,
                                               lock = dir .. "/nft.lock" }
  if not ok then return nil, "network.antispoof: " .. index, errno end
  nat.changed(nft, k)
  return { owner = owner, index = index, mac = mac, address = addr }
end

--- Remove a port's guard.
function M.release(guard, dir)
  local nft, nat = require "nsbox.nft", require "nsbox.nat"
  local k = nat.known(nft)
  local _, removed = nft.antispoof_del { index = guard.index, mac = guard.mac, address = guard.address,
                                         lock = dir .. "/nft.lock" }
  if removed and removed > 0 then nat.changed(nft, k) end
end

return M
