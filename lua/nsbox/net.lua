--- Container networking: the recipe's `network` checked, the host side
-- (bridge, veth pair with its peer born in the container's netns, address
-- lease) made and removed, and the container side configured.
-- Unprivileged callers go through the setuid helper nsbox-netns.
-- @module nsbox.net
local core = require "nsbox.core"
-- Loaded with this module: the container's child requires nsbox.net before
-- pivot_root hides the host's files, and configures its interface after.
local rtnl = core.rtnl
local validate = require "nsbox.validate"
local nat = require "nsbox.nat"
local ports = require "nsbox.ports"
local names = require "nsbox.names"

local M = {}

M.STATE_DIR = "/run/nsbox/net"
M.HELPER = os.getenv("NSBOX_NETNS_HELPER") or "/usr/local/lib/nsbox/nsbox-netns"

local FIELDS = { bridge = true, address = true, gateway = true, interface = true, host_interface = true,
                 add_subnet = true, nat = true, isolate = true, antispoof = true, mode = true }

local function bad(field, fmt, ...) validate.bad("network" .. field, fmt, ...) end

-- Parse "a.b.c.d" or "a.b.c.d/n" (core.ip4_parse has the rule) into a 32-bit
-- integer and the prefix (nil if none); a subnet here has room for addresses.
local function parse_ip4(field, s)
  if type(s) ~= "string" then bad(field, "string expected, got %s", type(s)) end
  local v, prefix = core.ip4_parse(s)
  if not v then
    prefix = nil
    -- which half is wrong: the address alone, or its prefix
    if not s:find("/", 1, true) or not core.ip4_parse(s:match("^[^/]*")) then
      bad(field, "'%s' is not an IPv4 address", s)
    end
  end
  if s:find("/", 1, true) and not (prefix and prefix >= 1 and prefix <= 30) then
    bad(field, "'%s': prefix must be /1 to /30", s)
  end
  return v, prefix
end

local function ip4(v)
  return string.format("%d.%d.%d.%d", v >> 24 & 255, v >> 16 & 255, v >> 8 & 255, v & 255)
end
--- An IPv4 address (a 32-bit integer) as text.
-- @function ip4
M.ip4 = ip4

local function mask(prefix) return (0xffffffff << (32 - prefix)) & 0xffffffff end

local function ifname(field, v, default)
  if v == nil then return default end
  if type(v) ~= "string" then bad(field, "string expected, got %s", type(v)) end
  if not core.ifname_ok(v) then
    bad(field, "'%s' is not a valid interface name (1 to 15 bytes, no '/', ':' or spaces)", v)
  end
  return v
end

