--- Published ports (`podman run -p`): the recipe's `ports` checked, the CLI's
-- `-p [ADDR:]HOST:CONTAINER[/udp]` read, and the ports published for a
-- container on a bridge as root: each host port held bound by this process
-- while it is published (a port in use is refused before anything is made),
-- DNAT rules in table inet nsbox commented with their owner, removed with
-- their conntrack entries when it ends, or by the next attach in that network
-- namespace when its nsbox was SIGKILLed.
-- @module nsbox.ports
local core = require "nsbox.core"
local validate = require "nsbox.validate"

local M = {}

M.MAX = 256 -- ports of one container: each is two rules, all in one batch

local FIELDS = { host = true, container = true, protocol = true, address = true, count = true }

local function bad(field, fmt, ...) validate.bad(field, fmt, ...) end

local function port(field, v, count)
  if math.type(v) ~= "integer" then bad(field, "integer expected, got %s", math.type(v) or type(v)) end
  if v < 1 or v + count - 1 > 65535 then
    bad(field, count > 1 and "%d-%d is out of range (1-65535)" or "%d is out of range (1-65535)", v, v + count - 1)
  end
  return v
end

local function check(list)
  if list == nil then return nil end
  if type(list) ~= "table" then bad("ports", "list expected, got %s", type(list)) end
  local out, seen, total = {}, {}, 0
  for i, p in ipairs(list) do
    local f = string.format("ports[%d]", i)
    if type(p) ~= "table" then bad(f, "table expected, got %s", type(p)) end
    for k in pairs(p) do
      if not FIELDS[k] then bad(f, "unknown field '%s' (host, container, protocol, address, count)", tostring(k)) end
    end
    local count = p.count or 1
    if math.type(count) ~= "integer" or count < 1 then bad(f .. ".count", "a positive integer expected") end
    local proto = p.protocol or "tcp"
    if proto ~= "tcp" and proto ~= "udp" then bad(f .. ".protocol", "'%s' is not tcp or udp", tostring(proto)) end
    local addr = p.address or "0.0.0.0"
    if type(addr) ~= "string" or not core.ip4_parse(addr) or addr:find("/", 1, true) then
      bad(f .. ".address", "'%s' is not an IPv4 address", tostring(addr))
    end
    local host = port(f .. ".host", p.host, count)
    local cport = port(f .. ".container", p.container == nil and host or p.container, count)
    total = total + count
    if total > M.MAX then bad("ports", "more than %d ports", M.MAX) end
    for k = 0, count - 1 do
      -- one host port once per protocol: a specific address overlaps 0.0.0.0
      local key = proto .. (host + k)
      local taken = seen[key] or {}
      if taken[addr] or taken["0.0.0.0"] or (addr == "0.0.0.0" and next(taken)) then
        bad(f .. ".host", "%d/%s is published twice", host + k, proto)
      end
      taken[addr], seen[key] = true, taken
      out[#out + 1] = { host = host + k, container = cport + k, protocol = proto, address = addr }
    end
  end
  if #out == 0 then return nil end
  return out
end

--- Check a recipe's ports: a list of { host =, container = (default host),
-- protocol = "tcp" or "udp" (default tcp), address = the host's address
-- (default "0.0.0.0": all of them, 127.0.0.1 included), count = N (a range of
-- N ports from host and container) }: the list with one entry per port, nil
-- for none, or nil and a message naming the field.
-- @function validate
M.validate = validate.validator(check)

