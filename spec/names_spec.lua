-- Names between containers on one bridge, as root: the bridge's hosts file,
-- bound read-only at each container's /etc/hosts. Everything happens inside a
-- network namespace this spec makes for itself.
local H = require "spec.support.helpers"
local core = H.core

local NET = { bridge = "nmbr0", gateway = "10.82.0.1/24" }
local RAW = { add = { "net_raw" } }

-- How a container resolves name: the address ping takes for it, or its complaint.
local function resolve(name, extra)
  local r = extra or {}
  r.network, r.capabilities = r.network or NET, RAW
  local st, out, err = H.run_sh("ping -c 1 -W 1 " .. name .. " 2>&1 | head -1", r)
  assert.equal(0, st, tostring(err))
  return out:match("^PING %S+ %(([%d.]+)%)") or out
end

local function hosts_file()
  local ino = core.readlink("/proc/self/ns/net"):match("%[(%d+)%]")
  return H.read_file("/run/nsbox/net/hosts/" .. ino .. "-" .. NET.bridge) or ""
end

describe("names on a bridge", function()
  if H.needs_root("makes a network namespace and bridges of its own") then return end
  local running, stop = H.sleepers_on(NET)
  setup(function()
    assert(core.unshare(core.CLONE_NEWNET))
    assert(core.rtnl.link_set { name = "lo", up = true })
  end)
  after_each(stop)

  it("lets a container reach another by its name and by its hostname", function()
    local db = running { name = "db", hostname = "dbhost" }
    local addr = H.ipj("-4 addr show eth0", db.pid)[1].addr_info[1]["local"]
    assert.equal(addr, resolve("db"))
    assert.equal(addr, resolve("dbhost"))
    assert.equal("10.82.0.1", resolve("10.82.0.1")) -- and addresses as before
  end)

  it("stops resolving a name when its container ends, in the containers already running too", function()
    local watcher = running { name = "watcher", capabilities = RAW }
    local function from_watcher(name)
      local r, w = assert(core.pipe())
      local st = watcher:exec { command = { "/bin/sh", "-c", "ping -c 1 -W 1 " .. name .. " 2>&1 | head -1" }, stdout = w }
      core.close(w)
      local out = core.read_all(r)
      core.close(r)
      assert.equal(0, st)
      return out:match("^PING %S+ %(([%d.]+)%)") or out
    end
    local db = running { name = "db2" }
    assert.matches("^10%.82%.0%.%d+$", from_watcher("db2"))
    db:kill(core.SIGKILL)
    db:wait()
    assert.is_nil(hosts_file():find("db2", 1, true))
    assert.matches("bad address 'db2'", from_watcher("db2"))
    assert.matches("^10%.82%.0%.%d+$", from_watcher("watcher")) -- the rest of the file is whole
  end)

  it("refuses a name another container has on the bridge, naming it, and makes nothing", function()
    local a = running { name = "web", hostname = "front" }
    local function links()
      local t = {}
      for _, l in ipairs(H.ipj("link show")) do t[l.ifname] = true end
      return t
    end
    local before, had = hosts_file(), links()
    for _, r in ipairs { { hostname = "web" }, { name = "front" } } do
      r.rootfs, r.network, r.command = H.rootfs, NET, { "true" }
      local st, err = H.capture(r)
      assert.is_nil(st)
      local addr = H.ipj("-4 addr show eth0", a.pid)[1].addr_info[1]["local"]
      assert.matches("^network: name %a+ is taken on bridge nmbr0 %(by the container at " .. addr:gsub("%.", "%%.") ..
        "%)$", err)
    end
    assert.equal(before, hosts_file())
    for name in pairs(links()) do assert.is_true(had[name], "new link " .. name) end
    -- on another bridge the hostname is free
    local st, err = H.run_sh("true", { hostname = "front", network = { bridge = "nmbr1", gateway = "10.83.0.1/24" } })
    assert.equal(0, st, err)
  end)

  it("binds the file read-only: a container cannot write the others' names", function()
    local st, out = H.run_sh("echo '10.82.0.99 db' >> /etc/hosts && echo written; grep ' /etc/hosts ' /proc/mounts",
      { network = NET })
    assert.equal(0, st)
    assert.matches("^[^\n]* /etc/hosts %S+ ro,", out)
  end)

  it("drops the names of a container whose nsbox was SIGKILLed at the next change", function()
    local state = H.tmpdir("names-state", true)
    finally(function() H.rm(state) end)
    local pid = H.sh("NSBOX_STATE_DIR=" .. state .. " " .. H.root .. "/bin/nsbox run --name gone --bridge " ..
      NET.bridge .. " --gateway " .. NET.gateway .. " --rootfs " .. H.rootfs .. " sleep 60 >/dev/null 2>&1 & echo $!")
      :match("%d+")
    for _ = 1, 100 do
      if hosts_file():find("gone", 1, true) then break end
      H.sleep(0.05)
    end
    assert.truthy(hosts_file():find("gone", 1, true))
    os.execute("kill -9 " .. pid)
    H.sleep(0.3) -- its container dies with it (PDEATHSIG)
    assert.matches("bad address 'gone'", resolve("gone", { name = "next" }))
    H.cli(state)("ps -a")
  end)
end)
