--- Driving namespace setup from your own busted specs.
--
-- A spec a user of nsbox might write for a service: each `it` starts a fresh
-- container on the busybox rootfs and checks what the command inside prints,
-- captured through a pipe (core.pipe, then `stdout = w` in the recipe).
-- Self-contained: it needs only nsbox and a rootfs (build/rootfs by default,
-- or $ROOTFS). Works as root or as an unprivileged user.
--
--   make && make rootfs
--   busted --lua=lua5.4 examples/container_spec.lua   (plain busted is lua5.1 once lua5.1 is installed)
--
-- You will see "3 successes / 0 failures / 0 errors / 0 pending".
-- From a checkout, find nsbox beside this script (no LUA_PATH needed).
local here = debug.getinfo(1, "S").source:match("^@(.-)[^/]*$")
assert(loadfile(here .. "checkout.lua"))(here)

local nsbox = require "nsbox"
local core = nsbox.core

local ROOTFS = os.getenv("ROOTFS") or "build/rootfs"

-- Run a recipe; return the exit status and everything the command wrote to stdout.
local function run(recipe)
  local r, w = assert(core.pipe())
  recipe.rootfs, recipe.stdout = recipe.rootfs or ROOTFS, w
  local box = assert(nsbox.container(recipe))
  local ok, err = box:start()
  core.close(w) -- the container holds its own copy; ours must go for EOF to come
  local out = {}
  repeat
    local chunk = assert(core.read(r, 4096))
    out[#out + 1] = chunk
  until chunk == ""
  core.close(r)
  assert(ok, err)
  return box:wait(), table.concat(out)
end

describe("my service container", function()
  local config -- a host directory the service reads its configuration from

  setup(function()
    config = os.tmpname()
    os.remove(config)
    -- 0755: as root, the container's root is an id of its own range, a stranger to this
    -- directory (mounts = { { ..., idmap = true } } would show it as the container's)
    assert(core.mkdir(config, tonumber("755", 8)))
    local f = assert(io.open(config .. "/app.conf", "w"))
    f:write("port=8080\n")
    f:close()
  end)

  teardown(function()
    os.remove(config .. "/app.conf")
    os.remove(config)
  end)

  it("has its own hostname", function()
    assert.same({ 0, "my-service\n" }, { run { hostname = "my-service", command = { "hostname" } } })
  end)

  it("runs as root, the child of nsbox's init (PID 1)", function()
    assert.same({ 0, "0 2 1\n" }, { run { command = { "sh", "-c", "echo $(id -u) $$ $PPID" } } })
  end)

  it("reads its bind-mounted configuration, read-only", function()
    local status, out = run {
      mounts = { { source = config, destination = "/etc/my-service", readonly = true } },
      command = { "sh", "-c", "cat /etc/my-service/app.conf; touch /etc/my-service/new 2>/dev/null || echo read-only" },
    }
    assert.same({ 0, "port=8080\nread-only\n" }, { status, out })
  end)
end)