local function check(v)
  if v == nil or v == false or v == "none" then return false end
  if v == "pasta" then v = { mode = "pasta" } end
  if type(v) ~= "table" then bad("", "table, false, \"none\" or \"pasta\" expected, got %s", type(v)) end
  for k in pairs(v) do
    if not FIELDS[k] then bad("", "unknown field '%s'", tostring(k)) end
  end
  if v.mode ~= nil and v.mode ~= "bridge" and v.mode ~= "pasta" then
    bad(".mode", "'%s' is not bridge or pasta", tostring(v.mode))
  end
  if v.mode == "pasta" then
    -- pasta copies the host's address and routes: a bridge's fields mean nothing there
    for k in pairs(v) do
      if k ~= "mode" then bad("." .. tostring(k), "not with mode pasta (it copies the host's address and routes)") end
    end
    -- as root pasta becomes nobody, who may not join root's namespaces: a bridge is root's
    if core.geteuid() == 0 then bad(".mode", "pasta is for unprivileged users (as root, use a bridge)") end
    return { mode = "pasta" }
  end
  local n = { bridge = ifname(".bridge", v.bridge, "brg0"), interface = ifname(".interface", v.interface, "eth0"),
              host_interface = ifname(".host_interface", v.host_interface) }
  local addr, aprefix, gw, gprefix
  if v.address ~= nil then addr, aprefix = parse_ip4(".address", v.address) end
  if v.gateway ~= nil then gw, gprefix = parse_ip4(".gateway", v.gateway) end
  local prefix = aprefix or gprefix or 24
  if aprefix and gprefix and aprefix ~= gprefix then
    bad(".gateway", "prefix /%d differs from the address's /%d", gprefix, aprefix)
  end
  local m = mask(prefix)
  local hostmask = ~m & 0xffffffff
  if addr and (addr & hostmask == 0 or addr & hostmask == hostmask) then
    bad(".address", "%s is the network or broadcast address of %s/%d", ip4(addr), ip4(addr & m), prefix)
  end
  if addr and gw then
    if gw & m ~= addr & m then
      bad(".gateway", "%s is outside %s/%d", ip4(gw), ip4(addr & m), prefix)
    end
    if gw == addr then bad(".address", "%s is the gateway's address", ip4(addr)) end
  end
  if v.add_subnet ~= nil and type(v.add_subnet) ~= "boolean" then
    bad(".add_subnet", "boolean expected, got %s", type(v.add_subnet))
  end
  if v.add_subnet and not gw then bad(".add_subnet", "needs network.gateway, the subnet to add") end
  if v.nat ~= nil and type(v.nat) ~= "boolean" then bad(".nat", "boolean expected, got %s", type(v.nat)) end
  n.nat = v.nat ~= false
  if v.isolate ~= nil and type(v.isolate) ~= "boolean" then
    bad(".isolate", "boolean expected, got %s", type(v.isolate))
  end
  if v.isolate and core.geteuid() ~= 0 then bad(".isolate", "needs root (the unprivileged helper isolates none)") end
  n.isolate = v.isolate or nil
  if v.antispoof ~= nil and type(v.antispoof) ~= "boolean" then
    bad(".antispoof", "boolean expected, got %s", type(v.antispoof))
  end
  if v.antispoof == false and core.geteuid() ~= 0 then
    bad(".antispoof", "may be turned off by root only (the helper guards every port it makes)")
  end
  n.antispoof = v.antispoof ~= false
  n.address = addr and ip4(addr) or nil
  n.gateway = gw and ip4(gw) or nil
  n.prefix = (addr or gw) and prefix or nil
  n.add_subnet = v.add_subnet or nil
  return n
end

