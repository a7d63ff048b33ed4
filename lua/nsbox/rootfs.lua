--- The container's filesystem, built in the re-executed child before it
-- execs: private propagation, the rootfs bound on itself, /proc, a minimal
-- /dev, /sys, the recipe's mounts, masked and read-only paths, then
-- pivot_root with the old root detached.
-- The rootfs's path is looked up once: everything after is reached from that
-- fd, its mount points resolved inside it (openat2 RESOLVE_IN_ROOT) and every
-- mount made fd to fd (open_tree, fsmount, move_mount). The image's owner may
-- rename and swap its directories at any time (a symlink for /proc just after
-- procfs went on it): no path we touch is named again, so nothing lands outside
-- the root, and the masks are resolved inside the proc and sysfs we mounted.
-- The root and every mount from the image are nodev: a device node shipped in
-- it is dead; /dev is a nodev tmpfs with only the host's nodes nsbox binds.
-- Functions raise { error = message, errno = } on failure.
-- @module nsbox.rootfs
local core = require "nsbox.core"
local fault = require "nsbox.fault"
local failure = require "nsbox.failure"

local M = {}

local A = { nosuid = core.MOUNT_ATTR_NOSUID, nodev = core.MOUNT_ATTR_NODEV, noexec = core.MOUNT_ATTR_NOEXEC,
            rdonly = core.MOUNT_ATTR_RDONLY }
local SAFE = A.nosuid | A.nodev | A.noexec
local DEVICES = { "null", "zero", "full", "random", "urandom", "tty" }
local LINKS = { fd = "/proc/self/fd", stdin = "/proc/self/fd/0", stdout = "/proc/self/fd/1",
                stderr = "/proc/self/fd/2", ptmx = "pts/ptmx" }

--- Paths hidden from the container (the OCI runtime-spec defaults), and those made read-only.
M.MASKED = { "/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
             "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi",
             "/sys/firmware", "/sys/devices/virtual/powercap" }
M.READONLY = { "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger" }

local try = failure.try

-- Attach the detached mount mnt (open_tree, fsmount) onto the fd place; both fds
-- are closed (none may live on in a forked init), but mnt is returned if keep says
-- so. what and label name the mount and its place in messages.
local function attach(mnt, place, what, label, keep)
  local ok, err, errno = core.move_mount(mnt, place, what, label)
  core.close(place)
  if not (ok and keep) then core.close(mnt) end
  try(ok, err, errno)
  return keep and mnt or nil
end

-- The fd of rel below the fd dir (made as create says: "dir" or "file"); mode as
-- open_in_root takes it; label names dir in messages.
local function below(label, dir, rel, create, mode)
  return try(core.open_in_root(label, rel, create, mode, dir))
end

-- The image's own /proc, /sys or /dev (made if missing), opened once and checked
-- on that fd: a directory, not a link, which would turn our mounts of them elsewhere.
local function top_dir(root, rootfd, d)
  local fd = below(root, rootfd, d, "dir", "nofollow")
  local st, err, errno = core.stat(fd)
  if not st then core.close(fd) try(nil, err, errno) end
  if st.type ~= "directory" then
    core.close(fd)
    failure.raise(string.format("rootfs: %s is a %s, not a directory: refused", d, st.type), core.ENOTDIR)
  end
  return fd
end

-- The rootfs bound on itself, nodev throughout, from one lookup of its path: the
-- fd of the new mount, the root all else is resolved in. Only with in_place:
-- everything the container writes lands in the image.
local function bind_root(root)
  local dir = try(core.open_in_root(root, "/"))
  local tree = try(core.open_tree(dir, true, root))
  try(core.mount_setattr(tree, A.nodev, 0, true, root))
  return attach(tree, dir, root, root, true)
end

