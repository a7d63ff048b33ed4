-- Issue 13 (seccomp): the default profile nsbox puts on a container, an allowlist at
-- least as strict as docker's and podman's, OCI-format profiles of one's own checked
-- field by field, and `seccomp = false`. spec/support/seccomp_probe.c is the probe: it
-- makes each call with raw syscall(2) (int $0x80 for the i386 ABI, the x32 bit for
-- x32) and prints the errno it got. The filter is shown at work twice: loaded by a
-- lua5.4 that then execs the probe (nsbox.seccomp alone), and on a container's
-- command (nsbox.container { seccomp = }). Calls that fail in a user namespace for
-- reasons of their own (kexec_load, init_module, bpf, perf_event_open) are shown
-- refused by the filter through an errno only it gives: a copy of the default
-- profile whose rules say 133 (EHWPOISON), 134 and 132 instead of EPERM and ENOSYS.
local H = require "spec.support.helpers"
local nsbox, core = H.nsbox, H.core
local seccomp = require "nsbox.seccomp"
local json = require "cjson"
local q = H.sh_quote

local EPERM, ENOTTY, ENOSYS = 1, 25, 38
local REFUSED_MARK, DEFAULT_MARK, IOCTL_MARK = 133, 134, 132

local function read(path) return H.read_file(path) or "" end

-- "Name:\tvalue" of a /proc status text, as a number.
local function field(text, name)
  return tonumber(text:match(name .. ":%s*(%d+)"))
end

