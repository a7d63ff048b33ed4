-- Guards of the network's host side (issue 11): a gateway that differs from an
-- existing bridge's address is refused, as root and through the setuid helper,
-- unless the recipe asks for a second subnet on a bridge nsbox made (defect 6);
-- the setuid helper never blocks on its output while it holds a veth and a lease
-- (security break 10). Every link is made in a network namespace this spec makes.
local H = require "spec.support.helpers"
local nsbox, core = H.nsbox, H.core
local net = require "nsbox.net"

local q, sh, ipj = H.sh_quote, H.sh, H.ipj
local NOBODY = "setpriv --reuid=65534 --regid=65534 --clear-groups "

local function must(cmd) assert(os.execute(cmd), "failed: " .. cmd) end

local read = H.read_file

local link_set = H.links -- the links of this namespace, by name

-- No link appeared since before.
local function no_new_link(before)
  for name in pairs(link_set()) do assert.is_true(before[name] ~= nil, "new link " .. name) end
end

-- The IPv4 addresses of a link, "a.b.c.d/n", sorted.
local function addrs(dev)
  local t = {}
  for _, a in ipairs((ipj("-4 addr show dev " .. dev)[1] or {}).addr_info or {}) do
    t[#t + 1] = a["local"] .. "/" .. a.prefixlen
  end
  table.sort(t)
  return t
end

-- The lease files under dir, with their contents.
local function leases(dir)
  local t = {}
  for f in sh("find " .. q(dir) .. " -type f ! -name lock 2>/dev/null"):gmatch("[^\n]+") do t[f] = read(f) end
  return t
end

-- A bridge made by someone else (iproute2), with the given addresses, up.
local function foreign_bridge(name, ...)
  must("ip link add " .. name .. " type bridge")
  for _, a in ipairs { ... } do must("ip addr add " .. a .. " dev " .. name) end
  must("ip link set " .. name .. " up")
end

describe("the network's host side", function()
  if H.needs_root("makes a network namespace and bridges in it") then return end
  local home, state_dir, saved_state

  setup(function()
    -- this process's own network namespace, to go back to at the end
    home = assert(core.open_ns("/proc/self/ns/net"))
    assert(core.unshare(core.CLONE_NEWNET))
    assert(core.rtnl.link_set { name = "lo", up = true })
    state_dir, saved_state = H.tmpdir("net-guard-state"), net.STATE_DIR
    net.STATE_DIR = state_dir
  end)

  teardown(function()
    net.STATE_DIR = saved_state
    if home then
      assert(core.setns(home, core.CLONE_NEWNET))
      core.close(home)
    end
  end)

  -- Start a container on network n: the box, or nil and the message.
  local function start(n, command)
    local box, err = nsbox.container { rootfs = H.rootfs, command = command or { "sleep", "60" }, network = n }
    if not box then return nil, err end
    local ok, serr = box:start()
    if not ok then return nil, serr end
    return box
  end

  local function stop(box) box:kill(core.SIGKILL) box:wait() end

  -- Start on n fails with a message matching pattern, leaving no link, no lease
  -- and no address behind (the bridge's addresses are those before).
  local function refused(n, pattern)
    local links, before, had = link_set(), leases(state_dir), addrs(n.bridge)
    local box, err = start(n)
    if box then stop(box) end
    assert.is_nil(box)
    assert.matches(pattern, err)
    no_new_link(links)
    assert.same(before, leases(state_dir))
    assert.same(had, addrs(n.bridge))
  end

  it("core.rtnl sets a link's alias (the mark of nsbox's bridges) and reads it", function()
    local rtnl = core.rtnl
    assert(rtnl.link_add { name = "abr0", kind = "bridge" })
    finally(function() rtnl.link_del { name = "abr0" } end)
    assert.is_nil(rtnl.link_get({ name = "abr0" }).alias)
    assert.is_true(rtnl.link_set { name = "abr0", alias = "nsbox" })
    assert.equal("nsbox", rtnl.link_get({ name = "abr0" }).alias)
    assert.equal("nsbox", ipj("link show dev abr0")[1].ifalias)
    assert.same({ nil, "link_set(abr0): alias longer than 255 bytes", 22 },
      { rtnl.link_set { name = "abr0", alias = ("x"):rep(256) } })
    assert.is_true(rtnl.link_set { name = "abr0", alias = "" })
    assert.is_nil(rtnl.link_get({ name = "abr0" }).alias)
  end)

  describe("as root", function()
    it("refuses a gateway that differs from someone else's bridge's address, naming both", function()
      foreign_bridge("gbr0", "10.20.0.1/24")
      refused({ bridge = "gbr0", gateway = "10.10.10.1/24" },
        "^network%.gateway: 10%.10%.10%.1/24 differs from bridge gbr0's address 10%.20%.0%.1/24: refused")
      -- a gateway without a prefix is the same case (its prefix defaults to /24)
      refused({ bridge = "gbr0", gateway = "10.30.0.1", address = "10.30.0.5" },
        "^network%.gateway: 10%.30%.0%.1/24 differs from bridge gbr0's address 10%.20%.0%.1/24: refused")
      assert.same({ "10.20.0.1/24" }, addrs("gbr0"))
    end)

    it("refuses a second subnet on someone else's bridge even when asked", function()
      foreign_bridge("gbr1", "10.21.0.1/24")
      refused({ bridge = "gbr1", gateway = "10.11.0.1/24", add_subnet = true },
        "^network%.add_subnet: bridge gbr1 %(address 10%.21%.0%.1/24%) was not made by nsbox: refused")
    end)

    it("takes someone else's bridge with the same gateway, or with none given", function()
      foreign_bridge("gbr2", "10.22.0.1/24")
      for _, n in ipairs { { bridge = "gbr2", gateway = "10.22.0.1" }, { bridge = "gbr2" } } do
        local box = assert(start(n))
        stop(box)
        assert.matches("^10%.22%.0%.%d+/24$", box.net.address)
      end
      assert.same({ "10.22.0.1/24" }, addrs("gbr2"))
    end)

    it("gives a bridge with no IPv4 address the gateway, as before", function()
      foreign_bridge("gbr3")
      local box = assert(start { bridge = "gbr3", gateway = "10.23.0.1/24" })
      stop(box)
      assert.same({ "10.23.0.1/24" }, addrs("gbr3"))
    end)

    it("marks a bridge it made, which takes a second subnet only when the recipe says so", function()
      local box = assert(start { bridge = "nbr0", gateway = "10.24.0.1/24" })
      stop(box)
      assert.equal("nsbox", ipj("link show dev nbr0")[1].ifalias)
      refused({ bridge = "nbr0", gateway = "10.25.0.1/24" },
        "^network%.gateway: 10%.25%.0%.1/24 differs from bridge nbr0's address 10%.24%.0%.1/24: refused %(" ..
        "network%.add_subnet = true adds it%)")
      box = assert(start { bridge = "nbr0", gateway = "10.25.0.1/24", add_subnet = true })
      stop(box)
      assert.matches("^10%.25%.0%.%d+/24$", box.net.address)
      assert.same({ "10.24.0.1/24", "10.25.0.1/24" }, addrs("nbr0"))
      -- both subnets stay usable, the second one now without asking
      for _, gw in ipairs { "10.24.0.1", "10.25.0.1" } do
        local st, out = H.run_sh("ping -c 1 -W 2 " .. gw, { network = { bridge = "nbr0", gateway = gw },
          capabilities = { add = { "net_raw" } } }) -- busybox ping: raw sockets only
        assert.equal(0, st, out)
      end
    end)

    it("checks network.add_subnet in the recipe", function()
      local function bad(n, msg)
        local box, err = nsbox.container { rootfs = H.rootfs, command = { "true" }, network = n }
        assert.is_nil(box)
        assert.equal(msg, err)
      end
      bad({ bridge = "nbr0", gateway = "10.25.0.1/24", add_subnet = "yes" },
        "network.add_subnet: boolean expected, got string")
      bad({ bridge = "nbr0", add_subnet = true }, "network.add_subnet: needs network.gateway, the subnet to add")
      assert.is_truthy(nsbox.container { rootfs = H.rootfs, command = { "true" },
        network = { bridge = "nbr0", gateway = "10.25.0.1/24", add_subnet = false } })
    end)
  end)

  describe("through the setuid helper", function()
    local T, helper, conf, hstate

    setup(function()
      T = H.tmpdir("net-guard")
      must("chmod 0755 " .. q(T))
      conf, hstate, helper = T .. "/netns.conf", T .. "/state", T .. "/nsbox-netns"
      local f = assert(io.open(conf, "w"))
      f:write("bridge hbr0 10.90.0.1/24\nbridge hbr1 10.91.0.1/24\nbridge hbr2 10.92.0.1/24\n" ..
        "bridge hbr3 10.93.0.1/24\nbridge hbr4 10.94.0.1/24\n")
      f:close()
      must(string.format("make -s -B -C %s %s HELPER=%s NSBOX_NETNS_CONF=%s NSBOX_NETNS_STATE=%s",
        q(H.root), q(helper), q(helper), q(conf), q(hstate)))
      must("chown root:root " .. q(helper) .. " && chmod 4755 " .. q(helper))
    end)
    teardown(function() if T then H.rm(T) end end)

    -- A process of uid 65534 in a user and network namespace of its own; its
    -- popen handle, closed (after a kill) by the test.
    local targets = {}
    local function target()
      local h = assert(io.popen("exec " .. NOBODY .. "unshare -Urn sh -c 'echo $$; exec sleep 60'"))
      local pid = assert(tonumber(h:read("l")))
      targets[pid] = h
      return pid
    end
    after_each(function()
      for pid, h in pairs(targets) do
        os.execute("kill -9 " .. pid .. " 2>/dev/null")
        h:close()
      end
      targets = {}
    end)

    -- Nothing made since links and before (link_set(), leases(hstate)): no link,
    -- no lease, no eth0 in the target pid.
    local function nothing_left(pid, links, before)
      no_new_link(links)
      assert.same(before, leases(hstate))
      assert.is_nil(ipj("link show dev eth0", pid)[1])
    end

    -- The helper as uid 65534 with these words (which may redirect its stdout):
    -- exit code, stdout, stderr.
    local function attach(words)
      return H.run3(NOBODY .. helper .. " " .. words)
    end

    it("refuses a bridge whose address differs from its config's, naming both", function()
      foreign_bridge("hbr0", "10.20.0.1/24")
      local pid = target()
      local links, before = link_set(), leases(hstate)
      local code, out, err = attach("attach " .. pid .. " hbr0")
      assert.same({ 1, "", "nsbox-netns: gateway 10.90.0.1/24 (" .. conf .. ") differs from bridge hbr0's " ..
        "address 10.20.0.1/24: refused\n" }, { code, out, err })
      nothing_left(pid, links, before)
      assert.same({ "10.20.0.1/24" }, addrs("hbr0"))
    end)

    it("refuses the config's gateway with another prefix on the bridge", function()
      foreign_bridge("hbr1", "10.91.0.1/16")
      local code, _, err = attach("attach " .. target() .. " hbr1")
      assert.same({ 1, "nsbox-netns: gateway 10.91.0.1/24 (" .. conf .. ") differs from bridge hbr1's " ..
        "address 10.91.0.1/16: refused\n" }, { code, err })
      assert.same({ "10.91.0.1/16" }, addrs("hbr1"))
    end)

    it("takes someone else's bridge with the config's address, or with none, and marks its own", function()
      foreign_bridge("hbr2", "10.92.0.1/24")
      foreign_bridge("hbr3")
      for _, br in ipairs { "hbr2", "hbr3", "hbr4" } do
        local code, out, err = attach("attach " .. target() .. " " .. br)
        assert.equal(0, code, err)
        assert.matches("gateway=10%.9%d%.0%.1\n$", out)
      end
      assert.same({ "10.92.0.1/24" }, addrs("hbr2"))
      assert.same({ "10.93.0.1/24" }, addrs("hbr3"))
      assert.same({ "10.94.0.1/24" }, addrs("hbr4"))
      assert.is_nil(ipj("link show dev hbr2")[1].ifalias)
      assert.equal("nsbox", ipj("link show dev hbr4")[1].ifalias) -- made by the helper
    end)

    it("keeps the lease lock from other users, who could stall every attach by holding it", function()
      local code, _, err = attach("attach " .. target() .. " hbr4")
      assert.equal(0, code, err)
      local ino = core.readlink("/proc/self/ns/net"):match("%[(%d+)%]")
      local dir = hstate .. "/" .. ino .. "-hbr4"
      -- a directory left open by an earlier version is closed again at the next attach
      must("chmod 0755 " .. q(dir) .. " && chmod 0644 " .. q(dir .. "/lock"))
      code, _, err = attach("attach " .. target() .. " hbr4")
      assert.equal(0, code, err)
      assert.equal("drwx------", sh("stat -c %A " .. q(dir)):sub(1, 10))
      -- flock(1) as uid 65534, without waiting: it cannot even open the lock
      local ok, out = H.run(NOBODY .. "flock -n " .. q(dir .. "/lock") .. " true")
      assert.is_false(ok or false, out)
      assert.matches("Permission denied", out)
    end)

    describe("never blocks on its output while it holds a veth and a lease", function()
      -- The helper run as uid 65534 from a shell line whose stdout is a pipe made
      -- full first (dd's non-blocking writes through a new open of the pipe, by
      -- /proc/self/fd/1: the VM's /dev has no /dev/stdout link), which
      -- a reader that never reads holds open until the helper is done. redirect
      -- says where its stderr goes. A helper that blocks is killed after 30 s (a
      -- hang detector, not a timing: it gets exit code 137; the shell's "Killed",
      -- outside the helper's redirection, goes to /dev/null, not to the full pipe).
      local function attach_full(pid, redirect)
        local rc, done = H.tmpname("net-guard-rc"), H.tmpname("net-guard-done")
        os.remove(done)
        must(string.format("{ dd if=/dev/zero of=/proc/self/fd/1 oflag=nonblock bs=4096 count=100000 2>/dev/null; " ..
          "(timeout -s KILL 30 %s %s attach %d hbr4 %s); echo $? > %s; touch %s; } 2>/dev/null | " ..
          "{ while [ ! -e %s ]; do sleep 0.05; done; }",
          NOBODY, helper, pid, redirect, q(rc), q(done), q(done)))
        local code = tonumber(read(rc))
        os.remove(rc)
        os.remove(done)
        return code
      end

      it("a full pipe as stdout: exits 1 at once, saying so, with nothing left behind", function()
        attach("attach " .. target() .. " hbr4") -- the bridge exists: only the veth and the lease are at stake
        local pid = target()
        local links, before = link_set(), leases(hstate)
        local errf = H.tmpname("net-guard-err")
        local code = attach_full(pid, "2>" .. q(errf))
        local err = read(errf)
        assert.equal(1, code)
        assert.equal("nsbox-netns: writing the result: Resource temporarily unavailable\n", err)
        nothing_left(pid, links, before)
      end)

      it("a full pipe as stdout and stderr: exits 1 at once, with nothing left behind", function()
        local pid = target()
        local links, before = link_set(), leases(hstate)
        assert.equal(1, attach_full(pid, "2>&1"))
        nothing_left(pid, links, before)
      end)

      it("a file as stdout, which may not take a write without waiting: refused, nothing left behind", function()
        local pid = target()
        local links, before = link_set(), leases(hstate)
        local outf = H.tmpname("net-guard-out")
        must("chmod 666 " .. q(outf))
        local code, _, err = attach("attach " .. pid .. " hbr4 >" .. q(outf))
        assert.same({ 1, "nsbox-netns: writing the result: stdout must be a pipe or a socket " ..
          "(a write to it could wait): Operation not supported\n" }, { code, err })
        assert.equal("", read(outf))
        nothing_left(pid, links, before)
      end)
    end)
  end)
end)
