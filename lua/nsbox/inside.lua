--- The container side, run in the cloned child (forked, or re-executed):
-- mounts, pivot_root, names, loopback, fd hygiene, exec. Every failure goes
-- back to the parent on the channel as an "error" message { error = message, errno =, status = }.
-- @module nsbox.inside
local core = require "nsbox.core"
local channel = require "nsbox.channel"
-- everything is loaded before pivot_root hides the host's files (nsbox.net
-- too, in setup, when the container has a network)
local rootfs = require "nsbox.rootfs"
local etc = require "nsbox.etc"
local users = require "nsbox.users"
local fault = require "nsbox.fault"
local failure = require "nsbox.failure"
local status = require "nsbox.status"
local resources = require "nsbox.resources"

local M = {}

local try = failure.try

-- A command not found in a directory that is no image at all (no /bin/sh, looked
-- up after pivot_root) says which directory it was: the rootfs is the likely mistake.
local function not_found(r, err)
  if not r.rootfs or core.stat("/bin/sh") then return err end
  return string.format("%s (rootfs %s has no /bin/sh: is it an image?)", err, r.rootfs)
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
  failure.raise(not_found(r, "exec(" .. name .. "): No such file or directory"), core.ENOENT, 127)
end

-- An exec that failed: 127 if not found, 126 otherwise, as a shell says. err
-- is the failed call's own message, kept as it is.
local function exec_failed(r, err, errno)
  if errno == core.ENOENT then err = not_found(r, err) end
  failure.raise(err, errno, errno == core.ENOENT and 127 or 126)
end

