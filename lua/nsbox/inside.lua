--- The container side, run in the re-executed child: mounts, pivot_root,
-- names, loopback, fd hygiene, exec. Every failure goes back to the parent
-- on the sync channel as { error = message, errno =, status = }.
-- @module nsbox.inside
local core = require "nsbox.core"
local channel = require "nsbox.channel"
local net = require "nsbox.net" -- everything is loaded before pivot_root hides the host's files

local M = {}

local NODEV = core.MS_NOSUID | core.MS_NODEV | core.MS_NOEXEC
local DEVICES = { "null", "zero", "full", "random", "urandom", "tty" }
local LINKS = { fd = "/proc/self/fd", stdin = "/proc/self/fd/0", stdout = "/proc/self/fd/1",
                stderr = "/proc/self/fd/2", ptmx = "pts/ptmx" }

-- A failed step: raise its message (and errno) for main to send to the parent.
local function try(ok, err, errno)
  if not ok then error({ error = err, errno = errno }, 0) end
  return ok
end

local function is_dir(path)
  local st = core.stat(path)
  return st and st.type == "directory"
end

-- mkdir -p below root for a mount point; existing entries are kept as they are.
local function make_dir(root, rel)
  local path = root
  for part in rel:gmatch("[^/]+") do
    path = path .. "/" .. part
    if not core.stat(path) then try(core.mkdir(path, 493)) end
  end
  return path
end

local function make_file(root, rel)
  make_dir(root, rel:match("^(.*)/[^/]*$"))
  local path = root .. rel
  if not core.stat(path) then try(core.touch(path)) end
  return path
end

local function mount_dev(root)
  local dev = make_dir(root, "/dev")
  try(core.mount("tmpfs", dev, "tmpfs", core.MS_NOSUID | core.MS_STRICTATIME, "mode=755,size=65536k"))
  for _, name in ipairs(DEVICES) do
    local path = dev .. "/" .. name
    try(core.touch(path, 438))
    try(core.mount("/dev/" .. name, path, nil, core.MS_BIND))
  end
  try(core.mkdir(dev .. "/pts", 493))
  try(core.mount("devpts", dev .. "/pts", "devpts", core.MS_NOSUID | core.MS_NOEXEC,
    "newinstance,ptmxmode=0666,mode=0620"))
  try(core.mkdir(dev .. "/shm", 1023))
  try(core.mount("shm", dev .. "/shm", "tmpfs", NODEV, "mode=1777,size=65536k"))
  for name, target in pairs(LINKS) do try(core.symlink(target, dev .. "/" .. name)) end
end

local function mount_sys(root, r)
  local sys = make_dir(root, "/sys")
  if r.namespaces.net then
    try(core.mount("sysfs", sys, "sysfs", NODEV | core.MS_RDONLY))
  else
    -- sysfs belongs to the host's net namespace: bind it, read-only.
    try(core.mount("/sys", sys, nil, core.MS_BIND | core.MS_REC))
    try(core.mount_setattr(sys, core.MOUNT_ATTR_RDONLY, 0, true))
  end
end

local function user_mounts(root, r)
  for _, m in ipairs(r.mounts) do
    local dst
    if m.type == "bind" then
      dst = m.source_type == "directory" and make_dir(root, m.destination) or make_file(root, m.destination)
      try(core.mount(m.source, dst, nil, core.MS_BIND | core.MS_REC))
    else
      dst = make_dir(root, m.destination)
      local data = "mode=755" .. (m.size and (",size=" .. m.size) or "")
      try(core.mount("tmpfs", dst, "tmpfs", core.MS_NOSUID | core.MS_NODEV, data))
    end
    if m.readonly then try(core.mount_setattr(dst, core.MOUNT_ATTR_RDONLY, 0, true)) end
  end
end

-- The new root: private propagation, the rootfs bound on itself, pseudo
-- filesystems, pivot_root(".", ".") and the old root detached.
local function enter_root(r)
  local root = r.rootfs
  try(core.mount(nil, "/", nil, core.MS_REC | core.MS_PRIVATE))
  try(core.mount(root, root, nil, core.MS_BIND | core.MS_REC))
  try(core.mount("proc", make_dir(root, "/proc"), "proc", NODEV))
  mount_dev(root)
  mount_sys(root, r)
  user_mounts(root, r)
  try(core.chdir(root))
  try(core.pivot_root(".", "."))
  try(core.umount(".", core.MNT_DETACH))
  try(core.chdir("/"))
  if r.readonly then try(core.mount_setattr("/", core.MOUNT_ATTR_RDONLY)) end
