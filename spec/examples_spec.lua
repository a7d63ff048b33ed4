-- Every example runs non-interactively and does what its comment promises.
local H = require "spec.support.helpers"

local ENV = "LUA_PATH=" .. H.sh_quote(H.root .. "/lua/?.lua;" .. H.root .. "/lua/?/init.lua;;") ..
  " LUA_CPATH=" .. H.sh_quote(H.root .. "/lua/?.so;;")

local function example(name, args, prefix)
  return H.sh(string.format("cd %s && %s %s lua5.4 examples/%s %s 2>&1; echo rc=$?", H.root, prefix or "", ENV, name, args))
end

describe("examples", function()
  it("ns-process.lua: a shell with its own hostname, root, PID 1 and /proc", function()
    local out = example("ns-process.lua", "build/rootfs", "echo 'hostname; id -u; ps -o pid,args | sed -n 2p; ls /sys/class/net' |")
    assert.matches("\nns%-process\n0\n%s*1 /bin/sh\nlo\nrc=0\n$", out)
  end)

  it("ns-process.lua: the command's exit status is the script's", function()
    assert.matches("rc=42\n$", example("ns-process.lua", "build/rootfs /bin/sh -c 'exit 42'"))
  end)

  it("ns-process.lua --net: the seed's network, veth0 gone after exit, brg0 stays", function()
    local inner = "ip link set lo up; " .. ENV .. " lua5.4 examples/ns-process.lua --net build/rootfs sh -c " ..
      H.sh_quote("ip -4 -o addr show veth1 | awk '{print $4}'; ip route | grep default; " ..
        "ping -c 1 -W 2 10.10.10.1 | grep -o '1 packets received'") ..
      " 2>/dev/null; echo rc=$?; ip -br link | awk '{print $1}' | sort | tr '\\n' ' '; ip -br -4 addr show brg0 | awk '{print $3}'"
    local out = H.sh("cd " .. H.root .. " && unshare -n sh -c " .. H.sh_quote(inner) .. " 2>&1")
    assert.equal("10.10.10.2/24\ndefault via 10.10.10.1 dev veth1 \n1 packets received\nrc=0\nbrg0 lo 10.10.10.1/24\n", out)
  end)
end)
