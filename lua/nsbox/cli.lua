---
-- The command-line face of nsbox: `nsbox run|exec|ps`.
-- Parsing with Debian's lua-argparse; every option maps onto a recipe field.
-- @module nsbox.cli
local argparse = require "argparse"
local json = require "nsbox.json"
local nsbox = require "nsbox"
local container = require "nsbox.container"
local state = require "nsbox.state"

local M = {}

local NSBOX_ERROR = 125

local function parser()
  local p = argparse("nsbox", "Linux containers from namespace primitives.")
  p:command_target("command_name")
  local run = p:command("run", "Run COMMAND in a new container.")
  run:usage("Usage: nsbox run [options] [--] COMMAND [ARG...]")
  run:option("--rootfs", "Root filesystem directory (default: the bundled busybox rootfs).")
  run:option("--hostname", "Host name inside (default: the container id).")
  run:option("--domainname", "NIS domain name inside.")
  run:option("--env", "Set K=V in the command's environment."):count("*")
  run:option("--cwd", "Working directory inside.")
  run:option("--bind", "Bind-mount SRC at DST, read-only with :ro."):argname("SRC:DST[:ro]"):count("*")
  run:option("--tmpfs", "Mount a tmpfs at DST."):argname("DST"):count("*")
  run:option("--share", "Keep this namespace of the host (user, mount, uts, ipc, pid, net, cgroup)."):count("*")
  run:option("--uid-map", "Map uids IN:OUT:COUNT."):count("*")
  run:option("--gid-map", "Map gids IN:OUT:COUNT."):count("*")
  run:option("--net", "Network: none (lo only) or bridge."):choices { "none", "bridge" }
  run:option("--bridge", "Bridge to attach to (implies --net bridge; default brg0).")
  run:option("--ip", "Address inside, CIDR (default: leased from the bridge's subnet).")
  run:option("--gateway", "Gateway: the bridge's address (made with it if missing).")
  run:option("--name", "Container name, for nsbox exec and nsbox ps (default: its id).")
  run:flag("--readonly", "Mount the root filesystem read-only.")
  run:argument("command", "The command and its arguments."):args("*")
  local exec = p:command("exec", "Run COMMAND inside a running container.")
  exec:usage("Usage: nsbox exec [options] NAME|PID [--] COMMAND [ARG...]")
  exec:option("--env", "Set K=V in the command's environment."):count("*")
  exec:option("--cwd", "Working directory inside.")
  exec:argument("container", "Name or pid of a container started by nsbox run.")
  exec:argument("command", "The command and its arguments."):args("+")
  local ps = p:command("ps", "List running containers.")
  ps:flag("--json", "One JSON array, for scripts.")
  return p
end