--- Check a recipe's network: the normalized table, false for none, or nil and
-- a message naming the field.
--
-- A recipe's `network` is a table (false or "none": lo only; "pasta" is
-- { mode = "pasta" }) of
--
-- - `mode`: "bridge" (the default: the fields below) or "pasta": rootless,
--   through Debian's pasta (package passt), started and ended by nsbox: the
--   host's address and routes copied in, egress and published ports over the
--   caller's own sockets, for unprivileged users; no other field;
-- - `bridge`: the bridge to attach to (default "brg0"), made if missing, with
--   the gateway's address, marked as nsbox's (its alias is "nsbox"), up;
-- - `gateway`: its address, "a.b.c.d" or "a.b.c.d/n" (default /24): needed to
--   make the bridge or for one without an IPv4 address, otherwise the bridge's
--   own address. A gateway that differs from the address of an existing bridge
--   is refused, naming both: the bridge may not be nsbox's;
-- - `add_subnet`: true adds the gateway as a second subnet to a bridge nsbox
--   made (never to anyone else's);
-- - `address`: the container's, "a.b.c.d" or with the prefix (default: leased
--   from the bridge's subnet);
-- - `interface`: the container's end (default "eth0"), `host_interface`: the
--   host's (default "nsb" and 8 random hex digits), as root only;
-- - `antispoof`: (default true) the container sends into the bridge only from
--   its own MAC and address, IPv4 and ARP: a frame claiming another container's
--   or the gateway's address, or another MAC, is dropped at its bridge port
--   (table bridge nsbox). false (root) for a container that routes for others;
-- - `isolate`: true drops the flows the container starts to the host's own
--   addresses and to the other subnets the host is on (root);
-- - `nat`: egress (default true): what the subnet sends past it leaves with the
--   host's address (masquerade in table inet nsbox), and IPv4 forwarding is
--   turned on in the network namespace that holds the bridge: when that is the
--   host's own, this changes the host. false: the containers reach the bridge only.
-- @function validate
M.validate = validate.validator(check)

-- The host end of a veth: "nsb" and 8 hex digits, as the setuid helper names it.
local function random_name()
  return "nsb" .. assert(core.random_hex(4))
end

-- A random locally administered unicast MAC. A bridge made without one takes
-- the lowest MAC of its ports and changes it as containers come and go, and
-- each change flushes the host's neighbour table and strands the gateway MAC
-- the containers have cached. A container's eth0 gets one too (attach_direct).
local function random_mac()
  local h = assert(core.random_hex(6))
  local first = (tonumber(h:sub(1, 2), 16) & 0xfe) | 0x02
  return string.format("%02x", first) .. h:sub(3):gsub("%x%x", ":%0")
end

-- The alias (IFLA_IFALIAS) of the bridges nsbox made, which alone may get a
-- second subnet. It is carried by the link itself: it goes with the bridge and
-- cannot go stale as a state file would (an ifindex or a namespace inode is
-- reused), `ip link` shows it, and only CAP_NET_ADMIN over the namespace sets
-- it. The kernel takes none in the request that creates a link, so it is set
-- in the next one: a bridge left unmarked is taken for someone else's, the
-- safe side.
local MARK = "nsbox"

-- Make the bridge with the gateway address, marked, up: true, or nil, message, errno.
local function make_bridge(n)
  -- learning nothing from link-local frames: nsbox.antispoof sees none of them
  local ok, err, errno = rtnl.link_add { name = n.bridge, kind = "bridge", address = random_mac(), no_linklocal_learn = true }
  if not ok then return nil, err, errno end
  ok, err, errno = rtnl.addr_add { name = n.bridge, address = n.gateway .. "/" .. n.prefix }
  if ok then ok, err, errno = rtnl.link_set { name = n.bridge, alias = MARK, up = true } end
  if not ok then rtnl.link_del { name = n.bridge } end
  return ok, err, errno
end

-- The gateway of an existing bridge: the recipe's if the bridge has it (or has
-- no IPv4 address: it is added), the bridge's first if the recipe names none. A gateway that
-- differs from the bridge's address is refused: the bridge may not be ours, and
-- its subnet is someone else's plan. Only a bridge nsbox made (MARK) takes a
-- second subnet, and only when the recipe says network.add_subnet.
local function existing_bridge(n, link)
  local list, err = rtnl.addrs { name = n.bridge, family = "inet" }
  if not list then return nil, "network.bridge: " .. err end
  local first = list[1]
  for _, a in ipairs(list) do
    if a.address == n.gateway then return a.address, a.prefixlen end
  end
  if not n.gateway then
    if first then return first.address, first.prefixlen end
    return nil, string.format("network.gateway: bridge %s has no IPv4 address; give one", n.bridge)
  end
  if first then
    local theirs = first.address .. "/" .. first.prefixlen
    if not n.add_subnet then
      return nil, string.format("network.gateway: %s/%d differs from bridge %s's address %s: refused%s",
        n.gateway, n.prefix, n.bridge, theirs, link.alias == MARK and " (network.add_subnet = true adds it)" or "")
    end
    if link.alias ~= MARK then
      return nil, string.format("network.add_subnet: bridge %s (address %s) was not made by nsbox: refused",
        n.bridge, theirs)
    end
  end
  local ok
  ok, err = rtnl.addr_add { name = n.bridge, address = n.gateway .. "/" .. n.prefix, exist_ok = true }
  if not ok then return nil, "network.bridge: " .. err end
  return n.gateway, n.prefix
end

-- Check or make the bridge the long way: its addresses, creation, up.
local function ensure_bridge_slow(n, link)
  if not link then
    if not n.gateway then return nil, string.format("network.gateway: needed to create bridge %s", n.bridge) end
    local ok, err, errno = make_bridge(n)
    if ok then return n.gateway, n.prefix, true end
    -- another run made it meanwhile: take it as it is
    link = errno == core.EEXIST and rtnl.link_get { name = n.bridge }
    if not link or link.kind ~= "bridge" then return nil, "network.bridge: " .. err end
  end
  local gw, prefix = existing_bridge(n, link)
  if gw and not link.up then
    local ok, err = rtnl.link_set { name = n.bridge, up = true }
    if not ok then return nil, "network.bridge: " .. err end
  end
  return gw, prefix
end

-- Bridges this process has checked: "netns:name" -> { index =, gateway =, prefix = }.
-- An address dump grows with the links on the machine, a link lookup does not:
-- a bridge seen before (same namespace and ifindex, up) is not dumped again.
local checked = {}

