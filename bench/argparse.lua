-- What a parser costs `nsbox run`: lua-argparse (Debian's lua-argparse, from
-- source or precompiled with luac5.4) against nsbox's hand parser in cli.lua.
-- One measurement per process (as `nsbox run` pays it), CPU milliseconds:
--   luac5.4 -s -o /tmp/argparse.luac /usr/share/lua/5.4/argparse.lua
--   luac5.4 -s -o /tmp/cli.luac lua/nsbox/cli.lua
--   for i in $(seq 100); do lua5.4 bench/argparse.lua MODE 2>/dev/null; done | sort -n | sed -n 50p
-- MODE: argparse (source), argparse-bc (/tmp/argparse.luac), hand (lua/nsbox/cli.lua),
-- hand-bc (/tmp/cli.luac). Prints the load time, then load, parser built and one argv parsed.
local mode = arg[1]
local argv = { "run", "--rootfs", "/tmp", "--env", "A=1", "--bind", "/a:/b", "--share", "net", "--", "sh", "-c", "x" }
local clock = os.clock
local t0 = clock()
local t1
if mode == "argparse" or mode == "argparse-bc" then
  local argparse = assert(loadfile(mode == "argparse" and "/usr/share/lua/5.4/argparse.lua" or "/tmp/argparse.luac"))()
  t1 = clock()
  -- the options of `nsbox run`, `exec` and `ps`
  local p = argparse("nsbox"):command_target("command_name")
  local run = p:command("run")
  for _, o in ipairs { "rootfs", "hostname", "domainname", "cwd", "net", "bridge", "ip", "gateway", "name" } do
    run:option("--" .. o)
  end
  for _, o in ipairs { "env", "bind", "tmpfs", "share", "uid-map", "gid-map" } do run:option("--" .. o):count("*") end
  run:flag("--readonly")
  run:argument("command"):args("*")
  local e = p:command("exec")
  e:option("--env"):count("*")
  e:option("--cwd")
  e:argument("container")
  e:argument("command"):args("+")
  p:command("ps"):flag("--json")
  local a = p:parse(argv)
  assert(a.rootfs == "/tmp" and a.command[1] == "sh")
else
  -- cli.lua alone: the modules it requires are stubbed (they load either way)
  for _, m in ipairs { "nsbox", "nsbox.container", "nsbox.state" } do package.loaded[m] = {} end
  package.loaded["nsbox.recipe"] = { ALL = { "user", "mount", "uts", "ipc", "pid", "net", "cgroup" } }
  local cli = assert(loadfile(mode == "hand" and "lua/nsbox/cli.lua" or "/tmp/cli.luac"))()
  t1 = clock()
  cli.main { "ps", "--bogus" } -- parsed, then refused on stderr: nothing runs
end
local t2 = clock()
io.write(string.format("%.3f %.3f\n", (t1 - t0) * 1e3, (t2 - t0) * 1e3))
