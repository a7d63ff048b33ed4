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
local function destination(dest)
  local st = core.stat(dest, true)
  if not st then
    local ok, err = core.mkdir(dest, tonumber("755", 8))
    if not ok then return fail("import: %s", err) end
    return core.realpath(dest)
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
  local to, err = destination(dest)
  if not to then return nil, err end
  -- the maps a container of this caller gets by default
  local r, rerr = recipe.validate { rootfs = to }
  if not r then return fail("import: %s", rerr) end
  -- the image's /dev nodes stay out: a user namespace may not make them, and a
  -- container's /dev is nsbox's own (the image is mounted nodev: its nodes are dead)
  local unpack = { TAR, "--numeric-owner", "--exclude=./dev/*", "-xpf", "-", "-C", to }
  if core.geteuid() ~= 0 and not r.subids then unpack[#unpack + 1] = "--no-same-owner" end
  -- the reading side runs as the caller, the writing side in the namespace
  local rd, wr = assert(core.pipe())
  local src_argv = st.type == "directory" and { TAR, "-C", src, "--numeric-owner", "-cf", "-", "." }
    or { "/bin/cat", src }
  local pid, pidfd, errno = core.spawn { path = src_argv[1], argv = src_argv, stdout = wr, pdeathsig = core.SIGKILL }
  core.close(wr)
  if not pid then core.close(rd) return nil, pidfd, errno end
  local ok, uerr
  if core.geteuid() == 0 then
    local upid, upidfd = core.spawn { path = TAR, argv = unpack, stdin = rd, pdeathsig = core.SIGKILL }
    if upid then
      local how, code = core.wait(upidfd)
      core.close(upidfd)
      ok = how == "exited" and code == 0
      uerr = not ok and string.format("tar: %s %s", tostring(how), tostring(code)) or nil
    else
      uerr = upidfd
    end
  else
    ok, uerr = require("nsbox.userns").run(r.uid_map, r.gid_map, unpack, rd)
  end
  core.close(rd)
  local how, code = core.wait(pidfd)
  core.close(pidfd)
  if not ok then return fail("import: unpacking %s into %s failed (%s)", src, to, tostring(uerr)) end
  if how ~= "exited" or code ~= 0 then return fail("import: reading %s failed (%s %s)", src, tostring(how), tostring(code)) end
  return true
end

return M
