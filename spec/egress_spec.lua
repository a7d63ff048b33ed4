-- Egress, the seed's last stage: a bridge network's subnet masqueraded (table
-- inet nsbox) and IPv4 forwarding on, so a container reaches "the internet", a
-- further network namespace this spec made (spec/support/internet.lua), with
-- the host's address. Everything happens inside a network namespace this spec
-- makes for itself.
local H = require "spec.support.helpers"
local I = require "spec.support.internet"
local nsbox, core = H.nsbox, H.core

local RAW = { add = { "net_raw" } } -- busybox's ping opens raw ICMP sockets

-- The container's stdout (its stderr too) and its status.
local function run(network, line, extra)
  local r = extra or {}
  r.rootfs, r.network, r.capabilities = H.rootfs, network, r.capabilities or RAW
  r.command = { "/bin/sh", "-c", line .. " 2>&1" }
  local st, out, err = H.capture(r)
  return tostring(out) .. (err or ""), st
end

local function nft_text(args) return H.sh("nft " .. args .. " 2>&1") end

-- The masquerade rules of table inet nsbox, by subnet, from nft's JSON.
local function masquerades()
  local text = H.sh("nft -j list table inet nsbox 2>/dev/null")
  local out = H.json_decode(text ~= "" and text or '{"nftables":[]}')
  local subnets = {}
  for _, o in ipairs(out.nftables) do
    local r = o.rule
    if r and r.chain == "postrouting" and (r.comment or ""):match("^nsbox masquerade ") then
      local src, masq
      for _, e in ipairs(r.expr) do
        if e.match and e.match.left.payload and e.match.left.payload.field == "saddr" then
          src = e.match.right.prefix.addr .. "/" .. e.match.right.prefix.len
        end
        if e.masquerade ~= nil then masq = true end
      end
      if src and masq then subnets[#subnets + 1] = src end
    end
  end
  table.sort(subnets)
  return subnets
end

-- A command in a network namespace of its own (the bridge's host), as a shell line.
local function fresh_netns(line)
  return "unshare -n sh -c " .. H.sh_quote("ip link set lo up; " .. line)
end

describe("egress", function()
  if H.needs_root("makes network namespaces and nftables rules of its own") then return end
  local inet
  setup(function()
    assert(core.unshare(core.CLONE_NEWNET))
    assert(core.rtnl.link_set { name = "lo", up = true })
    assert.equal("0", H.read_file("/proc/sys/net/ipv4/ip_forward"):match("%d"))
    inet = I.start()
  end)
  teardown(function() if inet then inet.stop() end end)

  it("masquerades the bridge's subnet: the container pings the internet and fetches a page with the host's " ..
     "address", function()
    local out, st = run({ bridge = "egr0", gateway = "10.70.0.1/24" },
      "ping -c 1 -W 5 " .. I.ADDR .. " >/dev/null && echo pinged; timeout 10 wget -q -O- http://" .. I.ADDR ..
      "/; timeout 10 wget -q -O- http://" .. I.ADDR .. "/cgi-bin/ip")
    assert.equal(0, st, out)
    assert.matches("pinged\nhello from the internet\n" .. I.HOST:gsub("%.", "%%.") .. "\n", out)
    assert.same({ "10.70.0.0/24" }, masquerades())
    assert.equal("1", H.read_file("/proc/sys/net/ipv4/ip_forward"):match("%d"))
    -- the table is nsbox's, and says so
    assert.matches('comment "nsbox: made by nsbox', nft_text("list table inet nsbox"))
  end)

  it("resolves a name through the resolver named in dns", function()
    local out, st = run({ bridge = "egr0", gateway = "10.70.0.1/24" }, "nslookup -type=a " .. I.NAME, { dns = { servers = { I.ADDR } } })
    assert.equal(0, st, out)
    assert.matches("Address:? *" .. I.ADDR:gsub("%.", "%%."), out)
  end)

  it("adds a subnet's rule once, however many containers use it", function()
    for _ = 1, 2 do
      local out, st = run({ bridge = "egr0", gateway = "10.70.0.1/24" }, "true")
      assert.equal(0, st, out)
    end
    assert.same({ "10.70.0.0/24" }, masquerades())
  end)

  it("puts the rule back when it was removed, and egress works again", function()
    local _, first = run({ bridge = "egr0", gateway = "10.70.0.1/24" }, "true")
    assert.equal(0, first)
    assert(H.run("nft flush chain inet nsbox postrouting"))
    assert.same({}, masquerades())
    local out, st = run({ bridge = "egr0", gateway = "10.70.0.1/24" }, "timeout 10 wget -q -O- http://" .. I.ADDR .. "/cgi-bin/ip")
    assert.equal(0, st, out)
    assert.equal(I.HOST .. "\n", out)
    assert.same({ "10.70.0.0/24" }, masquerades())
  end)

  it("gives no egress with nat = false: no rule for the subnet, the internet unreached", function()
    local out, st = run({ bridge = "egr1", gateway = "10.71.0.1/24", nat = false },
      "ping -c 1 -W 1 " .. I.ADDR .. " >/dev/null && echo reached; ping -c 1 -W 1 10.71.0.1 >/dev/null && echo gw")
    assert.equal(0, st, out)
    assert.equal("gw\n", out)
    for _, subnet in ipairs(masquerades()) do assert.not_equal("10.71.0.0/24", subnet) end
  end)

  it("rejects a nat that is not a boolean, naming the field", function()
    local box, err = nsbox.container { rootfs = H.rootfs, network = { nat = "yes" } }
    assert.is_nil(box)
    assert.matches("network.nat: boolean expected, got string", err)
  end)

  it("refuses a table inet nsbox it did not make, and leaves nothing behind", function()
    local state = H.tmpdir("egress-state", true)
    finally(function() H.rm(state) end)
    local out = H.sh(fresh_netns("nft add table inet nsbox; NSBOX_STATE_DIR=" .. state .. " " .. H.root ..
      "/bin/nsbox run --bridge egr2 --gateway 10.72.0.1/24 --rootfs " .. H.rootfs .. " true; echo rc=$?; " ..
      "ip -o link | grep -c -e egr2 -e nsb; nft list ruleset; cat /proc/sys/net/ipv4/ip_forward") .. " 2>&1")
    assert.matches("network.nat: table inet nsbox exists and was not made by nsbox: refused", out)
    assert.matches("rc=125\n0\ntable inet nsbox {\n}\n0\n$", out)
    assert.equal("", H.sh("ls /run/nsbox/net/egr2 2>/dev/null"))
  end)

  it("says so when another table's forward chain drops by default, and changes nothing of it", function()
    local out = H.sh(fresh_netns("nft add table inet fw; nft add chain inet fw forward " ..
      "'{ type filter hook forward priority 0; policy drop; }'; " .. H.root ..
      "/bin/nsbox run --bridge egr3 --gateway 10.73.0.1/24 --rootfs " .. H.rootfs .. " true; echo rc=$?; " ..
      "nft list table inet fw") .. " 2>&1")
    assert.matches("nsbox: warning: network.nat: chain inet fw forward drops forwarded traffic by default", out)
    assert.matches("rc=0\ntable inet fw {\n\tchain forward {\n\t\ttype filter hook forward priority filter; " ..
      "policy drop;\n\t}\n}\n$", out)
  end)

  describe("with isolate = true", function()
    local NET = { bridge = "egr5", gateway = "10.75.0.1/24", isolate = true }
    local server
    setup(function()
      -- a service of the host's, on its own address
      local www = H.tmpdir("host-www")
      I.write(www .. "/index.html", "host service\n")
      local h = io.popen("exec busybox httpd -f -p " .. I.HOST .. ":8099 -h " .. www .. " & echo $!")
      server = { pid = h:read("l"), h = h, dir = www }
      assert.truthy(server.pid)
    end)
    teardown(function()
      if server then os.execute("kill " .. server.pid) server.h:close() H.rm(server.dir) end
    end)

    local function reach(network, url)
      local out = run(network, "timeout 5 wget -q -O- " .. url .. " >/dev/null 2>&1 && echo reached || echo no")
      return out
    end

    it("reaches the internet past the host's subnets", function()
      assert.equal("reached\n", reach(NET, "http://" .. I.FAR .. "/"))
    end)

    it("does not reach the host's own addresses, nor a neighbour on a subnet the host is on", function()
      assert.equal("no\n", reach(NET, "http://" .. I.HOST .. ":8099/"))
      assert.equal("no\n", reach(NET, "http://10.75.0.1:8099/"))
      assert.equal("no\n", reach(NET, "http://" .. I.ADDR .. "/"))
      -- not isolated, the same container reaches both
      local open = { bridge = "egr5" }
      assert.equal("reached\n", reach(open, "http://" .. I.HOST .. ":8099/"))
      assert.equal("reached\n", reach(open, "http://" .. I.ADDR .. "/"))
    end)

    it("keeps its published ports reachable, and its rules go with it", function()
      local box = assert(nsbox.container { rootfs = H.rootfs, network = NET, ports = { { host = 8098, container = 80 } },
        mounts = { { type = "bind", source = server.dir, destination = "/www", readonly = true } },
        command = { "httpd", "-f", "-p", "0.0.0.0:80", "-h", "/www" } })
      assert(box:start())
      finally(function() box:kill(core.SIGKILL) box:wait() end)
      for _ = 1, 100 do if I.listens(box.pid, "tcp", 80) then break end H.sleep(0.05) end
      local got = H.sh("nsenter -t " .. inet.pid .. " -n timeout 5 busybox wget -q -O- http://" .. I.HOST ..
        ":8098/ 2>&1")
      assert.equal("host service\n", got)
      assert.matches("nsbox isolate pid=" .. box.pid, nft_text("list chain inet nsbox input"))
      box:kill(core.SIGKILL)
      box:wait()
      assert.not_matches("nsbox isolate", nft_text("list table inet nsbox"))
    end)

    it("needs a boolean", function()
      local box, err = nsbox.container { rootfs = H.rootfs, network = { isolate = 1 } }
      assert.is_nil(box)
      assert.matches("network.isolate: boolean expected, got number", err)
    end)
  end)

  it("runs the seed's example with --net: the container reaches the internet", function()
    local ok, out = H.run("cd " .. H.root .. " && env -u LUA_PATH -u LUA_CPATH lua5.4 examples/ns-process.lua " ..
      "--net build/rootfs sh -c 'timeout 10 wget -q -O- http://" .. I.ADDR .. "/cgi-bin/ip'")
    assert.is_true(ok, out)
    assert.matches(I.HOST:gsub("%.", "%%.") .. "\n$", out)
  end)
end)
