---
-- The command-line face of nsbox: `nsbox run|exec|ps`.
-- Every option maps onto a recipe field.
-- @module nsbox.cli
-- nsbox.container itself, not the nsbox facade (it loads nsbox.reexec too): each
-- module is 30 us of every `nsbox run`
local container = require "nsbox.container"
local core = require "nsbox.core"
local state = require "nsbox.state"
local recipe = require "nsbox.recipe"

local M = {}

local NSBOX_ERROR = 125

-- The subcommands and their options: name (--name; its key in the parsed table
-- has '_' for '-'), arg (what the value looks like; none: a flag), help, many (may
-- be repeated: a list), choices (the values allowed).
-- Parsed by hand, not with lua-argparse. Measured (bench/argparse.lua: CPU ms
-- in a fresh process, medians of 100-200, this 2-core machine under load; the
-- best run in brackets): lua-argparse 0.7.1 as Debian ships it, from source,
-- loads in 2.8-3.6 (1.9) and with nsbox's parser built and argv parsed costs
-- 3.3-4.3 (2.2), a third of `nsbox run` (9.2); precompiled with luac5.4 -s (a
-- file of another package we would have to compile and install) 0.4-0.55 (0.34)
-- and 0.8-1.2 (0.7). This file precompiled, as installed, hand parser included,
-- loads in 0.1-0.13 (0.07) and parses in 0.02. Kept by hand: argparse would add
-- a dependency and 0.6 ms at best, 3 ms or more as packaged, for 80 lines the specs cover
-- (and it would change the messages they assert).
local COMMANDS = {
  run = {
    usage = "nsbox run [options] [--] COMMAND [ARG...]",
    help = "Run COMMAND in a new container.",
    words = {}, -- positional words before the command
    options = {
      { name = "rootfs", arg = "DIR", help =
        "Root filesystem directory: required once installed; from a checkout, default build/rootfs (make rootfs)." },
      { name = "hostname", arg = "NAME", help = "Host name inside (default: the container id)." },
      { name = "domainname", arg = "NAME", help = "NIS domain name inside." },
      { name = "env", arg = "K=V", help = "Set K=V in the command's environment.", many = true },
      { name = "cwd", arg = "DIR", help = "Working directory inside." },
      { name = "bind", arg = "SRC:DST[:OPTS]", many = true, help =
        "Bind-mount SRC at DST; OPTS: ro (read-only), idmap (SRC's owners shown through the container's map; root)." },
      { name = "tmpfs", arg = "DST[:OPTS]",
        help = "Mount a tmpfs at DST; OPTS: size=N[k|m|g],mode=OCTAL (default mode 1777).", many = true },
      { name = "share", arg = "NS", many = true,
        help = "Keep this namespace of the host (" .. table.concat(recipe.ALL, ", ") .. ")." },
      { name = "uid-map", arg = "IN:OUT:COUNT", help = "Map uids IN:OUT:COUNT.", many = true },
      { name = "userns", arg = "keep-id", choices = { ["keep-id"] = true, auto = true }, help =
        "keep-id: your uid and gid are the same inside (you run as them); auto: the default maps." },
      { name = "gid-map", arg = "IN:OUT:COUNT", help = "Map gids IN:OUT:COUNT.", many = true },
      { name = "net", arg = "none|bridge|pasta", help = "Network: none (lo only), bridge, or pasta " ..
        "(rootless: egress and -p through Debian's passt; not as root).",
        choices = { none = true, bridge = true, pasta = true } },
      { name = "bridge", arg = "NAME", help = "Bridge to attach to (implies --net bridge; default brg0)." },
      { name = "ip", arg = "CIDR", help = "Address inside, CIDR (default: leased from the bridge's subnet)." },
      { name = "gateway", arg = "ADDR", help = "Gateway: the bridge's address (made with it if missing)." },
      { name = "publish", short = "p", arg = "[ADDR:]HOST:CONTAINER[/udp]", many = true, help =
        "Publish a container port on the host (ranges N-M; ADDR default 0.0.0.0, 127.0.0.1 included; root)." },
      { name = "isolate", help = "Drop what the container starts to the host's own addresses and the other " ..
        "subnets the host is on; the internet and its published ports still work (root)." },
      { name = "antispoof", bool = true, help = "The container sends into the bridge only from its own MAC " ..
        "and address (the default); --antispoof=false (root): it may send for others (a router)." },
      { name = "nat", bool = true, help = "Egress: masquerade the bridge's subnet, IPv4 forwarding on " ..
        "(the default with a bridge); --nat=false: the containers reach the bridge only." },
      { name = "name", arg = "NAME", help = "Container name, for nsbox exec and nsbox ps (default: its id)." },
      { name = "layer", arg = "DIR", many = true, help =
        "A lower layer under the rootfs (overlayfs form; the first given is the highest)." },
      { name = "upper", arg = "DIR",
        help = "Keep the container's writes in DIR (made if missing), for a later container to reuse." },
      { name = "in-place", help = "Write the image itself (the root is then no copy-on-write overlay)." },
      { name = "readonly", help = "Mount the root filesystem read-only." },
      { name = "dns", arg = "ADDR", many = true, help = "Name server for /etc/resolv.conf (default: the host's)." },
      { name = "dns-search", arg = "DOMAIN", many = true, help = "Search domain for /etc/resolv.conf." },
      { name = "dns-option", arg = "OPT", many = true, help = "Resolver option for /etc/resolv.conf (e.g. ndots:2)." },
      { name = "user", short = "u", arg = "USER", help =
        "Run as USER: a name of the image's /etc/passwd, UID, UID:GID or NAME:GROUP." },
      { name = "cap-add", arg = "CAP", many = true,
        help = "Add CAP to the default capabilities (podman's 11), e.g. net_raw for busybox's ping." },
      { name = "cap-drop", arg = "CAP", many = true, help = "Drop CAP from the default capabilities." },
      { name = "memory", short = "m", arg = "SIZE", help = "Memory limit (e.g. 256m; b, k, m, g, t)." },
      { name = "memory-swap", arg = "SIZE", help =
        "Memory and swap together (podman's meaning; -1: unlimited swap; default: twice --memory)." },
      { name = "pids-limit", arg = "N", help = "At most N processes and threads." },
      { name = "cpus", arg = "N", help = "CPU time of N CPUs at most (e.g. 1.5)." },
      { name = "cpuset-cpus", arg = "LIST", help = "Run only on these CPUs (e.g. 0-1,3)." },
      { name = "cpu-weight", arg = "N", help = "CPU weight against other cgroups, 1-10000 (default 100)." },
      { name = "io-weight", arg = "N", help = "Block I/O weight, 1-10000 (needs BFQ or io.cost)." },
      { name = "cgroup-parent", arg = "PATH", help =
        "Make the container's cgroup under PATH (default: nsbox's own cgroup)." },
      { name = "ulimit", arg = "NAME=SOFT[:HARD]", many = true, help =
        "A resource limit, e.g. nofile=1024:2048 (-1 or unlimited: none)." },
      { name = "security-opt", arg = "seccomp=PROFILE", many = true, help =
        "seccomp=unconfined (no filter) or seccomp=FILE (an OCI seccomp profile, JSON)." },
      { name = "tty", short = "t", bool = true, help =
        "A terminal of the container's own for the command (default: when stdin and stdout are terminals); " ..
        "--tty=false: none." },
      { name = "interactive", short = "i", help =
        "Keep stdin attached (default: from a terminal; else the command's stdin is /dev/null)." },
      { name = "detach", short = "d", help = "Run in the background: print the name; output to nsbox logs NAME." },
      { name = "rm", help = "Remove the container's entry (and log) when it ends (detached; a foreground run leaves none)." },
      { name = "init", help = "nsbox-init as the command's parent even without a pid namespace (reaps, passes signals)." },
      { name = "stop-timeout", arg = "SECONDS", help =
        "After SIGTERM, SIGINT or SIGHUP, kill the container if it has not ended this long after (default 10)." },
    },
  },
  exec = {
    usage = "nsbox exec [options] NAME|PID [--] COMMAND [ARG...]",
    help = "Run COMMAND inside a running container.",
    words = { "container" },
    needs_command = true,
    options = {
      { name = "env", arg = "K=V", help = "Set K=V in the command's environment.", many = true },
      { name = "cwd", arg = "DIR", help = "Working directory inside." },
      { name = "tty", short = "t", bool = true, help =
        "A terminal of the container's own (default: when stdin and stdout are terminals); --tty=false: none." },
      { name = "interactive", short = "i", help = "Keep stdin attached (default: from a terminal; else /dev/null)." },
    },
  },
  import = {
    usage = "nsbox import SRC DEST",
    help = "Unpack an image (a directory or a tar archive) into DEST as your own: with /etc/subuid and " ..
      "/etc/subgid ranges, its root is you and its other owners land in your ranges.",
    words = { "source", "dest" },
    no_command = true,
    options = {},
  },
  ps = {
    usage = "nsbox ps [-a] [--json]",
    help = "List running containers.",
    options = { { name = "json", help = "One JSON array, for scripts." },
                { name = "all", short = "a", help = "Detached containers that have ended too, with their status." } },
    no_command = true,
  },
  logs = { usage = "nsbox logs [-f] NAME", help = "Show a detached container's output.", words = { "container" },
           no_command = true,
           options = { { name = "follow", short = "f", help = "Go on showing what it writes until it ends." } } },
  stop = { usage = "nsbox stop [-t SECONDS] NAME", words = { "container" }, no_command = true,
           help = "Stop a container: SIGTERM, then SIGKILL after the timeout.",
           options = { { name = "time", short = "t", arg = "SECONDS", help = "Seconds to wait before SIGKILL (default 10)." } } },
  kill = { usage = "nsbox kill NAME [SIGNAL]", words = { "container" }, help = "Send a signal (default KILL).",
           options = {} },
  wait = { usage = "nsbox wait NAME", words = { "container" }, no_command = true,
           help = "Wait for a container to end; print its status and exit with it.", options = {} },
  rm = { usage = "nsbox rm [-f] NAME", words = { "container" }, no_command = true,
         help = "Remove an ended container's entry and log.",
         options = { { name = "force", short = "f", help = "Kill a running one first." } } },
  attach = { usage = "nsbox attach NAME", words = { "container" }, no_command = true, options = {},
             help = "Attach your terminal to a detached container started with -t (Ctrl-P Ctrl-Q detaches)." },
  inspect = { usage = "nsbox inspect NAME", words = { "container" }, no_command = true,
              help = "Print a container's entry as JSON: its recipe as run, pid, address, status.", options = {} },
}

