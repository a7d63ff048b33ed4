--- The command-line face of nsbox: `nsbox run [options] [--] COMMAND [ARG...]`.
-- Parsing with Debian's lua-argparse; every option maps onto a recipe field.
-- @module nsbox.cli
local argparse = require "argparse"
local nsbox = require "nsbox"

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
  run:option("--net", "Network: none."):choices { "none" }
  run:option("--name", "Container name.")
  run:flag("--readonly", "Mount the root filesystem read-only.")
  run:argument("command", "The command and its arguments."):args("*")
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

--- Turn parsed options into a recipe, or nil and a message.
function M.recipe(a)
  local r = { rootfs = a.rootfs or default_rootfs(), hostname = a.hostname, domainname = a.domainname,
    cwd = a.cwd, name = a.name, readonly = a.readonly or nil }
  if #a.command > 0 then r.command = a.command end
  if #a.env > 0 then
    r.env = {}
    for _, kv in ipairs(a.env) do
      local k, v = kv:match("^([^=]+)=(.*)$")
      if not k then return nil, "--env: '" .. kv .. "' is not K=V" end
      r.env[k] = v
    end
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
  local err
  r.uid_map, err = id_maps(a.uid_map, "uid")
  if err then return nil, err end
  r.gid_map, err = id_maps(a.gid_map, "gid")
  if err then return nil, err end
  return r
end

local function fail(msg)
  io.stderr:write("nsbox: ", msg, "\n")
  return NSBOX_ERROR
end

local FLAGS = { ["--readonly"] = true, ["-h"] = true, ["--help"] = true }

-- The command starts at the first word after `run` that is not an option or an
-- option's value: put a "--" there so argparse leaves `sh -c ...` alone.
local function split_command(argv)
  local args, i = {}, 1
  while i <= #argv do
    local a = argv[i]
    args[#args + 1] = a
    if a == "--" then break end
    if a == "run" and #args == 1 then
      i = i + 1
    elseif a:sub(1, 1) == "-" then
      if not FLAGS[a] and not a:find("=", 1, true) and argv[i + 1] then
        args[#args + 1] = argv[i + 1]
        i = i + 1
      end
      i = i + 1
    elseif #args > 1 then
      args[#args] = "--"
      args[#args + 1] = a
      break
    else
      i = i + 1
    end
  end
  for j = i + 1, #argv do args[#args + 1] = argv[j] end
  return args
end

--- Run the CLI with an argv table; returns the exit status.
function M.main(argv)
  local ok, a = parser():pparse(split_command(argv))
  if not ok then return fail(a .. " (try nsbox --help)") end
  local r, err = M.recipe(a)
  if not r then return fail(err) end
  local box
  box, err = nsbox.container(r)
  if not box then return fail(err) end
  local status
  status, err = box:run()
  if not status then return fail(err) end
  if err then io.stderr:write("nsbox: ", err, "\n") end
  return status
end

return M
