-- The parent-child channel (nsbox.channel over core.spawn's channel): named
-- message kinds checked on receipt, fds passed with SCM_RIGHTS, EOF as the
-- parent's death.
local H = require "spec.support.helpers"
local core = H.core
local channel = require "nsbox.channel"

-- Start a child held on a new channel (start(psock, csock) returns its pidfd),
-- send it the write end of a pipe made after the start (so that it has the fd
-- only from the message); returns what the child wrote to it and its status.
local function pass_fd(start)
  local psock, csock = assert(channel.pair())
  local pidfd = start(psock, csock)
  core.close(csock)
  local r, w = assert(core.pipe())
  assert(channel.send(psock, "maps", nil, { w }))
  core.close(w)
  local out = core.read_all(r)
  core.close(r)
  core.close(psock)
  local how, code = core.wait(pidfd)
  core.close(pidfd)
  return out, how, code
end

describe("nsbox.channel", function()
  it("carries each kind of message with its payload, and names a kind it does not know", function()
    local a, b = assert(channel.pair())
    assert(channel.send(a, "error", { error = "x: failed", errno = core.EIO, status = 3 }))
    assert(channel.send(a, "exec"))
    assert(channel.send(a, "bundle", "\0raw\1bytes"))
    assert(core.write(a, string.pack(">s4", "bogus {}")))
    core.close(a)
    assert.same({ "error", { error = "x: failed", errno = core.EIO, status = 3 } }, { channel.recv(b) })
    assert.same({ "exec" }, { channel.recv(b) })
    assert.same({ "bundle", "\0raw\1bytes" }, { channel.recv(b) })
    assert.same({ nil, "channel: unknown message kind 'bogus'" }, { channel.recv(b) })
    assert.same({}, { channel.recv(b) }) -- EOF: nothing
    core.close(b)
    assert.has_error(function() channel.send(0, "bogus") end, "channel: no message kind 'bogus'")
  end)

  it("closes the fds that came with a message it refuses", function()
    local a, b = assert(channel.pair())
    local fds = H.fd_count()
    assert(core.send_fds(a, string.pack(">s4", "bogus"), { 0, 1 }))
    assert.same({ nil, "channel: unknown message kind 'bogus'" }, { channel.recv(b) })
    assert.equal(fds, H.fd_count())
    core.close(a)
    core.close(b)
  end)

  it("await raises on a message of another kind than it waits for, naming both", function()
    local a, b = assert(channel.pair())
    assert(channel.send(a, "maps"))
    assert.has_error(function() channel.await(b, "recipe") end, "channel: expected a recipe message, got maps")
    core.close(a)
    core.close(b)
  end)

  it("await treats EOF as the parent's death: the child exits at once", function()
    local r, w = assert(core.pipe())
    local psock, csock = assert(channel.pair())
    local pid, pidfd = core.spawn { fork = true, channel = csock, peer = psock, pdeathsig = 0 }
    if pid == 0 then
      pcall(function()
        core.close(r)
        channel.await(csock, "network")
        core.write(w, "returned")
      end)
      core._exit(0)
    end
    core.close(w)
    core.close(csock)
    core.close(psock) -- as the parent's death would
    assert.equal("", core.read_all(r))
    core.close(r)
    assert.same({ "exited", 1 }, { core.wait(pidfd) })
    core.close(pidfd)
  end)

  it("passes an fd from the parent to a forked child (SCM_RIGHTS)", function()
    assert.same({ "written through the fd passed, 1", "exited", 0 }, { pass_fd(function(psock, csock)
      local pid, pidfd = core.spawn { fork = true, channel = csock, peer = psock, hold = true }
      if pid == 0 then
        pcall(function()
          local _, fds = channel.await(csock, "maps")
          assert(core.write(fds[1], "written through the fd passed, " .. #fds))
          core._exit(0)
        end)
        core._exit(99) -- never back into busted
      end
      return pidfd
    end) })
  end)

  it("passes an fd from the parent to a re-executed child, received close-on-exec", function()
    assert.same({ "re-executed, cloexec true", "exited", 0 }, { pass_fd(function(psock, csock)
      local script = string.format([[
        package.path, package.cpath = %q, %q
        local core, channel = require "nsbox.core", require "nsbox.channel"
        local _, fds = channel.await(%d, "maps")
        local flags = io.open("/proc/self/fdinfo/" .. fds[1]):read("a"):match("flags:%%s*(%%d+)")
        assert(core.write(fds[1], "re-executed, cloexec " .. tostring(tonumber(flags, 8) & 0x80000 ~= 0)))
      ]], package.path, package.cpath, csock)
      return select(2, assert(core.spawn { path = "/proc/self/exe", argv = { "lua5.4", "-e", script },
        channel = csock, peer = psock, hold = true, keep_fds = { csock } }))
    end) })
  end)

  it("core.recv_fds gives no fds where none were sent, and core.send_fds wants some", function()
    local a, b = assert(core.socketpair())
    assert(core.write(a, "abcd"))
    assert.same({ "abcd", {} }, { core.recv_fds(b, 4) })
    assert.has_error(function() core.send_fds(a, "x", {}) end)
    assert.has_error(function() core.send_fds(a, "", { 1 }) end)
    core.close(a)
    assert.same({ "", {} }, { core.recv_fds(b, 4) })
    core.close(b)
  end)
end)