-- The copy-on-write root: an overlay of the layers, nodev, its upper layer the
-- directory the parent made on disk, else on a private tmpfs. overlayfs takes
-- layers only from the mounter's own mount namespace: the layers are looked up
-- here, or (trees: idmapped clones the parent made) attached on that tmpfs.
-- The tmpfs is attached over the host's /tmp in our mount namespace (a place
-- the container's ids can reach wherever the image is; what we need of /tmp,
-- the recipe's bind sources, is open already) and detached with the host's
-- tree after pivot_root; the overlay goes on the tmpfs. Its fd is the root. In a user namespace the overlay
-- keeps whiteouts in user.overlay.* xattrs (userxattr): trusted.* needs the host's root.
local function overlay_root(r, trees, etc_files)
  local fds = {}
  local function close_all() for _, fd in pairs(fds) do core.close(fd) end end
  local function need(fd, err, errno)
    if not fd then close_all() try(nil, err, errno) end
    return fd
  end
  local lowers = trees
  if not lowers then
    lowers = {}
    for i, l in ipairs(r.layers) do lowers[i] = need(core.open_in_root(l, "/")) end
  end
  for i, fd in ipairs(lowers) do fds[i] = fd end
  local opts = { userxattr = r.namespaces.user, attrs = A.nodev, detached = trees ~= nil, etc = etc_files }
  opts.place = need(core.open_in_root("/", "/tmp"))
  fds.place = opts.place
  if r.upper then
    opts.upper = need(core.open_in_root(r.upper, "/"))
    fds.upper = opts.upper
    opts.work = need(core.open_in_root(r.work, "/"))
    fds.work = opts.work
  end
  local ovl, tmp, placed = core.overlay(lowers, r.rootfs, opts)
  close_all()
  try(ovl, tmp, placed)
  return attach(ovl, tmp, "overlay", r.rootfs, true), placed
end

-- A new filesystem attached on the fd place (closed); its mount fd if keep.
local function new_mount(fstype, source, data, attrs, place, label, keep)
  return attach(try(core.fsmount(fstype, source, data, attrs, label)), place, source, label, keep)
end

