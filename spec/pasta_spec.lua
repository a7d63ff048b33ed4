-- Rootless networking through pasta (Debian's passt), as an unprivileged uid
-- (65534) with no setuid helper: egress with the host's address, DNS through
-- the resolver named in dns, published ports reached from the internet, from
-- the host and over UDP, and pasta ended with its container, also when its
-- nsbox is SIGKILLed. The spec's "host" is a network namespace of its own with
-- a default route to its "internet" (spec/support/internet.lua); /dev/net/tun
-- is opened to every user (Debian's udev rule: 0666) in a mount namespace of
-- the probe's only.
local H = require "spec.support.helpers"
local I = require "spec.support.internet"
local core = H.core

local function has_pasta() return os.execute("command -v pasta >/dev/null 2>&1") end

describe("pasta", function()
  if H.needs_root("makes network namespaces, and runs nsbox as another uid") then return end
  if not has_pasta() then
    pending("pasta is not installed (apt-get install passt)")
    return
  end
  local inet, tree, fifo

  -- The probe (spec/support/pasta_probe.lua) as uid 65534, a shell line of env and args.
  local function probe_line(args, env)
    return string.format("unshare -m --propagation private sh -c %s", H.sh_quote(string.format(
      "[ \"$(stat -c %%a /dev/net/tun)\" = 666 ] || { mount -t tmpfs tmpfs %s/tun && mknod -m 666 %s/tun/tun c 10 200 " ..
      "&& mount --bind %s/tun/tun /dev/net/tun; } && cd %s && setpriv --reuid=65534 --regid=65534 --clear-groups " ..
      "env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin ROOTFS=own-rootfs %s %s lua5.4 support/pasta_probe.lua %s 2>&1",
      tree, tree, tree, tree, H.lua_env(tree), env or "", args)))
  end
  local function probe(args, env) return H.sh(probe_line(args, env)) end

  local function from_internet(line)
    return H.sh("nsenter -t " .. inet.pid .. " -n sh -c " .. H.sh_quote(line) .. " 2>&1")
  end

  -- passt processes of uid 65534 (the probe's pastas), as their pids.
  local function pastas()
    -- live ones: a killed pasta whose parent is gone stays a zombie until the machine's init reaps it
    return H.sh("ps -u 65534 -o pid=,stat=,comm= | awk '$2 !~ /Z/ && $3 ~ /^passt/ {print $1}'")
  end

  setup(function()
    assert(core.unshare(core.CLONE_NEWNET))
    assert(core.rtnl.link_set { name = "lo", up = true })
    inet = I.start()
    -- pasta copies the host's default route (and the address of its interface)
    assert(core.rtnl.route_add { dst = "default", gateway = I.ADDR, name = inet.uplink })
    tree = H.unprivileged_tree()
    -- an image of the user's own, as a rootless user's is: its /etc takes the resolv.conf of dns
    assert(os.execute(string.format("cp -a %s/rootfs %s/own-rootfs && chown -R 65534:65534 %s/own-rootfs",
      tree, tree, tree)))
    assert(os.execute(string.format("mkdir -p %s/tun %s/www && echo 'hello from the container' > %s/www/index.html " ..
      "&& cc -O2 -static -o %s/www/udp %s/spec/support/udp.c && chmod -R a+rX %s/www", tree, tree, tree, tree,
      H.root, tree)))
    fifo = tree .. "/ctl"
  end)
  teardown(function()
    if inet then inet.stop() end
    H.cleanup()
  end)
  after_each(function()
    -- pasta went with its container, and left nothing in /tmp; what a failure left is ended after
    -- it is seen, so the next test starts clean
    local left, dirs = pastas(), H.sh("ls -d /tmp/nsbox-pasta-* 2>/dev/null || true")
    os.execute("pkill -KILL -u 65534 '^passt'; rm -rf /tmp/nsbox-pasta-*")
    assert.equal("", left)
    assert.equal("", dirs)
  end)

  it("gives an unprivileged container egress with the host's address, and DNS through the resolver in dns", function()
    local out = probe("run " .. H.sh_quote("wget -q -O- http://" .. I.ADDR .. "/; wget -q -O- http://" .. I.ADDR ..
      "/cgi-bin/ip; nslookup -type=a " .. I.NAME .. " | tail -n 2"))
    assert.matches("^hello from the internet\n" .. I.HOST:gsub("%.", "%%.") .. "\n", out)
    assert.matches("Address:? *" .. I.ADDR:gsub("%.", "%%.") .. "\n", out)
    assert.matches("\nfds 0\nstatus 0\n$", out)
  end)

  it("copies the host's address and default route into the container, and nothing of the host's loopback", function()
    local out = probe("run " .. H.sh_quote("ip -4 -o addr show scope global | awk '{print $4}'; ip route show default"))
    assert.matches("^" .. I.HOST:gsub("%.", "%%.") .. "/24\ndefault via " .. I.ADDR:gsub("%.", "%%."), out)
    -- a server on the host's 127.0.0.1 is not the container's (-T none): refused there
    local www = H.tmpdir("loopback")
    I.write(www .. "/index.html", "the host's loopback\n")
    local httpd = io.popen("exec busybox httpd -f -p 127.0.0.1:8099 -h " .. www .. " & echo $!")
    local pid = httpd:read("l")
    finally(function() os.execute("kill " .. pid) httpd:close() H.rm(www) end)
    local function serves() return H.sh("busybox wget -q -O- http://127.0.0.1:8099/ 2>/dev/null || true") ~= "" end
    for _ = 1, 100 do if serves() then break end H.sleep(0.05) end
    assert.is_true(serves())
    out = probe("run " .. H.sh_quote("wget -q -O- http://127.0.0.1:8099/ || echo refused"))
    assert.matches("refused\nfds 0\nstatus 0\n$", out)
  end)

  -- serve with ports; f(up) runs while it does; returns what the probe said after.
  local function serving(ports, f)
    os.remove(fifo)
    assert(os.execute("mkfifo -m 666 " .. fifo))
    local p = assert(io.popen(probe_line("serve " .. fifo .. " " .. ports), "r"))
    local first = p:read("l") or ""
    local box, nsbox_pid, pasta = first:match("^up (%d+) (%d+) (%d+)$")
    local ok, err = pcall(f, { box = tonumber(box), nsbox = tonumber(nsbox_pid), pasta = tonumber(pasta),
      said = first })
    local c = io.open(fifo, "r+") -- the probe's stop (O_RDWR: no wait for a reader, the probe may be gone)
    if box and c then c:write("stop\n") c:close() end
    local rest = p:read("a")
    p:close()
    if not ok then error(err, 0) end
    return first .. "\n" .. rest
  end

  it("publishes ports: reached from the internet at the host's address, from the host, and over UDP", function()
    local said = serving("8080:80 9000:9000/udp", function(up)
      assert.truthy(up.box, up.said)
      assert.not_equal(0, up.pasta, "no pasta child")
      assert.equal("hello from the container\n",
        from_internet("timeout 5 busybox wget -q -O- http://" .. I.HOST .. ":8080/"))
      assert.equal("hello from the container\n", H.sh("timeout 5 busybox wget -q -O- http://127.0.0.1:8080/ 2>&1"))
      assert.matches("^ping from %S+\n$", H.sh("printf 'ping\\n' | timeout 5 nsenter -t " .. inet.pid ..
        " -n " .. tree .. "/www/udp " .. I.HOST .. " 9000 2>&1"))
    end)
    assert.matches("status 143\n$", said)
  end)

  it("publishes on one address only when given one", function()
    serving("127.0.0.1:8081:80", function(up)
      assert.truthy(up.box, up.said)
      assert.equal("hello from the container\n", H.sh("timeout 5 busybox wget -q -O- http://127.0.0.1:8081/ 2>&1"))
      assert.matches("refused", from_internet("timeout 5 busybox wget -q -O- http://" .. I.HOST .. ":8081/"))
    end)
  end)

  it("ends pasta when its nsbox is SIGKILLed (a parent-death signal): nothing outlives the container", function()
    serving("8082:80", function(up)
      assert.truthy(up.box, up.said)
      assert.equal(tostring(up.pasta) .. "\n", pastas())
      -- whatever the outcome, this pasta goes: a survivor would fail every later test
      finally(function() os.execute("kill -9 " .. up.pasta .. " 2>/dev/null") end)
      assert(os.execute("kill -9 " .. up.nsbox))
      for _ = 1, 100 do
        if pastas() == "" and not core.stat("/proc/" .. up.box) then break end
        H.sleep(0.05)
      end
      assert.equal("", pastas())
      assert.is_nil(core.stat("/proc/" .. up.box))
    end)
  end)

  it("kills a pasta that does not end on SIGTERM (stopped) rather than wait for it", function()
    local mark = H.tmpname("watchdog")
    finally(function() os.remove(mark) end)
    serving("8083:80", function(up)
      assert.truthy(up.box, up.said)
      assert(os.execute("kill -STOP " .. up.pasta))
      -- a watchdog resumes it much later: had nsbox waited for it, the watchdog finds it still there
      assert(os.execute(string.format("(sleep 15; kill -CONT %d 2>/dev/null && echo waited || echo gone) > %s &",
        up.pasta, mark)))
    end)
    assert.equal("", pastas())
    for _ = 1, 400 do if (H.read_file(mark) or "") ~= "" then break end H.sleep(0.05) end
    assert.equal("gone\n", H.read_file(mark))
  end)

  it("runs from the CLI: nsbox run --net pasta -p", function()
    local cli = H.sh(string.format("unshare -m --propagation private sh -c %s", H.sh_quote(string.format(
      "[ \"$(stat -c %%a /dev/net/tun)\" = 666 ] || { mount -t tmpfs tmpfs %s/tun && mknod -m 666 %s/tun/tun c 10 200 " ..
      "&& mount --bind %s/tun/tun /dev/net/tun; } && cd %s && setpriv --reuid=65534 --regid=65534 --clear-groups " ..
      "env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/tmp %s bin/nsbox run --rootfs own-rootfs --net pasta -p 8083:80 --dns %s " ..
      "-- /bin/sh -c 'wget -q -O- http://%s/cgi-bin/ip' 2>&1; echo status $?",
      tree, tree, tree, tree, H.lua_env(tree), I.ADDR, I.ADDR))))
    assert.matches(I.HOST:gsub("%.", "%%.") .. "\nstatus 0\n$", cli)
  end)

  describe("refuses bad input, naming the field, with nothing left behind", function()
    it("pasta missing", function()
      local out = probe("run true", "NSBOX_PASTA=/nonexistent/pasta")
      assert.matches("error: network.mode: pasta needs /nonexistent/pasta, not found " ..
        "%(Debian: apt%-get install passt%)", out)
    end)

    it("a host port in use", function()
      local held = assert(core.bind_port { address = "0.0.0.0", port = 8090, protocol = "tcp" })
      local ok, said = pcall(serving, "8090:80", function() end)
      core.close(held)
      assert.is_true(ok, said)
      assert.matches("error: ports%[1%]: 0%.0%.0%.0:8090/tcp is in use", said)
    end)

    it("a bridge's field with mode pasta, a mode that is not bridge or pasta, pasta as root", function()
      local nsbox = H.nsbox
      local _, err = nsbox.container { rootfs = H.rootfs, network = { mode = "pasta", bridge = "x" } }
      assert.matches("network%.bridge: not with mode pasta", err)
      _, err = nsbox.container { rootfs = H.rootfs, network = { mode = "slirp" } }
      assert.matches("network%.mode: 'slirp' is not bridge or pasta", err)
      -- this spec runs as root
      _, err = nsbox.container { rootfs = H.rootfs, network = "pasta" }
      assert.matches("network%.mode: pasta is for unprivileged users %(as root, use a bridge%)", err)
      local out, cerr = H.cli(H.tmpdir("state"))("run --rootfs " .. H.rootfs .. " --net pasta --bridge b0 true")
      assert.matches("%-%-net pasta: conflicts with %-%-bridge", tostring(out) .. tostring(cerr))
    end)
  end)
end)
