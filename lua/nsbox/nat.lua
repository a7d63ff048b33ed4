--- Egress for a bridge network, as the seed's last stage did with iptables: the
-- bridge's subnet masqueraded (table inet nsbox, through nsbox.nft) and IPv4
-- forwarding on, in the network namespace that holds the bridge. Run by the
-- parent as root (net.attach); the setuid helper does the same for bridges its
-- config marks `nat`.
-- @module nsbox.nat
local core = require "nsbox.core"

local M = {}

M.FORWARD = "/proc/sys/net/ipv4/ip_forward"

-- Namespaces (by inode) whose other tables were looked at: warned once a process.
local looked = {}

-- What this process found in table inet nsbox, by network namespace: at which
-- ruleset generation (every committed change of any table moves it on, so while
-- it stands nothing changed), the subnets masqueraded, whether the ports' chains
-- are there, and the owners of port rules. One request instead of five per attach.
local known = {}

--- This namespace's entry of what is known, emptied if the ruleset changed since.
function M.known(nft)
  local ns = core.readlink("/proc/self/ns/net")
  local gen = nft.genid()
  local k = known[ns]
  if not gen or not k or k.gen ~= gen then
    k = { gen = gen, subnets = {} }
    known[ns] = k
  end
  return k
end

--- After a change of this process's own (one batch): what is known stays true if
-- no one else changed the ruleset meanwhile, else it is forgotten.
function M.changed(nft, k)
  local gen = nft.genid()
  if gen and k.gen and gen == k.gen + 1 then
    k.gen = gen
  else
    k.gen, k.subnets, k.ports, k.owners = nil, {}, nil, nil
  end
end

local function read_line(path)
  local f = io.open(path)
  if not f then return nil end
  local v = f:read("l")
  f:close()
  return v
end

-- IPv4 forwarding on, where it is off: true, or nil, message.
local function forwarding()
  if read_line(M.FORWARD) == "1" then return true end
  local f, err = io.open(M.FORWARD, "w")
  local ok = f and f:write("1")
  local closed, cerr = true, nil
  if f then closed, cerr = f:close() end
  if not (ok and closed) then
    return nil, "network.nat: cannot turn IPv4 forwarding on (" .. M.FORWARD .. "): " .. tostring(err or cerr)
  end
  return true
end

-- Another table's forward chain with policy drop wins over nsbox's rules (every
-- base chain on a hook runs): said on stderr, not overridden.
local function warn_drops(nft, bridge)
  local drops = nft.forward_drops()
  if not drops or #drops == 0 then return end
  local brnf = read_line("/proc/sys/net/bridge/bridge-nf-call-iptables") == "1"
  local one = #drops == 1
  io.stderr:write(string.format("nsbox: warning: network.nat: %s %s %s forwarded traffic by default " ..
    "(policy drop): the containers on bridge %s reach nothing past it unless a rule there accepts them " ..
    "(nsbox changes no table but its own)%s\n", one and "chain" or "chains", table.concat(drops, ", "),
    one and "drops" or "drop", bridge, brnf and "; br_netfilter is on (bridge-nf-call-iptables = 1), so " ..
    "it also sees the traffic between the containers on the bridge" or ""))
end

--- Masquerade the subnet gateway/prefix for anything outside it, and turn IPv4
-- forwarding on. `lock` is a file flock'ed meanwhile, so concurrent runs add the
-- rule once. A table inet nsbox that nsbox did not make is refused, with nothing
-- made. true, or nil, message naming network.nat, errno.
function M.enable(bridge, gateway, prefix, lock)
  local nft = require "nsbox.nft" -- loaded on first use: only egress needs libnftnl
  local k, subnet = M.known(nft), gateway .. "/" .. prefix
  if k.subnets[subnet] then return forwarding() end
  local ok, added, errno = nft.masquerade { subnet = subnet, lock = lock }
  local err
  if not ok then
    err = added
    if errno == core.EEXIST then
      return nil, "network.nat: table inet nsbox exists and was not made by nsbox: refused (nsbox changes " ..
        "no table of someone else's; remove it, or set network.nat = false)", errno
    end
    return nil, "network.nat: " .. err, errno
  end
  if added then M.changed(nft, k) end
  k.subnets[subnet] = true
  ok, err = forwarding() -- once the table is known to be ours: a refusal changes nothing
  if not ok then return nil, err end
  local ns = core.readlink("/proc/self/ns/net")
  if not looked[ns] then
    looked[ns] = true
    warn_drops(nft, bridge)
  end
  return true
end

return M
