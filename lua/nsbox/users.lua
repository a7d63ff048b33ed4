--- The user a container's command runs as: `user = "name" | "uid[:gid]" |
-- "name:group" | { uid =, gid =, groups = {...} }`. Validation checks the form
-- and that numeric ids are inside the maps; names are resolved in the child,
-- from the container's own /etc/passwd and /etc/group once its root is built
-- (never the host's: with layers and whiteouts only the merged view is right),
-- supplementary groups from its /etc/group, HOME from the passwd entry.
-- @module nsbox.users
local core = require "nsbox.core"
local validate = require "nsbox.validate"
local failure = require "nsbox.failure"

local M = {}

local bad = validate.bad
local MAX_ID = 4294967294 -- (uid_t)-1 is no id

local function name_or_id(field, v)
  if math.type(v) == "integer" then
    if v < 0 or v > MAX_ID then bad(field, "%d is not an id in [0, %d]", v, MAX_ID) end
    return v
  end
  if type(v) ~= "string" then bad(field, "a name or an id expected, got %s", type(v)) end
  if v:match("^%d+$") then return name_or_id(field, math.tointeger(tonumber(v)) or -1) end
  if not v:match("^[%a_][%w_.-]*%$?$") or #v > 32 then bad(field, "'%s' is not a user or group name", v) end
  return v
end

-- Is id inside one of the map's inside ranges (nil map: no user namespace, any id)?
local function mapped(map, id)
  if not map then return true end
  for _, m in ipairs(map) do
    if id >= m.inside and id < m.inside + m.count then return true end
  end
  return false
end

--- Check the recipe's user against the maps (uid_map, gid_map as validated; nil: any id).
-- Returns { uid =, gid =, groups = } of names and ids, or nil.
function M.check(v, uid_map, gid_map, picked)
  if v == nil then return nil end
  local u
  if type(v) == "string" or math.type(v) == "integer" then
    local s = tostring(v)
    local a, b = s:match("^([^:]*):([^:]*)$")
    if a and (a == "" or b == "") then bad("user", "'%s' is not name, uid, uid:gid or name:group", s) end
    u = { uid = name_or_id("user", a or s), gid = b and name_or_id("user", b) or nil }
  elseif type(v) == "table" then
    for k in pairs(v) do
      if k ~= "uid" and k ~= "gid" and k ~= "groups" then bad("user", "unknown field '%s' (uid, gid, groups)", tostring(k)) end
    end
    if v.uid == nil then bad("user.uid", "required") end
    u = { uid = name_or_id("user.uid", v.uid), gid = v.gid ~= nil and name_or_id("user.gid", v.gid) or nil }
    if v.groups ~= nil then
      if type(v.groups) ~= "table" then bad("user.groups", "array of names or ids expected, got %s", type(v.groups)) end
      u.groups = {}
      for i, g in ipairs(v.groups) do u.groups[i] = name_or_id(string.format("user.groups[%d]", i), g) end
    end
  else
    bad("user", "a name, \"uid[:gid]\" or { uid =, gid =, groups = } expected, got %s", type(v))
  end
  local function in_map(field, id, map, kind)
    if math.type(id) == "integer" and not mapped(map, id) then
      bad(field, "%s %d is outside %s: the container has no such id", kind, id,
        picked and "the container's 65536 ids (0-65535)" or kind .. "_map")
    end
  end
  in_map("user", u.uid, uid_map, "uid")
  in_map("user", u.gid, gid_map, "gid")
  for i, g in ipairs(u.groups or {}) do in_map(string.format("user.groups[%d]", i), g, gid_map, "gid") end
  return u
end

-- The entries of a colon file of the container (/etc/passwd, /etc/group),
-- read after pivot_root, never following a link out of the root.
local function entries(path)
  local pfd = core.open_in_root("/", path, nil, "beneath")
  if not pfd then return {} end
  local st = core.stat(pfd)
  -- read through the fd checked (O_PATH: reopened via /proc/self/fd, which is that very file)
  local f = st and st.type == "file" and io.open("/proc/self/fd/" .. pfd)
  local text = f and f:read("a") or ""
  if f then f:close() end
  core.close(pfd)
  local out = {}
  for line in text:gmatch("[^\n]+") do
    local fields = {}
    for x in (line .. ":"):gmatch("([^:]*):") do fields[#fields + 1] = x end
    if #fields >= 3 and fields[1] ~= "" and not fields[1]:match("^[#+-]") then out[#out + 1] = fields end
  end
  return out
end

local function find(list, key, value)
  for _, e in ipairs(list) do
    if e[key] == value then return e end
  end
end

--- In the child, after pivot_root: the ids of user u (check's table) from the
-- container's files: { uid =, gid =, groups = {...}, home = }. rootfs names the
-- image in the error for an unknown name.
function M.resolve(u, rootfs)
  local passwd, group = entries("/etc/passwd"), entries("/etc/group")
  local pw
  if type(u.uid) == "string" then
    pw = find(passwd, 1, u.uid)
    if not pw then failure.raise(string.format("user: no user '%s' in the image's /etc/passwd (%s)", u.uid, rootfs),
      core.ENOENT) end
  else
    pw = find(passwd, 3, tostring(u.uid))
  end
  local uid = pw and tonumber(pw[3]) or u.uid
  local function gid_of(g)
    if math.type(g) == "integer" then return g end
    local e = find(group, 1, g)
    if not e then failure.raise(string.format("user: no group '%s' in the image's /etc/group (%s)", g, rootfs),
      core.ENOENT) end
    return tonumber(e[3])
  end
  local gid = u.gid ~= nil and gid_of(u.gid) or (pw and math.tointeger(tonumber(pw[4]))) or (not pw and 0)
  if not gid then
    failure.raise(string.format("user: %s's group id in the image's /etc/passwd is not a number (%s)", pw[1], rootfs),
      core.EINVAL)
  end
  local groups, seen = {}, {}
  local function add(g) if g and not seen[g] then seen[g], groups[#groups + 1] = true, g end end
  add(gid) -- as initgroups(3): the primary group too
  if u.groups then
    for _, g in ipairs(u.groups) do add(gid_of(g)) end
  elseif pw then -- its groups in /etc/group, as initgroups(3) finds them
    for _, e in ipairs(group) do
      for member in (e[4] or ""):gmatch("[^,]+") do
        if member == pw[1] then add(tonumber(e[3])) end
      end
    end
  end
  return { uid = uid, gid = gid, groups = groups, home = pw and pw[6] ~= "" and pw[6] or nil, asked = u.groups ~= nil }
end

--- In the child, just before the exec: become who (resolve's table). The
-- parent-death signal and the non-dumpable flag, which a change of ids
-- resets, are set again.
function M.become(who)
  local try = failure.try
  -- EPERM: setgroups is denied here (an own-id map): the groups stay as they are,
  -- unless the recipe asked for some
  local ok, err, errno = core.set_groups(who.groups)
  if not ok and (errno ~= core.EPERM or who.asked) then try(ok, err, errno) end
  try(core.setresgid(who.gid, who.gid, who.gid))
  try(core.setresuid(who.uid, who.uid, who.uid))
  try(core.prctl(core.PR_SET_PDEATHSIG, core.SIGKILL))
  try(core.prctl(core.PR_SET_DUMPABLE, 0))
end

return M