end

-- The program to exec, searched in the container's PATH like execvp does.
local function find_program(r)
  local name = r.command[1]
  if name:find("/", 1, true) then return name end
  local denied
  for dir in (r.path or ""):gmatch("[^:]+") do
    local path = dir .. "/" .. name
    local st = core.stat(path, true)
    if st and st.type == "file" then
      if core.executable(path) then return path end
      denied = denied or path
    end
  end
  if denied then return denied end
  error({ error = "exec(" .. name .. "): No such file or directory", errno = 2, status = 127 }, 0)
end

local function exec(r, fd)
  local path = find_program(r)
  for i = 1, 3 do
    if r.stdio[i] then try(core.dup2(r.stdio[i], i - 1)) end
  end
  try(core.close_range(3, nil, core.CLOSE_RANGE_CLOEXEC))
  for _, k in ipairs(r.keep_fds) do try(core.cloexec(k, false)) end
  channel.send(fd, { exec = true })
  local _, err, errno = core.execve(path, r.command, r.env)
  error({ error = err:gsub("^execve%(", "exec("), errno = errno, status = errno == 2 and 127 or 126 }, 0)
end

local function setup(r, fd)
  enter_root(r)
  if r.namespaces.uts then try(core.sethostname(r.hostname)) end
  if r.domainname then try(core.setdomainname(r.domainname)) end
  if r.namespaces.net then try(core.rtnl.link_set { name = "lo", up = true }) end
  local go = channel.recv(fd)
  if not (go and go.go) then core._exit(1) end -- the parent gave up: leave quietly
  if go.net then try(net.configure(go.net)) end
  try(core.chdir(r.cwd))
  exec(r, fd)
end

-- A process joining a running container: non-dumpable before it can be seen,
-- setns into every namespace of the container through its pidfd, root of the
-- user namespace, then spawn the command (a child: it enters the pid
-- namespace), report its exec and wait for it, forwarding signals.
local function join(r, fd, pidfd)
  try(core.prctl(core.PR_SET_DUMPABLE, 0))
  try(core.setns(pidfd, r.flags))
  core.close(pidfd)
  if r.flags & core.CLONE_NEWUSER ~= 0 then
    try(core.setresgid(0, 0, 0))
    try(core.setresuid(0, 0, 0))
    -- a credential change resets both: set them again
    try(core.prctl(core.PR_SET_DUMPABLE, 0))
    try(core.prctl(core.PR_SET_PDEATHSIG, core.SIGKILL))
  end
  try(core.chdir(r.cwd))
  local path = find_program(r)
  try(core.close_range(3, nil, core.CLOSE_RANGE_CLOEXEC))
  local pid, cfd, errno = core.spawn { path = path, argv = r.command, env = r.env, pdeathsig = core.SIGKILL,
    stdin = r.stdio[1], stdout = r.stdio[2], stderr = r.stdio[3] }
  if not pid then
    error({ error = cfd:gsub("^execve%(", "exec("), errno = errno, status = errno == 2 and 127 or 126 }, 0)
  end
  channel.send(fd, { exec = true })
  core.close(fd)
  local how, code = core.wait(cfd, M.FORWARD)
  core._exit(how == "exited" and code or 128 + code)
end

M.FORWARD = { core.SIGINT, core.SIGTERM, core.SIGHUP, core.SIGQUIT, core.SIGUSR1, core.SIGUSR2 }

-- Run step(r, fd, ...) with the recipe read from fd; report its failure and leave.
local function run_step(step, fd, ...)
  local r = channel.recv(fd)
  if not r then core._exit(1) end
  local ok, e = pcall(step, r, fd, ...)
  if type(e) ~= "table" then e = { error = "container setup: " .. tostring(e) } end
  channel.send(fd, e)
  core._exit(ok and 0 or e.status or 1)
end

--- Entry point of a process re-executed to join a running container (its pidfd).
function M.join(fd, pidfd)
  run_step(join, fd, pidfd)
end

--- Entry point of the re-executed child; fd is its end of the sync channel.
function M.main(fd)
  run_step(setup, fd)
end

return M