-- The command's terminal (recipe tty): a pty of the container's own devpts
-- (pts: that mount's fd), its size set before anything runs, the slave bound
-- on /dev/console as well. Returns master and slave.
local function make_pty(label, dev, pts, size)
  local master, slave, errno = core.openpty(pts)
  try(master, slave, errno)
  try(core.set_winsize(slave, size.rows, size.cols))
  attach(try(core.open_tree(slave, false, label .. "/console")), below(label, dev, "console", "file", "beneath"),
    "the pty", label .. "/console")
  return master, slave
end

-- Our own tmpfs on /dev (nothing in it is the image's), filled through its fd:
-- the host's nodes bound on files (core.bind_devices), devpts, shm and the links;
-- the pty's master and slave if tty asks for one.
local function mount_dev(root, rootfd, tty)
  local label = root .. "/dev"
  local dev = new_mount("tmpfs", "tmpfs", "mode=755,size=65536k", A.nosuid | A.nodev | core.MOUNT_ATTR_STRICTATIME,
    top_dir(root, rootfd, "/dev"), label, true)
  try(core.bind_devices(dev, DEVICES, label)) -- each on a new file: binds keep their flags, the nodes work
  local pts = new_mount("devpts", "devpts", "newinstance,ptmxmode=0666,mode=0620", A.nosuid | A.noexec,
    below(label, dev, "pts", "dir", "beneath"), label .. "/pts", tty and true)
  local master, slave
  if tty then
    master, slave = make_pty(label, dev, pts, tty)
    core.close(pts)
  end
  new_mount("tmpfs", "shm", "mode=1777,size=65536k", SAFE, below(label, dev, "shm", "dir", "beneath"), label .. "/shm")
  for name, target in pairs(LINKS) do try(core.symlink(target, name, dev, label .. "/" .. name)) end
  core.close(dev)
  return master, slave
end

-- sysfs of our own, or the host's bound read-only throughout; returns its mount fd.
local function mount_sys(root, rootfd, private_net)
  local label = root .. "/sys"
  if private_net then
    return new_mount("sysfs", "sysfs", nil, SAFE | A.rdonly, top_dir(root, rootfd, "/sys"), label, true)
  end
  -- sysfs belongs to the host's net namespace: bind it
  local tree = try(core.open_tree("/sys", true))
  try(core.mount_setattr(tree, A.rdonly, 0, true, label))
  return attach(tree, top_dir(root, rootfd, "/sys"), "/sys", label, true)
end

-- The recipe's bind sources as detached trees, opened before anything of ours
-- covers a host path (the private tmpfs over /tmp); bound: those the parent
-- cloned (idmap = true, or all of them for a range's root), by index.
local function bind_sources(root, mounts, bound)
  local trees = {}
  for i, t in pairs(bound or {}) do trees[i] = t end
  local ok, err = pcall(function()
    for i, m in ipairs(mounts) do
      if m.type == "bind" and not trees[i] then -- the parent's are read-only already where asked
        local tree = try(core.open_tree(m.source, true))
        trees[i] = tree
        if m.readonly then try(core.mount_setattr(tree, A.rdonly, 0, true, root .. m.destination)) end
      end
    end
  end)
  if not ok then
    for _, t in pairs(trees) do core.close(t) end
    error(err, 0)
  end
  return trees
end

local function user_mounts(root, rootfd, mounts, trees)
  for i, m in ipairs(mounts) do
    local label = root .. m.destination
    if m.type == "bind" then
      -- from the host, as the recipe says: its nodes stay usable (the caller chose them)
      local tree = trees[i]
      trees[i] = nil
      local place, err, errno = core.open_in_root(root, m.destination, m.source_type == "directory" and "dir" or "file",
        nil, rootfd)
      if not place then core.close(tree) try(nil, err, errno) end
      attach(tree, place, m.source, label)
    else
      local mnt = try(core.fsmount("tmpfs", "tmpfs", string.format("mode=%o", m.mode) ..
        (m.size and (",size=" .. m.size) or ""), A.nosuid | A.nodev | (m.readonly and A.rdonly or 0), label))
      attach(mnt, below(root, rootfd, m.destination, "dir"), "tmpfs", label)
    end
  end
end

-- An O_PATH fd of the host's /dev/null, checked on that fd to be the character
-- device 1:3 (the very inode every mask then binds).
local function null_device()
  local fd = try(core.open_in_root("/", "/dev/null"))
  local st = core.stat(fd)
  if not (st and st.type == "char" and st.rdev_major == 1 and st.rdev_minor == 3) then
    core.close(fd)
    failure.raise("mask: /dev/null is not the character device 1:3: refused", core.EPERM)
  end
  return fd
end

-- Hide the masked paths and make the read-only ones so (core.mask: files under
-- the checked /dev/null, directories under an empty read-only tmpfs), each
-- resolved inside the mount fd of our proc (or sys), never through the image's
-- directory entry.
local function mask(root, mnts)
  local null = null_device()
  local ok, err, errno = core.mask(root, mnts, null, M.MASKED, M.READONLY)
  core.close(null)
  try(ok, err, errno)
end

--- Build the filesystem of recipe r and pivot into it. trees: the layers as
-- idmapped clones (the parent's "layers" message), if the image is shown so;
-- bound: the idmapped sources of mounts, by index; etc_files: the container's
-- /etc files ({ { name, text }, ... }), put in a private upper layer before the
-- overlay is made (no copy-up of /etc after). Returns whether they were put.
function M.enter(r, trees, bound, etc_files)
  local root = r.rootfs
  fault.point("mount-private")
  try(core.mount(nil, "/", nil, core.MS_REC | core.MS_PRIVATE))
  fault.point("bind-rootfs")
  local sources = bind_sources(root, r.mounts, bound)
  local ok, rootfd, placed = pcall(function()
    if r.in_place then return bind_root(root) end
    return overlay_root(r, trees, not r.upper and etc_files or nil)
  end)
  if not ok then
    for _, t in pairs(sources) do core.close(t) end
    error(rootfd, 0)
  end
  fault.point("proc")
  local mnts = {}
  mnts.proc = new_mount("proc", "proc", nil, SAFE, top_dir(root, rootfd, "/proc"), root .. "/proc", true)
  fault.point("dev")
  r.pty_master, r.pty_slave = mount_dev(root, rootfd, r.tty)
  fault.point("sys")
  mnts.sys = mount_sys(root, rootfd, r.namespaces.net)
  fault.point("mounts")
  user_mounts(root, rootfd, r.mounts, sources) -- none covers "/" (the recipe refuses it): rootfd stays the top tree
  fault.point("mask")
  mask(root, mnts)
  core.close(mnts.proc)
  core.close(mnts.sys)
  try(core.fchdir(rootfd))
  core.close(rootfd)
  fault.point("pivot_root")
  try(core.pivot_root(".", "."))
  try(core.umount(".", core.MNT_DETACH))
  try(core.chdir("/"))
  return placed
end

--- Last, once the container's /etc files are written: a read-only root made so.
function M.seal(r)
  if r.readonly then try(core.mount_setattr("/", core.MOUNT_ATTR_RDONLY)) end
end

return M
