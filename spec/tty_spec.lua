-- A terminal of the container's own: an interactive shell driven through a pty
-- the spec owns (prompt, tty, job control, resize, modes given back), a script
-- driving the pty itself, and no terminal of the caller's ever handed over.
local H = require "spec.support.helpers"
local T = require "spec.support.term"
local core = H.core

local STATE = H.tmpdir("tty-state", true)
local NSBOX = H.root .. "/bin/nsbox"
local ENV = { "NSBOX_STATE_DIR=" .. STATE }
local PROMPT = "/ # " .. T.CPR -- busybox's prompt, then its query of the cursor

local function shell(args, rows, cols)
  local argv = { NSBOX, "run" }
  for _, a in ipairs(args or {}) do argv[#argv + 1] = a end
  argv[#argv + 1] = "sh"
  local t = T.spawn(argv, rows, cols, ENV)
  t:expect(PROMPT, 20)
  return t
end

local sleep = H.sleep

describe("nsbox run from a terminal", function()
  teardown(function() H.rm(STATE) end)

  it("gives the command a pty of its own: prompt, tty, /dev/console, /dev/tty, the caller's size", function()
    local t = shell({}, 33, 101)
    finally(function() t:close() end)
    t:send("tty; stty size; readlink /proc/self/fd/1; echo x > /dev/tty && echo tty-ok; ls -l /dev/console\r")
    local out = t:expect(PROMPT)
    assert.matches("/dev/pts/0\r\n33 101\r\n/dev/pts/0\r\nx\r\ntty%-ok\r\ncrw%-%-w%-%-%-%-.* 136,%s+0 .*/dev/console", out)
    t:send("exit 7\r")
    assert.equal(7, t:wait())
    assert.is_true(t:restored())
  end)

  it("job control: Ctrl-C ends the foreground job, not the shell; Ctrl-Z stops it, fg resumes it", function()
    local t = shell()
    finally(function() t:close() end)
    t:send("sleep 100\r")
    sleep(0.5)
    t:send("\3")
    t:expect(PROMPT)
    t:send("echo rc=$?\r")
    t:expect("rc=130")
    t:expect(PROMPT)
    t:send("sleep 101\r")
    sleep(0.5)
    t:send("\26")
    t:expect("Stopped")
    t:expect(PROMPT)
    t:send("ps -o stat,args | grep '[s]leep 101'\r")
    t:expect("T%s+sleep 101") -- stopped, not gone
    t:expect(PROMPT)
    t:send("fg\r")
    t:expect("sleep 101")
    sleep(0.3)
    t:send("\3")
    t:expect(PROMPT)
    t:send("echo rc=$? shell=$$\r")
    t:expect("rc=130 shell=2") -- the shell itself lives on (PID 2, under nsbox-init)
    t:send("exit\r")
    assert.equal(0, t:wait())
    assert.is_true(t:restored())
  end)

  it("passes a window resize on: stty size inside shows the caller's new size", function()
    local t = shell({}, 24, 80)
    finally(function() t:close() end)
    core.set_winsize(t.slave, 50, 132) -- the caller's terminal resized: SIGWINCH to nsbox
    sleep(0.3)
    t:send("stty size\r")
    t:expect("50 132")
    t:send("exit\r")
    assert.equal(0, t:wait())
  end)

  it("gives the caller's terminal its modes back after kill -9 of the container", function()
    local t = shell { "--name", "tty-kill" }
    finally(function() t:close() end)
    assert.is_false(t:restored()) -- raw while the container runs
    local list = H.sh("NSBOX_STATE_DIR=" .. STATE .. " " .. NSBOX .. " ps --json")
    local pid = list:match('"name":"tty%-kill".-"pid":(%d+)') or list:match('"pid":(%d+).-"name":"tty%-kill"')
    assert.truthy(pid, list)
    os.execute("kill -9 " .. pid)
    assert.equal(137, t:wait())
    assert.is_true(t:restored())
  end)

  it("reaches EOF through the pty when stdin is no terminal (its EOF character)", function()
    local out = H.sh("printf 'a\\nb' | NSBOX_STATE_DIR=" .. STATE .. " " .. NSBOX ..
      " run -t -i sh -c 'cat; echo; echo END' 2>&1")
    assert.matches("a\r\nb\r?\n?.*END", out)
  end)

  it("hangs the container up when the reader of its output goes away (| head), as a closed terminal would", function()
    local out = H.sh("NSBOX_STATE_DIR=" .. STATE .. " timeout 20 bash -c " ..
      H.sh_quote(NSBOX .. " run -t sh -c 'while :; do echo y; done' | head -1; echo status=${PIPESTATUS[0]}"))
    assert.equal("y\r\nstatus=129\n", out) -- SIGHUP, and nsbox neither died of SIGPIPE nor hung
  end)

  it("nsbox exec -t gives the joined command a pty of the container's own", function()
    local name = H.sh("NSBOX_STATE_DIR=" .. STATE .. " " .. NSBOX .. " run -d --name tty-exec sleep 100"):gsub("%s+$", "")
    assert.equal("tty-exec", name)
    local t = T.spawn({ NSBOX, "exec", "tty-exec", "sh" }, 30, 90, ENV)
    finally(function()
      t:close()
      os.execute("NSBOX_STATE_DIR=" .. STATE .. " " .. NSBOX .. " rm -f tty-exec >/dev/null")
    end)
    t:expect(PROMPT, 20)
    t:send("tty; stty size\r")
    t:expect("/dev/pts/%d+\r\n30 90")
    t:send("exit 4\r")
    assert.equal(4, t:wait())
    assert.is_true(t:restored())
  end)
end)

describe("nsbox attach", function()
  local function cli(args) return H.cli(STATE)(args) end

  it("attaches to a detached -t container: its screen and keys; Ctrl-P Ctrl-Q detaches; exit ends it", function()
    assert.same({ "att\n", "", 0 }, { cli("run -d -t --name att sh") })
    finally(function() cli("rm -f att") end)
    local t = T.spawn({ NSBOX, "attach", "att" }, 24, 80, ENV)
    t:send("\r")
    t:expect(PROMPT)
    t:send("echo $((3 * 4))\r")
    t:expect("12\r\n")
    t:expect(PROMPT)
    t:send("\16\17") -- docker's detach keys
    assert.equal(0, t:wait())
    assert.is_true(t:restored())
    t:close()
    assert.matches("\natt%s+%d+%s+%-%s+Up", (cli("ps")))
    local t2 = T.spawn({ NSBOX, "attach", "att" }, 24, 80, ENV)
    finally(function() t2:close() end)
    t2:send("\r")
    t2:expect(PROMPT)
    t2:send("exit 6\r")
    assert.equal(6, t2:wait()) -- the container's status
    assert.is_true(t2:restored())
    assert.matches("12\r\n", (cli("logs att"))) -- the monitor logged the screen meanwhile
  end)

  it("refuses a container without a terminal, or none at all", function()
    assert.equal(0, select(3, cli("run -d --name noterm sleep 100")))
    finally(function() cli("rm -f noterm") end)
    assert.same({ "", "nsbox: container noterm was not started detached with a terminal (-d -t): nothing to attach to\n",
                  125 }, { cli("attach noterm") })
    assert.same({ "", "nsbox: no container named or with pid 'nothere'\n", 125 }, { cli("attach nothere") })
  end)
end)

describe("a script driving the pty (tty = { relay = false })", function()
  it("drives an interactive shell: prompt, input, output, exit", function()
    local box = assert(H.nsbox.container { rootfs = H.rootfs, command = { "sh", "-i" },
                                           tty = { relay = false, rows = 40, cols = 100 } })
    assert(box:start())
    assert.is_true(core.is_pty_master(box.pty))
    local t = setmetatable({ master = box.pty, seen = "" }, T)
    t:expect(PROMPT)
    t:send("echo $((6 * 7)); stty size\r")
    t:expect("42\r\n40 100")
    t:send("exit 5\r")
    assert.equal(5, box:wait())
    assert.is_nil(box.pty)
  end)

  it("drives busybox vi: writes a file through its screen", function()
    local box = assert(H.nsbox.container { rootfs = H.rootfs, command = { "sh", "-c", "vi /tmp/f; cat /tmp/f" },
                                           tty = { relay = false } })
    assert(box:start())
    local t = setmetatable({ master = box.pty, seen = "", cpr = "24;80" }, T)
    t:expect("/tmp/f") -- vi's status line names the new file (after its query of the screen's size)
    t:send("ihello from vi")
    sleep(0.3)
    t:send("\27") -- alone: ESC and what follows at once would read as one key
    sleep(0.3)
    t:send(":wq\r")
    t:expect("hello from vi\r\n$")
    assert.equal(0, box:wait())
  end)

  it("refuses a bad tty field, naming it", function()
    local _, err = H.nsbox.container { rootfs = H.rootfs, tty = "yes" }
    assert.equal('tty: boolean, table or "inherit" expected, got string', err)
    _, err = H.nsbox.container { rootfs = H.rootfs, tty = { rows = 0 } }
    assert.equal("tty.rows: integer in [1, 65535] expected", err)
    _, err = H.nsbox.container { rootfs = H.rootfs, tty = { colour = true } }
    assert.equal("tty: unknown field 'colour' (known: relay, input, rows, cols)", err)
  end)
end)

describe("no terminal of the caller's in the container", function()
  it("puts pipes between the container and the caller's terminal without a pty", function()
    local t = T.spawn({ NSBOX, "run", "--tty=false", "-i", "sh", "-c",
                        "ls -l /proc/self/fd/0 /proc/self/fd/1 /proc/self/fd/2 | sed 's/.*-> //'; cat" }, 24, 80, ENV)
    finally(function() t:close() end)
    t:expect("pipe:%[%d+%]\r\npipe:%[%d+%]\r\npipe:%[%d+%]")
    t:send("typed\r")
    t:expect("typed\r\n")
    t:send("\4") -- the caller's terminal is cooked: ^D is its EOF, cat's EOF through the pipe
    assert.equal(0, t:wait())
    assert.is_true(t:restored())
  end)

  it("a container started in the background does not read the terminal it was started from", function()
    local out = H.tmpdir("tty-bg")
    -- bash: a shell with job control (dash without set -m gives a background job /dev/null)
    local t = T.spawn({ "/bin/bash", "--norc", "--noprofile", "-i" }, 24, 80, { "PS1=host$ ", ENV[1] })
    finally(function()
      t:close()
      H.rm(out)
    end)
    t:expect("host%$ ")
    t:send(NSBOX .. " run --tty=false -i cat > " .. out .. "/got &\r")
    t:expect("host%$ ")
    -- SIGTTIN: the background nsbox stops at its first read of the terminal (ask until it has)
    local stopped
    for _ = 1, 30 do
      t:send("jobs\r")
      local shown = t:expect("host%$ ")
      if shown:find("Stopped", 1, true) then stopped = true break end
      sleep(0.5)
    end
    assert.is_true(stopped, "the background nsbox never stopped")
    t:send("echo typed-$((1 + 1))\r") -- a line typed at the host's prompt
    t:expect("typed%-2") -- the host's shell ran it
    t:expect("host%$ ")
    t:send("kill -9 %1; sleep 0.5; jobs\r")
    t:expect("Killed")
    t:send("exit\r")
    t:wait()
    local f = assert(io.open(out .. "/got"))
    assert.equal("", f:read("a")) -- nothing it typed reached the container
    f:close()
    -- the entry of the killed nsbox is reaped by the next ps
    local ps = H.sh("NSBOX_STATE_DIR=" .. STATE .. " " .. NSBOX .. " ps -a --json")
    assert.matches("^%[.*%]", ps)
    assert.not_matches('"command":%["cat"%]', ps)
    for _, id in ipairs(core.readdir(STATE .. "/containers") or {}) do
      assert.not_matches('"command":%["cat"%]', H.read_file(STATE .. "/containers/" .. id))
    end
  end)
end)
