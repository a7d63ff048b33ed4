-- bin/nsbox: run, exec, ps, errors and exit statuses, as a user at a shell sees them.
local H = require "spec.support.helpers"

local STATE = H.tmpdir("cli-state", true)
local NSBOX = "NSBOX_STATE_DIR=" .. STATE .. " " .. H.root .. "/bin/nsbox"

local nsbox = H.cli(STATE) -- stdout, stderr and exit status of an nsbox command line

describe("nsbox run", function()
  teardown(function() H.rm(STATE) end)

  it("runs the command in a container on the bundled rootfs", function()
    local out, err, code = nsbox("run --hostname cli-box --env A=b -- sh -c 'hostname; echo $A; id -u'")
    assert.same({ "cli-box\nb\n0\n", "", 0 }, { out, err, code })
  end)

  it("takes the command's own options after its name, without --", function()
    local out, _, code = nsbox("run sh -c 'echo $0 $1' x y")
    assert.same({ "x y\n", 0 }, { out, code })
  end)

  it("maps every option onto the recipe", function()
    H.needs_root("--uid-map 0:0:1 maps the host's uid 0")
    local dir = H.tmpdir("cli-bind")
    finally(function() H.rm(dir) end)
    os.execute("echo data > " .. dir .. "/f")
    local out, err, code = nsbox("run --rootfs " .. H.rootfs .. " --domainname example.org --cwd /tmp " ..
      "--bind " .. dir .. ":/data:ro --tmpfs /scratch --share net --uid-map 0:0:1 --gid-map 0:0:1 --readonly " ..
      "sh -c 'cat /proc/sys/kernel/domainname; pwd; cat /data/f; touch /data/x 2>/dev/null || echo ro; " ..
      "touch /scratch/y && echo rw; touch /z 2>/dev/null || echo rootro'")
    assert.same({ "example.org\n/tmp\ndata\nro\nrw\nrootro\n", "", 0 }, { out, err, code })
    local mine = H.ns_inode("self", "net")
    out = nsbox("run --share net readlink /proc/self/ns/net")
    assert.equal(mine .. "\n", out)
    out = nsbox("run --share network readlink /proc/self/ns/net") -- the recipe's names, aliases too
    assert.equal(mine .. "\n", out)
  end)

  it("maps the image options: --layer, --upper, --in-place, --dns, --dns-search, --dns-option", function()
    local dir = H.tmpdir("cli-image")
    finally(function() H.rm(dir) end)
    os.execute("mkdir " .. dir .. "/layer && echo low > " .. dir .. "/layer/low")
    local out, err, code = nsbox("run --layer " .. dir .. "/layer --upper " .. dir .. "/up --dns 192.0.2.1 " ..
      "--dns-search example.org --dns-option ndots:2 sh -c 'cat /low /etc/resolv.conf; echo k > /kept'")
    assert.same({ "low\nsearch example.org\nnameserver 192.0.2.1\noptions ndots:2\n", "", 0 }, { out, err, code })
    assert.equal("k\n", H.read_file(dir .. "/up/kept"))
    out, err, code = nsbox("run --in-place --upper " .. dir .. "/up true")
    assert.same({ "", "nsbox: in_place: and upper exclude each other: the image itself is written\n", 125 },
      { out, err, code })
  end)

  it("mounts --tmpfs DST:OPTS with its size and mode (default 1777), making no odd directory", function()
    local out, err, code = nsbox("run --tmpfs /tmp:size=10m --tmpfs /scratch:mode=700 --tmpfs /plain " ..
      "sh -c \"grep -E ' /(tmp|scratch|plain) ' /proc/mounts | cut -d' ' -f2,4\"")
    -- the kernel shows no mode when it is tmpfs's own default, 1777 (nsbox's before was 755)
    assert.same({ "/tmp rw,nosuid,nodev,relatime,size=10240k\n" ..
                  "/scratch rw,nosuid,nodev,relatime,mode=700\n" ..
                  "/plain rw,nosuid,nodev,relatime\n", "", 0 }, { (out:gsub(",inode64", ""):gsub(",uid=%d+,gid=%d+", "")), err, code })
    assert.is_nil(H.core.stat(H.rootfs .. "/tmp:size=10m"))
    local _, err2, code2 = nsbox("run --tmpfs /tmp:uid=0 true")
    assert.same({ "nsbox: --tmpfs: '/tmp:uid=0': option 'uid=0' is not size=N or mode=OCTAL\n", 125 }, { err2, code2 })
    _, err2, code2 = nsbox("run --tmpfs /tmp:size=lots true")
    assert.same({ "nsbox: mounts[1].size: positive integer (bytes) or a size like '10m' expected\n", 125 },
      { err2, code2 })
  end)

  it("takes names by docker's rule, and refuses others", function()
    local out, err, code = nsbox("run --name my_box.1-x true")
    assert.same({ "", "", 0 }, { out, err, code })
    local _
    _, err, code = nsbox("run --name _x true")
    assert.same({ "nsbox: name: '_x' is not a valid name ([a-zA-Z0-9][a-zA-Z0-9_.-]*)\n", 125 }, { err, code })
  end)

  it("exits with the command's status, 127 not found, 126 not executable, 125 its own errors", function()
    assert.equal(42, select(3, nsbox("run sh -c 'exit 42'")))
    local _, err, code = nsbox("run no-such-cmd")
    assert.same({ "nsbox: exec(no-such-cmd): No such file or directory\n", 127 }, { err, code })
    _, err, code = nsbox("run /etc/passwd")
    assert.same({ "nsbox: exec(/etc/passwd): Permission denied\n", 126 }, { err, code })
    _, err, code = nsbox("run --hostname 'bad name' true")
    assert.same({ "nsbox: hostname: 'bad name' is not a valid host name (letters, digits, '-' and '.')\n", 125 }, { err, code })
    _, err, code = nsbox("run --bogus true")
    assert.equal(125, code)
    assert.matches("^nsbox: unknown option '%-%-bogus'", err)
    _, err, code = nsbox("run --bind nocolon true")
    assert.same({ "nsbox: --bind: 'nocolon' is not SRC:DST[:ro][,idmap]\n", 125 }, { err, code })
    _, err, code = nsbox("run --uid-map 0:0 true")
    assert.same({ "nsbox: --uid-map: '0:0' is not IN:OUT:COUNT\n", 125 }, { err, code })
    _, err, code = nsbox("run --share netns true")
    assert.same({ "nsbox: --share: unknown namespace 'netns' (known: user, mount, uts, ipc, pid, net, cgroup)\n", 125 },
      { err, code })
  end)

  it("puts the container on a bridge with --bridge, --gateway and --ip (in a netns of its own)", function()
    H.needs_root("unshare -n: a network namespace without a user namespace")
    local out = H.sh("unshare -n sh -c " .. H.sh_quote("ip link set lo up; " .. NSBOX ..
      " run --bridge brg0 --gateway 10.10.10.1 --ip 10.10.10.5/24 --cap-add net_raw sh -c 'ip -4 -o addr show eth0 | awk \"{print \\$4}\"; " ..
      "ping -c 1 -W 2 10.10.10.1 | grep -o \"1 packets received\"'; echo rc=$?") .. " 2>&1")
    assert.equal("10.10.10.5/24\n1 packets received\nrc=0\n", out)
    local _, err, code = nsbox("run --net none --bridge brg0 true")
    assert.same({ "nsbox: --net none: conflicts with --bridge, --ip, --gateway, --nat, --antispoof, --isolate and -p\n", 125 }, { err, code })
  end)

  it("says what is wrong with the command line, with status 125", function()
    for args, msg in pairs {
      ["run --hostname"] = "option '--hostname' needs a value (NAME)",
      ["run --net wifi true"] = "option '--net': 'wifi' is not one of none|bridge|pasta",
      ["run --readonly=yes true"] = "option '--readonly' takes no value",
      ["run -x true"] = "unknown option '-x'",
      ["frobnicate"] = "unknown command 'frobnicate'",
      [""] = "a command is needed (run, exec, ps, logs, attach, stop, kill, wait, rm, inspect, import)",
      ["exec"] = "missing argument 'container'",
      ["exec somebox"] = "missing argument 'command'",
      ["ps extra"] = "unexpected argument 'extra'",
      ["run --rootfs /a --rootfs /b true"] = "option '--rootfs' given twice",
      ["run --readonly --readonly true"] = "option '--readonly' given twice",
      ["exec --"] = "missing argument 'container'",
    } do
      local out, err, code = nsbox(args)
      assert.same({ "", "nsbox: " .. msg .. " (try nsbox --help)\n", 125 }, { out, err, code }, args)
    end
  end)

  it("takes --opt=value as well as --opt value", function()
    local out, _, code = nsbox("run --hostname=eq-form --env=A=1 -- sh -c 'hostname; echo $A'")
    assert.same({ "eq-form\n1\n", 0 }, { out, code })
  end)

  it("prints help for nsbox and nsbox run", function()
    local out, _, code = nsbox("--help")
    assert.equal(0, code)
    assert.matches("Usage: nsbox", out)
    out = nsbox("run --help")
    assert.matches("%-%-bind SRC:DST%[:OPTS%]", out)
    assert.matches("%-%-uid%-map", out)
  end)