-- The bridge, made if missing (with the gateway address, up); its gateway and
-- prefix, whether this call made it, and its ifindex (for requests that take
-- one: no lookup by name in each).
local function ensure_bridge(n)
  local link = rtnl.link_get { name = n.bridge }
  if link and link.kind ~= "bridge" then
    return nil, string.format("network.bridge: %s exists and is not a bridge (it is a %s)", n.bridge,
      link.kind or "link of no kind")
  end
  local key = core.readlink("/proc/self/ns/net") .. n.bridge
  local seen = link and checked[key]
  if seen and seen.index == link.index and link.up and (not n.gateway or n.gateway == seen.gateway) then
    return seen.gateway, seen.prefix, false, seen.index
  end
  local gw, prefix, created = ensure_bridge_slow(n, link)
  if not gw then return nil, prefix end
  local now, err = rtnl.link_get { name = n.bridge }
  if not now then
    if created then rtnl.link_del { name = n.bridge } end
    return nil, "network.bridge: " .. err
  end
  checked[key] = { index = now.index, gateway = gw, prefix = prefix }
  return gw, prefix, created, now.index
end


-- A link of ours comes up quietly: it makes no IPv6 link-local address
-- (addrgenmode none), so it sends no duplicate address detection, router
-- solicitation or MLD report, which would be flooded to every port of the bridge
-- and processed in every namespace on it (at 500 containers that flood made each
-- attach cost ~4x a quiet one). IPv6 stays on: an address asked for later works.
-- The mode goes in a request of its own before the one that raises the link: in
-- the same one, Linux 6.1 makes the address of a link whose carrier comes at once
-- first. A kernel without IPv6 refuses the mode (EAFNOSUPPORT): then the link just
-- comes up.
local function up_quietly(name)
  local ok, err, errno = rtnl.link_set { name = name, addrgenmode = "none" }
  if ok or errno == core.EAFNOSUPPORT then ok, err, errno = rtnl.link_set { name = name, up = true } end
  return ok, err, errno
end

-- Until the link (just given its carrier: its peer came up) is operationally up, at
-- most `tries` looks. The kernel hands carrier changes to a worker: until it has run,
-- a bridge port does not forward. A look (RTM_GETLINK) runs that work for the link
-- itself on Linux 6.8 and later, and on earlier ones takes the lock the worker holds.
local function wait_up(name, tries)
  for _ = 1, tries do
    local l = rtnl.link_get { name = name }
    if not l or l.operstate == "UP" then return end
  end
end

-- fn() run in pid's network namespace, and back home whatever happens.
local function in_netns(pid, fn)
  local home, err, errno = core.open_ns("/proc/self/ns/net")
  if not home then return nil, err, errno end
  local ok
  ok, err, errno = core.setns("/proc/" .. pid .. "/ns/net", core.CLONE_NEWNET)
  if ok then
    local done
    done, ok, err, errno = pcall(fn)
    if not done then ok, err, errno = nil, tostring(ok), nil end
    -- back home whatever happened, or this process would go on in the container's network
    local back, berr = core.setns(home, core.CLONE_NEWNET)
    if not back then
      core.close(home)
      error("network: cannot return to our own network namespace: " .. tostring(berr))
    end
  end
  core.close(home)
  return ok, err, errno
end

