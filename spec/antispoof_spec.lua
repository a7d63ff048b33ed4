-- Anti-spoofing at the bridge ports nsbox makes, as root: a container that
-- claims another's address (gratuitous ARP, a forged source), the gateway's, or
-- another MAC gets nothing through; its own traffic passes. Table bridge nsbox,
-- checked with nft -j. Everything happens inside a network namespace this spec
-- makes for itself, traffic only between its containers and its bridge.
local H = require "spec.support.helpers"
local nsbox, core = H.nsbox, H.core

local GW, BR = "10.84.0.1", "asbr0"
local NET = { bridge = BR, gateway = GW .. "/24" }
-- what an attacker inside needs to forge: raw sockets and its own addresses
local CAPS = { add = { "net_raw", "net_admin" } }
local RAW = { add = { "net_raw" } } -- ping's

-- table bridge nsbox's chains, by name, each with the comments of its rules
-- in order (nft -j shows no chain's own comment), and the elements of its set
-- guards as { port, mac, sender, address, comment }; nil: no table.
local function chains()
  local out = H.sh("nft -j list table bridge nsbox 2>/dev/null")
  if out == "" then return nil end
  local t, guards = {}, {}
  for _, o in ipairs(H.json_decode(out).nftables) do
    if o.chain then
      t[o.chain.name] = o.chain
      o.chain.comments = {}
    elseif o.rule then
      table.insert(t[o.rule.chain].comments, o.rule.comment)
    elseif o.set and o.set.name == "guards" then
      for _, e in ipairs(o.set.elem or {}) do
        local k = e.elem.val.concat
        guards[#guards + 1] = { port = k[1], mac = k[2], sender = k[3], address = k[4], comment = e.elem.comment }
      end
    end
  end
  return t, guards
end

-- How many ports are guarded.
local function guarded()
  local _, guards = chains()
  return guards and #guards or 0
end

-- The echo requests the gateway (this namespace) has received: what it counts
-- arrived, whether or not its reply finds the sender.
local function echoes()
  local f = assert(io.open("/proc/self/net/snmp"))
  local names, values
  for line in f:lines() do
    if line:match("^Icmp: In") then names = line elseif line:match("^Icmp: %d") then values = line end
  end
  f:close()
  local i = 0
  for w in names:gmatch("%S+") do
    i = i + 1
    if w == "InEchos" then
      local j = 0
      for v in values:gmatch("%S+") do
        j = j + 1
        if j == i then return tonumber(v) end
      end
    end
  end
end

-- The MAC the gateway (the bridge, in this namespace) has for addr.
local function gw_neigh(addr)
  local e = H.ipj("-4 neigh show " .. addr .. " dev " .. BR)[1]
  return e and e.lladdr
end

describe("anti-spoofing at a container's bridge port", function()
  if H.needs_root("makes a network namespace and bridges of its own") then return end
  local running, stop = H.sleepers_on(NET)
  local function eth0(box)
    local l = H.ipj("addr show eth0", box.pid)[1]
    return l.addr_info[1]["local"], l.address
  end
  -- Run line in the container box (a shell there): its status and output.
  local function in_box(box, line)
    local r, w = assert(core.pipe())
    local st = box:exec { command = { "/bin/sh", "-c", line .. " 2>&1" }, stdout = w }
    core.close(w)
    local out = core.read_all(r)
    core.close(r)
    return st, out
  end
  -- From the attacker: claim addr by gratuitous ARP (twice, and unsolicited
  -- replies to the gateway), then ping the gateway from it.
  local function claim(box, addr)
    -- the gateway's MAC known without asking: the echo request goes out as it is
    in_box(box, "ip addr add " .. addr .. "/32 dev eth0 noprefixroute; arp -i eth0 -s " .. GW .. " " ..
      H.ipj("link show " .. BR)[1].address)
    in_box(box, "arping -U -c 2 -w 1 -I eth0 -s " .. addr .. " " .. GW .. "; arping -A -c 2 -w 1 -I eth0 -s " ..
      addr .. " " .. GW)
    return (in_box(box, "ping -c 1 -W 1 -I " .. addr .. " " .. GW))
  end

  setup(function()
    assert(core.unshare(core.CLONE_NEWNET))
    assert(core.rtnl.link_set { name = "lo", up = true })
  end)
  after_each(stop)

  it("lets a container's own IPv4 and ARP through", function()
    local a = running { capabilities = CAPS }
    assert.equal(0, (in_box(a, "ping -c 1 -W 2 " .. GW)))
    local b = running { capabilities = RAW }
    assert.equal(0, (in_box(a, "ping -c 1 -W 2 " .. eth0(b))))
    assert.equal(0, (in_box(a, "arping -c 1 -w 2 -I eth0 " .. GW)))
  end)

  it("keeps another container's address where it is: a gratuitous ARP and a forged source get nowhere", function()
    local victim, attacker = running { capabilities = RAW }, running { capabilities = CAPS }
    local vaddr, vmac = eth0(victim)
    assert.equal(0, (in_box(victim, "ping -c 1 -W 2 " .. GW)))
    assert.equal(vmac, gw_neigh(vaddr))
    local n = echoes()
    assert.is_not.equal(0, claim(attacker, vaddr))
    assert.equal(vmac, gw_neigh(vaddr))
    assert.equal(n, echoes()) -- the forged echo request did not even arrive
    assert.equal(0, (in_box(victim, "ping -c 1 -W 2 " .. GW))) -- the victim is still reached
    local aaddr = eth0(attacker)
    in_box(attacker, "ip addr del " .. vaddr .. "/32 dev eth0")
    assert.equal(0, (in_box(attacker, "ping -c 1 -W 2 -I " .. aaddr .. " " .. GW))) -- its own still passes
  end)

  it("keeps the gateway's address: a container cannot answer for it to another", function()
    local victim, attacker = running { capabilities = RAW }, running { capabilities = CAPS }
    local _, gwmac = nil, H.ipj("link show " .. BR)[1].address
    assert.equal(0, (in_box(victim, "ping -c 1 -W 2 " .. GW)))
    in_box(attacker, "ip addr add " .. GW .. "/32 dev eth0 noprefixroute")
    in_box(attacker, "arping -U -c 3 -w 2 -I eth0 -s " .. GW .. " " .. eth0(victim))
    local n = H.ipj("-4 neigh show " .. GW .. " dev eth0", victim.pid)[1]
    assert.equal(gwmac, n and n.lladdr)
  end)

  it("makes its bridge learn no MAC from link-local frames, which reach learning before any hook (LLDP)", function()
    running { capabilities = RAW }
    assert.equal(1, H.ipj("-d link show " .. BR)[1].linkinfo.info_data.no_linklocal_learn)
  end)

  it("drops what a container sends from a MAC not its own", function()
    local a = running { capabilities = CAPS }
    assert.equal(0, (in_box(a, "ping -c 1 -W 2 " .. GW)))
    local gwmac = H.ipj("link show " .. BR)[1].address
    -- a new MAC, and the gateway's known without asking: only an IPv4 packet is sent
    in_box(a, "ip link set eth0 address 02:00:00:00:00:99; arp -i eth0 -s " .. GW .. " " .. gwmac)
    local n = echoes()
    assert.is_not.equal(0, (in_box(a, "ping -c 1 -W 1 " .. GW)))
    assert.equal(n, echoes())
  end)

  it("drops everything from a port of nsbox's that has no element (before it is made, or after it goes)", function()
    local a = running { capabilities = RAW }
    local peer = H.ipj("link show eth0", a.pid)[1].link_index
    local host
    for _, l in ipairs(H.ipj("-d link show master " .. BR)) do
      if l.ifindex == peer then host = l end
    end
    assert.equal("28275", tostring(host.group)) -- the group from its creation
    assert.equal(0, (in_box(a, "ping -c 1 -W 2 " .. GW)))
    local addr, mac = eth0(a)
    assert(os.execute("nft delete element bridge nsbox guards '{ " .. host.ifname .. " . " .. mac .. " . " ..
      mac .. " . " .. addr .. " }'"))
    local n = echoes()
    assert.is_not.equal(0, (in_box(a, "ping -c 1 -W 1 " .. GW)))
    assert.equal(n, echoes())
  end)

  it("with antispoof = false (root), lets a container claim another's address (a router's choice)", function()
    local victim, attacker = running { capabilities = RAW }, running { capabilities = CAPS, network = {
      bridge = BR, gateway = NET.gateway, antispoof = false } }
    local vaddr, vmac = eth0(victim)
    local _, amac = eth0(attacker)
    assert.equal(0, (in_box(victim, "ping -c 1 -W 2 " .. GW)))
    assert.equal(vmac, gw_neigh(vaddr))
    local n = echoes()
    claim(attacker, vaddr)
    assert.equal(amac, gw_neigh(vaddr)) -- the checks above can fail
    assert.is_true(echoes() > n)
  end)

  it("keeps one element per port in set guards, commented with its owner, in table bridge nsbox; removed at exit", function()
    local before = guarded()
    local a = running { capabilities = RAW }
    local addr, mac = eth0(a)
    local peer = H.ipj("link show eth0", a.pid)[1].link_index
    local host
    for _, l in ipairs(H.ipj("link show master " .. BR)) do
      if l.ifindex == peer then host = l.ifname end
    end
    local all, guards = assert(chains())
    local g
    for _, e in ipairs(guards) do if e.port == host then g = e end end
    assert.truthy(g, "no element for " .. tostring(host))
    assert.same({ mac, mac, addr }, { g.mac, g.sender, g.address })
    assert.matches("^nsbox antispoof pid=" .. a.pid .. " start=%d+ port=" .. host .. " to=" .. addr:gsub("%.", "%%.") ..
      "$", g.comment)
    -- the fixed rules, the same in both chains: IPv4 and ARP looked up, the rest of the group dropped
    for _, chain in ipairs { "prerouting", "input" } do
      assert.equal(3, #all[chain].comments)
      assert.matches("dropped$", all[chain].comments[3])
    end
    assert.equal("prerouting", all.prerouting.hook)
    -- its address's entry in map owners: how the address's next holder finds it
    assert.matches(addr .. ' : "' .. host .. '" . ' .. mac, H.sh("nft list map bridge nsbox owners"), 1, true)
    assert.equal(before + 1, guarded())
    stop() -- it ends, as a's nsbox detaches it
    assert.equal(before, guarded())
    assert.is_nil(H.sh("nft list map bridge nsbox owners"):find(addr .. " :", 1, true))
  end)

  it("sweeps the element of a container whose nsbox was SIGKILLed within 16 attaches; until then it matches nothing",
    function()
    local state = H.tmpdir("antispoof-state", true)
    finally(function() H.rm(state) end)
    local before = guarded()
    local pid = H.sh("NSBOX_STATE_DIR=" .. state .. " " .. H.root .. "/bin/nsbox run --bridge " .. BR ..
      " --gateway " .. NET.gateway .. " --rootfs " .. H.rootfs .. " sleep 60 >/dev/null 2>&1 & echo $!"):match("%d+")
    for _ = 1, 100 do
      if guarded() > before then break end
      H.sleep(0.05)
    end
    assert.equal(before + 1, guarded())
    local _, guards = chains()
    local stale
    for _, e in ipairs(guards) do
      if e.comment:match("^nsbox antispoof pid=%d+ start=%d+ port=" .. e.port .. " ") then stale = e.port end
    end
    assert.truthy(stale)
    os.execute("kill -9 " .. pid)
    H.sleep(0.3) -- its container dies with it (PDEATHSIG), and its port with its namespace
    _, guards = chains()
    assert.equal(before + 1, #guards)
    assert.is_nil(H.links()[stale]) -- its ifindex is gone, and is not handed out again
    local attaches = 0
    repeat
      running { capabilities = RAW }
      stop()
      attaches = attaches + 1
    until guarded() == before or attaches == 16
    assert.equal(before, guarded())
  end)

  it("is turned off for one container by the CLI's --antispoof=false", function()
    local state = H.tmpdir("antispoof-cli", true)
    finally(function() H.rm(state) end)
    local function ports()
      local t = {}
      for _, l in ipairs(H.ipj("link show master " .. BR)) do t[l.ifname] = true end
      return t
    end
    -- a new port by name: those of the containers before may still be going
    local function new_port(had)
      for name in pairs(ports()) do if not had[name] then return name end end
    end
    local before, had = guarded(), ports()
    local pid = H.sh("NSBOX_STATE_DIR=" .. state .. " " .. H.root .. "/bin/nsbox run --antispoof=false --bridge " ..
      BR .. " --gateway " .. NET.gateway .. " --rootfs " .. H.rootfs .. " sleep 60 >/dev/null 2>&1 & echo $!")
      :match("%d+")
    finally(function() os.execute("kill -9 " .. pid) end)
    for _ = 1, 100 do
      if new_port(had) then break end
      H.sleep(0.05)
    end
    H.sleep(0.2) -- past the attach
    assert.truthy(new_port(had))
    assert.equal(before, guarded())
  end)

  it("refuses antispoof that is not a boolean, naming the field", function()
    local ok, err = nsbox.container { rootfs = H.rootfs, command = { "true" },
                                      network = { bridge = BR, gateway = NET.gateway, antispoof = "no" } }
    assert.is_nil(ok)
    assert.equal("network.antispoof: boolean expected, got string", err)
  end)

  it("takes over the table of an nsbox from before the set: its drop goes, so the new ports pass", function()
    stop()
    local old = "nsbox: a port of nsbox's group that the map does not name: dropped"
    os.execute("nft delete table bridge nsbox 2>/dev/null") -- made by the tests before, if any
    local f = assert(io.popen("nft -f -", "w"))
    f:write('table bridge nsbox {\ncomment "nsbox: made by nsbox, which alone changes it"\n',
      "chain prerouting {\ntype filter hook prerouting priority dstnat;\niifgroup 28275 drop comment \"", old, "\"\n}\n",
      "chain input {\ntype filter hook input priority -2147483648;\niifgroup 28275 drop comment \"", old, "\"\n}\n}\n")
    assert(f:close())
    local a = running { capabilities = RAW }
    assert.equal(0, (in_box(a, "ping -c 1 -W 2 " .. GW)))
    local all = assert(chains())
    for _, chain in ipairs { "prerouting", "input" } do
      assert.equal(3, #all[chain].comments)
      for _, c in ipairs(all[chain].comments) do assert.is_not.equal(old, c) end
    end
  end)

  it("refuses a table bridge nsbox it did not make, naming it, and leaves nothing behind", function()
    stop()
    assert(os.execute("nft delete table bridge nsbox 2>/dev/null; nft add table bridge nsbox"))
    finally(function() os.execute("nft delete table bridge nsbox") end)
    local links = H.links()
    local st, err = H.run_sh("true", { network = NET })
    assert.is_nil(st)
    assert.equal("network.antispoof: anti-spoofing: table bridge nsbox exists and was not made by nsbox", err)
    for name in pairs(H.links()) do assert.truthy(links[name], "new link " .. name) end
    assert.equal(0, guarded())
  end)
end)
