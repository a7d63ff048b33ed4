--- Validation of a container recipe: every field checked, defaults filled in,
-- nothing created. Returns a new table, or nil and a message naming the field.
-- @module nsbox.recipe
local core = require "nsbox.core"
local idmap = require "nsbox.idmap"
local caps = require "nsbox.caps"
local validate = require "nsbox.validate"
local layers = require "nsbox.layers"
local etc = require "nsbox.etc"
local users = require "nsbox.users"
local resources = require "nsbox.resources"

local M = {}

M.NAMESPACES = {
  user = core.CLONE_NEWUSER, mount = core.CLONE_NEWNS, uts = core.CLONE_NEWUTS,
  ipc = core.CLONE_NEWIPC, pid = core.CLONE_NEWPID, net = core.CLONE_NEWNET,
  cgroup = core.CLONE_NEWCGROUP,
}
local ALIASES = { mnt = "mount", network = "net" }
M.ALL = { "user", "mount", "uts", "ipc", "pid", "net", "cgroup" }

--- The name of namespace name in M.ALL ("mnt" is "mount", "network" is "net"), or nil if unknown.
function M.namespace(name)
  local n = ALIASES[name] or name
  if M.NAMESPACES[n] then return n end
end

local DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
local MAX_ID = 4294967295
local MAX_FD = 0x7fffffff

local FIELDS = {
  rootfs = true, command = true, env = true, cwd = true, hostname = true, domainname = true,
  namespaces = true, uid_map = true, gid_map = true, mounts = true, interpreter = true,
  network = true, keep_fds = true, readonly = true, name = true, upper = true, in_place = true, dns = true,
  user = true, userns = true, ports = true,
  stdin = true, stdout = true, stderr = true,
  capabilities = true, no_new_privs = true, new_session = true, init = true, reexec = true,
  resources = true, rlimits = true, cgroup_parent = true, seccomp = true, tty = true,
}

local EXEC_FIELDS = { command = true, env = true, cwd = true, stdin = true, stdout = true, stderr = true,
  new_session = true, tty = true }

local bad = validate.bad

local function plain_string(field, v, max)
  if type(v) ~= "string" then bad(field, "string expected, got %s", type(v)) end
  if v:find("\0", 1, true) then bad(field, "must not contain a NUL byte") end
  if max and #v > max then bad(field, "longer than %d bytes", max) end
  return v
end

local function abs_path(field, v)
  plain_string(field, v, 4096)
  if v:sub(1, 1) ~= "/" then bad(field, "'%s' is not an absolute path", v) end
  for part in v:gmatch("[^/]+") do
    if part == ".." then bad(field, "'%s' must not contain '..'", v) end
  end
  return v
end

-- A container's name, docker's rule: a letter or digit, then letters, digits, '_', '.', '-'.
local function container_name(v)
  plain_string("name", v, 64)
  if not v:match("^[%w][%w_.-]*$") then
    bad("name", "'%s' is not a valid name ([a-zA-Z0-9][a-zA-Z0-9_.-]*)", v)
  end
  return v
end

-- RFC 1123 host names: dot-separated labels of letters, digits and '-'.
local function host_name(field, v)
  plain_string(field, v, 64)
  if v == "" then bad(field, "must not be empty") end
  for label in (v .. "."):gmatch("(.-)%.") do
    if label == "" or #label > 63 or not label:match("^[%w][%w%-]*$") or label:sub(-1) == "-" then
      bad(field, "'%s' is not a valid host name (letters, digits, '-' and '.')", v)
    end
  end
  return v
end

local function namespaces(v)
  if v == nil then v = M.ALL end
  if type(v) ~= "table" then bad("namespaces", "array of names expected, got %s", type(v)) end
  local set, flags = {}, 0
  for i, name in ipairs(v) do
    if type(name) ~= "string" then bad("namespaces", "entry %d: string expected", i) end
    local n = M.namespace(name)
    if not n then bad("namespaces", "unknown namespace '%s' (known: %s)", name, table.concat(M.ALL, ", ")) end
    set[n], flags = true, flags | M.NAMESPACES[n]
  end
  if not set.mount then bad("namespaces", "a mount namespace is needed to pivot into rootfs") end
  if not set.user and core.geteuid() ~= 0 then
    bad("namespaces", "without a user namespace only root can create namespaces")
  end
  return set, flags
