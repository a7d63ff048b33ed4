--- `nsbox import SRC DEST`: an image made the caller's, as podman's storage
-- does for a rootless user. SRC (a directory, or a tar archive, compressed or
-- not) is unpacked into DEST (new, or empty) by tar running as root of a user
-- namespace with the caller's default maps: with /etc/subuid and /etc/subgid
-- ranges, the image's root is the caller and its other owners land in the
-- ranges, so a container of it sees what the image says (apt, su, chown work);
-- without them every file is the caller's. An unprivileged caller cannot idmap
-- a tree of another's: this is its way to a full image. Device nodes under /dev
-- are left out (nsbox gives each container its own /dev). Root needs none of it
-- (idmapped mounts), and gets a plain copy.
-- @module nsbox.import
local core = require "nsbox.core"
local recipe = require "nsbox.recipe"

local M = {}

local TAR = "/usr/bin/tar"

local function fail(fmt, ...) return nil, string.format(fmt, ...) end

-- DEST: made if missing (its parent must exist), else an empty directory of ours.
-- 0700: the image's setuid files and owners must not be the host's users' to use.
local function destination(dest)
  local st = core.stat(dest, true)
  if not st then
    local ok, err = core.mkdir(dest, tonumber("700", 8))
    if not ok then return fail("import: %s", err) end
    return core.realpath(dest), true
  end
  if st.type ~= "directory" then return fail("import: %s is a %s, not a directory", dest, st.type) end
  local names = core.readdir(dest)
  if not names or #names > 0 then return fail("import: %s is not empty", dest) end
  return core.realpath(dest)
end

--- Unpack src into dest as the caller's image. Returns true, or nil, message.
function M.import(src, dest)
  if type(src) ~= "string" or type(dest) ~= "string" then return fail("import: SRC and DEST paths expected") end
  local st = core.stat(src)
  if not st then return fail("import: %s: no such file or directory", src) end
  if st.type ~= "directory" and st.type ~= "file" then
    return fail("import: %s is a %s: a directory or a tar archive expected", src, st.type)
  end
  local to, made = destination(dest)
  if not to then return nil, made end
  -- the maps a container of this caller gets by default
  local r, rerr = recipe.validate { rootfs = to }
  if not r then return fail("import: %s", rerr) end
  -- the image's /dev nodes stay out: a user namespace may not make them, and a
  -- container's /dev is nsbox's own (the image is mounted nodev: its nodes are dead)
  local unpack = { TAR, "--numeric-owner", "--exclude=./dev/*", "--exclude=dev/*", "-xpf", "-", "-C", to }
  if core.geteuid() ~= 0 and not r.subids then unpack[#unpack + 1] = "--no-same-owner" end
  -- the reading side runs as the caller, the writing side in the namespace
  local rd, wr = assert(core.pipe())
  local src_argv = st.type == "directory" and { TAR, "-C", src, "--numeric-owner", "-cf", "-", "." }
    or { "/bin/cat", src }
  local pid, pidfd, errno = core.spawn { path = src_argv[1], argv = src_argv, stdout = wr, pdeathsig = core.SIGKILL }
  core.close(wr)
  if not pid then core.close(rd) return nil, pidfd, errno end
  -- as root too, tar runs in a user namespace (the identity map): it may not make
  -- device nodes, whatever the archive holds
  local all = { { inside = 0, outside = 0, count = 4294967295 } }
  local umap, gmap = r.uid_map, r.gid_map
  if core.geteuid() == 0 then umap, gmap = all, all end
  local ok, uerr = require("nsbox.userns").run(umap, gmap, unpack, rd)
  core.close(rd)
  local how, code = core.wait(pidfd)
  core.close(pidfd)
  if ok and (how ~= "exited" or code ~= 0) then
    ok, uerr = nil, string.format("reading %s: %s %s", src, tostring(how), tostring(code))
  end
  if not ok then
    -- what was unpacked goes, with the directory if it was made here (files of
    -- subordinate ids: as root of a user namespace of them)
    local layers = require "nsbox.layers"
    local function clean() return layers.remove_path(to, not made) end
    if core.geteuid() == 0 or not r.subids then clean()
    else require("nsbox.userns").call(r.uid_map, r.gid_map, clean) end
    return fail("import: unpacking %s into %s failed (%s)", src, to, tostring(uerr))
  end
  return true
end

return M
