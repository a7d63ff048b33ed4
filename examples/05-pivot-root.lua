#!/usr/bin/env lua5.4
--- Stage 5 of the seed: a root filesystem of its own, with pivot_root and a new /proc.
--
-- The reexec of stage 4, where "nsInitialisation" does the filesystem work by
-- hand with nsbox.core: make every mount private, bind the rootfs onto itself
-- (pivot_root needs a mount point), mount a proc for the new pid namespace,
-- pivot_root(".", ".") from inside the rootfs, detach the old root stacked
-- under it, set the hostname and exec the command. Namespaces: user, mnt,
-- uts, ipc, pid, net; root inside is mapped to you, so it works unprivileged.
--
--   lua5.4 examples/05-pivot-root.lua [ROOTFS [COMMAND...]]   -- ROOTFS default build/rootfs
--   lua5.4 examples/05-pivot-root.lua build/rootfs /bin/ps -o pid,args
--
-- In the shell, type `ps`: PID 1 is your shell and nothing of the host shows;
-- `ls /` is the busybox rootfs, `cat /proc/mounts` lists only the new root and
-- /proc, `hostname` prints ns-process.
-- From a checkout, find nsbox beside this script (no LUA_PATH needed).
local here = debug.getinfo(1, "S").source:match("^@(.-)[^/]*$")
assert(loadfile(here .. "checkout.lua"))(here)

local core = require "nsbox.core"
local idmap = require "nsbox.idmap"
local reexec = require "nsbox.reexec"

local function try(ok, err) if not ok then io.stderr:write(err, "\n") os.exit(125) end end

reexec.register("nsInitialisation", function(rootfs, ...)
  local command = { ... }
  try(core.mount(nil, "/", nil, core.MS_REC | core.MS_PRIVATE))
  try(core.mount(rootfs, rootfs, nil, core.MS_BIND | core.MS_REC))
  try(core.mount("proc", rootfs .. "/proc", "proc", core.MS_NOSUID | core.MS_NODEV | core.MS_NOEXEC))
  try(core.chdir(rootfs))
  try(core.pivot_root(".", "."))
  try(core.umount(".", core.MNT_DETACH))
  try(core.chdir("/"))
  try(core.sethostname("ns-process"))
  try(core.execve(command[1], command, { "PATH=/bin:/sbin:/usr/bin:/usr/sbin", "HOME=/root",
                                         "PS1=-[ns-process]- # ", "TERM=" .. (os.getenv("TERM") or "dumb") }))
end)
if reexec.init() then os.exit(0) end

local rootfs = assert(core.realpath(arg[1] or "build/rootfs"))
local command = #arg > 1 and { table.unpack(arg, 2) } or { "/bin/sh" }
local spec = reexec.command("nsInitialisation", rootfs, table.unpack(command))
spec.flags = core.CLONE_NEWUSER | core.CLONE_NEWNS | core.CLONE_NEWUTS | core.CLONE_NEWIPC
           | core.CLONE_NEWPID | core.CLONE_NEWNET
spec.setup = function(child)
  return idmap.write(child, { { inside = 0, outside = core.getuid(), count = 1 } },
                            { { inside = 0, outside = core.getgid(), count = 1 } })
end
local _, pidfd = assert(core.spawn(spec))
local how, code = core.wait(pidfd)
core.close(pidfd)
os.exit(require("nsbox.status").of(how, code)) -- 128+N if signal N ended it