-- The seccomp filters this process runs under already (none, unless a runtime
-- put this machine's shell in one): the container's come on top.
local BASE_FILTERS = field(read("/proc/self/status"), "Seccomp_filters") or 0

local X86_64 = core.seccomp_arch == "x86_64"

-- The probe, built static once into a directory anyone may read (mounted at
-- /probe in a container), and the lua5.4 script that loads a filter and execs it.
local dir
local function probes()
  if dir then return dir end
  dir = H.tmpdir("seccomp")
  assert(os.execute(string.format("cc -static -O2 -std=c11 -Wall -Wextra -o %s/probe %s/spec/support/seccomp_probe.c",
    q(dir), q(H.root))))
  local f = assert(io.open(dir .. "/load.lua", "w"))
  -- arg[1]: "default", "false" or a JSON profile's path; arg[2]: the program to exec
  f:write([[
local seccomp, core = require "nsbox.seccomp", require "nsbox.core"
local spec = arg[1]
if spec == "default" then spec = nil
elseif spec == "false" then spec = false
else
  local f = assert(io.open(spec))
  spec = require("cjson").decode(f:read("a"))
  f:close()
end
local progs, err = seccomp.compile(spec) -- false: no filter
assert(progs ~= nil, err)
-- root loads it without no_new_privs (CAP_SYS_ADMIN), as a container's set-up does
if core.geteuid() ~= 0 then assert(core.prctl(core.PR_SET_NO_NEW_PRIVS, 1)) end
assert(seccomp.load(progs))
local _, err = core.execve(arg[2], { arg[2] })
error(err)
]])
  f:close()
  return dir
end

-- The probe's report: { NAME = errno, ... } and the Seccomp lines as seccomp, filters.
local function parse(out)
  local t = {}
  for name, e in out:gmatch("([%w_]+) (%d+)\n") do t[name] = tonumber(e) end
  t.seccomp, t.filters = field(out, "Seccomp"), field(out, "Seccomp_filters")
  return t
end

-- A profile as a JSON file (as the CLI reads one: every number a float once decoded).
local function profile_file(p)
  local path = H.tmpname("profile")
  local f = assert(io.open(path, "w"))
  f:write(json.encode(p))
  f:close()
  return path
end

-- The probe run by a lua5.4 that loaded spec's filter ("default", "false" or a profile table).
local function filtered(spec)
  local d = probes()
  local arg = type(spec) == "table" and profile_file(spec) or spec
  local ok, out = H.run(string.format("%s lua5.4 %s %s %s/probe", H.LUA_ENV, q(d .. "/load.lua"), q(arg), q(d)))
  assert(ok, out)
  return parse(out), out
end

-- The rule of profile p that refuses keyctl, the ioctl rules, and the clone rule.
local function rule(p, pred)
  for i, r in ipairs(p.syscalls) do
    if pred(r) then return r, i end
  end
end
local function refused(p)
  return rule(p, function(r)
    for _, n in ipairs(r.names) do if n == "keyctl" then return true end end
  end)
end
local function each_ioctl_rule(p, fn)
  for _, r in ipairs(p.syscalls) do
    if r.names[1] == "ioctl" and r.args then fn(r) end
  end
end

-- The default profile with the errnos only its rules give: the refused calls
-- 133, the ioctl requests 132, every call it does not name 134.
local function marked()
  local p = seccomp.default()
  refused(p).errnoRet = REFUSED_MARK
  each_ioctl_rule(p, function(r) r.errnoRet = IOCTL_MARK end)
  p.defaultErrnoRet = DEFAULT_MARK
  return p
end

-- The names of profile p's unconditional ALLOW rules, as a set.
local function allowed(p)
  local set = {}
  for _, r in ipairs(p.syscalls) do
    if r.action == "SCMP_ACT_ALLOW" and not r.args then
      for _, n in ipairs(r.names) do set[n] = true end
    end
  end
  return set
end

-- What the probe sees under the default profile (in the errnos of marked() when m).
local function expected(m)
  local refused_e, default_e, ioctl_e = EPERM, ENOSYS, EPERM
  if m then refused_e, default_e, ioctl_e = REFUSED_MARK, DEFAULT_MARK, IOCTL_MARK end
  local t = {
    getpid = 0, fork = 0, thread = 0, personality_query = 0, i386_getpid = 0,
    unknown_1000 = default_e, clone_newuts = default_e, personality_no_randomize = default_e,
    clone3 = ENOSYS, -- said outright, whatever the default
    ioctl_tiocsti = ioctl_e, ioctl_tiocsti_high = ioctl_e, ioctl_tioclinux = ioctl_e, i386_ioctl_tiocsti = ioctl_e,
    ioctl_tcgets = ENOTTY, i386_ioctl_tcgets = ENOTTY, -- a pipe: the kernel's answer, not the filter's
    i386_keyctl = refused_e, x32_keyctl = refused_e,
  }
  for _, n in ipairs { "keyctl", "add_key", "request_key", "bpf", "perf_event_open", "userfaultfd", "kexec_load",
                       "open_by_handle_at", "init_module", "finit_module", "mount", "unshare", "ptrace" } do
    t[n] = refused_e
  end
  return t
end

-- The report r matches expected(m), x32_getpid aside: this kernel may lack the x32
-- ABI (Debian's leaves it off), so it is the pid or the kernel's ENOSYS, never the filter's.
local function check_report(r, m, out)
  for name, e in pairs(expected(m)) do
    assert.equal(e, r[name], name .. " in:\n" .. out)
  end
  assert.is_true(r.x32_getpid == 0 or r.x32_getpid == ENOSYS, "x32_getpid: " .. tostring(r.x32_getpid))
  assert.equal(2, r.seccomp, out)
  assert.equal(BASE_FILTERS + 2, r.filters, out) -- the main program and the ioctl one
end

describe("the default profile", function()
  it("is an OCI profile, a fresh copy each call: ENOSYS for what it does not name", function()
    local a, b = seccomp.default(), seccomp.default()
    assert.are_not.equal(a, b)
    assert.same(a, b)
    a.syscalls[1].names[1] = "changed"
    a.defaultErrnoRet = 1
    assert.same(b, seccomp.default())
    assert.equal("SCMP_ACT_ERRNO", b.defaultAction)
    assert.equal(ENOSYS, b.defaultErrnoRet)
    if X86_64 then assert.same({ "SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32" }, b.architectures) end
    assert.is_true(seccomp.check(b))
  end)

  it("allows every system call nsbox-init makes, and execveat, by which nsbox execs it", function()
    local p = seccomp.default()
    local set, used = allowed(p), { execveat = true }
    for n in read(H.root .. "/csrc/init/nsbox-init.c"):gmatch("__NR_([%w_]+)") do used[n] = true end
    assert.is_true(used.wait4 and used.ppoll and used.clone, "the names of nsbox-init.c's calls")
    -- clone: allowed with the flags nsbox-init gives it (SIGCHLD, no CLONE_NEW*)
    local clone = rule(p, function(r) return r.names[1] == "clone" end)
    local a = clone.args[1]
    assert.equal("SCMP_CMP_MASKED_EQ", a.op)
    assert.equal(0, a.index)
    assert.equal(a.valueTwo or 0, 17 & a.value) -- SIGCHLD
    used.clone = nil
    for n in pairs(used) do assert.is_true(set[n], n .. " is not allowed") end
  end)

  it("refuses the calls docker refuses without extra capabilities with EPERM, by name", function()
    local p = seccomp.default()
    local r = refused(p)
    assert.equal("SCMP_ACT_ERRNO", r.action)
    assert.equal(EPERM, r.errnoRet)
    local names, set = {}, allowed(p)
    for _, n in ipairs(r.names) do names[n] = true end
    for _, n in ipairs { "keyctl", "add_key", "request_key", "bpf", "perf_event_open", "userfaultfd", "kexec_load",
                         "kexec_file_load", "open_by_handle_at", "init_module", "finit_module", "delete_module",
                         "mount", "umount2", "pivot_root", "unshare", "setns", "ptrace", "reboot", "swapon",
                         "syslog", "acct", "settimeofday", "clock_settime", "fsopen", "move_mount", "open_tree" } do
      assert.is_true(names[n], n .. " is not refused")
      assert.is_nil(set[n], n .. " is allowed too")
    end
    assert.is_true(set.chroot, "chroot: docker's default capabilities have SYS_CHROOT")
    assert.is_nil(set.clone3, "clone3 must get ENOSYS (glibc falls back to clone)")
    local c3 = rule(p, function(x) return x.names[1] == "clone3" end)
    assert.equal(ENOSYS, c3.errnoRet)
  end)

  it("refuses ioctl TIOCSTI and TIOCLINUX with EPERM, the request compared in its low 32 bits", function()
    local p, seen = seccomp.default(), {}
    each_ioctl_rule(p, function(r)
      assert.equal("SCMP_ACT_ERRNO", r.action)
      assert.equal(EPERM, r.errnoRet)
      assert.equal(1, #r.args)
      local a = r.args[1]
      assert.same({ 1, "SCMP_CMP_MASKED_EQ", 0xffffffff }, { a.index, a.op, a.value })
      seen[a.valueTwo] = true
    end)
    assert.same({ [0x5412] = true, [0x541C] = true }, seen)
    assert.is_true(allowed(p).ioctl)
  end)

  it("compiles once per process into two programs (the ioctl rules stacked on the allowlist)", function()
    local progs, skipped = assert(seccomp.compile())
    assert.equal(2, #progs)
    for _, bpf in ipairs(progs) do
      assert.equal("string", type(bpf))
      assert.equal(0, #bpf % 8)
      assert.is_true(#bpf // 8 <= 4096)
    end
    assert.same({}, skipped) -- libseccomp 2.5.4 knows every name of it
    local again = seccomp.compile(true)
    assert.equal(progs, again)
    assert.equal(progs, seccomp.compile(nil))
    assert.is_false(seccomp.compile(false))
  end)

  it("loads libseccomp only in a process that asks for a profile of its own: the default is built by make", function()
    local code = [[
      local seccomp = require "nsbox.seccomp"
      local function loaded()
        return package.loaded["nsbox.scmp"] ~= nil, (io.open("/proc/self/maps"):read("a"):find("libseccomp") ~= nil)
      end
      print(seccomp.compile(false), seccomp.check(seccomp.default()), loaded())
      local pre = assert(seccomp.compile())
      print(loaded())
      local fresh = assert(seccomp.compile(seccomp.default()))
      print(loaded())
      print(#pre == #fresh and pre[1] == fresh[1] and pre[2] == fresh[2])]]
    local ok, out = H.run(H.LUA_ENV .. " lua5.4 -e " .. q(code))
    assert(ok, out)
    -- the last line: what make built is what libseccomp makes of the default now
    assert.equal("false\ttrue\tfalse\tfalse\nfalse\tfalse\ntrue\ttrue\ntrue\n", out)
  end)

  it("compiles the default itself where what make built is of another profile", function()
    local code = [[
      package.preload["nsbox.seccomp_default"] = function() return { key = "another", programs = { "x" } } end
      local seccomp = require "nsbox.seccomp"
      local progs = assert(seccomp.compile())
      print(#progs, package.loaded["nsbox.scmp"] ~= nil)]]
    local ok, out = H.run(H.LUA_ENV .. " lua5.4 -e " .. q(code))
    assert(ok, out)
    assert.equal("2\ttrue\n", out)
  end)
end)

describe("a profile of one's own", function()
  local function base()
    return { defaultAction = "SCMP_ACT_ERRNO", syscalls = { { names = { "getpid" }, action = "SCMP_ACT_ALLOW" } } }
  end

  it("is refused with a message that names the field", function()
    local function with(fn)
      local p = seccomp.default()
      fn(p)
      return p
    end
    local arm = X86_64 and "'SCMP_ARCH_ARM' is not an architecture of this x86_64 build " ..
      "(SCMP_ARCH_X86_64, SCMP_ARCH_X86, SCMP_ARCH_X32)"
    local cases = {
      { with(function(p) p.syscalls[2].action = "SCMP_ACT_FOO" end),
        "seccomp.syscalls[2].action: unknown action 'SCMP_ACT_FOO'" },
      { with(function(p) p.defaultAction = "SCMP_ACT_FOO" end), "seccomp.defaultAction: unknown action 'SCMP_ACT_FOO'" },
      { with(function(p) p.defaultAction = nil end), "seccomp.defaultAction: missing" },
      { with(function(p) p.syscalls[3].action = "SCMP_ACT_NOTIFY" end),
        "seccomp.syscalls[3].action: SCMP_ACT_NOTIFY is not supported (no seccomp agent)" },
      { with(function(p) p.listenerPath = "/run/agent.sock" end),
        "seccomp.listenerPath: not supported (SCMP_ACT_NOTIFY needs a seccomp agent)" },
      { with(function(p) p.flags = { "SECCOMP_FILTER_FLAG_LOG" } end),
        "seccomp.flags: not supported ('SECCOMP_FILTER_FLAG_LOG')" },
      { with(function(p) p.archMap = {} end), "seccomp: unknown key 'archMap'" },
      { with(function(p) p.defaultErrnoRet = 4096 end),
        "seccomp.defaultErrnoRet: an errno in 1..4095 expected, got 4096" },
      { with(function(p) refused(p).errnoRet = 0 end),
        "seccomp.syscalls[" .. select(2, refused(seccomp.default())) .. "].errnoRet: an errno in 1..4095 expected, got 0" },
      { with(function(p) p.syscalls[1].errnoRet = 1 end),
        "seccomp.syscalls[1].errnoRet: only SCMP_ACT_ERRNO and SCMP_ACT_TRACE take one" },
      { with(function(p) p.syscalls[1].includes = { caps = { "CAP_SYS_ADMIN" } } end),
        "seccomp.syscalls[1]: unknown key 'includes'" },
      { with(function(p) p.syscalls[1].names = {} end), "seccomp.syscalls[1].names: empty" },
      { with(function(p) p.syscalls[1].names[2] = 5 end),
        "seccomp.syscalls[1].names[2]: a system call name expected, got number" },
      { with(function(p) p.syscalls[2].args[1].index = 6 end),
        "seccomp.syscalls[2].args[1].index: an argument number in 0..5 expected" },
      { with(function(p) p.syscalls[2].args[1].op = "SCMP_CMP_FOO" end),
        "seccomp.syscalls[2].args[1].op: unknown comparison 'SCMP_CMP_FOO' (SCMP_CMP_NE, _LT, _LE, _EQ, _GE, _GT, _MASKED_EQ)" },
      { with(function(p) p.syscalls[2].args[1].value = "x" end),
        "seccomp.syscalls[2].args[1].value: an integer expected, got string" },
      { with(function(p) p.syscalls[2].args[2] = { index = 0, value = 1, op = "SCMP_CMP_EQ" } end),
        "seccomp.syscalls[2].args[2].index: argument 0 compared twice in one rule (libseccomp takes one)" },
      { with(function(p) p.syscalls[2].args[1].valueTwo = 0.5 end),
        "seccomp.syscalls[2].args[1].valueTwo: an integer expected, got 0.5" },
      { 42, "seccomp: a profile table, true or false expected, got number" },
      { with(function(p) p.syscalls = { { names = { "getpid" }, action = "SCMP_ACT_ERRNO", errnoRet = 5 },
                                        { names = { "getpid" }, action = "SCMP_ACT_ALLOW",
                                          args = { { index = 0, value = 0, op = "SCMP_CMP_EQ" } } } } end),
        "seccomp.syscalls[2]: the rule for 'getpid' would never apply: seccomp.syscalls[1] gives it " ..
          "SCMP_ACT_ERRNO unconditionally" },
      { with(function(p) p.syscalls = { { names = { "getpid" }, action = "SCMP_ACT_ALLOW" },
                                        { names = { "getppid", "getpid" }, action = "SCMP_ACT_KILL" } } end),
        "seccomp.syscalls[2]: 'getpid' has an unconditional rule with another action already (seccomp.syscalls[1])" },
    }
    if arm then
      cases[#cases + 1] = { with(function(p) p.architectures[2] = "SCMP_ARCH_ARM" end),
                            "seccomp.architectures[2]: " .. arm }
    end
    for i, c in ipairs(cases) do
      local ok, err = seccomp.compile(c[1])
      assert.is_nil(ok, "case " .. i)
      assert.equal(c[2], err, "case " .. i)
      local cok, cerr = seccomp.check(c[1])
      assert.is_nil(cok, "check, case " .. i)
      assert.equal(c[2], cerr, "check, case " .. i)
    end
  end)

  it("takes a profile decoded from JSON (numbers as floats, null for a field left out) and 64-bit values", function()
    local p = json.decode([[{ "defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 38, "architectures": null,
      "syscalls": [ { "names": [ "getpid" ], "action": "SCMP_ACT_ALLOW", "args": null, "errnoRet": null },
                    { "names": [ "write" ], "action": "SCMP_ACT_ALLOW",
                      "args": [ { "index": 0, "value": 1, "valueTwo": null, "op": "SCMP_CMP_EQ" } ] } ] }]])
    assert.equal("float", math.type(p.defaultErrnoRet))
    local progs = assert(seccomp.compile(p))
    assert.equal(1, #progs) -- nothing stricter than an unconditional rule: one program
    p = base()
    p.syscalls[2] = { names = { "write" }, action = "SCMP_ACT_ALLOW",
                      args = { { index = 0, value = 0xffffffffffffffff, op = "SCMP_CMP_NE" } } }
    assert(seccomp.compile(p))
  end)

  it("skips the calls libseccomp does not know, and says which", function()
    local p = base()
    p.syscalls[1].names = { "getpid", "no_such_call_of_a_newer_kernel", "getppid" }
    p.syscalls[2] = { names = { "another_unknown", "close" }, action = "SCMP_ACT_ERRNO", errnoRet = 5 }
    p.syscalls[3] = { names = { "no_such_call_of_a_newer_kernel", "read" }, action = "SCMP_ACT_ALLOW" } -- named once
    local progs, skipped = assert(seccomp.compile(p))
    assert.equal(1, #progs)
    assert.same({ "no_such_call_of_a_newer_kernel", "another_unknown" }, skipped)
  end)

  it("is compiled once per table", function()
    local p = base()
    local a = assert(seccomp.compile(p))
    assert.equal(a, seccomp.compile(p))
    assert.are_not.equal(a, seccomp.compile(base()))
  end)
end)

describe("core.seccomp_load", function()
  it("refuses what is not a BPF program", function()
    for _, s in ipairs { "", "1234567", ("x"):rep(8 * 4097) } do
      assert.has_error(function() core.seccomp_load(s) end)
    end
    assert.has_error(function() core.seccomp_load(nil) end)
  end)

  it("says why the kernel refused: a process without no_new_privs nor CAP_SYS_ADMIN", function()
    if H.needs_root("runs lua5.4 as uid 65534") then return end
    local tree = H.unprivileged_tree()
    local code = [[
      local seccomp = require "nsbox.seccomp"
      print(seccomp.load(assert(seccomp.compile())))]]
    local ok, out = H.run(string.format("cd %s && setpriv --reuid=65534 --regid=65534 --clear-groups env -i " ..
      "PATH=/usr/bin:/bin %s lua5.4 -e %s", q(tree), H.lua_env(tree), q(code)))
    assert(ok, out)
    assert.equal("nil\tseccomp(SET_MODE_FILTER): Permission denied\t13\n", out)
  end)
end)

describe("a filter loaded before exec (nsbox.seccomp, no container)", function()
  if not X86_64 then
    it("needs x86_64 (the probe's i386 and x32 calls)", function() pending("x86_64 only") end)
    return
  end

  it("the default: EPERM for the refused calls, ENOSYS for the rest, TIOCSTI refused in any ABI", function()
    local r, out = filtered("default")
    check_report(r, false, out)
  end)

  it("refuses kexec_load, init_module, bpf and perf_event_open itself: the errno only it gives", function()
    local r, out = filtered(marked())
    check_report(r, true, out)
  end)

  it("is no filter at all with seccomp = false", function()
    local r, out = filtered("false")
    assert.equal(BASE_FILTERS > 0 and 2 or 0, r.seccomp, out)
    assert.equal(BASE_FILTERS, r.filters, out)
    assert.equal(ENOTTY, r.ioctl_tiocsti, out) -- the kernel's answer on a pipe
    assert.equal(ENOTTY, r.ioctl_tiocsti_high, out)
    assert.are_not.equal(REFUSED_MARK, r.keyctl)
  end)
end)

-- Through the recipe: these wait for nsbox.container's `seccomp` field.
describe("a container's filter (nsbox.container { seccomp = })", function()
  if not X86_64 then
    it("needs x86_64 (the probe's i386 and x32 calls)", function() pending("x86_64 only") end)
    return
  end

  local function in_box(spec)
    local st, out, err = H.capture { rootfs = H.rootfs, command = { "/probe/probe" }, seccomp = spec,
      mounts = { { source = probes(), destination = "/probe", readonly = true } } }
    assert.equal(0, st, tostring(out) .. tostring(err))
    return parse(out), out
  end

  it("has the default profile unless told otherwise", function()
    local r, out = in_box(nil)
    check_report(r, false, out)
  end)

  it("takes a profile of one's own: the refused calls get its errno", function()
    local r, out = in_box(marked())
    check_report(r, true, out)
  end)

  it("has none with seccomp = false", function()
    local r, out = in_box(false)
    assert.equal(BASE_FILTERS > 0 and 2 or 0, r.seccomp, out)
    assert.equal(BASE_FILTERS, r.filters, out)
  end)

  it("runs a busybox shell under the default profile", function()
    local st, out, err = H.run_sh("echo hi; ls / >/dev/null && grep Seccomp: /proc/self/status; " ..
      "(sleep 0.1 &) ; wait; hostname nope 2>&1; true")
    assert.equal(0, st, err)
    assert.matches("^hi\nSeccomp:%s+2\n", out)
    assert.matches("Operation not permitted", out) -- sethostname
  end)

  it("loads before the user's ids where no_new_privs is off (CAP_SYS_ADMIN), as runc does", function()
    local st, out, err = H.capture { rootfs = H.rootfs, user = "nobody", no_new_privs = false,
      command = { "/bin/sh", "-c", "id -u; grep -E '^(Seccomp|NoNewPrivs):' /proc/self/status" } }
    assert.equal(0, st, tostring(out) .. tostring(err))
    assert.equal("65534\nNoNewPrivs:\t0\nSeccomp:\t2\n", out)
  end)

  it("ends, never hangs, where a profile refuses what nsbox-init needs (wait4)", function()
    local p = seccomp.default()
    for _, r in ipairs(p.syscalls) do
      for i = #r.names, 1, -1 do if r.names[i] == "wait4" then table.remove(r.names, i) end end
    end
    local st = nsbox.container { rootfs = H.rootfs, command = { "/bin/true" }, seccomp = p }:run()
    assert.equal(137, st)
  end)

  it("refuses a bad profile at nsbox.container, naming the field", function()
    local p = seccomp.default()
    p.syscalls[2].action = "SCMP_ACT_FOO"
    local box, err = nsbox.container { rootfs = H.rootfs, command = { "true" }, seccomp = p }
    assert.is_nil(box)
    assert.equal("seccomp.syscalls[2].action: unknown action 'SCMP_ACT_FOO'", err)
  end)
end)
