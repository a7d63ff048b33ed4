--- The image a container's root is made from, on the parent's side: validation
-- of `rootfs` (one directory or layers, the top first), `upper` and `in_place`,
-- and the directories an overlay writes to that live on disk (made at launch,
-- removed when the container is done). The child builds the overlay itself
-- (nsbox.rootfs): a layer must be in the mount namespace that stacks it.
-- @module nsbox.layers
local core = require "nsbox.core"
local validate = require "nsbox.validate"

local M = {}

local bad = validate.bad

local function dir_path(field, v)
  if type(v) ~= "string" then bad(field, "string expected, got %s", type(v)) end
  if v == "" or v:find("\0", 1, true) or #v > 4096 then bad(field, "not a usable path") end
  local st, err = core.stat(v, true)
  if not st then bad(field, "%s", err) end
  if st.type ~= "directory" then bad(field, "'%s' is a %s, not a directory", v, st.type) end
  return core.realpath(v), st
end

-- Is path a or below b?
local function within(a, b)
  return a == b or a:sub(1, #b + 1) == b .. "/" or b == "/"
end

-- The upper directory: made at launch if missing (its parent must exist), never
-- inside a layer nor holding one (overlayfs refuses overlapping layers).
local function upper_path(v, layers)
  if type(v) ~= "string" or v == "" or v:find("\0", 1, true) or #v > 4096 then bad("upper", "a directory path expected") end
  local st = core.stat(v, true)
  local path
  if st then
    if st.type ~= "directory" then bad("upper", "'%s' is a %s, not a directory", v, st.type) end
    path = core.realpath(v)
    local up = path:match("^(.*)/[^/]+$")
    local pst = core.stat((up == nil or up == "") and "/" or up)
    if pst and pst.dev ~= st.dev then
      bad("upper", "'%s' is a mount point: its work directory, beside it, would be on another filesystem", v)
    end
  else
    local parent, name = v:match("^(.*)/([^/]+)/*$")
    if not parent then parent, name = ".", v end
    if name == "." or name == ".." then bad("upper", "'%s' is not a usable name", v) end
    local pst = core.stat(parent == "" and "/" or parent, true)
    if not (pst and pst.type == "directory") then bad("upper", "'%s': its parent directory does not exist", v) end
    path = core.realpath(parent == "" and "/" or parent):gsub("/$", "") .. "/" .. name
  end
  -- as root, its directory must be root's alone: whoever may write there could plant
  -- the record of its id range or swap the upper for a link between now and its use
  local parent = path:match("^(.*)/[^/]+$")
  local pst = core.geteuid() == 0 and core.stat(parent == "" and "/" or parent)
  if pst and (pst.uid ~= 0 or pst.mode & tonumber("022", 8) ~= 0) then
    bad("upper", "'%s' lies in %s, which another user may write: as root, keep uppers in a directory " ..
      "only root may write", v, parent == "" and "/" or parent)
  end
  for i, l in ipairs(layers) do
    if within(path, l) or within(l, path) then
      bad("upper", "'%s' overlaps %s '%s': the upper layer must be outside the image", v,
        #layers > 1 and string.format("layer %d", i) or "rootfs", l)
    end
  end
  return path
end

--- Check the image fields of recipe r into out: out.layers (real paths, the top
-- first), out.rootfs (the top: messages name it), out.upper, out.in_place.
function M.check(r, out)
  local v = r.rootfs
  if v == nil then bad("rootfs", "required") end
  local layers, seen = {}, {}
  if type(v) == "table" then
    if #v == 0 then bad("rootfs", "at least one layer directory expected") end
    if #v > 64 then bad("rootfs", "at most 64 layers") end
    for i, l in ipairs(v) do
      local st
      layers[i], st = dir_path(string.format("rootfs[%d]", i), l)
      seen[i] = st.dev .. ":" .. st.ino
    end
  else
    local st
    layers[1], st = dir_path("rootfs", v)
    seen[1] = st.dev .. ":" .. st.ino
  end
  -- what each layer was when checked: the parent, as root, opens it again to idmap it
  out.layers, out.rootfs, out.layer_ids = layers, layers[1], seen
  out.in_place = r.in_place
  if r.in_place ~= nil and type(r.in_place) ~= "boolean" then bad("in_place", "boolean expected, got %s", type(r.in_place)) end
  if r.in_place then
    if #layers > 1 then bad("in_place", "writes one image in place: give rootfs as one directory, not layers") end
    if r.upper ~= nil then bad("in_place", "and upper exclude each other: the image itself is written") end
  end
  if r.upper ~= nil then
    if r.readonly then bad("upper", "a read-only root writes nothing to keep: drop readonly or upper") end
    out.upper = upper_path(r.upper, layers)
  end
end

--- The message for a layer the kernel would not idmap (err: its own words):
-- the filesystem, the kernel's limits, and the explicit opt-in.
function M.idmap_refused(layer, dir, err)
  return string.format("rootfs: %s (on %s) cannot be shown to the container's id range through an idmapped mount (%s;" ..
    " tmpfs can be from Linux 6.3, overlayfs never): give uid_map and gid_map, e.g. the identity " ..
    "{ inside = 0, outside = 0, count = 65536 }, to run it with the host's ids", layer, core.fs_type(dir) or "?", err)
end

-- The release of the running kernel as numbers (major, minor), read once, when
-- nsbox is loaded (a start may run short of fds: it must not guess then).
local release = (function()
  local f = io.open("/proc/sys/kernel/osrelease")
  local s = f and f:read("l") or ""
  if f then f:close() end
  local maj, min = s:match("^(%d+)%.(%d+)")
  return { tonumber(maj) or 0, tonumber(min) or 0 }
end)()
local function kernel() return release[1], release[2] end

--- Does an overlay mounted in a user namespace need its upper on disk? tmpfs
-- keeps user xattrs (userxattr's whiteouts and opaque directories) from Linux 6.6.
function M.tmpfs_lacks_user_xattrs()
  local maj, min = kernel()
  return maj < 6 or (maj == 6 and min < 6)
end

-- Where this user's overlay directories on disk go: NSBOX_DATA_DIR, else
-- /var/lib/nsbox as root, $XDG_DATA_HOME/nsbox, ~/.local/share/nsbox or
-- /var/tmp/nsbox-UID otherwise (never /run or /tmp: tmpfs, which is the problem).
local function data_dir()
  local d = os.getenv("NSBOX_DATA_DIR")
  if d and d ~= "" then return d end
  if core.geteuid() == 0 then return "/var/lib/nsbox" end
  local xdg, home = os.getenv("XDG_DATA_HOME"), os.getenv("HOME")
  if xdg and xdg:sub(1, 1) == "/" then return xdg .. "/nsbox" end
  local st = home and home:sub(1, 1) == "/" and core.stat(home)
  if st and st.uid == core.geteuid() then return home .. "/.local/share/nsbox" end -- not a HOME setpriv kept
  return "/var/tmp/nsbox-" .. core.geteuid()
end

local function mkdirs(path)
  local at = ""
  for part in path:gmatch("[^/]+") do
    at = at .. "/" .. part
    local ok, err, errno = core.mkdir(at, tonumber("700", 8))
    if not ok and errno ~= core.EEXIST then return nil, err, errno end
  end
  return true
end

-- Remove the tree at name below the directory fd dir, reached through fds only
-- (never following a link). Returns true, or nil, message.
local function remove_tree(dir, name)
  local ok, err, errno = core.unlinkat(dir, name)
  if ok or errno == core.ENOENT then return true end
  if errno ~= core.EISDIR and errno ~= core.EPERM then return nil, err end
  local fd
  fd, err = core.openat(dir, name, "dir")
  if not fd then return nil, err end
  core.fchmod(fd, tonumber("700", 8)) -- overlayfs makes work/work mode 0
  local names = core.readdir("/proc/self/fd/" .. fd) or {}
  for _, n in ipairs(names) do
    ok, err = remove_tree(fd, n)
    if not ok then break end
  end
  core.close(fd)
  if not ok and err then return nil, err end
  return core.unlinkat(dir, name, true)
end

--- The host ids of the container's root where they are not ours (root's
-- container with a range of its own, picked or given): uid, gid; else nil.
function M.other_root(r)
  if core.geteuid() ~= 0 or not r.uid_map then return nil end
  local function outside(map)
    for _, m in ipairs(map or {}) do if m.inside == 0 then return m.outside end end
  end
  local uid, gid = outside(r.uid_map), outside(r.gid_map)
  if uid and uid ~= 0 then return uid, gid or uid end
end

-- Give the directory at path to the container's root where it is another's (it
-- must reach and write the directories of its overlay), mode as given.
local function hand_over(path, r, mode)
  local uid, gid = M.other_root(r)
  if not uid then return true end
  local fd, err = core.openat(nil, path, "dir")
  if not fd then return nil, err end
  local ok
  ok, err = core.fchown(fd, uid, gid)
  if ok and mode then ok, err = core.fchmod(fd, mode) end
  core.close(fd)
  return ok, err
end

--- At launch: the directories on disk the overlay of recipe r needs, as
-- { upper =, work =, remove = { dirs } }, or {} when the child keeps them on a
-- private tmpfs. Returns it, or nil, message.
function M.prepare(r)
  if r.in_place then return {} end
  local userns = r.namespaces.user
  if not r.upper and not (userns and M.tmpfs_lacks_user_xattrs()) then return {} end
  local base, parent, upper, name
  if r.upper then
    upper = r.upper
    parent, name = upper:match("^(.*)/([^/]+)$")
    if parent == "" then parent = "/" end
    local ok, err, errno = core.mkdir(upper, tonumber("755", 8))
    if not ok and errno ~= core.EEXIST then return nil, "upper: " .. err end
    if ok then
      ok, err = hand_over(upper, r)
      if not ok then return nil, "upper: " .. err end
    end
  else
    base = data_dir() .. "/overlay"
    local ok, err = mkdirs(base)
    local st = ok and core.stat(base, true)
    if st and (st.uid ~= core.geteuid() or st.type ~= "directory") then
      ok, err = nil, base .. " is not a directory of this user's"
    end
    if not ok then return nil, string.format("rootfs: an overlay in a user namespace keeps its upper layer on disk " ..
      "before Linux 6.6 (tmpfs has no user xattrs): %s", err) end
    parent, name = base .. "/" .. r.id, "upper"
    if M.other_root(r) then -- the container's ids pass through to theirs, and see nothing else
      for _, d in ipairs { base, base:match("^(.*)/[^/]+$") } do
        local fd = core.openat(nil, d, "dir")
        local dst = fd and core.stat(fd)
        -- only nsbox's own (root's, 0700 or 0711): never a shared directory such as /var/tmp
        if dst and dst.uid == 0 and dst.mode & tonumber("7066", 8) == 0 then core.fchmod(fd, tonumber("711", 8)) end
        if fd then core.close(fd) end
      end
    end
    local made
    made, err = core.mkdir(parent, tonumber("700", 8))
    ok = made
    if ok then ok, err = hand_over(parent, r) end
    if ok then ok, err = core.mkdir(parent .. "/upper", tonumber("755", 8)) end
    if ok then ok, err = hand_over(parent .. "/upper", r) end
    if not ok then
      if made then M.remove({ remove = { parent } }) end
      return nil, "rootfs: overlay directory: " .. err
    end
    upper = parent .. "/upper"
  end
  -- the work directory: beside the upper (the same filesystem), private to this container
  local work = string.format("%s/.%s.nsbox-work.%s", parent, name, r.id)
  local ok, err = core.mkdir(work, tonumber("700", 8))
  if ok then ok, err = hand_over(work, r) end
  if not ok then
    if base then M.remove({ remove = { parent } }) end
    return nil, "upper: work directory: " .. err
  end
  return { upper = upper, work = work, remove = { base and parent or work } }
end

--- Remove the tree at path (never following a link); with keep, only what is in it.
function M.remove_path(path, keep)
  if keep then
    local fd = core.openat(nil, path, "dir")
    if not fd then return nil end
    local ok = true
    for _, n in ipairs(core.readdir(path) or {}) do ok = remove_tree(fd, n) and ok end
    core.close(fd)
    return ok
  end
  local parent, name = path:match("^(.*)/([^/]+)$")
  local fd = core.openat(nil, parent == "" and "/" or parent, "dir")
  if not fd then return nil end
  local ok = remove_tree(fd, name)
  core.close(fd)
  return ok
end

local function remove_all(list)
  local ok = true
  for _, d in ipairs(list) do
    local parent, name = d:match("^(.*)/([^/]+)$")
    local fd = core.openat(nil, parent == "" and "/" or parent, "dir")
    if fd then
      ok = remove_tree(fd, name) and ok
      core.close(fd)
    end
  end
  return ok
end

--- When the container is done: remove what prepare made (never a kept upper).
-- An unprivileged caller's container with subordinate ids wrote files that are
-- not the caller's to remove: that is done as root of a user namespace of its
-- maps (r: the recipe), as podman unshare would.
function M.remove(dirs, r)
  local list = dirs and dirs.remove or {}
  if #list == 0 or remove_all(list) then return end
  if r and r.subids then
    require("nsbox.userns").call(r.uid_map, r.gid_map, function() return remove_all(list) end)
  end
end

return M
