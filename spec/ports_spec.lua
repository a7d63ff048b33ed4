-- Published ports (podman run -p) as root: from "the internet" (a further
-- network namespace, spec/support/internet.lua) to the host's address, from the
-- host itself (127.0.0.1 and its own address), from another container on the
-- bridge (hairpin); UDP flows that follow the port; the rules removed at exit and
-- after SIGKILL; bad input refused with nothing made. Everything happens inside a
-- network namespace this spec makes for itself.
local H = require "spec.support.helpers"
local I = require "spec.support.internet"
local nsbox, core = H.nsbox, H.core

local BRIDGE, GW = "pbr0", "10.80.0.1/24"

local write = I.write

local listens = I.listens

local function await(f)
  for _ = 1, 100 do
    if f() then return true end
    H.sleep(0.05)
  end
  return false
end

-- The rules of table inet nsbox that publish ports, as "chain proto dport to".
local function port_rules()
  local text = H.sh("nft -j list table inet nsbox 2>/dev/null")
  local out = {}
  if text == "" then return out end
  for _, o in ipairs(H.json_decode(text).nftables) do
    local r = o.rule
    if r and r.comment and r.comment:match("^nsbox port ") then
      local dport, to, proto
      for _, e in ipairs(r.expr) do
        if e.match and e.match.left.payload and e.match.left.payload.field == "dport" then
          dport, proto = e.match.right, e.match.left.payload.protocol
        end
        if e.dnat then to = e.dnat.addr .. ":" .. e.dnat.port end
      end
      out[#out + 1] = string.format("%s %s %s %s", r.chain, tostring(proto), tostring(dport), tostring(to))
    end
  end
  table.sort(out)
  return out
end

describe("published ports", function()
  if H.needs_root("makes network namespaces and nftables rules of its own") then return end
  local inet, www, boxes = nil, nil, {}

  -- A container serving HTTP on port 80 (index.html, and cgi-bin/ip: the client's
  -- address) with ports published; returns it once it listens.
  local function server(ports, extra)
    local r = extra or {}
    local proto, port = r.listen or "tcp", r.port or 80
    r.listen, r.port = nil, nil
    r.rootfs, r.ports = H.rootfs, ports
    r.network = r.network or { bridge = BRIDGE, gateway = GW }
    r.mounts = { { type = "bind", source = www, destination = "/www", readonly = true } }
    r.command = r.command or { "httpd", "-f", "-p", "0.0.0.0:80", "-h", "/www" }
    local box = assert(nsbox.container(r))
    assert(box:start())
    boxes[#boxes + 1] = box
    assert.is_true(await(function() return listens(box.pid, proto, port) end), "no server")
    return box
  end

  local function stop(box)
    box:kill(core.SIGKILL)
    box:wait()
  end

  -- A shell line in the internet's namespace (the host's wget, busybox's).
  local function from_internet(line)
    return H.sh("nsenter -t " .. inet.pid .. " -n sh -c " .. H.sh_quote(line) .. " 2>&1")
  end

  local function fetch(url) return H.sh("timeout 5 busybox wget -q -O- " .. url .. " 2>&1") end

  setup(function()
    assert(core.unshare(core.CLONE_NEWNET))
    assert(core.rtnl.link_set { name = "lo", up = true })
    inet = I.start()
    www = H.tmpdir("www")
    assert(os.execute("mkdir -p " .. www .. "/cgi-bin"))
    write(www .. "/index.html", "hello from the container\n")
    -- a UDP server, static for the busybox rootfs (spec/support/udp.c)
    assert(os.execute("cc -O2 -static -o " .. www .. "/udp " .. H.root .. "/spec/support/udp.c"))
    write(www .. "/cgi-bin/ip", "#!/bin/sh\nprintf 'Content-Type: text/plain\\r\\n\\r\\n%s\\n' \"$REMOTE_ADDR\"\n", "755")
  end)
  teardown(function()
    if inet then inet.stop() end
    if www then H.rm(www) end
  end)
  after_each(function()
    for _, b in ipairs(boxes) do if not b.status then stop(b) end end
    boxes = {}
    -- every rule of the ports went with its container
    assert.same({}, port_rules())
  end)

  it("is reached from outside the host at the host's address, and sees the real client", function()
    server({ { host = 8080, container = 80 } })
    assert.equal("hello from the container\n", from_internet("timeout 5 busybox wget -q -O- http://" .. I.HOST ..
      ":8080/"))
    assert.equal(I.ADDR .. "\n", from_internet("timeout 5 busybox wget -q -O- http://" .. I.HOST ..
      ":8080/cgi-bin/ip"))
    local rules = port_rules()
    assert.equal(2, #rules)
    assert.matches("^output tcp 8080 10%.80%.0%.%d+:80$", rules[1])
    assert.matches("^prerouting tcp 8080 10%.80%.0%.%d+:80$", rules[2])
  end)

  it("is reached from the host itself, at 127.0.0.1 and at its own addresses", function()
    server({ { host = 8080, container = 80 } })
    assert.equal("hello from the container\n", fetch("http://127.0.0.1:8080/"))
    assert.equal("hello from the container\n", fetch("http://" .. I.HOST .. ":8080/"))
    assert.equal("hello from the container\n", fetch("http://10.80.0.1:8080/"))
    assert.equal("1\n", H.read_file("/proc/sys/net/ipv4/conf/" .. BRIDGE .. "/route_localnet"))
  end)

  it("is reached from another container on the bridge through the host's address (hairpin)", function()
    server({ { host = 8080, container = 80 } })
    local st, out = H.capture { rootfs = H.rootfs, network = { bridge = BRIDGE },
      command = { "sh", "-c", "timeout 5 wget -q -O- http://" .. I.HOST .. ":8080/cgi-bin/ip" } }
    assert.equal(0, st, out)
    assert.equal("10.80.0.1\n", out) -- masqueraded, so that the reply comes back through the host
  end)

  it("publishes on one address only when given one: 127.0.0.1 from the host, not from outside", function()
    server({ { host = 8081, container = 80, address = "127.0.0.1" } })
    assert.equal("hello from the container\n", fetch("http://127.0.0.1:8081/"))
    assert.matches("refused", from_internet("timeout 5 busybox wget -q -O- http://" .. I.HOST .. ":8081/"))
    -- the loopback guard (CVE-2020-8558) comes before any translation
    local guard = H.sh("nft list chain inet nsbox guard")
    assert.matches('priority raw;.*iifname != "lo" ip daddr 127%.0%.0%.0/8 drop', guard)
    assert.matches('iifname != "lo" ip saddr 127%.0%.0%.0/8 drop', guard)
  end)

  it("moves a UDP flow to the next container on the port: the first one's conntrack entry goes with it", function()
    local udp = { "/www/udp", "9000" }
    local a = server({ { host = 9000, container = 9000, protocol = "udp" } },
      { command = udp, hostname = "first", listen = "udp", port = 9000 })
    -- one client socket (one source port) for both
    local fifo = H.tmpname("udp")
    os.remove(fifo)
    assert(os.execute("mkfifo " .. fifo))
    local client = io.popen("nsenter -t " .. inet.pid .. " -n " .. www .. "/udp " .. I.HOST .. " 9000 < " .. fifo,
      "r")
    local feed = assert(io.open(fifo, "w"))
    feed:setvbuf("no")
    feed:write("one\n")
    assert.equal("one from first", client:read("l"))
    stop(a)
    server({ { host = 9000, container = 9000, protocol = "udp" } },
      { command = udp, hostname = "second", listen = "udp", port = 9000 })
    feed:write("two\n")
    assert.equal("two from second", client:read("l"))
    feed:close()
    client:close()
    os.remove(fifo)
  end)

  it("refuses a host port in use, naming it, and makes nothing", function()
    local holder = io.popen("exec busybox nc -l -p 8090 -e true & echo $!")
    local pid = holder:read("l")
    finally(function() os.execute("kill " .. pid) holder:close() end)
    assert.is_true(await(function() return listens("self", "tcp", 8090) end))
    local ino = core.readlink("/proc/self/ns/net"):match("%[(%d+)%]")
    local leases = "ls /run/nsbox/net/" .. ino .. "-" .. BRIDGE .. " 2>/dev/null"
    -- a veth of the test before may still be going away with its namespace: no new link, not the same count
    local function links() return H.sh("ip -o link | cut -d: -f2 | cut -d@ -f1 | tr -d ' ' | sort") end
    local had, before = links(), H.sh(leases)
    local st, err = H.capture { rootfs = H.rootfs, network = { bridge = BRIDGE, gateway = GW },
      ports = { { host = 8090, container = 80 } }, command = { "true" } }
    assert.is_nil(st)
    assert.equal("ports[1]: 0.0.0.0:8090/tcp is in use", err)
    for name in links():gmatch("%S+") do assert.truthy(("\n" .. had .. "\n"):find("\n" .. name .. "\n", 1, true), "new link " .. name) end
    assert.equal(before, H.sh(leases))
  end)

  describe("refuses bad input, naming the field:", function()
    local net = { bridge = BRIDGE, gateway = GW }
    for _, c in ipairs {
      { "a port out of range", { { host = 70000, container = 80 } }, "ports%[1%]%.host: 70000 is out of range" },
      { "a container port out of range", { { host = 80, container = 0 } }, "ports%[1%]%.container: 0 is out of range" },
      { "a range past 65535", { { host = 65535, count = 2 } }, "ports%[1%]%.host: 65535%-65536 is out of range" },
      { "a protocol that is not tcp or udp", { { host = 80, protocol = "sctp" } },
        "ports%[1%]%.protocol: 'sctp' is not tcp or udp" },
      { "an address that is not IPv4", { { host = 80, address = "::1" } },
        "ports%[1%]%.address: '::1' is not an IPv4 address" },
      { "a port given twice", { { host = 80 }, { host = 80, address = "127.0.0.1" } },
        "ports%[2%]%.host: 80/tcp is published twice" },
      { "an unknown field", { { host = 80, hots = 1 } }, "ports%[1%]: unknown field 'hots'" },
      { "a port that is not an integer", { { host = "80" } }, "ports%[1%]%.host: integer expected, got string" },
    } do
      it(c[1], function()
        local box, err = nsbox.container { rootfs = H.rootfs, network = net, ports = c[2] }
        assert.is_nil(box)
        assert.matches("^" .. c[3], err)
      end)
    end
    it("ports without a bridge network", function()
      local box, err = nsbox.container { rootfs = H.rootfs, ports = { { host = 80 } } }
      assert.is_nil(box)
      assert.equal('ports: needs a network (network = { bridge = ... } or "pasta")', err)
    end)
    it("-p that is not [ADDR:]HOST:CONTAINER[/udp]", function()
      local out, err, code = H.cli(H.tmpdir("ports-cli", true))("run -p 8080 --rootfs " .. H.rootfs .. " true")
      assert.same({ "", 125 }, { out, code })
      assert.matches("%-p '8080': %[ADDR:%]HOST:CONTAINER%[/udp%] expected", err)
    end)
  end)

  it("publishes a range from the CLI, and removes every rule when the container ends", function()
    local state = H.tmpdir("ports-state", true)
    finally(function() H.rm(state) end)
    local out, err, code = H.cli(state)("run -p 127.0.0.1:8100-8101:80-81/tcp -p 9100:9100/udp --bridge " ..
      BRIDGE .. " --gateway " .. GW .. " --rootfs " .. H.rootfs .. " sh -c " .. H.sh_quote(
      "nft -j list table inet nsbox >/dev/null 2>&1; echo ok"))
    assert.same({ "ok\n", "", 0 }, { out, err, code })
    local state2 = H.tmpdir("ports-state", true)
    finally(function() H.rm(state2) end)
    -- while it runs: the rules; read from here while a detached one holds them
    out, err, code = H.cli(state2)("run -d --name r -p 127.0.0.1:8100-8101:80-81 -p 9100:9100/udp --bridge " ..
      BRIDGE .. " --rootfs " .. H.rootfs .. " sleep 60")
    assert.same({ "r\n", "", 0 }, { out, err, code })
    local rules = port_rules()
    H.cli(state2)("stop -t 0 r")
    H.cli(state2)("rm r")
    assert.equal(6, #rules)
    assert.matches("output tcp 8100 10%.80%.0%.%d+:80", rules[1])
    assert.matches("output tcp 8101 10%.80%.0%.%d+:81", rules[2])
    assert.matches("output udp 9100 10%.80%.0%.%d+:9100", rules[3])
  end)

  it("removes the rules of a container whose nsbox was SIGKILLed at the next attach", function()
    local state = H.tmpdir("ports-state", true)
    finally(function() H.rm(state) end)
    local pid = H.sh("NSBOX_STATE_DIR=" .. state .. " " .. H.root .. "/bin/nsbox run -p 8200:80 --bridge " .. BRIDGE ..
      " --gateway " .. GW .. " --rootfs " .. H.rootfs .. " sleep 60 >/dev/null 2>&1 & echo $!"):match("%d+")
    assert.is_true(await(function() return #port_rules() == 2 end))
    os.execute("kill -9 " .. pid)
    assert.is_true(await(function() return not core.starttime(tonumber(pid)) end))
    H.sleep(0.3) -- its container dies with it (PDEATHSIG)
    assert.equal(2, #port_rules()) -- nothing removed them yet
    local st = H.capture { rootfs = H.rootfs, network = { bridge = BRIDGE }, command = { "true" } }
    assert.equal(0, st)
    assert.same({}, port_rules())
    H.cli(state)("ps -a") -- reaps its entry
  end)
end)