-- Host side as root: bridge, lease, veth with the peer born in pid's netns.
local function attach_direct(pid, n, known_as)
  -- the host ports first: one in use is refused before anything is made
  local held, herr, herrno
  if n.ports then
    held, herr, herrno = ports.hold(n.ports)
    if not held then return nil, herr, herrno end
  end
  local function unhold() for _, fd in ipairs(held or {}) do core.close(fd) end end
  local gw, prefix, created, brindex = ensure_bridge(n)
  if not gw then unhold() return nil, prefix end
  -- a failure below removes the bridge if this call made it
  local function undo_bridge()
    unhold()
    if created then rtnl.link_del { name = n.bridge } end
  end
  local addr, err, errno, arg = core.lease_acquire { dir = M.STATE_DIR, bridge = n.bridge,
    gateway = gw .. "/" .. prefix, address = n.address, owner = pid }
  if not addr then
    undo_bridge()
    -- the lease's arguments are these fields of the recipe's network
    return nil, (arg and "network." .. arg or "network") .. ": " .. err, errno
  end
  local function undo_lease()
    core.lease_release { dir = M.STATE_DIR, bridge = n.bridge, address = addr, owner = pid }
    undo_bridge()
  end
  if n.nat then
    local ok, nerr, nerrno = nat.enable(n.bridge, gw, prefix, M.STATE_DIR .. "/nft.lock")
    if not ok then undo_lease() return nil, nerr, nerrno end
  end
  -- the ports of containers whose nsbox was SIGKILLed go (where nft is loaded anyway)
  if n.nat or n.ports or n.isolate then ports.sweep(M.STATE_DIR) end
  local info = { bridge = n.bridge, host = n.host_interface or random_name(), interface = n.interface,
                 address = addr .. "/" .. prefix, gateway = gw, lease = addr, owner = pid,
                 named = n.host_interface ~= nil, announce = n.address ~= nil }
  if known_as then
    local tree, nerr, nerrno = names.add(M.STATE_DIR, n.bridge, pid, addr, known_as)
    if not tree then undo_lease() return nil, nerr, nerrno end
    info.hosts_tree = tree
    local lease_undo = undo_lease
    undo_lease = function()
      core.close(tree)
      names.remove(M.STATE_DIR, n.bridge, pid)
      lease_undo()
    end
  end
  -- The peer's MAC is ours to choose, so the host's neighbour entry for the
  -- address can say it at once: the container's gratuitous ARP may leave before
  -- its bridge port forwards, and the entry of an earlier holder would stand.
  local mac = random_mac()
  local ok
  -- a guarded port is in the group from its creation: dropped until its element is there;
  -- a port of the bridge from its creation too (one request, as `ip link add ... master`)
  ok, err = rtnl.link_add { name = info.host, kind = "veth", group = n.antispoof and require("nsbox.antispoof").GROUP or nil,
                            master = brindex, peer = { name = n.interface, netns_pid = pid, address = mac } }
  if ok then
    ok, err = up_quietly(info.host)
    if ok then ok, err = rtnl.neigh_set { index = brindex, address = addr, lladdr = mac } end
    if ok and n.antispoof then
      info.antispoof, err = require("nsbox.antispoof").add(pid, info.host, mac, addr, M.STATE_DIR)
      ok = info.antispoof ~= nil
    end
    if ok then ok, err = M.configure_in(pid, info) end
    -- the host reaches the container at once: its bridge port forwards
    if ok then wait_up(info.host, 100) end
    -- An address the recipe named is announced (a gratuitous ARP, flooded to every
    -- port): it is the one that moves from container to container, and the others'
    -- neighbour entries follow it. A leased one is not: leases go round the subnet,
    -- so it comes back only after every other address, and the host's own entry is
    -- set directly (above). Sent by hand once the port forwards: arp_notify's would
    -- leave as the link comes up, before the kernel's link worker enables the port.
    if ok and info.announce then
      ok, err = in_netns(pid, function() return core.arp_announce { name = info.interface, address = addr } end)
    end
    if ok and n.isolate then
      info.isolate, err = require("nsbox.isolate").add(pid, addr, gw, prefix, M.STATE_DIR)
      ok = info.isolate ~= nil
    end
    if ok and n.ports then
      info.ports, err = ports.publish(pid, addr, n.bridge, n.ports, held, M.STATE_DIR)
      ok = info.ports ~= nil
      if ok then held = nil end -- info.ports holds them now
    end
    if not ok then
      if info.isolate then require("nsbox.isolate").release(info.isolate, M.STATE_DIR) end
      if info.antispoof then require("nsbox.antispoof").release(info.antispoof, M.STATE_DIR) end
      rtnl.link_del { name = info.host }
    end
  end
  if not ok then
    undo_lease()
    return nil, (err:match("^ports") or err:match("^network")) and err or "network: " .. err
  end
  return info
end

-- Host side for an unprivileged caller: the setuid helper does it and says what it did.
local function attach_helper(pid, n)
  if not core.executable(M.HELPER) then
    return nil, string.format("network: unprivileged networking needs the setuid helper %s " ..
      "(as root: make install-helper, and list the bridge in /etc/nsbox/netns.conf)", M.HELPER)
  end
  local r, w = assert(core.pipe())
  local argv = { M.HELPER, "attach", tostring(pid), n.bridge, n.address }
  local hpid, pidfd, errno = core.spawn { path = M.HELPER, argv = argv, stdout = w }
  core.close(w)
  if not hpid then core.close(r) return nil, "network: " .. pidfd, errno end
  local out = core.read(r, 4096) or ""
  core.close(r)
  local how, code = core.wait(pidfd)
  core.close(pidfd)
  local host, iface, addr, gw = out:match("^host=(%S+) interface=(%S+) address=(%S+) gateway=(%S+)")
  if how ~= "exited" or code ~= 0 or not host then
    return nil, string.format("network: %s failed (%s %d); its message is on stderr", M.HELPER, how, code)
  end
  return { bridge = n.bridge, host = host, interface = iface, address = addr, gateway = gw, helper = true }
