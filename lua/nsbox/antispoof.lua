--- Anti-spoofing at a container's bridge port (`network.antispoof`, on by
-- default as root): what the container sends into the bridge passes only from
-- its own MAC and leased address, as IPv4 or as ARP for them; the rest (another
-- container's or the gateway's address, another MAC, IPv6, a VLAN tag) is
-- dropped before the bridge learns or forwards it. Table bridge nsbox, one
-- chain per port commented with its owner, removed when it ends; a SIGKILLed
-- owner's go at the next add (nsbox.nft does both in one batch). The port is in
-- link group M.GROUP from its creation (nsbox.net): from one of that group
-- with no chain (not yet, or no more), everything is dropped.
-- @module nsbox.antispoof
local core = require "nsbox.core"

local M = {}

--- The link group of the ports nsbox guards (nft.h's NFT_PORT_GROUP).
M.GROUP = 28275

--- Guard the port (the host end of pid's veth) for mac and addr: the owner
-- comment to release it with, or nil, message, errno.
function M.add(pid, port, mac, addr, dir)
  local nft, nat = require "nsbox.nft", require "nsbox.nat"
  -- none for a child that failed and is a zombie: the caller reports the child's own error
  local start = core.starttime(pid)
  if not start then return nil, "network: the container ended during its setup", core.ESRCH end
  local owner = string.format("nsbox antispoof pid=%d start=%s port=%s to=%s", pid, start, port, addr)
  local k = nat.known(nft)
  local ok, err, errno = nft.antispoof_add { port = port, mac = mac, address = addr, owner = owner,
                                             lock = dir .. "/nft.lock" }
  if not ok then return nil, "network.antispoof: " .. err, errno end
  nat.changed(nft, k)
  return owner
end

--- Remove a port's guard.
function M.release(owner, dir)
  local nft, nat = require "nsbox.nft", require "nsbox.nat"
  local k = nat.known(nft)
  local _, removed = nft.antispoof_del { owner = owner, lock = dir .. "/nft.lock" }
  if removed and removed > 0 then nat.changed(nft, k) end
end

return M
