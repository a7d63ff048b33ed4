-- Every example runs non-interactively and does what its comment promises.
local H = require "spec.support.helpers"

-- No LUA_PATH: each example finds the checkout's lua/ beside it (examples/checkout.lua),
-- as a user runs it; make test's own LUA_PATH must not do it for them.
local ENV = "env -u LUA_PATH -u LUA_CPATH -u LUA_PATH_5_4 -u LUA_CPATH_5_4"

local function example(name, args, prefix)
  return H.sh(string.format("cd %s && %s %s lua5.4 examples/%s %s 2>&1; echo rc=$?", H.root, prefix or "", ENV, name, args))
end

describe("examples", function()
  it("ns-process.lua: a shell with its own hostname, root, /proc, under nsbox's init as PID 1", function()
    local out = example("ns-process.lua", "build/rootfs",
      "echo 'hostname; id -u; ps -o pid,args | sed -n 2,3p; ls /sys/class/net' |")
    assert.matches("\nns%-process\n0\n%s*1 nsbox%-init\n%s*2 /bin/sh\nlo\nrc=0\n$", out)
  end)

  it("ns-process.lua: the command's exit status is the script's", function()
    assert.matches("rc=42\n$", example("ns-process.lua", "build/rootfs /bin/sh -c 'exit 42'"))
  end)

  it("ns-process.lua --net: the seed's network, veth0 gone after exit, brg0 stays", function()
    H.needs_root("unshare -n: a network namespace without a user namespace")
    local inner = "ip link set lo up; " .. ENV .. " lua5.4 examples/ns-process.lua --net build/rootfs sh -c " ..
      H.sh_quote("ip -4 -o addr show veth1 | awk '{print $4}'; ip route | grep default; " ..
        "ping -c 1 -W 2 10.10.10.1 | grep -o '1 packets received'") ..
      " 2>/dev/null; echo rc=$?; ip -br link | awk '{print $1}' | sort | tr '\\n' ' '; ip -br -4 addr show brg0 | awk '{print $3}'"
    local out = H.sh("cd " .. H.root .. " && unshare -n sh -c " .. H.sh_quote(inner) .. " 2>&1")
    assert.equal("10.10.10.2/24\ndefault via 10.10.10.1 dev veth1 \n1 packets received\nrc=0\nbrg0 lo 10.10.10.1/24\n", out)
  end)

  local function host_hostname()
    local f = assert(io.open("/proc/sys/kernel/hostname"))
    local name = f:read("l")
    f:close()
    return name
  end

  it("01-uts.lua: the child sets its own hostname, the host's is unchanged", function()
    local host = host_hostname()
    local out = example("01-uts.lua", "/bin/sh -c 'hostname inside; hostname'")
    local expected = "host hostname: " .. host .. "\ninside\nchild %d+ exited with 0\nhost hostname: " .. host ..
      " %(unchanged%)\nrc=0\n"
    assert.matches("^" .. expected:gsub("%-", "%%-") .. "$", out)
    assert.equal(host, host_hostname())
  end)

  it("02-namespaces.lua: all seven namespaces differ from the host's", function()
    local out = example("02-namespaces.lua", "/bin/sh -c 'readlink /proc/self/ns/*'")
    local seen = {}
    for name, host, child in out:gmatch("(%w+)%s+host (%S+)%s+child (%S+)\n") do
      assert.equal(H.ns_inode("self", name), host)
      assert.not_equal(host, child)
      assert.truthy(out:find("\n" .. child:gsub("%p", "%%%0") .. "\n"), "the child's own readlink shows " .. child)
      seen[#seen + 1] = name
    end
    assert.same({ "user", "mnt", "uts", "ipc", "pid", "net", "cgroup" }, seen)
    assert.matches("rc=0\n$", out)
  end)

  it("03-uid-gid-mapping.lua: nobody without maps, root with them", function()
    assert.equal("without maps:\n65534\nwith maps:\n0\nrc=0\n", example("03-uid-gid-mapping.lua", "id -u"))
  end)

  it("04-reexec.lua: the registered function runs as PID 1 inside, sets the hostname, execs", function()
    assert.equal("nsInitialisation: pid 1, hostname ns-process, exec /bin/sh\nns-process\n1\nrc=0\n",
      example("04-reexec.lua", "/bin/sh -c 'hostname; echo $$'"))
  end)

  it("05-pivot-root.lua: ps shows only the command, as PID 1, in the new root", function()
    assert.equal("PID   COMMAND\n    1 /bin/ps -o pid,args\nrc=0\n", example("05-pivot-root.lua", "build/rootfs /bin/ps -o pid,args"))
    assert.equal("ns-process\n/ /proc\nrc=0\n",
      example("05-pivot-root.lua", "build/rootfs /bin/sh -c 'hostname; cut -d\" \" -f2 /proc/mounts | xargs'"))
  end)

  it("two-containers.lua: box-a pings box-b over brg0, no veth is left", function()
    H.needs_root("unshare -n: a network namespace without a user namespace")
    local inner = "ip link set lo up; " .. ENV .. " lua5.4 examples/two-containers.lua 2>&1; echo rc=$?; " ..
      -- the veths go with the containers' namespaces, in the kernel's background clean-up
      "for i in $(seq 40); do ip -br link | grep -q '^nsb' || break; sleep 0.05; done; " ..
      "ip -br link | awk '{print $1}' | sort | tr '\\n' ' '"
    local out = H.sh("cd " .. H.root .. " && unshare -n sh -c " .. H.sh_quote(inner) .. " 2>&1")
    -- leases go round the subnet, so which two addresses depends on the runs before
    local a, b = out:match("^box%-a: pid %d+, address (10%.10%.10%.%d+)/24\nbox%-b: pid %d+, address (10%.10%.10%.%d+)/24\n")
    assert.truthy(a, out)
    assert.are_not.equal(a, b)
    assert.matches("\nPING " .. b:gsub("%.", "%%.") .. " ", out)
    assert.matches("\n1 packets transmitted, 1 packets received, 0%% packet loss\n", out)
    assert.matches("\nping from box%-a: status 0\nrc=0\nbrg0 lo $", out)
  end)

  it("exec-join.lua: a command joins the running container, which is then killed", function()
    local out = example("exec-join.lua", "sh -c 'hostname; ps -o pid,args'")
    assert.matches("^started joinme: pid %d+\njoinme\nPID   COMMAND\n    1 nsbox%-init\n    2 sleep 60\n    3 [^\n]*\n" ..
      "exec: status 0\njoinme killed: status 137\nrc=0\n$", out)
  end)

  it("tour.lua, the README's tour: a bind mount, a tmpfs and a bridge network", function()
    H.needs_root("unshare -n: a network namespace without a user namespace")
    local inner = "ip link set lo up; " .. ENV .. " lua5.4 examples/tour.lua 2>&1; echo rc=$?"
    local out = H.sh("cd " .. H.root .. " && unshare -n sh -c " .. H.sh_quote(inner))
    assert.equal("ns-process\n01-uts.lua\n02-namespaces.lua\n10.10.10.2/24\nstatus 0\tnil\nrc=0\n", out)
  end)

  it("container_spec.lua: a user's own busted spec passes", function()
    local out = H.sh(string.format("cd %s && %s lua5.4 /usr/bin/busted --lua=lua5.4 examples/container_spec.lua 2>&1; echo rc=$?",
      H.root, ENV))
    assert.matches("\n3 successes / 0 failures / 0 errors / 0 pending : [%d.]+ seconds\nrc=0\n$", out)
  end)

  describe("as an unprivileged user (uid 65534)", function()
    if H.needs_root("becomes uid 65534 through setpriv") then return end
    teardown(H.cleanup)

    local function unprivileged(name, args)
      local dir = H.unprivileged_tree()
      assert(os.execute(string.format("rm -rf %s/examples && cp -r %s/examples %s/ && chmod -R a+rX %s/examples",
        dir, H.root, dir, dir)))
      return H.sh(string.format("cd %s && setpriv --reuid=65534 --regid=65534 --clear-groups " ..
        "env -i PATH=/usr/bin:/bin lua5.4 examples/%s %s 2>&1; echo rc=$?", dir, name, args))
    end

    it("01-uts.lua, 03-uid-gid-mapping.lua and 05-pivot-root.lua work", function()
      local host = host_hostname()
      local out = unprivileged("01-uts.lua", "/bin/sh -c 'id -u; hostname inside; hostname'")
      assert.matches("^host hostname: [^\n]+\n0\ninside\nchild %d+ exited with 0\nhost hostname: [^\n]+ %(unchanged%)\nrc=0\n$", out)
      assert.equal(host, host_hostname())
      assert.equal("without maps:\n65534\nwith maps:\n0\nrc=0\n", unprivileged("03-uid-gid-mapping.lua", "id -u"))
      assert.equal("PID   COMMAND\n    1 /bin/ps -o pid,args\nrc=0\n", unprivileged("05-pivot-root.lua", "rootfs /bin/ps -o pid,args"))
    end)
  end)
end)
