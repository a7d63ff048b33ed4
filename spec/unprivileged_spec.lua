-- The seed's container as an unprivileged uid (65534, no capabilities).
local H = require "spec.support.helpers"

describe("as an unprivileged user", function()
  if H.needs_root("becomes uid 65534 through setpriv") then return end
  local res, shm_id

  setup(function()
    shm_id = H.sh("ipcmk -M 4096"):match("(%d+)")
    local dir = H.unprivileged_tree()
    local out, code = H.run_unprivileged("probe.lua", dir .. "/rootfs")
    assert(code == 0, out)
    res = assert(load("return " .. out, "probe", "t", {}))()
  end)

  teardown(function()
    if shm_id then os.execute("ipcrm -m " .. shm_id) end
    H.cleanup()
  end)

  it("is really unprivileged", function()
    assert.same({ 65534, 65534 }, { res.uid, res.euid })
  end)

  it("sets the hostname", function()
    assert.equal("unpriv\n", res.hostname)
  end)

  it("is root inside with setgroups denied", function()
    assert.equal("0\n0\ndeny\n", res.id)
  end)

  it("lives in seven namespaces of its own", function()
    assert.same({ user = true, mnt = true, uts = true, ipc = true, pid = true, net = true, cgroup = true }, res.ns)
  end)

  it("sees only its own mounts", function()
    local first = res.mounts:match("^%S+ (%S+)")
    assert.equal("/", first)
    for point in res.mounts:gmatch("\n%S+ (%S+)") do
      assert.truthy(point:match("^/proc") or point:match("^/sys") or point:match("^/dev"), point)
    end
  end)

  it("shows nsbox's init as PID 1, the command its only child", function()
    assert.matches("^%s*PID%s+COMMAND\n%s*1 nsbox%-init%s*\n%s*2 ps %-o pid,args\n$", res.ps)
  end)

  it("passes stdin and returns exit codes 0, 3, 42 and 137", function()
    assert.equal("PIPED\n", res.stdin)
    assert.same({ 0, 3, 42, 137 }, res.codes)
  end)

  it("joins the running container with exec", function()
    assert.equal(0, res.exec_status)
    assert.equal("0\n1\n", res.exec)
  end)

  it("does not see the host's SysV shared memory", function()
    assert.truthy(shm_id)
    assert.equal(1, select(2, res.shm:gsub("\n", "")))
  end)
end)

describe("nsbox.reexec", function()
  teardown(function() H.cleanup() end)

  local function run_prog(privileged)
    if privileged then
      return H.sh("cd / && " .. H.LUA_ENV .. " lua5.4 " .. H.root .. "/spec/support/reexec_prog.lua")
    end
    H.needs_root("becomes uid 65534 through setpriv")
    return (H.run_unprivileged("reexec_prog.lua"))
  end

  for _, privileged in ipairs { true, false } do
    local who = privileged and "root" or "an unprivileged user"
    it("runs the registered function in new namespaces, as " .. who, function()
      local out = run_prog(privileged)
      assert.matches("args=one|two words\n", out, 1, true)
      assert.matches("uid=0\n", out, 1, true)
      assert.matches("status=exited 7\n", out, 1, true)
      assert.matches("parent_hostname_changed=false\n", out, 1, true)
      assert.matches("parent_init=false\n", out, 1, true)
      assert.is_nil(out:find("init returned", 1, true))
    end)

    it("keeps the marker out of the function's environment, as " .. who, function()
      local out = run_prog(privileged)
      assert.matches("marker=nil\n", out, 1, true)
      assert.matches("env_marker=nil\n", out, 1, true)
    end)

    it("passes the parent's package.path on, as " .. who, function()
      -- The parent appended the marker directory once; the child inherits it and appends it again.
      assert.matches("path_marker_count=2\n", run_prog(privileged), 1, true)
    end)
  end

  it("refuses to register a name twice or a non-function", function()
    local reexec = require "nsbox.reexec"
    reexec.register("spec-once", function() end)
    assert.has_error(function() reexec.register("spec-once", function() end) end,
      "reexec.register: 'spec-once' is already registered")
    assert.has_error(function() reexec.register("x", 1) end, "reexec.register: fn must be a function")
    assert.is_false(reexec.init())
  end)
end)

describe("the package path", function()
  it("reaches the re-executed child however the parent set it", function()
    -- No LUA_PATH in the environment: the script sets package.path itself and runs from /.
    local script = string.format([[package.path = %q package.cpath = %q
      local nsbox = require "nsbox"
      local box = assert(nsbox.container { rootfs = %q, command = { "true" } })
      print(box:run())]], H.root .. "/lua/?.lua;" .. H.root .. "/lua/?/init.lua",
      H.root .. "/lua/?.so", H.rootfs)
    assert.equal("0\n", H.sh("cd / && env -i lua5.4 -e " .. H.sh_quote(script) .. " 2>&1"))
  end)
end)