local function id_maps(list, what)
  if #list == 0 then return nil end
  local maps = {}
  for _, s in ipairs(list) do
    local i, o, c = s:match("^(%d+):(%d+):(%d+)$")
    if not i then return nil, string.format("--%s-map: '%s' is not IN:OUT:COUNT", what, s) end
    maps[#maps + 1] = { inside = tonumber(i), outside = tonumber(o), count = tonumber(c) }
  end
  return maps
end

local function default_rootfs()
  local here = debug.getinfo(1, "S").source:match("^@(.*)/lua/nsbox/cli%.lua$")
  return here and here .. "/build/rootfs" or nil
end

local function env_option(list)
  if #list == 0 then return nil end
  local env = {}
  for _, kv in ipairs(list) do
    local k, v = kv:match("^([^=]+)=(.*)$")
    if not k then return nil, "--env: '" .. kv .. "' is not K=V" end
    env[k] = v
  end
  return env
end

--- Turn parsed options into a recipe, or nil and a message.
function M.recipe(a)
  local r = { rootfs = a.rootfs or default_rootfs(), hostname = a.hostname, domainname = a.domainname,
    cwd = a.cwd, name = a.name, readonly = a.readonly or nil }
  if #a.command > 0 then r.command = a.command end
  local err
  r.env, err = env_option(a.env)
  if err then return nil, err end
  if a.net == "bridge" or a.bridge or a.ip or a.gateway then
    if a.net == "none" then return nil, "--net none: conflicts with --bridge, --ip and --gateway" end
    r.network = { bridge = a.bridge, address = a.ip, gateway = a.gateway }
  end
  local mounts = {}
  for _, b in ipairs(a.bind) do
    local src, dst, ro = b:match("^([^:]+):([^:]+):?(.*)$")
    if not src or (ro ~= "" and ro ~= "ro") then return nil, "--bind: '" .. b .. "' is not SRC:DST[:ro]" end
    mounts[#mounts + 1] = { type = "bind", source = src, destination = dst, readonly = ro == "ro" }
  end
  for _, t in ipairs(a.tmpfs) do mounts[#mounts + 1] = { type = "tmpfs", destination = t } end
  if #mounts > 0 then r.mounts = mounts end
  if #a.share > 0 then
    local shared = {}
    for _, n in ipairs(a.share) do shared[n] = true end
    r.namespaces = {}
    for _, n in ipairs { "user", "mount", "uts", "ipc", "pid", "net", "cgroup" } do
      if not shared[n] then r.namespaces[#r.namespaces + 1] = n end
    end
  end
  r.uid_map, err = id_maps(a.uid_map, "uid")
  if err then return nil, err end
  r.gid_map, err = id_maps(a.gid_map, "gid")
  if err then return nil, err end
  return r
end

local function fail(msg)
  io.stderr:write("nsbox: ", (tostring(msg):gsub("\n", " ")), "\n")
  return NSBOX_ERROR
end

local FLAGS = { ["--readonly"] = true, ["-h"] = true, ["--help"] = true, ["--json"] = true }
local SUBCOMMANDS = { run = 0, exec = 1 } -- positional words before the command

-- The command starts after the options and the subcommand's own positional
-- words: put a "--" there so argparse leaves `sh -c ...` alone.
local function split_command(argv)
  local args, i, sub, words = {}, 1, nil, 0
  while i <= #argv do
    local a = argv[i]
    args[#args + 1] = a
    if a == "--" then break end
    if not sub and SUBCOMMANDS[a] then
      sub = a
    elseif a:sub(1, 1) == "-" then
      if not FLAGS[a] and not a:find("=", 1, true) and argv[i + 1] then
        args[#args + 1] = argv[i + 1]
        i = i + 1
      end
    elseif sub and words < SUBCOMMANDS[sub] then
      words = words + 1
    elseif sub then
      args[#args] = "--"
      args[#args + 1] = a
      break
    end
    i = i + 1
  end
  for j = i + 1, #argv do args[#args + 1] = argv[j] end
  return args
end

local function run(a)
  local r, err = M.recipe(a)
  if not r then return fail(err) end
  local box
  box, err = nsbox.container(r)
  if not box then return fail(err) end
  local name = box.name
  if state.find(name) then return fail("a container named " .. name .. " is running") end
  local ok, eno
  ok, err, eno = box:start()
  if not ok then
    if box.status then
      io.stderr:write("nsbox: ", err, "\n")
      return box.status
    end
    return fail(err, eno)
  end
  local rr = box.recipe
  ok, err = state.save { name = name, id = box.id, pid = box.pid, command = rr.command,
    ip = box.net and box.net.address or nil, interpreter = rr.interpreter, env = rr.env, cwd = rr.cwd,
    flags = rr.flags, hostname = rr.hostname, capabilities = rr.capabilities, no_new_privs = rr.no_new_privs }
  if not ok then io.stderr:write("nsbox: state not saved (nsbox ps/exec will not see it): ", err, "\n") end
  local status = box:wait()
  state.remove(name)
  return status
end

local function exec(a)
  local entry, err = state.find(a.container)
  if not entry then return fail(err) end
  local box
  box, err = container.running(entry)
  if not box then return fail(err) end
  local env
  env, err = env_option(a.env)
  if err then return fail(err) end
  local status, msg = box:exec { command = a.command, env = env, cwd = a.cwd }
  box:close()
  if not status then return fail(msg) end
  if msg then io.stderr:write("nsbox: ", msg, "\n") end
  return status
end

local function age(seconds)
  if seconds < 120 then return seconds .. "s" end
  if seconds < 7200 then return seconds // 60 .. "m" end
  if seconds < 172800 then return seconds // 3600 .. "h" end
  return seconds // 86400 .. "d"
end

local function ps(a)
  local list, err = state.list()
  if not list then return fail(err) end
  local now = os.time()
  if a.json then
    local rows = {}
    for _, e in ipairs(list) do
      rows[#rows + 1] = { name = e.name, id = e.id, pid = e.pid, ip = e.ip, command = e.command,
                          started = e.started, age = now - e.started }
    end
    io.write(json.encode(rows), "\n")
    return 0
  end
  io.write(string.format("%-16s %-8s %-18s %-6s %s\n", "NAME", "PID", "IP", "AGE", "COMMAND"))
  for _, e in ipairs(list) do
    io.write(string.format("%-16s %-8d %-18s %-6s %s\n", e.name, e.pid, e.ip or "-", age(now - e.started),
      table.concat(e.command, " ")))
  end
  return 0
end

--- Run the CLI with an argv table; returns the exit status.
function M.main(argv)
  local ok, a = parser():pparse(split_command(argv))
  if not ok then return fail(a .. " (try nsbox --help)") end
  if a.command_name == "exec" then return exec(a) end
  if a.command_name == "ps" then return ps(a) end
  return run(a)
end

return M
