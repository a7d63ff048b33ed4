-- Bad recipes are refused by nsbox.container, naming the field, before anything is made.
local H = require "spec.support.helpers"
local nsbox = H.nsbox

local function refused(recipe, pattern)
  local fds = H.fd_count()
  local box, err = nsbox.container(recipe)
  assert.is_nil(box)
  assert.is_string(err)
  assert.matches(pattern, err)
  assert.equal(fds, H.fd_count())
end

describe("nsbox.container refuses", function()
  it("a missing rootfs", function()
    refused({}, "^rootfs: required$")
    refused({ rootfs = "/nonexistent/rootfs" }, "^rootfs: stat%(/nonexistent/rootfs%): No such file or directory$")
  end)

  it("a rootfs that is not a directory", function()
    refused({ rootfs = "/etc/passwd" }, "^rootfs: '/etc/passwd' is a file, not a directory$")
    refused({ rootfs = 42 }, "^rootfs: string expected, got number$")
  end)

  it("a hostname over 64 bytes or with invalid characters", function()
    refused({ rootfs = H.rootfs, hostname = string.rep("a", 65) }, "^hostname: longer than 64 bytes$")
    refused({ rootfs = H.rootfs, hostname = "bad_name" }, "^hostname: 'bad_name' is not a valid host name")
    refused({ rootfs = H.rootfs, hostname = "a b" }, "^hostname: 'a b' is not a valid host name")
    refused({ rootfs = H.rootfs, hostname = "-x" }, "^hostname: '%-x' is not a valid host name")
    refused({ rootfs = H.rootfs, hostname = "" }, "^hostname: must not be empty$")
    refused({ rootfs = H.rootfs, hostname = "a\0b" }, "^hostname: must not contain a NUL byte$")
    refused({ rootfs = H.rootfs, domainname = "x..y" }, "^domainname: 'x..y' is not a valid host name")
  end)

  it("an unknown namespace name", function()
    refused({ rootfs = H.rootfs, namespaces = { "user", "mount", "time-travel" } },
      "^namespaces: unknown namespace 'time%-travel' %(known: user, mount, uts, ipc, pid, net, cgroup%)$")
    refused({ rootfs = H.rootfs, namespaces = "all" }, "^namespaces: array of names expected, got string$")
    refused({ rootfs = H.rootfs, namespaces = { "user", "pid" } }, "^namespaces: a mount namespace is needed")
  end)

  it("an empty or non-string command", function()
    refused({ rootfs = H.rootfs, command = {} }, "^command: must not be empty$")
    refused({ rootfs = H.rootfs, command = "/bin/sh" }, "^command: array of strings expected, got string$")
    refused({ rootfs = H.rootfs, command = { "/bin/sh", 3 } }, "^command%[2%]: string expected, got number$")
    refused({ rootfs = H.rootfs, command = { "" } }, "^command: program name is empty$")
  end)

  it("a malformed id map", function()
    refused({ rootfs = H.rootfs, uid_map = { inside = 0, outside = 0 } },
      "^uid_map: 'count' must be an integer in %[1, 4294967295%]$")
    refused({ rootfs = H.rootfs, gid_map = { inside = -1, outside = 0, count = 1 } },
      "^gid_map: 'inside' must be an integer in %[0, 4294967295%]$")
    refused({ rootfs = H.rootfs, uid_map = { { inside = 0, outside = 0, count = 10 }, { inside = 5, outside = 100, count = 1 } } },
      "^uid_map%[2%]: inside range overlaps entry 1$")
    refused({ rootfs = H.rootfs, uid_map = "0 0 1" }, "^uid_map: table expected, got string$")
    refused({ rootfs = H.rootfs, uid_map = { inside = 0, outside = 4294967295, count = 2 } }, "^uid_map: range runs past")
  end)

  it("an id map without the user namespace", function()
    H.needs_root("as another user, namespaces without the user namespace are refused first")
    refused({ rootfs = H.rootfs, namespaces = { "mount" }, uid_map = { inside = 0, outside = 0, count = 1 } },
      "^uid_map: needs the user namespace$")
  end)

  it("a tmpfs of a bad size or mode", function()
    local function tmpfs(k, v) return { rootfs = H.rootfs, mounts = { { type = "tmpfs", destination = "/t", [k] = v } } } end
    refused(tmpfs("size", 0), "^mounts%[1%]%.size: positive integer %(bytes%) or a size like '10m' expected$")
    refused(tmpfs("size", "10x"), "^mounts%[1%]%.size: positive integer")
    refused(tmpfs("mode", "8"), "^mounts%[1%]%.mode: a mode from 0 to 7777 %(octal%) expected$")
    refused(tmpfs("mode", 4096), "^mounts%[1%]%.mode: a mode from 0 to 7777")
    local box = assert(nsbox.container(tmpfs("size", "10M")))
    assert.same({ "10m", tonumber("1777", 8) }, { box.recipe.mounts[1].size, box.recipe.mounts[1].mode })
  end)

  it("a mount whose source is missing, or a bad destination", function()
    refused({ rootfs = H.rootfs, mounts = { { source = "/nonexistent/src", destination = "/x" } } },
      "^mounts%[1%]%.source: stat%(/nonexistent/src%): No such file or directory$")
    refused({ rootfs = H.rootfs, mounts = { { source = "/tmp", destination = "relative" } } },
      "^mounts%[1%]%.destination: 'relative' is not an absolute path$")
    refused({ rootfs = H.rootfs, mounts = { { source = "/tmp", destination = "/" } } },
      "^mounts%[1%]%.destination: '/' would cover the whole rootfs: give it as rootfs$")
    refused({ rootfs = H.rootfs, mounts = { { type = "tmpfs", destination = "//" } } },
      "^mounts%[1%]%.destination: '/' would cover the whole rootfs: give it as rootfs$")
    refused({ rootfs = H.rootfs, mounts = { { source = "/tmp", destination = "/a/../../etc" } } },
      "^mounts%[1%]%.destination: '/a/%.%./%.%./etc' must not contain '%.%.'$")
    refused({ rootfs = H.rootfs, mounts = { { type = "overlay", destination = "/x" } } },
      "^mounts%[1%]%.type: 'bind' or 'tmpfs' expected$")
  end)

  it("unknown fields, a bad env, cwd or interpreter", function()
    refused({ rootfs = H.rootfs, hostnme = "x" }, "^recipe: unknown field 'hostnme'$")
    refused({ rootfs = H.rootfs, env = { ["A=B"] = "x" } }, "^env: invalid variable name \"A=B\"$")
    refused({ rootfs = H.rootfs, env = { A = {} } }, "^env%.A: string expected, got table$")
    refused({ rootfs = H.rootfs, cwd = "tmp" }, "^cwd: 'tmp' is not an absolute path$")
    refused({ rootfs = H.rootfs, interpreter = "/nonexistent/lua" }, "^interpreter: access%(/nonexistent/lua%)")
    refused("rootfs", "^recipe: table expected, got string$")
  end)
end)