-- Go to the working directory, which must resolve inside the container: no
-- magic link (/proc/self/fd/N) and no symlink out of the root.
local function enter_cwd(cwd)
  local fd, _, errno = core.open_in_root("/", cwd, nil, "beneath")
  if not fd then
    if errno == core.EXDEV or errno == core.ELOOP then
      failure.raise(string.format("cwd: '%s' leads outside the container: refused", cwd), errno)
    end
    -- the open is how a chdir is made safe: name the chdir (and the errno's text)
    failure.raise(string.format("chdir(%s): %s", cwd, core.strerror(errno)), errno)
  end
  local ok, ferr, ferrno = core.fchdir(fd)
  core.close(fd)
  try(ok, ferr, ferrno)
end

-- The filter's programs, compiled by the parent (nsbox.seccomp): only loaded here.
local function load_filter(programs)
  for _, p in ipairs(programs) do try(core.seccomp_load(p)) end
end

-- What the command may keep: the capability bounding set of the recipe and
-- no_new_privs. Bounding caps only matter at exec, so setup keeps its own until then.
local function harden(r)
  local keep = {}
  for _, n in ipairs(r.capabilities) do keep[n] = true end
  for cap = 0, 63 do
    if not keep[cap] then
      local ok, err, errno = core.prctl(core.PR_CAPBSET_DROP, cap)
      if not ok then
        if errno == core.EINVAL then break end -- past the kernel's last capability
        try(ok, err, errno)
      end
    end
  end
  try(core.clear_inheritable())
  if r.no_new_privs then try(core.prctl(core.PR_SET_NO_NEW_PRIVS, 1)) end
end

-- The argv of nsbox-init (csrc/init/nsbox-init.c), the sealed stub exec'd in
-- place of the command so that /proc/self/exe at the command's exec is never
-- this host interpreter (CVE-2019-5736): as "nsbox-init" it stays as PID 1 and
-- forks the command, as "nsbox-exec" it only execs it. fd: the channel, on
-- which it reports a failed exec.
-- tty: fd 0 is the container's pty, to be the command's controlling terminal ("FDt").
local function stub_argv(mode, fd, path, command, tty)
  local argv = { mode, tostring(fd) .. (tty and "t" or ""), path }
  for i, a in ipairs(command) do argv[3 + i] = a end
  return argv
end

-- A program that is not there at all is named here, with the rootfs hint: the
-- stub can only report an errno.
local function check_program(r, path)
  if not core.stat(path, true) then exec_failed(r, "exec(" .. path .. "): No such file or directory", core.ENOENT) end
end

-- init: nsbox-init as PID 1 of a new pid namespace (always: whatever the command
-- does to its credentials, init keeps its parent-death signal and watches the
-- channel, whose EOF is the parent's death), or as asked with init = true. It
-- reports "running" once the command is exec'd and keeps the channel open.
local function exec(r, fd, who)
  local path = find_program(r)
  check_program(r, path)
  if r.pty_slave then -- the command's stdio is the pty, its user's own (as login gives it)
    if who then try(core.fchown(r.pty_slave, who.uid, who.gid)) end
    r.stdio = { r.pty_slave, r.pty_slave, r.pty_slave }
  end
  for i = 1, 3 do
    if r.stdio[i] then try(core.dup2(r.stdio[i], i - 1)) end
  end
  try(core.close_range(3, nil, core.CLOSE_RANGE_CLOEXEC))
  for _, k in ipairs(r.keep_fds) do try(core.cloexec(k, false)) end
  fault.point("harden")
  harden(r)
  -- the filter goes last, before the exec; without no_new_privs loading it takes
  -- CAP_SYS_ADMIN, which a user's ids lose: then before them (as runc does)
  local early = r.seccomp and who and not r.no_new_privs
  if early then load_filter(r.seccomp) end
  if who then users.become(who) end
  if r.new_session then try(core.setsid()) end
  local init = r.namespaces.pid or r.init
  -- the signals init takes and passes on, blocked before its exec so that none
  -- sent once start() returned is lost (the C library keeps its own two out)
  if init then try(core.sigblock(core.INIT_SIGNALS)) end
  fault.point("exec")
  channel.send(fd, "exec", path)
  try(core.cloexec(fd, false)) -- the stub's report channel; it makes it close-on-exec again
  -- the rlimits late too: a small nofile, nproc or as would fail nsbox's own steps
  try(resources.apply(r.rlimits))
  if r.seccomp and not early then load_filter(r.seccomp) end
  local _, err, errno = core.fexecve(r.stub, stub_argv(init and "nsbox-init" or "nsbox-exec", fd, path, r.command,
                                                      r.pty_slave), r.env)
  exec_failed(r, err, errno)
end

-- The caller's host groups stay out of the container (as core.spawn's root
-- does with a user namespace); EPERM: setgroups is denied in this user
-- namespace (an unprivileged own-id map), the kernel's rule.
local function drop_groups()
  local ok, err, errno = core.drop_groups()
  if not ok and errno ~= core.EPERM then try(ok, err, errno) end
end

local function setup(r, fd)
  -- placed in its cgroup by now (cloned into it, or moved while held): its
  -- cgroup namespace is rooted there, not at the caller's cgroup
  if r.cgroupns then try(core.unshare(core.CLONE_NEWCGROUP)) end
  if not r.namespaces.user then drop_groups() end -- with one, core.spawn's root did
  try(core.join_session_keyring(not r.namespaces.user)) -- the caller's keys stay out of reach
  -- ping without CAP_NET_RAW in a network namespace of its own (core.spawn made it root of its user namespace)
  if r.namespaces.net then try(require("nsbox.idmap").open_ping(r.gid_map)) end
  local net = r.net and require "nsbox.net"
  if r.net == "child" and r.announce then try(net.announce()) end
  local trees, bound
  if r.idmapped or r.binds then
    local what, fds = channel.await(fd, "layers")
    if what.error then failure.raise(what.error, what.errno) end
    fds = fds or {}
    if what.layers > 0 then trees = { table.unpack(fds, 1, what.layers) } end
    bound = {}
    for j, i in ipairs(what.mounts) do bound[i] = fds[what.layers + j] end
  end
  local files = etc.files(r)
  local placed = rootfs.enter(r, trees, bound, #files > 0 and files or nil)
  if r.pty_master then -- the parent relays it (or hands it to the script)
    try(channel.send(fd, "pty", nil, { r.pty_master }))
    core.close(r.pty_master)
  end
  fault.point("hostname")
  if r.namespaces.uts then try(core.sethostname(r.hostname)) end
  if r.domainname then try(core.setdomainname(r.domainname)) end
  fault.point("lo")
  if r.namespaces.net then try(core.ifup("lo")) end
  -- the host side (and, net = "parent", the interface) is made meanwhile; EOF: the parent gave up
  local info, fds
  if r.net then info, fds = channel.await(fd, "network") end
  fault.point("net")
  if r.net == "child" then try(net.configure(info)) end
  fault.point("etc")
  etc.write(r, info and info.address, placed, fds and fds[1])
  rootfs.seal(r)
  local who = r.user and users.resolve(r.user, r.rootfs)
  if who and who.home then
    if not r.home_given then
      for i, kv in ipairs(r.env) do if kv:match("^HOME=") then r.env[i] = "HOME=" .. who.home end end
    end
    if not r.cwd_given and core.stat(who.home) then r.cwd = who.home end
  end
  fault.point("cwd")
  enter_cwd(r.cwd)
  exec(r, fd, who)
end

-- A process joining a running container: non-dumpable before it can be seen,
-- setns into every namespace of the container through its pidfd, root of the
-- user namespace, then spawn the command (a child: it enters the pid
-- namespace) through the sealed stub (nsbox-exec: never this interpreter at
-- the command's exec), report its exec and wait for it, forwarding signals.
local function join(r, fd, pidfd)
  try(core.prctl(core.PR_SET_DUMPABLE, 0))
  try(core.setns(pidfd, r.flags))
  core.close(pidfd)
  local own = r.flags & core.CLONE_NEWUSER ~= 0 -- else the host's user namespace, shared (see core)
  if own then try(core.setresgid(0, 0, 0)) end
  drop_groups()
  if own then
    try(core.setresuid(0, 0, 0))
    -- a credential change resets both: set them again
    try(core.prctl(core.PR_SET_DUMPABLE, 0))
    try(core.prctl(core.PR_SET_PDEATHSIG, core.SIGKILL))
  end
  try(core.join_session_keyring(not own))
  enter_cwd(r.cwd)
  local path = find_program(r)
  check_program(r, path)
  local slave
  if r.tty_size then -- a pty of the container's devpts (reached beneath its /dev/pts, no link followed)
    local pts = try(core.open_in_root("/", "/dev/pts", nil, "beneath"))
    local master, errno
    master, slave, errno = core.openpty(pts)
    try(master, slave, errno)
    core.close(pts)
    try(core.set_winsize(slave, r.tty_size.rows, r.tty_size.cols))
    try(channel.send(fd, "pty", nil, { master }))
    core.close(master)
    r.stdio = { slave, slave, slave }
  end
  try(core.close_range(3, nil, core.CLOSE_RANGE_CLOEXEC))
  harden(r)
  -- "exec" first: the stub reports a failed exec of the command on fd after it
  channel.send(fd, "exec", path)
  local pid, cfd, errno = core.spawn { fd = r.stub, path = path,
    argv = stub_argv("nsbox-exec", fd, path, r.command, slave),
    env = r.env, pdeathsig = core.SIGKILL, keep_fds = { fd }, close_fds = true,
    stdin = r.stdio[1], stdout = r.stdio[2], stderr = r.stdio[3], setsid = r.new_session or slave ~= nil,
    -- both in the stub's child, after the clone3 the filter refuses (and a low nproc or nofile would)
    rlimits = r.rlimits, seccomp = r.seccomp or nil }
  if not pid then exec_failed(r, cfd, errno) end
  if slave then core.close(slave) end -- the command's alone: its end is the master's EIO
  core.close(fd)
  local how, code = core.wait(cfd, status.FORWARD)
  core._exit(status.of(how, code))
end

local STEPS = { main = setup, join = join }

-- Run step(r, fd, ...); report its failure and leave.
local function run(step, r, fd, ...)
  local ok, e = pcall(step, r, fd, ...)
  if type(e) ~= "table" then e = { error = "container setup: " .. tostring(e) } end
  pcall(channel.send, fd, "error", { error = e.error and tostring(e.error), errno = tonumber(e.errno),
                                     status = tonumber(e.status) })
  core._exit(ok and 0 or tonumber(e.status) or 1)
end

-- Run step(r, fd, ...) with the recipe read from fd (EOF: the parent is gone, and so are we).
local function run_step(step, fd, ...)
  run(step, channel.await(fd, "recipe"), fd, ...)
end

--- Entry point of a process re-executed to join a running container (its pidfd).
function M.join(fd, pidfd)
  run_step(join, fd, pidfd)
end

--- Entry point of the re-executed child; fd is its end of the channel (the
-- bootstrap took the "maps" message off it already).
function M.main(fd)
  run_step(setup, fd)
end

--- Entry point of a forked child: it holds a copy of the parent's Lua state,
-- so the collector stops (no finalizer of the parent's objects may run here)
-- and every fd but 0, 1, 2 and keep (keep[1]: the channel) is closed at once,
-- so no lock, socket or pidfd of the parent lives on in the container. held:
-- core.spawn held it for the "maps" message, which is taken off the channel here.
function M.forked(entry, r, keep, held, ...)
  collectgarbage("stop")
  local fds = {}
  for i, fd in ipairs(keep) do fds[i] = fd end
  table.sort(fds)
  local from = 3
  for _, fd in ipairs(fds) do
    if fd > from then core.close_range(from, fd - 1) end
    if fd >= from then from = fd + 1 end
  end
  core.close_range(from)
  if held then channel.await(keep[1], "maps") end
  run(STEPS[entry], r, keep[1], ...)
end

return M