end

local function id_map(field, v, own, has_user, default)
  if v == nil then return has_user and (default or { { inside = 0, outside = own, count = 1 } }) or nil end
  if not has_user then bad(field, "needs the user namespace") end
  if type(v) ~= "table" then bad(field, "table expected, got %s", type(v)) end
  local list = v.inside ~= nil and { v } or v
  if #list == 0 then bad(field, "at least one { inside =, outside =, count = } expected") end
  local out = {}
  for i, m in ipairs(list) do
    local where = #list > 1 and string.format("%s[%d]", field, i) or field
    if type(m) ~= "table" then bad(where, "{ inside =, outside =, count = } expected") end
    for _, k in ipairs { "inside", "outside", "count" } do
      local x = m[k]
      if math.type(x) ~= "integer" or x < (k == "count" and 1 or 0) or x > MAX_ID then
        bad(where, "'%s' must be an integer in [%d, %d]", k, k == "count" and 1 or 0, MAX_ID)
      end
    end
    if m.inside + m.count - 1 > MAX_ID or m.outside + m.count - 1 > MAX_ID then
      bad(where, "range runs past %d", MAX_ID)
    end
    for j, o in ipairs(out) do
      if m.inside < o.inside + o.count and o.inside < m.inside + m.count then
        bad(where, "inside range overlaps entry %d", j)
      end
    end
    out[#out + 1] = { inside = m.inside, outside = m.outside, count = m.count }
  end
  return out
end

local function env(v, hostname)
  local e = { PATH = DEFAULT_PATH, HOME = "/root", HOSTNAME = hostname, TERM = os.getenv("TERM") }
  if v == nil then return e end
  if type(v) ~= "table" then bad("env", "table of NAME = value expected, got %s", type(v)) end
  for k, x in pairs(v) do
    if type(k) ~= "string" or k == "" or k:find("[=%z]") then
      bad("env", "invalid variable name %s", string.format("%q", tostring(k)))
    end
    if type(x) == "number" then x = tostring(x) end
    if x ~= false then plain_string("env." .. k, x, 131072) end
    e[k] = x or nil
  end
  return e
end

local function command(v)
  if v == nil then return { "/bin/sh" } end
  if type(v) ~= "table" then bad("command", "array of strings expected, got %s", type(v)) end
  if #v == 0 then bad("command", "must not be empty") end
  local out = {}
  for i, a in ipairs(v) do
    plain_string(string.format("command[%d]", i), a, 131072)
    out[i] = a
  end
  if out[1] == "" then bad("command", "program name is empty") end
  return out
end

-- tmpfs size: bytes, or a string of digits with tmpfs's own k, m or g suffix.
local function tmpfs_size(field, v)
  if v == nil then return nil end
  if math.type(v) == "integer" and v > 0 then return tostring(v) end
  if type(v) == "string" and v:match("^[1-9]%d*[kmgKMG]?$") then return v:lower() end
  bad(field, "positive integer (bytes) or a size like '10m' expected")
end

-- tmpfs mode: an integer (write it in octal: tonumber("1777", 8)) or an octal
-- string; default 1777, as docker's --tmpfs.
local function tmpfs_mode(field, v)
  if v == nil then return tonumber("1777", 8) end
  local n = type(v) == "string" and v:match("^[0-7]+$") and tonumber(v, 8) or math.type(v) == "integer" and v
  if not n or n < 0 or n > 4095 then bad(field, "a mode from 0 to 7777 (octal) expected") end
  return n
end

local function mounts(v)
  if v == nil then return {} end
  if type(v) ~= "table" then bad("mounts", "array expected, got %s", type(v)) end
  local out = {}
  for i, m in ipairs(v) do
    local f = string.format("mounts[%d]", i)
    if type(m) ~= "table" then bad(f, "table expected, got %s", type(m)) end
    local kind = m.type or (m.source and "bind" or nil)
    if kind ~= "bind" and kind ~= "tmpfs" then bad(f .. ".type", "'bind' or 'tmpfs' expected") end
    local o = { type = kind, destination = abs_path(f .. ".destination", m.destination),
                readonly = m.readonly and true or false, idmap = m.idmap and true or nil }
    if m.idmap ~= nil and type(m.idmap) ~= "boolean" then bad(f .. ".idmap", "boolean expected, got %s", type(m.idmap)) end
    if o.idmap and kind ~= "bind" then bad(f .. ".idmap", "only a bind mount can be idmapped") end
    if not o.destination:find("[^/]") then
      -- it would cover /proc, /dev, /sys and dodge the masks: that is what rootfs is for
      bad(f .. ".destination", "'/' would cover the whole rootfs: give it as rootfs")
    end
    if kind == "bind" then
      plain_string(f .. ".source", m.source, 4096)
      local st, err = core.stat(m.source, true)
      if not st then bad(f .. ".source", "%s", err) end
      o.source, o.source_type = core.realpath(m.source), st.type
    else
      o.size, o.mode = tmpfs_size(f .. ".size", m.size), tmpfs_mode(f .. ".mode", m.mode)
    end
    out[i] = o
  end
  return out
end

local function interpreter(v)
  if v == nil then return "/proc/self/exe" end
  abs_path("interpreter", v)
  local ok, err = core.executable(v)
  if not ok then bad("interpreter", "%s", err) end
  return v
end

local function keep_fds(v)
  if v == nil then return {} end
  if type(v) ~= "table" then bad("keep_fds", "array of fds expected") end
  for i, fd in ipairs(v) do
    if math.type(fd) ~= "integer" or fd < 3 or fd > MAX_FD then
      bad(string.format("keep_fds[%d]", i), "fd in [3, %d] expected", MAX_FD)
    end
  end
  return { table.unpack(v) }
end

local function stdio(field, v)
  if v == nil then return nil end
  if math.type(v) ~= "integer" or v < 0 or v > MAX_FD then bad(field, "file descriptor in [0, %d] expected", MAX_FD) end
  return v
end

local function network(v, ns, published)
  if v == nil or v == false or v == "none" then
    if published ~= nil then bad("ports", "needs a network (network = { bridge = ... } or \"pasta\")") end
    return false
  end
  local n, err = require("nsbox.net").validate(v) -- loaded only when a network is asked for
  if n == nil then validate.raise(err) end
  if n and not ns.net then bad("network", "needs the net namespace") end
  if published ~= nil then
    local list, perr = require("nsbox.ports").validate(published)
    if perr then validate.raise(perr) end
    if list and core.geteuid() ~= 0 and n.mode ~= "pasta" then
      bad("ports", "published ports need root, or network mode pasta (the unprivileged helper publishes none)")
    end
    n.ports = list
  end
  return n
end

-- The bounding set as a list of capability numbers (for the child).
local function capabilities(v)
  if v ~= nil and type(v) ~= "table" then bad("capabilities", "{ add = {...}, drop = {...} } expected") end
  for k, list in pairs(v or {}) do
    if k ~= "add" and k ~= "drop" then bad("capabilities", "unknown field '%s' (add, drop)", tostring(k)) end
    if type(list) ~= "table" then bad("capabilities." .. k, "array of names expected, got %s", type(list)) end
  end
  local set, which, name = caps.set(v)
  if not set then bad("capabilities." .. which, "unknown capability %s", string.format("%q", tostring(name))) end
  local list = {}
  for n in pairs(set) do list[#list + 1] = n end
  table.sort(list)
  return list
end

local function flag(field, v, default)
  if v == nil then return default end
  if type(v) ~= "boolean" then bad(field, "boolean expected, got %s", type(v)) end
  return v
end

local function random_id()
  return assert(core.random_hex(6))
end

-- The maps an unprivileged caller gets when it gives none: podman's rootless
-- layout where /etc/subuid and /etc/subgid give it ranges (root inside is the
-- caller, 1..N its range, through newuidmap/newgidmap), else the one-id map;
-- userns = "keep-id": the caller's ids the same inside. Returns { uid =, gid = }
-- of maps (nil: the one-id map), and with keep-id the user to run as.
local function default_maps(r, ns)
  if r.userns ~= nil and r.userns ~= "keep-id" and r.userns ~= "auto" then
    bad("userns", "'keep-id' or 'auto' expected, got %s", tostring(r.userns))
  end
  if not ns.user or r.uid_map ~= nil or r.gid_map ~= nil then
    if r.userns == "keep-id" then bad("userns", "keep-id makes the maps: give it or uid_map and gid_map") end
    return {}
  end
  if core.geteuid() == 0 then
    if r.userns == "keep-id" then bad("userns", "keep-id is for an unprivileged caller: root's ids are a range of their own") end
    return {}
  end
  local sub, uid, gid = require("nsbox.ids").own_subids()
  local helpers = core.executable("/usr/bin/newuidmap") and core.executable("/usr/bin/newgidmap")
  if not (sub and helpers) then sub = nil end
  local out = {}
  for kind, own in pairs { uid = uid or core.getuid(), gid = gid or core.getgid() } do
    local range = sub and sub[kind]
    if r.userns == "keep-id" then
      local map = { { inside = own, outside = own, count = 1 } }
      if range and range[2] > own then
        map = { { inside = 0, outside = range[1], count = own }, map[1],
                { inside = own + 1, outside = range[1] + own, count = range[2] - own } }
        if own == 0 then table.remove(map, 1) end
      end
      out[kind] = map
    elseif range then
      out[kind] = { { inside = 0, outside = own, count = 1 }, { inside = 1, outside = range[1], count = range[2] } }
    end
  end
  if r.userns == "keep-id" then out.user = { uid = core.getuid(), gid = core.getgid() } end
  out.ranged = sub ~= nil
  return out
end

local function check(r)
  if type(r) ~= "table" then bad("recipe", "table expected, got %s", type(r)) end
  for k in pairs(r) do
    if not FIELDS[k] then bad("recipe", "unknown field '%s'", tostring(k)) end
  end
  local id = random_id()
  local ns, flags = namespaces(r.namespaces)
  local defaults = default_maps(r, ns)
  local out = {
    id = id, command = command(r.command),
    hostname = r.hostname ~= nil and host_name("hostname", r.hostname) or id,
    domainname = r.domainname ~= nil and host_name("domainname", r.domainname) or nil,
    cwd = r.cwd ~= nil and abs_path("cwd", r.cwd) or "/",
    namespaces = ns, flags = flags,
    uid_map = id_map("uid_map", r.uid_map, core.getuid(), ns.user, defaults.uid),
    gid_map = id_map("gid_map", r.gid_map, core.getgid(), ns.user, defaults.gid),
    -- root's container gets a range of its own, picked at launch (nsbox.ids), and
    -- the image shown to it through idmapped mounts; explicit maps win
    auto_ids = core.geteuid() == 0 and ns.user and r.uid_map == nil and r.gid_map == nil or nil,
    mounts = mounts(r.mounts), interpreter = interpreter(r.interpreter),
    reexec = flag("reexec", r.reexec, r.interpreter ~= nil),
    keep_fds = keep_fds(r.keep_fds), network = network(r.network, ns, r.ports),
    readonly = flag("readonly", r.readonly, false),
    capabilities = capabilities(r.capabilities), no_new_privs = flag("no_new_privs", r.no_new_privs, true),
    new_session = flag("new_session", r.new_session, true), init = flag("init", r.init, false),
    stdio = { stdio("stdin", r.stdin), stdio("stdout", r.stdout), stdio("stderr", r.stderr) },
    tty = require("nsbox.tty").check(r.tty),
    name = r.name ~= nil and container_name(r.name) or id, named = r.name ~= nil,
    resources = resources.check(r.resources), rlimits = resources.check_rlimits(r.rlimits),
    cgroup_parent = r.cgroup_parent ~= nil and abs_path("cgroup_parent", r.cgroup_parent) or nil,
  }
  -- a parent given without limits: the container still gets its cgroup there
  if out.cgroup_parent and not out.resources then out.resources = { text = {} } end
  local filters, serr = require("nsbox.seccomp").compile(r.seccomp)
  if filters == nil then validate.raise(serr) end
  out.seccomp = filters -- a list of programs, or false
  out.seccomp_spec = r.seccomp -- as given: nsbox exec of the CLI compiles it again
  layers.check(r, out)
  if out.auto_ids and not ns.pid then
    -- processes left behind without a pid namespace would hold the range its lease gives away
    bad("namespaces", "a range of ids picked for the container (root's default) needs the pid namespace, " ..
      "whose end takes every process of the range with it: keep pid, or give uid_map and gid_map")
  end
  -- the idmapped or cloned trees the parent passes go in one message: 16 fds
  local trees = (out.auto_ids and not out.in_place) and #out.layers or 0
  local ranged = out.auto_ids or layers.other_root(out) ~= nil -- every bind source is passed then
  for _, m in ipairs(out.mounts) do
    if m.type == "bind" and (m.idmap or ranged) then trees = trees + 1 end
  end
  if trees > 16 then
    bad("rootfs", "%d layers and bind mounts: at most 16 together with a range of ids as root", trees)
  end
  if out.in_place and out.auto_ids then
    -- idmapped, its writes would land as the host's root (a setuid file planted in the
    -- image); not idmapped, the image's files are not the container's to write
    bad("in_place", "the container's ids are a range of their own (root's default), which may not write an image " ..
      "of the host's root: give uid_map and gid_map (the identity, { inside = 0, outside = 0, count = 65536 }, " ..
      "to write it as the host's root), or drop in_place")
  end
  for i, m in ipairs(out.mounts) do
    if m.idmap and core.geteuid() ~= 0 then
      bad(string.format("mounts[%d].idmap", i), "an idmapped mount needs root (CAP_SYS_ADMIN over the source's " ..
        "filesystem): for your own files, your ids are the container's root already")
    elseif m.idmap and not ns.user then
      bad(string.format("mounts[%d].idmap", i), "needs the user namespace (its map is what the mount shows)")
    end
  end
  out.dns = etc.check_dns(r.dns)
  local range = out.auto_ids and { { inside = 0, outside = 0, count = 65536 } } or nil
  out.user = users.check(r.user, range or out.uid_map, range or out.gid_map, range ~= nil) or defaults.user
  out.subids = defaults.ranged
  -- a user's HOME comes from its passwd entry unless the recipe says; its cwd, if that exists
  out.home_given = type(r.env) == "table" and r.env.HOME ~= nil
  out.cwd_given = r.cwd ~= nil
  if r.hostname ~= nil and not ns.uts then bad("hostname", "needs the uts namespace") end
  -- nsbox-init is exec'd in the container's user namespace: there, CAP_SYS_PTRACE
  -- passes its non-dumpable flag, and a command holding it could stop init or
  -- clear its parent-death signal and outlive the parent
  if out.init or ns.pid then
    for _, n in ipairs(out.capabilities) do
      if n == caps.NUMBER.sys_ptrace then
        bad("capabilities", "sys_ptrace would let the command take over nsbox's init (PID 1 of a new pid " ..
          "namespace, or init = true): refused")
      end
    end
  end
  for _, k in ipairs { "uid", "gid" } do
    local ok, err = idmap.check(k, out[k .. "_map"])
    if not ok then bad(k .. "_map", "%s", err) end
  end
  out.env = env(r.env, out.hostname)
  return out
end

local function check_exec(spec, base)
  if type(spec) ~= "table" then bad("exec", "table expected, got %s", type(spec)) end
  for k in pairs(spec) do
    if not EXEC_FIELDS[k] then bad("exec", "unknown field '%s'", tostring(k)) end
  end
  if spec.command == nil then bad("command", "required") end
  local e = spec.env ~= nil and env(spec.env, base.hostname) or base.env
  local list = {}
  for k, v in pairs(e) do list[#list + 1] = k .. "=" .. v end
  table.sort(list)
  return { command = command(spec.command), env = list, path = e.PATH,
           cwd = spec.cwd ~= nil and abs_path("cwd", spec.cwd) or base.cwd, flags = base.flags,
           capabilities = base.capabilities, no_new_privs = base.no_new_privs,
           rlimits = base.rlimits or {}, seccomp = base.seccomp,
           new_session = flag("new_session", spec.new_session, true), tty = require("nsbox.tty").check(spec.tty),
           stdio = { stdio("stdin", spec.stdin), stdio("stdout", spec.stdout), stdio("stderr", spec.stderr) } }
end

--- Validate the spec of box:exec against the container's recipe.
-- @treturn table|nil what the joining process needs, or nil and "field: reason"
-- @function validate_exec
M.validate_exec = validate.validator(check_exec)

--- Validate a recipe.
-- @treturn table|nil the normalized recipe, or nil and "field: reason"
-- @function validate
M.validate = validate.validator(check)

return M