end

--- True when this process makes the host side itself (root), and so also
-- configures the container's interface (configure_in); false: the setuid
-- helper makes the veth and the container configures its interface.
function M.direct()
  return core.geteuid() == 0
end

--- Make the host side for the container whose init is pid.
-- @treturn table { host =, interface =, address = "a.b.c.d/n", gateway = } or nil, message
--- known_as: the container's names (its hostname, its name) for the others on
-- the bridge (root only): info.hosts_tree is then the bridge's hosts file, to
-- bind at its /etc/hosts (the caller closes it).
function M.attach(pid, n, known_as)
  if n.mode == "pasta" then
    local p, err, errno = require("nsbox.pasta").start(pid, n)
    if not p then return nil, err, errno end
    return { pasta = p, interface = "pasta" }
  end
  if M.direct() then return attach_direct(pid, n, known_as) end
  if n.interface ~= "eth0" or n.host_interface then
    return nil, "network.interface: the unprivileged helper names the interfaces itself (eth0)"
  end
  return attach_helper(pid, n)
end

--- Remove the host side once the container has ended: the lease, and the veth
-- if the caller named it. A veth of ours needs no request: it goes with the
-- container's network namespace, which the kernel tears down in the background,
-- where a delete here would wait 15-20 ms for an RCU grace period. Leases are
-- handed out round the subnet, so its address is not reused meanwhile. A name
-- the caller chose must be free for the next container at once: deleted now.
function M.detach(info)
  if info.pasta then require("nsbox.pasta").stop(info.pasta) return true end
  if info.helper then return true end -- the veth dies with the netns; the helper's lease goes stale
  if info.ports then ports.release(info.ports, M.STATE_DIR) end
  if info.isolate then require("nsbox.isolate").release(info.isolate, M.STATE_DIR) end
  if info.antispoof then require("nsbox.antispoof").release(info.antispoof, M.STATE_DIR) end
  if info.hosts_tree then names.remove(M.STATE_DIR, info.bridge, info.owner) end
  if info.named then rtnl.link_del { name = info.host } end
  core.lease_release { dir = M.STATE_DIR, bridge = info.bridge, address = info.lease, owner = info.owner }
  return true
end

--- The container's network namespace, before its /proc/sys is read-only: its interfaces send a
-- gratuitous ARP when they come up (arp_notify; /proc/sys/net is the writer's
-- network namespace), so a host that knew an earlier holder of the address
-- (whose veth may linger in the kernel's clean-up) learns the new one at once.
-- Best effort where /proc/sys is read-only (nsbox itself in a container): the
-- announcement only speeds up the reuse of an address.
function M.announce()
  local f, err, errno = io.open("/proc/sys/net/ipv4/conf/all/arp_notify", "w")
  if not f then
    if errno == core.EROFS then return true end
    return nil, err, errno
  end
  local ok, werr, werrno = f:write("1")
  local closed, cerr, cerrno = f:close()
  if not ok then return nil, werr, werrno end
  if not closed then return nil, "arp_notify: " .. tostring(cerr), cerrno end
  return true
end

--- The container side, run inside after the "network" message (lo is up already) when the helper
-- made the veth. The address comes before the link goes up, so the
-- announcement (if any) carries it. `info.from_host`: configure_in runs it, and
-- waits at the host's end instead.
function M.configure(info)
  local ok, err = rtnl.addr_add { name = info.interface, address = info.address }
  if ok then ok, err = up_quietly(info.interface) end
  -- its host end (up already) gets its carrier in the same batch of the kernel's
  -- worker: with the helper, the only end this side can look at
  if ok and not info.from_host then wait_up(info.interface, 100) end
  -- through the gateway, which only this link reaches: no lookup of the link by name
  if ok then ok, err = rtnl.route_add { dst = "default", gateway = info.gateway } end
  return ok, err
end

--- The container side configured from here, as root: in the container's network
-- namespace for the span of four requests, while its child is still building
-- its mounts, so none of it is on the container's critical path (0.5-0.7 ms).
-- An address the recipe named is announced by attach_direct, once its port
-- forwards.
function M.configure_in(pid, info)
  return in_netns(pid, function()
    info.from_host = true
    local a, e, n = M.configure(info)
    info.from_host = nil
    return a, e, n
  end)
end

return M
