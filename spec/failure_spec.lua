-- A failure inside the container during setup comes back to start()/run() naming
-- the step and the path, and leaves nothing behind.
local H = require "spec.support.helpers"
local nsbox = H.nsbox

-- A scratch rootfs whose /proc is a file: mounting proc there must fail.
local function broken_rootfs()
  local dir = H.tmpdir("broken")
  assert(os.execute(string.format("cp -a %s/. %s/ && rmdir %s/proc && touch %s/proc", H.rootfs, dir, dir, dir)))
  return dir
end

describe("a setup failure inside the container", function()
  it("is reported by start() with the step and the path, leaving nothing behind", function()
    local dir = broken_rootfs()
    finally(function() H.rm(dir) end)
    local fds, kids, mounts = H.fd_count(), H.child_count(), H.host_mounts()
    local box = assert(nsbox.container { rootfs = dir, command = { "true" } })
    local ok, err = box:start()
    assert.is_nil(ok)
    assert.equal("rootfs: /proc is a file, not a directory: refused", err)
    assert.is_nil(box.pid)
    assert.equal(fds, H.fd_count())
    assert.equal(kids, H.child_count())
    assert.equal(mounts, H.host_mounts())
  end)

  it("names the mount and its path", function()
    local box = assert(nsbox.container { rootfs = H.rootfs, command = { "true" },
      mounts = { { type = "tmpfs", destination = "/etc/passwd" } } })
    local ok, err = box:start()
    assert.is_nil(ok)
    assert.equal("mount(tmpfs, " .. H.rootfs .. "/etc/passwd): Not a directory", err)
  end)

  it("names the path of a rootfs with a % in it as it is (no pattern rewriting)", function()
    local dir = H.tmpdir("pct") .. "/root%1%"
    finally(function() H.rm(dir) end)
    assert(os.execute(string.format("cp -a %s %s", H.sh_quote(H.rootfs), H.sh_quote(dir))))
    local box = assert(nsbox.container { rootfs = dir, command = { "true" },
      mounts = { { type = "tmpfs", destination = "/etc/passwd" } } })
    local ok, err = box:start()
    assert.is_nil(ok)
    assert.equal("mount(tmpfs, " .. dir .. "/etc/passwd): Not a directory", err)
  end)

  it("names the rootfs when a command is not found in a directory that is no image", function()
    local dir = H.tmpdir("notimage")
    finally(function() H.rm(dir) end)
    for _, command in ipairs { "true", "/bin/true" } do
      local box = assert(nsbox.container { rootfs = dir, command = { command } })
      assert.same({ 127, "exec(" .. command .. "): No such file or directory (rootfs " .. dir ..
        " has no /bin/sh: is it an image?)" }, { box:run() })
    end
  end)

  it("is reported by run() as nil and the message", function()
    local box = assert(nsbox.container { rootfs = H.rootfs, command = { "true" }, cwd = "/no/such/dir" })
    local st, err = box:run()
    assert.is_nil(st)
    assert.equal("chdir(/no/such/dir): No such file or directory", err)
  end)

  it("names the mkdir that a read-only rootfs written in place refuses", function()
    -- A read-only rootfs with no /dev, written in place: the mount point cannot be made.
    H.needs_root("mounts a read-only tmpfs on the host as the rootfs")
    local dir = H.tmpdir("ro")
    finally(function() os.execute("umount " .. dir .. " 2>/dev/null; rm -rf " .. dir) end)
    assert(os.execute(string.format("mkdir %s/proc && mount -t tmpfs -o ro none %s", dir, dir)))
    local box = assert(nsbox.container(H.in_place { rootfs = dir, command = { "true" } }))
    local ok, err = box:start()
    assert.is_nil(ok)
    assert.matches("^mkdir%(" .. dir:gsub("%p", "%%%0") .. "/[a-z]+%): Read%-only file system$", err)
  end)

  it("reports an interpreter that cannot run nsbox", function()
    local box = assert(nsbox.container { rootfs = H.rootfs, command = { "true" }, interpreter = "/bin/false" })
    local ok, err = box:start()
    assert.is_nil(ok)
    assert.equal("container setup ended without a report (exited 1)", err)
    assert.equal(0, H.child_count())
  end)
end)

describe("running many containers from one Lua process", function()
  it("leaves no fd, mount or process behind after 50 runs", function()
    local fds, kids, mounts = H.fd_count(), H.child_count(), H.host_mounts()
    for i = 1, 50 do
      local box = assert(nsbox.container { rootfs = H.rootfs, command = { "true" }, hostname = "run" .. i })
      assert.equal(0, box:run())
    end
    collectgarbage()
    assert.equal(fds, H.fd_count())
    assert.equal(kids, H.child_count())
    assert.equal(mounts, H.host_mounts())
  end)

  it("leaves no mount on the host without a user namespace either", function()
    -- without one, the container's mount namespace starts as a peer of ours: only
    -- making its mounts private keeps them there
    H.needs_root("a container without a user namespace")
    -- the rootfs on a shared mount of our own, as every mount is where / is shared
    local dir, q = H.tmpdir("shared"), H.sh_quote
    finally(function() os.execute("umount -R -l " .. q(dir)) H.rm(dir) end)
    assert(os.execute(string.format("mount --bind %s %s && mount --make-shared %s && cp -a %s %s/rootfs",
      q(dir), q(dir), q(dir), q(H.rootfs), q(dir))))
    local mounts = H.host_mounts()
    for _ = 1, 3 do
      local st, out, err = H.run_sh("true", { rootfs = dir .. "/rootfs",
        namespaces = { "mount", "uts", "ipc", "pid", "net", "cgroup" } })
      assert.same({ 0, "", "" }, { st, out, err })
    end
    assert.equal(mounts, H.host_mounts())
  end)

  it("kills and reaps a container whose box is dropped or closed", function()
    local kids = H.child_count()
    do
      local box <close> = assert(nsbox.container { rootfs = H.rootfs, command = { "sleep", "30" } })
      assert(box:start())
      assert.equal(kids + 1, H.child_count())
    end
    assert.equal(kids, H.child_count())
    local box = assert(nsbox.container { rootfs = H.rootfs, command = { "sleep", "30" } })
    assert(box:start())
    box = nil -- luacheck: ignore 311 (the last reference goes: the collector kills and reaps)
    collectgarbage()
    collectgarbage()
    assert.equal(kids, H.child_count())
  end)
end)

describe("a process out of file descriptors", function()
  it("gets nil and a message from start(), not an error, and can start again once it has fds", function()
    local script = string.format([[
      local nsbox = require "nsbox"
      local box = assert(nsbox.container { rootfs = %q, command = { "true" } })
      local held = {}
      while true do -- use up every fd
        local f = io.open("/dev/null")
        if not f then break end
        held[#held + 1] = f
      end
      local ok, err = box:start()
      io.stderr:write(tostring(ok), " ", tostring(err), "\n")
      for _, f in ipairs(held) do f:close() end
      local box2 = assert(nsbox.container { rootfs = %q, command = { "true" } })
      io.stderr:write(tostring(box2:run()), "\n")
    ]], H.rootfs, H.rootfs)
    local out = H.sh("ulimit -n 64; lua5.4 -e " .. H.sh_quote(script) .. " 2>&1")
    assert.matches("^nil [%w/()_: ]+: Too many open files\n0\n$", out)
  end)
end)