--- Read `-p [ADDR:]HOST[-HOST2]:CONTAINER[-CONTAINER2][/udp|/tcp]` into a recipe entry, or nil, message.
function M.parse(s)
  local body, proto = s:match("^(.-)/(%a+)$")
  body, proto = body or s, proto or "tcp"
  local parts = {}
  for part in (body .. ":"):gmatch("([^:]*):") do parts[#parts + 1] = part end
  if #parts == 2 then table.insert(parts, 1, nil) end
  local addr, h, c = parts[1], parts[2], parts[3]
  if #parts < 2 or #parts > 3 or not h or not c then
    return nil, "-p '" .. s .. "': [ADDR:]HOST:CONTAINER[/udp] expected"
  end
  local function range(r)
    local a, b = r:match("^(%d+)%-(%d+)$")
    if not a then a = r:match("^(%d+)$") b = a end
    if not a then return nil end
    return tonumber(a), tonumber(b) - tonumber(a) + 1
  end
  local h1, hn = range(h)
  local c1, cn = range(c)
  if not h1 or not c1 or hn < 1 then return nil, "-p '" .. s .. "': ports are numbers or ranges N-M" end
  if hn ~= cn then return nil, "-p '" .. s .. "': the host and container ranges differ in length" end
  return { address = addr ~= "" and addr or nil, host = h1, container = c1, protocol = proto, count = hn }
end

-- The owner comment of a container's rules: its init's pid and start time (as its
-- lease has them: a pid reused later is another owner) and the address its ports go to.
-- nil for a child that failed (a zombie has no start time).
local function owner(pid, to)
  local start = core.starttime(pid)
  return start and string.format("nsbox port pid=%d start=%s to=%s", pid, start, to)
end

local function lock(dir) return dir .. "/nft.lock" end

-- What is known of the table in this namespace (nsbox.nat keeps it).
local function known(nft) return require("nsbox.nat").known(nft) end

--- Hold the host ports (before anything is made): the held fds, or nil, message naming the port.
function M.hold(list)
  local held = {}
  for i, p in ipairs(list) do
    local fd, err, errno = core.bind_port { address = p.address, port = p.host, protocol = p.protocol }
    if not fd then
      for _, h in ipairs(held) do core.close(h) end
      return nil, string.format("ports[%d]: %s:%d/%s %s", i, p.address, p.host, p.protocol,
        errno == core.EADDRINUSE and "is in use" or err), errno
    end
    held[i] = fd
  end
  return held
end

--- Publish list for the container whose init is pid at address to, on bridge:
-- the rules, and route_localnet on the bridge where 127.0.0.1 is published
-- (the loopback guard is in place first). { owner =, to =, held = } or nil, message.
function M.publish(pid, to, bridge, list, held, dir)
  local nft = require "nsbox.nft"
  local o = owner(pid, to)
  if not o then return nil, "network: the container ended during its setup", core.ESRCH end
  local rules, local_net = {}, false
  for i, p in ipairs(list) do
    rules[i] = { protocol = p.protocol, address = p.address ~= "0.0.0.0" and p.address or nil, host = p.host,
                 to = to, container = p.container }
    if p.address == "0.0.0.0" or p.address:match("^127%.") then local_net = true end
  end
  local k = known(nft)
  local ok, err, errno = nft.ports_add { owner = o, ports = rules, lock = lock(dir), checked = k.ports }
  if ok then
    require("nsbox.nat").changed(nft, k)
    k.ports = k.gen ~= nil
    if k.owners then k.owners[o] = true end
  end
  if not ok then
    if errno == core.EEXIST then
      err = "table inet nsbox exists and was not made by nsbox: refused"
    end
    return nil, "ports: " .. err, errno
  end
  local pub = { owner = o, to = to, held = held }
  if local_net then
    local path = "/proc/sys/net/ipv4/conf/" .. bridge .. "/route_localnet"
    local f = io.open(path, "w")
    local w = f and f:write("1")
    if not (f and f:close() and w) then
      M.release(pub, dir)
      return nil, "ports: cannot turn route_localnet on (" .. path .. "), which 127.0.0.1 needs"
    end
  end
  return pub
end

--- Unpublish: the rules, the conntrack entries of flows to the container, the held ports.
function M.release(pub, dir)
  local nft = require "nsbox.nft"
  local k = known(nft)
  local _, removed = nft.ports_del { owner = pub.owner, lock = lock(dir) }
  if removed and removed > 0 then require("nsbox.nat").changed(nft, k) end
  if k.owners then k.owners[pub.owner] = nil end
  nft.ct_forget(pub.to)
  for _, fd in ipairs(pub.held or {}) do core.close(fd) end
  pub.held = nil
end

--- Remove the ports (and isolation rules) of owners that are gone (their
-- nsbox was SIGKILLed) in this network namespace.
function M.sweep(dir)
  local nft = require "nsbox.nft"
  local k = known(nft)
  if not k.owners then k.owners = k.gen and nft.port_owners() or nil end
  local owners = {}
  for comment in pairs(k.owners or nft.port_owners() or {}) do owners[#owners + 1] = comment end
  for _, comment in ipairs(owners) do
    local kind, pid, start, to = comment:match("^nsbox (%a+) pid=(%d+) start=(%d+) to=(%S+)$")
    if pid and core.starttime(tonumber(pid)) ~= tonumber(start) then
      if kind == "port" then M.release({ owner = comment, to = to }, dir)
      elseif kind == "isolate" then require("nsbox.isolate").release({ owner = comment }, dir) end
    end
  end
end

return M