local function help(name)
  if not name then
    local out = { "Usage: nsbox COMMAND [options] ...\n\nLinux containers from namespace primitives.\n\nCommands:" }
    for _, n in ipairs { "run", "exec", "ps", "logs", "attach", "stop", "kill", "wait", "rm", "inspect" } do
      out[#out + 1] = string.format("  %-8s %s", n, COMMANDS[n].help)
    end
    out[#out + 1] = "  import   Unpack an image into a directory as your own."
    return table.concat(out, "\n") .. "\n\nnsbox COMMAND --help tells its options.\n"
  end
  local c, out = COMMANDS[name], {}
  out[1] = "Usage: " .. c.usage .. "\n\n" .. c.help .. "\n\nOptions:"
  for _, o in ipairs(c.options) do
    out[#out + 1] = string.format("  %-30s %s", (o.short and "-" .. o.short .. ", " or "") .. "--" .. o.name ..
      (o.arg and " " .. o.arg or ""), o.help)
  end
  out[#out + 1] = string.format("  %-30s %s", "-h, --help", "Show this help and exit.")
  return table.concat(out, "\n") .. "\n"
end

-- argv -> { command_name =, <option> = value or list, command = {...}, <word> = ... },
-- or nil and a message; "help" and the text for --help.
local function parse(argv)
  local name = argv[1]
  if name == "-h" or name == "--help" then return "help", help() end
  local c = COMMANDS[name]
  if not c then
    return nil, name and "unknown command '" .. name .. "'" or
      "a command is needed (run, exec, ps, logs, attach, stop, kill, wait, rm, inspect, import)"
  end
  local a, opts = { command_name = name, command = {} }, {}
  local short = {}
  for _, o in ipairs(c.options) do
    opts[o.name] = o
    if o.short then short["-" .. o.short] = "--" .. o.name end
    if o.many then a[o.name:gsub("%-", "_")] = {} end
  end
  local i, words = 2, 0
  argv = { table.unpack(argv) }
  while i <= #argv do
    local w = argv[i]
    -- -it: short flags together, as docker's users type them
    if not short[w] and w:match("^%-%a%a+$") then
      local each = {}
      for ch in w:sub(2):gmatch(".") do
        local long = short["-" .. ch]
        if not long or opts[long:sub(3)].arg then each = nil break end
        each[#each + 1] = long
      end
      if each then
        table.remove(argv, i)
        for j = #each, 1, -1 do table.insert(argv, i, each[j]) end
        w = argv[i]
      end
    end
    if w == "--" then -- the rest is positional: the words still due, then the command
      i = i + 1
      while c.words and words < #c.words and argv[i] do
        words = words + 1
        a[c.words[words]] = argv[i]
        i = i + 1
      end
      break
    end
    if w == "-h" or w == "--help" then return "help", help(name) end
    w = short[w] or w
    if w:sub(1, 2) == "--" then
      local key, value = w:match("^%-%-([^=]+)=(.*)$")
      key = key or w:sub(3)
      local o = opts[key]
      if not o then return nil, "unknown option '" .. w .. "'" end
      local field = key:gsub("%-", "_")
      if not o.arg then
        if value and not (o.bool and (value == "true" or value == "false")) then
          return nil, "option '--" .. key .. "' takes no value" .. (o.bool and " but true or false" or "")
        end
        if a[field] ~= nil then return nil, "option '--" .. key .. "' given twice" end
        a[field] = value ~= "false"
      else
        if not value then
          i = i + 1
          value = argv[i]
          if not value then return nil, "option '--" .. key .. "' needs a value (" .. o.arg .. ")" end
        end
        if o.choices and not o.choices[value] then
          return nil, string.format("option '--%s': '%s' is not one of %s", key, value, o.arg)
        end
        if o.many then
          table.insert(a[field], value)
        elseif a[field] ~= nil then
          return nil, "option '--" .. key .. "' given twice"
        else
          a[field] = value
        end
      end
    elseif w:sub(1, 1) == "-" and w ~= "-" then
      return nil, "unknown option '" .. w .. "'"
    elseif c.words and words < #c.words then
      words = words + 1
      a[c.words[words]] = w
    else
      break -- the command: the rest is its own
    end
    i = i + 1
  end
  if c.words and words < #c.words then return nil, "missing argument '" .. c.words[words + 1] .. "'" end
  for j = i, #argv do a.command[#a.command + 1] = argv[j] end
  if c.no_command and #a.command > 0 then return nil, "unexpected argument '" .. a.command[1] .. "'" end
  if c.needs_command and #a.command == 0 then return nil, "missing argument 'command'" end
  return a
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

-- --ulimit NAME=SOFT[:HARD] as the recipe's rlimits.
local function ulimits(list)
  if #list == 0 then return nil end
  local out = {}
  for _, u in ipairs(list) do
    local name, soft, hard = u:match("^([%w_]+)=([%w-]+):?([%w-]*)$")
    local function n(x) return x == "unlimited" and -1 or math.tointeger(tonumber(x)) end
    soft, hard = n(soft or ""), n(hard ~= "" and hard or soft or "")
    if not (name and soft and hard) then return nil, "--ulimit: '" .. u .. "' is not NAME=SOFT[:HARD]" end
    out[name] = { soft, hard }
  end
  return out
end

-- The resources options as the recipe's resources (their checks are the recipe's).
local function resource_options(a)
  local res = { memory = a.memory, memory_swap = a.memory_swap, cpus = a.cpus, cpuset = a.cpuset_cpus }
  for opt, k in pairs { pids_limit = "pids", cpu_weight = "cpu_weight", io_weight = "io_weight" } do
    if a[opt] then
      res[k] = math.tointeger(tonumber(a[opt]))
      if not res[k] then return nil, "--" .. opt:gsub("_", "-") .. ": '" .. a[opt] .. "' is not an integer" end
    end
  end
  if a.memory_swap == "-1" then res.memory_swap = -1 end
  if next(res) == nil then return nil end
  return res
end

-- --security-opt seccomp=unconfined|FILE.
local function security_options(list)
  local profile
  for _, o in ipairs(list) do
    local v = o:match("^seccomp[=:](.+)$")
    if not v then return nil, "--security-opt: '" .. o .. "' is not seccomp=unconfined or seccomp=FILE" end
    if v == "unconfined" then profile = false
    else
      local f, err = io.open(v)
      if not f then return nil, "--security-opt seccomp: " .. err end
      local text = f:read("a")
      f:close()
      local ok, t = pcall(state.json.decode, text)
      if not ok or type(t) ~= "table" then return nil, "--security-opt seccomp: " .. v .. " is not a JSON profile" end
      profile = t
    end
  end
  return profile
end

--- Turn parsed options into a recipe, or nil and a message.
function M.recipe(a)
  local r = { rootfs = a.rootfs or default_rootfs(), hostname = a.hostname, domainname = a.domainname,
    cwd = a.cwd, name = a.name, readonly = a.readonly or nil, upper = a.upper, in_place = a.in_place or nil,
    user = a.user, userns = a.userns }
  -- the bundled rootfs is a checkout's build/rootfs: an installed nsbox has no default
  if not r.rootfs then return nil, "--rootfs: required (the image directory; no default once installed)" end
  if #a.layer > 0 then r.rootfs = { r.rootfs, table.unpack(a.layer) } end
  if #a.dns + #a.dns_search + #a.dns_option > 0 then
    r.dns = { servers = a.dns[1] and a.dns, search = a.dns_search[1] and a.dns_search,
              options = a.dns_option[1] and a.dns_option }
  end
  if #a.command > 0 then r.command = a.command end
  local err
  r.env, err = env_option(a.env)
  if err then return nil, err end
  for _, p in ipairs(a.publish) do
    local entry, perr = require("nsbox.ports").parse(p)
    if not entry then return nil, perr end
    r.ports = r.ports or {}
    r.ports[#r.ports + 1] = entry
  end
  if a.net == "pasta" then
    if a.bridge or a.ip or a.gateway or a.nat ~= nil or a.isolate or a.antispoof ~= nil then
      return nil, "--net pasta: conflicts with --bridge, --ip, --gateway, --nat, --antispoof and --isolate"
    end
    r.network = "pasta"
  elseif a.net == "bridge" or a.bridge or a.ip or a.gateway or a.nat ~= nil or r.ports or a.isolate or
         a.antispoof ~= nil then
    if a.net == "none" then
      return nil, "--net none: conflicts with --bridge, --ip, --gateway, --nat, --antispoof, --isolate and -p"
    end
    r.network = { bridge = a.bridge, address = a.ip, gateway = a.gateway, nat = a.nat, isolate = a.isolate,
                  antispoof = a.antispoof }
  end
  local mounts = {}
  for _, b in ipairs(a.bind) do
    local src, dst, opts = b:match("^([^:]+):([^:]+):?(.*)$")
    local m = src and { type = "bind", source = src, destination = dst }
    for o in (opts or ""):gmatch("[^,]+") do
      if o == "ro" then m.readonly = true elseif o == "idmap" then m.idmap = true else m = nil break end
    end
    if not m then return nil, "--bind: '" .. b .. "' is not SRC:DST[:ro][,idmap]" end
    mounts[#mounts + 1] = m
  end
  for _, t in ipairs(a.tmpfs) do
    local dst, opts = t:match("^([^:]*):?(.*)$")
    local m = { type = "tmpfs", destination = dst }
    for opt in opts:gmatch("[^,]+") do
      local k, v = opt:match("^(%a+)=(.+)$")
      if k ~= "size" and k ~= "mode" then
        return nil, "--tmpfs: '" .. t .. "': option '" .. opt .. "' is not size=N or mode=OCTAL"
      end
      m[k] = v
    end
    mounts[#mounts + 1] = m
  end
  if #mounts > 0 then r.mounts = mounts end
  if #a.share > 0 then
    local shared = {}
    for _, n in ipairs(a.share) do
      local name = recipe.namespace(n)
      if not name then
        return nil, string.format("--share: unknown namespace '%s' (known: %s)", n, table.concat(recipe.ALL, ", "))
      end
      shared[name] = true
    end
    r.namespaces = {}
    for _, n in ipairs(recipe.ALL) do
      if not shared[n] then r.namespaces[#r.namespaces + 1] = n end
    end
  end
  if #a.cap_add > 0 or #a.cap_drop > 0 then r.capabilities = { add = a.cap_add, drop = a.cap_drop } end
  r.uid_map, err = id_maps(a.uid_map, "uid")
  if err then return nil, err end
  r.gid_map, err = id_maps(a.gid_map, "gid")
  if err then return nil, err end
  r.resources, err = resource_options(a)
  if err then return nil, err end
  r.rlimits, err = ulimits(a.ulimit)
  if err then return nil, err end
  r.seccomp, err = security_options(a.security_opt)
  if err then return nil, err end
  r.cgroup_parent = a.cgroup_parent
  return r
end

local function fail(msg)
  io.stderr:write("nsbox: ", (tostring(msg):gsub("\n", " ")), "\n")
  return NSBOX_ERROR
end

-- Said once (a mark in the state directory): an unprivileged user without
-- subordinate ranges gets one id inside, and what a full range would need.
local function range_hint(box)
  local r = box.recipe
  if core.geteuid() == 0 or r.subids or not r.namespaces.user or #r.uid_map ~= 1 or r.uid_map[1].count ~= 1 then return end
  local dir = state.dir()
  dir = dir and dir:match("^(.*)/containers$") -- beside the entries, not among them
  if not dir or core.stat(dir .. "/.range-hint-said") then return end
  local f = io.open(dir .. "/.range-hint-said", "w")
  if f then f:close() end
  io.stderr:write("nsbox: the container has one id (root inside is you): for a full range of ids, as apt, su and ",
    "chown want, have /etc/subuid and /etc/subgid give you ranges (usermod --add-subuids 100000-165535 ",
    "--add-subgids 100000-165535 ", os.getenv("USER") or "USER", ") and install uidmap; said once\n")
end

-- What the terminal options make of the command's stdio: a pty (-t; by
-- default when stdin and stdout are terminals, as nspawn does), stdin kept
-- (-i; by default from a terminal), else /dev/null. Detached: neither by default.
local function terminal_options(a, r)
  local given = a.tty ~= nil or a.interactive
  local term = not a.detach and core.isatty(0)
  local want_tty = a.tty
  if want_tty == nil then want_tty = not given and term and core.isatty(1) end
  local input = a.interactive or (not given and term)
  if a.detach and a.interactive then
    return nil, "--interactive: not with --detach (nsbox attach gives a -t container your keys)"
  end
  if want_tty then r.tty = { input = input or false } end
  if not input then
    local null, err = core.openat(nil, "/dev/null", "read")
    if not null then return nil, err end
    r.stdin = null
  end
  return true
end

local function stop_timeout(a)
  if a.stop_timeout == nil then return 10 end
  local t = tonumber(a.stop_timeout)
  if not t or t < 0 then return nil, "--stop-timeout: '" .. a.stop_timeout .. "' is not a number of seconds >= 0" end
  return t
end

local function run(a)
  local r, err = M.recipe(a)
  if not r then return fail(err) end
  local ok, t
  t, err = stop_timeout(a)
  if not t then return fail(err) end
  if a.rm and not a.detach then return fail("--rm: only with --detach (a foreground run leaves no entry)") end
  ok, err = terminal_options(a, r)
  if not ok then return fail(err) end
  r.init = a.init or nil
  local box
  box, err = container.new(r)
  if not box then return fail(err) end
  range_hint(box)
  box.record = true -- nsbox ps, exec, stop see every container of the CLI
  if a.detach then
    local done, derr, st = require("nsbox.lifecycle").detach(box, not a.rm, t)
    if not done then
      io.stderr:write("nsbox: ", derr, "\n")
      return st or NSBOX_ERROR
    end
    io.write(box.name, "\n")
    return 0
  end
  local eno
  ok, err, eno = box:start()
  if not ok then
    if box.status then
      io.stderr:write("nsbox: ", err, "\n")
      return box.status
    end
    return fail(err, eno)
  end
  if box.state_error then io.stderr:write("nsbox: ", box.state_error, "\n") end
  local status, note = box:wait { stop_timeout = t }
  if note then io.stderr:write("nsbox: ", note, "\n") end
  return status
end

-- nsbox logs, stop, kill, wait, rm, inspect: by name, through nsbox.lifecycle.
local LIFECYCLE = { logs = true, stop = true, kill = true, wait = true, rm = true, inspect = true, attach = true }
local function lifecycle(a)
  local lc = require "nsbox.lifecycle"
  local name, c = a.container, a.command_name
  local res, err
  if c == "logs" then
    res, err = lc.logs(name, a.follow, 1)
  elseif c == "stop" then
    local t = 10
    if a.time then
      t = tonumber(a.time)
      if not t or t < 0 then return fail("--time: '" .. a.time .. "' is not a number of seconds >= 0") end
    end
    res, err = lc.stop(name, t)
  elseif c == "kill" then
    if #a.command > 1 then return fail("kill: one signal at most (got '" .. a.command[2] .. "' too)") end
    local sig
    sig, err = lc.signal(a.command[1] or "KILL")
    if sig then res, err = lc.kill(name, sig) end
  elseif c == "wait" then
    res, err = lc.wait(name)
    if res then io.write(res, "\n") return res end
  elseif c == "rm" then
    res, err = lc.rm(name, a.force)
  elseif c == "attach" then
    res, err = lc.attach(name, 0, 1)
    if res == "detached" then io.write("\r\n") return 0 end
    if res == "signalled" then io.write("\r\n") return 130 end
    if res then return res end
  elseif c == "inspect" then
    res, err = lc.inspect(name)
    if res then io.write(res, "\n") return 0 end
  end
  if not res then return fail(err) end
  if c ~= "logs" then io.write(res.name, "\n") end
  return 0
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
  local spec = { command = a.command, env = env, cwd = a.cwd }
  local ok
  ok, err = terminal_options(a, spec)
  if not ok then box:close() return fail(err) end
  local status, msg = box:exec(spec)
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

-- A container's state as ps shows it: "Up 5s", "Exited (0) 3s ago".
local function status_text(e, now)
  if e.exited then
    return string.format("Exited (%s) %s ago", tostring(e.status), age(now - (e.finished or now)))
  end
  return "Up " .. age(now - e.started)
end

local function ps(a)
  local list, err = state.list(a.all)
  if not list then return fail(err) end
  local now = os.time()
  if a.json then
    local rows = {}
    for _, e in ipairs(list) do
      rows[#rows + 1] = { name = e.name, id = e.id, pid = not e.exited and e.pid or nil, ip = e.ip,
                          command = e.command, started = e.started, age = now - e.started,
                          state = e.exited and "exited" or "running", status = e.status, finished = e.finished }
    end
    -- cjson writes an empty table as {}: no container is the empty array
    local ok, text = true, "[]"
    if #rows > 0 then ok, text = pcall(state.json.encode, rows) end
    if not ok then return fail("ps --json: " .. text) end
    io.write(text, "\n")
    return 0
  end
  io.write(string.format("%-16s %-8s %-18s %-22s %s\n", "NAME", "PID", "IP", "STATUS", "COMMAND"))
  for _, e in ipairs(list) do
    io.write(string.format("%-16s %-8s %-18s %-22s %s\n", e.name, e.exited and "-" or tostring(e.pid), e.ip or "-",
      status_text(e, now), table.concat(e.command, " ")))
  end
  return 0
end

--- Run the CLI with an argv table; returns the exit status.
function M.main(argv)
  local a, err = parse(argv)
  if a == "help" then
    io.write(err)
    return 0
  end
  if not a then return fail(err .. " (try nsbox --help)") end
  if a.command_name == "exec" then return exec(a) end
  if a.command_name == "ps" then return ps(a) end
  if LIFECYCLE[a.command_name] then return lifecycle(a) end
  if a.command_name == "import" then
    local ok, ierr = require("nsbox.import").import(a.source, a.dest)
    if not ok then return fail(ierr) end
    return 0
  end
  return run(a)
end

return M
