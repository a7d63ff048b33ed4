--- Seccomp filters for a container: nsbox's default profile, profiles in the
-- OCI format (the runtime spec's linux.seccomp) checked field by field, their
-- compiling into BPF programs (nsbox.scmp, libseccomp: required only when a
-- filter is asked for) and their loading (core.seccomp_load, no libseccomp).
--
-- A profile compiles into one program or two. libseccomp lets a rule without
-- arguments supersede every rule with arguments for the same call (an
-- unconditional ALLOW of ioctl swallows the EPERM of ioctl(TIOCSTI), silently),
-- so a conditional rule stricter than the unconditional one of its call goes
-- into a second program whose default is to allow; the kernel runs both and
-- keeps the strictest answer (on a tie of actions, the later program's errno).
-- The default profile is two programs for that reason (TIOCSTI, TIOCLINUX).
-- @module nsbox.seccomp
local core = require "nsbox.core"
local validate = require "nsbox.validate"

local bad = validate.bad

local M = {}

-- The ABIs a process of this build can make system calls in: the native one
-- first. A filter that leaves one out kills the caller of its calls.
local ARCHES = {
  x86_64 = { "SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32" },
  aarch64 = { "SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM" },
}
local ARCH_NAME = {
  SCMP_ARCH_X86_64 = "x86_64", SCMP_ARCH_X86 = "x86", SCMP_ARCH_X32 = "x32",
  SCMP_ARCH_AARCH64 = "aarch64", SCMP_ARCH_ARM = "arm",
}

-- What the default allows. The calls docker's default profile (moby
-- profiles/seccomp/default.json) and podman's (containers/common
-- pkg/seccomp/seccomp.json) both allow to a container of docker's default
-- capabilities (CHOWN, DAC_OVERRIDE, FSETID, FOWNER, MKNOD, NET_RAW, SETGID,
-- SETUID, SETFCAP, SETPCAP, NET_BIND_SERVICE, SYS_CHROOT, KILL, AUDIT_WRITE),
-- with the i386 ABI's own names (the *32, *64, *_time64 variants, socketcall,
-- ipc, mmap2, _llseek, ...) beside the x86_64 ones; plus:
--   chroot       docker's SYS_CHROOT is a default capability, and nsbox's
--   socket       unconditionally: AUDIT_WRITE is a default capability (docker's
--                test of the family, AF_VSOCK refused, is left out: a family of
--                0x100000028 passes it, and libseccomp cannot look into an i386
--                socketcall's arguments, so a refusal there refuses every socket)
--   fchmodat2, futex_waitv   new variants of allowed calls (fchmodat, futex)
-- Every call nsbox-init (csrc/init/nsbox-init.c) makes is here, and execveat,
-- by which nsbox execs it after loading the filter.
-- Left out, so ENOSYS (the default), and a program falls back as on an older
-- kernel: clone3 (glibc then uses clone, which the rule below checks; EPERM
-- would fail pthread_create), io_uring_* (docker dropped them too), landlock_*,
-- memfd_secret, process_mrelease, cachestat, map_shadow_stack, the lsm_* calls
-- and anything newer.
local ALLOWED = {
  "_llseek", "_newselect", "accept", "accept4", "access", "adjtimex", "alarm", "arch_prctl",
  "bind", "brk", "capget", "capset", "chdir", "chmod", "chown", "chown32", "chroot",
  "clock_adjtime", "clock_adjtime64", "clock_getres", "clock_getres_time64", "clock_gettime",
  "clock_gettime64", "clock_nanosleep", "clock_nanosleep_time64", "close", "close_range",
  "connect", "copy_file_range", "creat", "dup", "dup2", "dup3", "epoll_create", "epoll_create1",
  "epoll_ctl", "epoll_ctl_old", "epoll_pwait", "epoll_pwait2", "epoll_wait", "epoll_wait_old",
  "eventfd", "eventfd2", "execve", "execveat", "exit", "exit_group", "faccessat", "faccessat2",
  "fadvise64", "fadvise64_64", "fallocate", "fanotify_mark", "fchdir", "fchmod", "fchmodat",
  "fchmodat2", "fchown", "fchown32", "fchownat", "fcntl", "fcntl64", "fdatasync", "fgetxattr",
  "flistxattr", "flock", "fork", "fremovexattr", "fsetxattr", "fstat", "fstat64", "fstatat64",
  "fstatfs", "fstatfs64", "fsync", "ftruncate", "ftruncate64", "futex", "futex_time64",
  "futex_waitv", "futimesat", "get_robust_list", "get_thread_area", "getcpu", "getcwd",
  "getdents", "getdents64", "getegid", "getegid32", "geteuid", "geteuid32", "getgid", "getgid32",
  "getgroups", "getgroups32", "getitimer", "getpeername", "getpgid", "getpgrp", "getpid",
  "getppid", "getpriority", "getrandom", "getresgid", "getresgid32", "getresuid", "getresuid32",
  "getrlimit", "getrusage", "getsid", "getsockname", "getsockopt", "gettid", "gettimeofday",
  "getuid", "getuid32", "getxattr", "inotify_add_watch", "inotify_init", "inotify_init1",
  "inotify_rm_watch", "io_cancel", "io_destroy", "io_getevents", "io_setup", "io_submit", "ioctl",
  "ioprio_get", "ioprio_set", "ipc", "kill", "lchown", "lchown32", "lgetxattr", "link", "linkat",
  "listen", "listxattr", "llistxattr", "lremovexattr", "lseek", "lsetxattr", "lstat", "lstat64",
  "madvise", "memfd_create", "mincore", "mkdir", "mkdirat", "mknod", "mknodat", "mlock", "mlock2",
  "mlockall", "mmap", "mmap2", "modify_ldt", "mprotect", "mq_getsetattr", "mq_notify", "mq_open",
  "mq_timedreceive", "mq_timedreceive_time64", "mq_timedsend", "mq_timedsend_time64", "mq_unlink",
  "mremap", "msgctl", "msgget", "msgrcv", "msgsnd", "msync", "munlock", "munlockall", "munmap",
  "name_to_handle_at", "nanosleep", "newfstatat", "open", "openat", "openat2", "pause",
  "pidfd_open", "pidfd_send_signal", "pipe", "pipe2", "pkey_alloc", "pkey_free", "pkey_mprotect",
  "poll", "ppoll", "ppoll_time64", "prctl", "pread64", "preadv", "preadv2", "prlimit64",
  "pselect6", "pselect6_time64", "pwrite64", "pwritev", "pwritev2", "read", "readahead",
  "readlink", "readlinkat", "readv", "recv", "recvfrom", "recvmmsg", "recvmmsg_time64", "recvmsg",
  "remap_file_pages", "removexattr", "rename", "renameat", "renameat2", "restart_syscall", "rmdir",
  "rseq", "rt_sigaction", "rt_sigpending", "rt_sigprocmask", "rt_sigqueueinfo", "rt_sigreturn",
  "rt_sigsuspend", "rt_sigtimedwait", "rt_sigtimedwait_time64", "rt_tgsigqueueinfo",
  "sched_get_priority_max", "sched_get_priority_min", "sched_getaffinity", "sched_getattr",
  "sched_getparam", "sched_getscheduler", "sched_rr_get_interval", "sched_rr_get_interval_time64",
  "sched_setaffinity", "sched_setattr", "sched_setparam", "sched_setscheduler", "sched_yield",
  "seccomp", "select", "semctl", "semget", "semop", "semtimedop", "semtimedop_time64", "send",
  "sendfile", "sendfile64", "sendmmsg", "sendmsg", "sendto", "set_robust_list", "set_thread_area",
  "set_tid_address", "setfsgid", "setfsgid32", "setfsuid", "setfsuid32", "setgid", "setgid32",
  "setgroups", "setgroups32", "setitimer", "setpgid", "setpriority", "setregid", "setregid32",
  "setresgid", "setresgid32", "setresuid", "setresuid32", "setreuid", "setreuid32", "setrlimit",
  "setsid", "setsockopt", "setuid", "setuid32", "setxattr", "shmat", "shmctl", "shmdt", "shmget",
  "shutdown", "sigaltstack", "signalfd", "signalfd4", "sigreturn", "socket", "socketcall",
  "socketpair", "splice", "stat", "stat64", "statfs", "statfs64", "statx", "symlink", "symlinkat",
  "sync", "sync_file_range", "syncfs", "sysinfo", "tee", "tgkill", "time", "timer_create",
  "timer_delete", "timer_getoverrun", "timer_gettime", "timer_gettime64", "timer_settime",
  "timer_settime64", "timerfd_create", "timerfd_gettime", "timerfd_gettime64", "timerfd_settime",
  "timerfd_settime64", "times", "tkill", "truncate", "truncate64", "ugetrlimit", "umask", "uname",
  "unlink", "unlinkat", "utime", "utimensat", "utimensat_time64", "utimes", "vfork", "wait4",
  "waitid", "waitpid", "write", "writev",
}

-- Refused with EPERM: what either profile refuses a container without extra
-- capabilities, by name, so that a program sees "Operation not permitted" and
-- not a missing call:
--   the keyrings, which no namespace separates: keyctl, add_key, request_key
--   the kernel itself: modules, kexec, bpf, perf_event_open, userfaultfd,
--     open_by_handle_at (the "shocker" escape), lookup_dcookie, fanotify_init,
--     quotactl, swap, reboot, acct, the clocks, iopl/ioperm, syslog, vhangup
--   mounts and namespaces (docker: CAP_SYS_ADMIN only): mount, umount, umount2,
--     pivot_root, the new mount API, unshare, setns, sethostname,
--     setdomainname. nsbox has built the container by the time the filter
--     loads, so nothing of its own needs them (clone with a CLONE_NEW* flag
--     fails too: see the clone rule). chroot stays allowed, as in docker.
--   other processes (docker: CAP_SYS_PTRACE; podman refuses ptrace too):
--     ptrace, process_vm_readv/writev, process_madvise, kcmp, pidfd_getfd
--   NUMA placement (CAP_SYS_NICE): mbind, get/set_mempolicy, migrate/move_pages
--   what podman refuses besides: membarrier, vmsplice, io_pgetevents, nice,
--     the old i386 stat and uname calls, vm86, ustat, sysfs, uselib, nfsservctl
local REFUSED = {
  "acct", "add_key", "bdflush", "bpf", "clock_settime", "clock_settime64", "delete_module",
  "fanotify_init", "finit_module", "fsconfig", "fsmount", "fsopen", "fspick", "get_mempolicy",
  "init_module", "io_pgetevents", "io_pgetevents_time64", "ioperm", "iopl", "kcmp",
  "kexec_file_load", "kexec_load", "keyctl", "lookup_dcookie", "mbind", "membarrier",
  "migrate_pages", "mount", "mount_setattr", "move_mount", "move_pages", "nfsservctl", "nice",
  "oldfstat", "oldlstat", "oldolduname", "oldstat", "olduname", "open_by_handle_at", "open_tree",
  "perf_event_open", "pidfd_getfd", "pivot_root", "process_madvise", "process_vm_readv",
  "process_vm_writev", "ptrace", "quotactl", "quotactl_fd", "reboot", "request_key",
  "set_mempolicy", "setdomainname", "sethostname", "setns", "settimeofday", "stime", "swapoff",
  "swapon", "sysfs", "syslog", "umount", "umount2", "unshare", "uselib", "userfaultfd", "ustat",
  "vhangup", "vm86", "vm86old", "vmsplice",
}

local TIOCSTI, TIOCLINUX = 0x5412, 0x541C
-- CLONE_NEWNS, NEWCGROUP, NEWUTS, NEWIPC, NEWUSER, NEWPID, NEWNET
local CLONE_NEW_ANY = 0x7E020000

-- The rules of the default profile after the allowed list.
local function default_rules()
  local rules = {}
  -- personality: only the values docker allows (Linux, Linux32, UNAME26 and
  -- both, and the query 0xffffffff): no ADDR_NO_RANDOMIZE, no READ_IMPLIES_EXEC
  for _, v in ipairs { 0, 8, 0x20000, 0x20008, 0xffffffff } do
    rules[#rules + 1] = { names = { "personality" }, action = "SCMP_ACT_ALLOW",
                          args = { { index = 0, value = v, op = "SCMP_CMP_EQ" } } }
  end
  -- clone without a namespace flag (docker's rule); with one, ENOSYS
  rules[#rules + 1] = { names = { "clone" }, action = "SCMP_ACT_ALLOW",
                        args = { { index = 0, value = CLONE_NEW_ANY, valueTwo = 0, op = "SCMP_CMP_MASKED_EQ" } } }
  -- ENOSYS, said outright: it must stay ENOSYS (glibc's fallback to clone)
  -- whatever defaultErrnoRet a copy of this profile sets
  rules[#rules + 1] = { names = { "clone3" }, action = "SCMP_ACT_ERRNO", errnoRet = 38 }
  rules[#rules + 1] = { names = REFUSED, action = "SCMP_ACT_ERRNO", errnoRet = 1 }
  -- Pushing input into a terminal (TIOCSTI: CVE-2017-5226, a container's
  -- command typing into the caller's shell) and TIOCLINUX (the same through
  -- the console's selection). The request is compared in its low 32 bits: the
  -- kernel takes an unsigned int, so 0x100005412 is TIOCSTI too (CVE-2019-10063).
  for _, req in ipairs { TIOCSTI, TIOCLINUX } do
    rules[#rules + 1] = { names = { "ioctl" }, action = "SCMP_ACT_ERRNO", errnoRet = 1,
                          args = { { index = 1, value = 0xffffffff, valueTwo = req, op = "SCMP_CMP_MASKED_EQ" } } }
  end
  return rules
end

local function copy(v)
  if type(v) ~= "table" then return v end
  local t = {}
  for k, x in pairs(v) do t[k] = copy(x) end
  return t
end

--- nsbox's default profile, in the OCI format (a fresh copy each call, free to
-- change): an allowlist at least as strict as docker's and podman's default
-- profiles. Calls it does not name fail with ENOSYS (defaultErrnoRet 38), as a
-- call this kernel lacks would, so that a program falls back (glibc's clone3
-- to clone); those it refuses by name fail with EPERM (errnoRet 1), and so
-- does ioctl(TIOCSTI) and ioctl(TIOCLINUX). The comments in this file say what
-- is allowed and refused, and why.
-- @treturn table { defaultAction =, defaultErrnoRet =, architectures =, syscalls = }
function M.default()
  local syscalls = { { names = copy(ALLOWED), action = "SCMP_ACT_ALLOW" } }
  for _, r in ipairs(default_rules()) do syscalls[#syscalls + 1] = copy(r) end
  return {
    defaultAction = "SCMP_ACT_ERRNO",
    defaultErrnoRet = 38,
    architectures = copy(ARCHES[core.seccomp_arch] or {}),
    syscalls = syscalls,
  }
end

-- ---- validation: OCI format to nsbox.scmp's -------------------------------

-- The OCI actions, their names in nsbox.scmp, and the kernel's order of
-- precedence (lower wins when filters stack).
local ACTIONS = {
  SCMP_ACT_KILL_PROCESS = { "kill_process", 0 }, SCMP_ACT_KILL = { "kill", 1 },
  SCMP_ACT_KILL_THREAD = { "kill_thread", 1 }, SCMP_ACT_TRAP = { "trap", 2 },
  SCMP_ACT_ERRNO = { "errno", 3 }, SCMP_ACT_TRACE = { "trace", 4 }, SCMP_ACT_LOG = { "log", 5 },
  SCMP_ACT_ALLOW = { "allow", 6 },
}
local RANK = {}
for _, a in pairs(ACTIONS) do RANK[a[1]] = a[2] end
local WITH_ERRNO = { errno = true, trace = true }

local OPS = {
  SCMP_CMP_NE = "ne", SCMP_CMP_LT = "lt", SCMP_CMP_LE = "le", SCMP_CMP_EQ = "eq",
  SCMP_CMP_GE = "ge", SCMP_CMP_GT = "gt", SCMP_CMP_MASKED_EQ = "masked_eq",
}

local PROFILE_KEYS = { defaultAction = true, defaultErrnoRet = true, architectures = true, syscalls = true,
                       flags = true, listenerPath = true, listenerMetadata = true }
local RULE_KEYS = { names = true, action = true, errnoRet = true, args = true }
local ARG_KEYS = { index = true, value = true, valueTwo = true, op = true }

local function keys(field, t, known)
  local unknown = {}
  for k in pairs(t) do
    if not known[k] then unknown[#unknown + 1] = tostring(k) end
  end
  table.sort(unknown)
  if unknown[1] then bad(field, "unknown key '%s'", unknown[1]) end
end

-- A list (a table with 1..n and nothing else).
local function list(field, v)
  if type(v) ~= "table" then bad(field, "array expected, got %s", type(v)) end
  local n = 0
  for _ in pairs(v) do n = n + 1 end
  if n ~= #v then bad(field, "array expected, got a table with other keys") end
  return v
end

local function action(field, v)
  if type(v) ~= "string" then bad(field, "action name expected, got %s", type(v)) end
  if v == "SCMP_ACT_NOTIFY" then bad(field, "SCMP_ACT_NOTIFY is not supported (no seccomp agent)") end
  local a = ACTIONS[v]
  if not a then bad(field, "unknown action '%s'", v) end
  return a[1]
end

local function errno_ret(field, v, act)
  if v == nil then return WITH_ERRNO[act] and 1 or nil end -- EPERM, as the runtime spec says
  if not WITH_ERRNO[act] then bad(field, "only SCMP_ACT_ERRNO and SCMP_ACT_TRACE take one") end
  local n = math.type(v) and math.tointeger(v)
  if not n or n < 1 or n > 4095 then bad(field, "an errno in 1..4095 expected, got %s", tostring(v)) end
  return n
end

-- A 64-bit argument value: an integer (the unsigned ones above 2^63 as Lua's
-- negative integers of the same bits).
local function value(field, v)
  local n = math.type(v) and math.tointeger(v)
  if not n then bad(field, "an integer expected, got %s", type(v) == "number" and tostring(v) or type(v)) end
  return n
end

local function args(field, v)
  local out, seen = {}, {}
  if #list(field, v) > 6 then bad(field, "at most 6 comparisons, got %d", #v) end
  for j, a in ipairs(v) do
    local f = string.format("%s[%d]", field, j)
    if type(a) ~= "table" then bad(f, "{ index =, value =, op = } expected, got %s", type(a)) end
    keys(f, a, ARG_KEYS)
    local index = math.type(a.index) and math.tointeger(a.index)
    if not index or index < 0 or index > 5 then bad(f .. ".index", "an argument number in 0..5 expected") end
    if seen[index] then bad(f .. ".index", "argument %d compared twice in one rule (libseccomp takes one)", index) end
    seen[index] = true
    if type(a.op) ~= "string" or not OPS[a.op] then
      bad(f .. ".op", "unknown comparison '%s' (SCMP_CMP_NE, _LT, _LE, _EQ, _GE, _GT, _MASKED_EQ)", tostring(a.op))
    end
    out[j] = { index = index, op = OPS[a.op], value = value(f .. ".value", a.value),
               value_two = a.valueTwo == nil and 0 or value(f .. ".valueTwo", a.valueTwo) }
  end
  return out
end

local function architectures(field, v)
  local native = ARCHES[core.seccomp_arch] or {}
  local ok = {}
  for _, a in ipairs(native) do ok[a] = true end
  local out = {}
  for i, a in ipairs(list(field, v)) do
    local f = string.format("%s[%d]", field, i)
    if type(a) ~= "string" then bad(f, "architecture name expected, got %s", type(a)) end
    if not ok[a] then
      bad(f, "'%s' is not an architecture of this %s build (%s)", a, core.seccomp_arch, table.concat(native, ", "))
    end
    out[i] = ARCH_NAME[a]
  end
  return out
end

-- A copy of v without the JSON nulls lua-cjson decoded (`"args": null`, as
-- some generated profiles have): a field set to null is a field left out.
local function strip(v, null)
  if type(v) ~= "table" then return v end
  local t = {}
  for k, x in pairs(v) do
    if x ~= null then t[k] = strip(x, null) end
  end
  return t
end

-- The profile as nsbox.scmp's table: one rule per entry of syscalls, each
-- with `where`, the field it came from, and `given`, its action's OCI name.
local function normalize(spec)
  if type(spec) ~= "table" then bad("seccomp", "a profile table, true or false expected, got %s", type(spec)) end
  local cjson = package.loaded.cjson -- only a profile it decoded can hold its nulls
  if cjson and cjson.null then spec = strip(spec, cjson.null) end
  keys("seccomp", spec, PROFILE_KEYS)
  if spec.listenerPath ~= nil or spec.listenerMetadata ~= nil then
    bad(spec.listenerPath ~= nil and "seccomp.listenerPath" or "seccomp.listenerMetadata",
        "not supported (SCMP_ACT_NOTIFY needs a seccomp agent)")
  end
  if spec.flags ~= nil and #list("seccomp.flags", spec.flags) > 0 then
    bad("seccomp.flags", "not supported ('%s')", tostring(spec.flags[1]))
  end
  if spec.defaultAction == nil then bad("seccomp.defaultAction", "missing") end
  local def = action("seccomp.defaultAction", spec.defaultAction)
  local p = {
    default_action = def,
    default_errno = errno_ret("seccomp.defaultErrnoRet", spec.defaultErrnoRet, def),
    architectures = spec.architectures == nil and {} or architectures("seccomp.architectures", spec.architectures),
    rules = {},
  }
  for i, r in ipairs(spec.syscalls == nil and {} or list("seccomp.syscalls", spec.syscalls)) do
    local f = string.format("seccomp.syscalls[%d]", i)
    if type(r) ~= "table" then bad(f, "{ names =, action = } expected, got %s", type(r)) end
    keys(f, r, RULE_KEYS)
    if r.names == nil then bad(f .. ".names", "missing") end
    local names = list(f .. ".names", r.names)
    if #names == 0 then bad(f .. ".names", "empty") end
    for k, n in ipairs(names) do
      if type(n) ~= "string" or not n:match("^[%w_]+$") then
        bad(string.format("%s.names[%d]", f, k), "a system call name expected, got %s",
            type(n) == "string" and "'" .. n .. "'" or type(n))
      end
    end
    if r.action == nil then bad(f .. ".action", "missing") end
    local act = action(f .. ".action", r.action)
    p.rules[i] = { names = copy(names), action = act, errno = errno_ret(f .. ".errnoRet", r.errnoRet, act),
                   args = r.args == nil and {} or args(f .. ".args", r.args), where = f, given = r.action }
  end
  return p
end

-- ---- the programs -----------------------------------------------------------

local function same(a, b) return a.action == b.action and a.errno == b.errno end

-- The normalized profile p as the profiles of its programs: the main one, and
-- (if any) the conditional rules an unconditional rule of their call would
-- supersede, under a default of allow. Refuses a rule that would never apply.
local function plan(p)
  local plain = {} -- call name: the unconditional rule for it
  local default = { action = p.default_action, errno = p.default_errno }
  for _, r in ipairs(p.rules) do
    if #r.args == 0 and not same(r, default) then -- one that is the default changes nothing
      for _, n in ipairs(r.names) do
        local o = plain[n]
        if o and not same(o, r) then
          bad(r.where, "'%s' has an unconditional rule with another action already (%s)", n, o.where)
        end
        plain[n] = o or r
      end
    end
  end
  local main, extra = {}, {}
  local function put(into, r, names)
    if names[1] then
      into[#into + 1] = { names = names, action = r.action, errno = r.errno, args = r.args, where = r.where }
    end
  end
  for _, r in ipairs(p.rules) do
    local here, there = {}, {}
    for _, n in ipairs(r.names) do
      local o = #r.args > 0 and plain[n]
      if not o then
        if not same(r, default) then here[#here + 1] = n end -- libseccomp refuses one that is the default
      elseif RANK[r.action] > RANK[o.action] then
        bad(r.where, "the rule for '%s' would never apply: %s gives it %s unconditionally", n, o.where, o.given)
      elseif not same(o, r) then
        there[#there + 1] = n
      end -- (the same as o: nothing to add)
    end
    put(main, r, here)
    put(extra, r, there)
  end
  local progs = { { default_action = p.default_action, default_errno = p.default_errno,
                    architectures = p.architectures, rules = main } }
  if extra[1] then
    progs[2] = { default_action = "allow", architectures = p.architectures, rules = extra }
  end
  return progs
end

local check = validate.validator(function(spec) return plan(normalize(spec)) end)

--- Check a profile without compiling it (nor loading libseccomp).
-- @param spec nil or true (the default profile), false (no filter) or an OCI-format profile table
-- @return true, or nil and a message naming the field: "seccomp.syscalls[2].action: unknown action 'SCMP_ACT_FOO'"
function M.check(spec)
  if spec == nil or type(spec) == "boolean" then return true end
  local ok, err = check(spec)
  if not ok then return nil, err end
  return true
end

-- Compiled programs: the default's under "default", a table's under itself.
local cache = setmetatable({}, { __mode = "k" })

-- A canonical text of a profile, its keys sorted: what tells the default
-- profile compiled at build time (nsbox.seccomp_default) from a changed one.
local function canon(v, out)
  if type(v) ~= "table" then
    out[#out + 1] = type(v) == "string" and string.format("%q", v) or tostring(v)
    return out
  end
  out[#out + 1] = "{"
  for _, x in ipairs(v) do
    canon(x, out)
    out[#out + 1] = ","
  end
  local named = {}
  for k in pairs(v) do
    if math.type(k) ~= "integer" or k < 1 or k > #v then named[#named + 1] = k end
  end
  table.sort(named, function(a, b) return tostring(a) < tostring(b) end)
  for _, k in ipairs(named) do
    canon(k, out)
    out[#out + 1] = "="
    canon(v[k], out)
    out[#out + 1] = ","
  end
  out[#out + 1] = "}"
  return out
end

local function fingerprint(profile)
  return table.concat(canon(profile, {}))
end

-- The default's programs as `make` compiled them (lua/nsbox/seccomp_default.lua,
-- installed with the modules), if they are of this very profile: a process
-- then loads no libseccomp and compiles nothing (about 25 ms, mostly x32's).
local function prebuilt()
  local ok, pre = pcall(require, "nsbox.seccomp_default")
  if ok and type(pre) == "table" and pre.key == fingerprint(M.default()) then return pre.programs end
end

--- Compile a profile into the BPF programs to load. The default profile is
-- compiled once per process, a profile table once per table (a change to it
-- after its first compile is not seen). The result is shared: do not change it.
-- @param spec nil or true (the default profile), false (no filter) or an OCI-format profile table
-- @return false for no filter; or a list of one or two programs (strings) to
-- load in order and the list of the call names libseccomp did not know and
-- skipped (calls of a newer kernel: the default action covers them); or nil
-- and a message (naming the field of a profile that is refused)
function M.compile(spec, fresh)
  if spec == false then return false end
  local key = (spec == nil or spec == true) and "default" or spec
  local hit = cache[key]
  if hit then return hit[1], hit[2] end
  local pre = key == "default" and not fresh and prebuilt()
  if pre then
    cache[key] = { pre, {} }
    return pre, {}
  end
  local progs, err = check(key == "default" and M.default() or spec)
  if not progs then return nil, err end
  local found, scmp = pcall(require, "nsbox.scmp") -- libseccomp, for those who ask for a filter only
  if not found then return nil, "seccomp: nsbox.scmp (libseccomp) cannot be loaded: " .. tostring(scmp) end
  local out, skipped, seen = {}, {}, {}
  for i, p in ipairs(progs) do
    local bpf, s, errno = scmp.compile(p)
    if not bpf then return nil, s, errno end
    out[i] = bpf
    for _, n in ipairs(s) do
      if not seen[n] then seen[n], skipped[#skipped + 1] = true, n end
    end
  end
  cache[key] = { out, skipped }
  return out, skipped
end

--- The source of nsbox.seccomp_default: the default profile compiled now, and
-- its fingerprint (`make` writes it; Makefile).
function M.generate()
  local progs, skipped = assert(M.compile(nil, true))
  local out = { "-- Generated by make from nsbox.seccomp's default profile (libseccomp): do not edit.",
                string.format("return { key = %q, skipped = %q, programs = {", fingerprint(M.default()),
                  table.concat(skipped, " ")) }
  for _, p in ipairs(progs) do out[#out + 1] = string.format("  %q,", p) end
  out[#out + 1] = "} }\n"
  return table.concat(out, "\n")
end

--- Load what compile returned into this process (each program in order): for
-- good, across fork and exec. A process without no_new_privs needs
-- CAP_SYS_ADMIN in its user namespace. After a failure the programs before
-- the one that failed stay loaded: the caller should not go on.
-- @param compiled the list of programs, or false (nothing to load)
-- @return true, or nil, message, errno
function M.load(compiled)
  if compiled == false then return true end
  for _, bpf in ipairs(compiled) do
    local ok, err, errno = core.seccomp_load(bpf)
    if not ok then return nil, err, errno end
  end
  return true
end

return M
