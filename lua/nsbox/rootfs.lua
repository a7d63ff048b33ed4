--- The container's filesystem, built in the re-executed child before it
-- execs: private propagation, the rootfs bound on itself, /proc, a minimal
-- /dev, /sys, the recipe's mounts, masked and read-only paths, then
-- pivot_root with the old root detached. Every mount point is resolved inside
-- the rootfs (openat2 RESOLVE_IN_ROOT) and mounted through its fd, so a
-- symlink in a rootfs we did not build cannot point a mount or a mkdir outside.
-- Functions raise { error = message, errno = } on failure.
-- @module nsbox.rootfs
local core = require "nsbox.core"
local fault = require "nsbox.fault"
local failure = require "nsbox.failure"

local M = {}

local NODEV = core.MS_NOSUID | core.MS_NODEV | core.MS_NOEXEC
local DEVICES = { "null", "zero", "full", "random", "urandom", "tty" }
local LINKS = { fd = "/proc/self/fd", stdin = "/proc/self/fd/0", stdout = "/proc/self/fd/1",
                stderr = "/proc/self/fd/2", ptmx = "pts/ptmx" }

--- Paths hidden from the container (the OCI runtime-spec defaults), and those made read-only.
M.MASKED = { "/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
             "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi",
             "/sys/firmware", "/sys/devices/virtual/powercap" }
M.READONLY = { "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger" }

local try = failure.try

-- The rootfs's own /proc, /sys and /dev must be directories (or missing): a
-- symlink there would turn our mounts of them against the host.
local function refuse_symlinks(root)
  for _, d in ipairs { "/proc", "/sys", "/dev" } do
    local st = core.stat(root .. d)
    if st and st.type ~= "directory" then
      failure.raise(string.format("rootfs: %s is a %s, not a directory: refused", d, st.type), core.ENOTDIR)
    end
  end
end

-- An fd of the rootfs, opened once for all the mounts below (each mount point is
-- still resolved inside it); root names it in messages.
local rootfd

-- Mount onto rel inside root (created as create says), through an fd of it;
-- messages name the path, not the fd.
local function mount_at(root, rel, create, src, fstype, flags, data)
  local fd = try(core.open_in_root(root, rel, create, nil, rootfd))
  local target = "/proc/self/fd/" .. fd
  local ok, err, errno = core.mount(src, target, fstype, flags, data, root .. rel)
  core.close(fd)
  try(ok, err, errno)
end

-- mount_setattr through an fd of rel inside root.
local function setattr_at(root, rel, set, recursive)
  local fd = try(core.open_in_root(root, rel, nil, nil, rootfd))
  local target = "/proc/self/fd/" .. fd
  local ok, err, errno = core.mount_setattr(target, set, 0, recursive, root .. rel)
  core.close(fd)
  try(ok, err, errno)
end

local function mount_dev(root)
  mount_at(root, "/dev", "dir", "tmpfs", "tmpfs", core.MS_NOSUID | core.MS_STRICTATIME, "mode=755,size=65536k")
  local dev = root .. "/dev" -- our own tmpfs from here on: nothing in it is the rootfs's
  for _, name in ipairs(DEVICES) do
    try(core.touch(dev .. "/" .. name, 438))
    try(core.mount("/dev/" .. name, dev .. "/" .. name, nil, core.MS_BIND))
  end
  try(core.mkdir(dev .. "/pts", 493))
  try(core.mount("devpts", dev .. "/pts", "devpts", core.MS_NOSUID | core.MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620"))
  try(core.mkdir(dev .. "/shm", 1023))
  try(core.mount("shm", dev .. "/shm", "tmpfs", NODEV, "mode=1777,size=65536k"))
  for name, target in pairs(LINKS) do try(core.symlink(target, dev .. "/" .. name)) end
end

local function mount_sys(root, private_net)
  if private_net then
    mount_at(root, "/sys", "dir", "sysfs", "sysfs", NODEV | core.MS_RDONLY)
  else
    -- sysfs belongs to the host's net namespace: bind it, read-only throughout.
    mount_at(root, "/sys", "dir", "/sys", nil, core.MS_BIND | core.MS_REC)
    setattr_at(root, "/sys", core.MOUNT_ATTR_RDONLY, true)
  end
end

local function user_mounts(root, mounts)
  for _, m in ipairs(mounts) do
    if m.type == "bind" then
      mount_at(root, m.destination, m.source_type == "directory" and "dir" or "file", m.source, nil,
        core.MS_BIND | core.MS_REC)
    else
      mount_at(root, m.destination, "dir", "tmpfs", "tmpfs", core.MS_NOSUID | core.MS_NODEV,
        string.format("mode=%o", m.mode) .. (m.size and (",size=" .. m.size) or ""))
    end
    if m.readonly then setattr_at(root, m.destination, core.MOUNT_ATTR_RDONLY, true) end
  end
end

-- /dev/null of the host, checked to be the real one (character device 1:3).
local function null_device()
  local st = core.stat("/dev/null", true)
  if not (st and st.type == "char" and st.rdev_major == 1 and st.rdev_minor == 3) then
    failure.raise("mask: /dev/null is not the character device 1:3: refused", core.EPERM)
  end
  return "/dev/null"
end

-- Hide the masked paths (files under /dev/null, directories under an empty
-- read-only tmpfs) and make the read-only ones so; paths this kernel lacks are skipped.
local function mask(root)
  local null = null_device()
  for _, p in ipairs(M.MASKED) do
    local st = core.stat(root .. p)
    if st and st.type == "directory" then
      mount_at(root, p, nil, "tmpfs", "tmpfs", NODEV | core.MS_RDONLY, "size=0,mode=555")
    elseif st then
      mount_at(root, p, nil, null, nil, core.MS_BIND)
    end
  end
  for _, p in ipairs(M.READONLY) do
    if core.stat(root .. p) then
      mount_at(root, p, nil, root .. p, nil, core.MS_BIND | core.MS_REC)
      setattr_at(root, p, core.MOUNT_ATTR_RDONLY | core.MOUNT_ATTR_NOSUID | core.MOUNT_ATTR_NODEV |
        core.MOUNT_ATTR_NOEXEC, true)
    end
  end
end

--- Build the filesystem of recipe r and pivot into it.
function M.enter(r)
  local root = r.rootfs
  refuse_symlinks(root)
  fault.point("mount-private")
  try(core.mount(nil, "/", nil, core.MS_REC | core.MS_PRIVATE))
  fault.point("bind-rootfs")
  try(core.mount(root, root, nil, core.MS_BIND | core.MS_REC))
  rootfd = try(core.open_in_root(root, "/"))
  fault.point("proc")
  mount_at(root, "/proc", "dir", "proc", "proc", NODEV)
  fault.point("dev")
  mount_dev(root)
  fault.point("sys")
  mount_sys(root, r.namespaces.net)
  fault.point("mounts")
  user_mounts(root, r.mounts) -- none covers "/" (the recipe refuses it): rootfd stays the top tree
  fault.point("mask")
  mask(root)
  core.close(rootfd)
  rootfd = nil
  try(core.chdir(root))
  fault.point("pivot_root")
  try(core.pivot_root(".", "."))
  try(core.umount(".", core.MNT_DETACH))
  try(core.chdir("/"))
  if r.readonly then try(core.mount_setattr("/", core.MOUNT_ATTR_RDONLY)) end
end

return M
