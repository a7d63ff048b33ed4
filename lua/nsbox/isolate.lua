--- `network.isolate = true` (`--isolate`): the container reaches the internet
-- and its published ports work, but a flow it starts to the host's own
-- addresses or to the other IPv4 subnets the host is on (its LAN, other
-- bridges) is dropped: table inet nsbox's input and forward chains, rules
-- commented with their owner, removed when it ends (a SIGKILLed owner's at the
-- next attach, by nsbox.ports' sweep). Replies pass (its published ports
-- answer). The subnets are those of the host's addresses at attach.
-- @module nsbox.isolate
local core = require "nsbox.core"

local M = {}

local function lock(dir) return dir .. "/nft.lock" end

local function net_of(addr, prefix)
  local v = assert(core.ip4_parse(addr))
  local m = prefix == 0 and 0 or (0xffffffff << (32 - prefix)) & 0xffffffff
  v = v & m
  return string.format("%d.%d.%d.%d/%d", v >> 24 & 255, v >> 16 & 255, v >> 8 & 255, v & 255, prefix)
end

-- The host's IPv4 subnets but loopback's and the container's own.
local function host_subnets(own)
  local list, seen = {}, { [own] = true }
  for _, a in ipairs(core.rtnl.addrs { family = "inet" } or {}) do
    local s = net_of(a.address, a.prefixlen)
    if not s:match("^127%.") and not seen[s] then
      seen[s] = true
      list[#list + 1] = s
    end
  end
  return list
end

--- Isolate the container whose init is pid at addr on subnet gw/prefix:
-- { owner =, to = } to release, or nil, message.
function M.add(pid, addr, gw, prefix, dir)
  local nft, nat = require "nsbox.nft", require "nsbox.nat"
  local start = core.starttime(pid) -- none for a child that failed (a zombie)
  if not start then return nil, "network: the container ended during its setup", core.ESRCH end
  local owner = string.format("nsbox isolate pid=%d start=%s to=%s", pid, start, addr)
  local k = nat.known(nft)
  local ok, err = nft.isolate_add { owner = owner, address = addr, subnets = host_subnets(net_of(gw, prefix)),
                                    lock = lock(dir) }
  if not ok then return nil, "network.isolate: " .. err end
  nat.changed(nft, k)
  if k.owners then k.owners[owner] = true end
  return { owner = owner, to = addr }
end

--- Remove a container's isolation rules.
function M.release(iso, dir)
  local nft, nat = require "nsbox.nft", require "nsbox.nat"
  local k = nat.known(nft)
  local _, removed = nft.isolate_del { owner = iso.owner, lock = lock(dir) }
  if removed and removed > 0 then nat.changed(nft, k) end
  if k.owners then k.owners[iso.owner] = nil end
end

return M