end)

describe("nsbox ps and exec", function()
  local runner

  setup(function()
    runner = io.popen(NSBOX .. " run --name cli-web --hostname cli-web sleep 30 2>&1")
    for _ = 1, 100 do -- until its state entry appears
      if nsbox("ps"):find("cli-web", 1, true) then break end
      os.execute("sleep 0.02")
    end
  end)
  teardown(function()
    os.execute("pkill -KILL -f 'run --name cli-web' ; pkill -KILL -f '^sleep 30$'")
    runner:close()
  end)

  it("lists the running container, also as JSON", function()
    local out = nsbox("ps")
    assert.matches("^NAME%s+PID%s+IP%s+STATUS%s+COMMAND\ncli%-web%s+%d+%s+%-%s+Up %d+s%s+sleep 30\n$", out)
    -- JSON by lua-cjson: read back, not matched as text (its key order is not fixed)
    out = nsbox("ps --json")
    local rows = H.json_decode(out)
    assert.equal(1, #rows)
    local r = rows[1]
    assert.same({ "cli-web", { "sleep", "30" } }, { r.name, r.command })
    assert.matches("^%x+$", r.id)
    assert.matches('"pid":' .. r.pid .. "[,}]", out) -- an integer
    assert.is_true(r.age >= 0 and r.started <= os.time())
  end)

  it("joins it by name or pid with its hostname and environment", function()
    local out, err, code = nsbox("exec cli-web sh -c 'hostname; ps -o args | grep -c \"^sleep 30\"'")
    assert.same({ "cli-web\n1\n", "", 0 }, { out, err, code })
    local pid = nsbox("ps"):match("cli%-web%s+(%d+)")
    out = nsbox("exec " .. pid .. " -- hostname")
    assert.equal("cli-web\n", out)
    out = nsbox("exec -- cli-web hostname") -- "--" before the name too
    assert.equal("cli-web\n", out)
    local _, e2, c2 = nsbox("exec nothing-here true")
    assert.same({ "nsbox: no running container named or with pid 'nothing-here'\n", 125 }, { e2, c2 })
  end)

  it("refuses a second container of the same name", function()
    local _, err, code = nsbox("run --name cli-web true")
    assert.same({ "nsbox: name cli-web is in use\n", 125 }, { err, code })
  end)

  it("drops the entry of a container that died", function()
    os.execute("pkill -KILL -f 'run --name cli-web'") -- the parent dies: its container dies with it
    for _ = 1, 100 do
      if not nsbox("ps"):find("cli-web", 1, true) then break end
      os.execute("sleep 0.02")
    end
    assert.equal("NAME             PID      IP                 STATUS                 COMMAND\n", nsbox("ps"))
    assert.equal("", H.sh("ls " .. STATE .. "/containers"))
  end)
end)

describe("nsbox run with limits", function()
  local V2 = io.open("/sys/fs/cgroup/cgroup.controllers") ~= nil
  if H.needs_root("cgroups of the host") then return end

  it("says an out-of-memory kill on stderr, with the limit, and exits 137", function()
    local _, err, code = nsbox("run --memory 64m -- sh -c 'x=$(head -c 200000000 /dev/zero | tr \"\\0\" a)'")
    assert.same({ "nsbox: killed: out of memory (memory limit 64m)\n", 137 }, { err, code })
  end)

  it("maps --pids-limit, --cpus, --cpuset-cpus, --memory-swap and --ulimit onto the recipe", function()
    local out, err, code = nsbox("run --memory 64m --memory-swap 64m --pids-limit 10 --cpus 0.5 --cpuset-cpus 0 " ..
      "--ulimit nofile=100:200 --ulimit nproc=1000 -- sh -c 'grep -E \"open files|processes\" /proc/self/limits'")
    assert.are.equal("", err)
    assert.are.equal(0, code)
    assert.matches("Max processes%s+1000%s+1000", out)
    assert.matches("Max open files%s+100%s+200", out)
  end)

  it("turns the seccomp filter off with --security-opt seccomp=unconfined, on by default", function()
    local on = nsbox("run grep Seccomp: /proc/self/status")
    local off = nsbox("run --security-opt seccomp=unconfined grep Seccomp: /proc/self/status")
    assert.same({ "Seccomp:\t2\n", "Seccomp:\t0\n" }, { on, off })
  end)

  it("refuses bad values naming the option or the field, with status 125", function()
    for args, msg in pairs {
      ["--pids-limit x true"] = "nsbox: --pids-limit: 'x' is not an integer\n",
      ["--memory lots true"] = "nsbox: resources.memory: lots is not a size (bytes, or a number with b, k, m, g or " ..
        "t: \"256m\")\n",
      ["--ulimit nofile true"] = "nsbox: --ulimit: 'nofile' is not NAME=SOFT[:HARD]\n",
      ["--ulimit nofiles=3 true"] = "nsbox: rlimits: unknown limit 'nofiles' (as, core, cpu, data, fsize, locks, " ..
        "memlock, msgqueue, nice, nofile, nproc, rss, rtprio, rttime, sigpending, stack)\n",
      ["--security-opt apparmor=x true"] = "nsbox: --security-opt: 'apparmor=x' is not seccomp=unconfined or " ..
        "seccomp=FILE\n",
      ["--security-opt seccomp=/nonexistent.json true"] =
        "nsbox: --security-opt seccomp: /nonexistent.json: No such file or directory\n",
    } do
      local out, err, code = nsbox("run " .. args)
      assert.same({ "", msg, 125 }, { out, err, code }, args)
    end
  end)

  it("puts what nsbox exec runs into the container's cgroup and filter", function()
    local runner = io.popen(NSBOX .. " run --name cli-lim --pids-limit 20 sleep 30 2>&1")
    finally(function()
      os.execute("pkill -KILL -f 'run --name cli-lim'")
      runner:close()
    end)
    for _ = 1, 200 do
      if nsbox("ps"):find("cli-lim", 1, true) then break end
      os.execute("sleep 0.02")
    end
    local out, err, code = nsbox("exec cli-lim sh -c 'cat /proc/self/cgroup; grep Seccomp: /proc/self/status'")
    assert.are.equal("", err)
    assert.are.equal(0, code)
    assert.matches(V2 and "^0::/\n" or "\n%d+:pids:/\n", out)
    assert.matches("Seccomp:\t2\n", out)
  end)
end)
