-- The container's own /etc/hostname, /etc/hosts and /etc/resolv.conf: what is
-- in them, where the resolver configuration comes from, and that the image's
-- files are never written.
local H = require "spec.support.helpers"
local q = H.sh_quote

local function files(extra)
  return H.run_sh("cat /etc/hostname; echo --; cat /etc/hosts; echo --; cat /etc/resolv.conf", extra)
end

-- Run the probe under `unshare -m` with the host's resolver files replaced
-- (bound over, in that mount namespace only): resolv is /etc/resolv.conf's text,
-- upstream that of /run/systemd/resolve/resolv.conf (nil: none).
local function with_host_resolver(resolv, upstream, line, ...)
  local dir = H.tmpdir("resolver")
  local f = assert(io.open(dir .. "/resolv.conf", "w"))
  f:write(resolv)
  f:close()
  -- an overlay on the host's /etc in that namespace: its resolv.conf may not exist (the VM has none)
  local setup = string.format("mkdir %s/u %s/w && mount -t overlay overlay -o lowerdir=/etc,upperdir=%s/u,workdir=%s/w /etc" ..
    " && rm -f /etc/resolv.conf && cp %s /etc/resolv.conf", q(dir), q(dir), q(dir), q(dir), q(dir .. "/resolv.conf"))
  if upstream then
    f = assert(io.open(dir .. "/upstream", "w"))
    f:write(upstream)
    f:close()
    setup = setup .. " && mkdir -p /run/systemd && mount -t tmpfs none /run/systemd && mkdir -p /run/systemd/resolve" ..
      " && cp " .. q(dir .. "/upstream") .. " /run/systemd/resolve/resolv.conf"
  end
  local args = {}
  for _, a in ipairs { ... } do args[#args + 1] = q(a) end
  local out = H.sh(string.format("unshare -m --propagation private sh -c %s 2>&1",
    q(setup .. " && cd " .. q(H.root) .. " && " .. H.LUA_ENV .. " lua5.4 spec/support/image_probe.lua " .. q(line) ..
      " rootfs=" .. q(H.rootfs) .. " " .. table.concat(args, " "))))
  H.rm(dir)
  return out
end

describe("the container's /etc files", function()
  it("name its hostname, and map it and localhost in /etc/hosts", function()
    local st, out = files { hostname = "web1", domainname = "example.org" }
    assert.equal(0, st)
    local hostname, hosts = out:match("^(.-)%-%-\n(.-)%-%-\n")
    assert.equal("web1\n", hostname)
    assert.equal("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n" ..
      "127.0.1.1\tweb1.example.org web1\n", hosts)
  end)

  it("answer hostname -f from /etc/hosts at once, with no resolver to ask", function()
    local st, out = H.run_sh("hostname -f", { hostname = "web1", dns = { servers = { "192.0.2.1" } } })
    assert.equal(0, st)
    assert.equal("web1\n", out)
  end)

  it("take the host's resolver configuration", function()
    H.needs_root("mounts an overlay over the host's /etc in a mount namespace of its own")
    local out = with_host_resolver("search corp.example\nnameserver 10.1.1.1\noptions ndots:2\n", nil,
      "cat /etc/resolv.conf")
    assert.equal("status=0\nsearch corp.example\nnameserver 10.1.1.1\noptions ndots:2\n", out)
  end)

  it("replace a loopback resolver of the host (systemd-resolved's) by its upstream servers", function()
    H.needs_root("mounts an overlay over the host's /etc in a mount namespace of its own")
    local out = with_host_resolver("nameserver 127.0.0.53\noptions edns0 trust-ad\nsearch lan\n",
      "nameserver 192.0.2.10\nnameserver 192.0.2.11\n", "cat /etc/resolv.conf")
    assert.equal("status=0\nsearch lan\nnameserver 192.0.2.10\nnameserver 192.0.2.11\noptions edns0 trust-ad\n", out)
    -- no upstream file: the loopback server is dropped, and podman's public ones stand in
    out = with_host_resolver("nameserver 127.0.0.1\n", nil, "cat /etc/resolv.conf")
    assert.equal("status=0\nnameserver 8.8.8.8\nnameserver 8.8.4.4\n", out)
  end)

  it("take dns from the recipe over the host's", function()
    local st, out = H.run_sh("cat /etc/resolv.conf", { dns = { servers = { "192.0.2.1", "2001:db8::1" },
      search = { "a.example", "b.example" }, options = { "ndots:3" } } })
    assert.equal(0, st)
    assert.equal("search a.example b.example\nnameserver 192.0.2.1\nnameserver 2001:db8::1\noptions ndots:3\n", out)
  end)

  it("refuse a malformed dns, naming the field", function()
    local function refused(dns)
      local box, err = H.nsbox.container { rootfs = H.rootfs, dns = dns }
      assert.is_nil(box)
      return err
    end
    assert.equal('dns.servers[1]: "dns.example" is not an IPv4 or IPv6 address',
      refused { servers = { "dns.example" } })
    assert.equal('dns.servers[2]: "300.1.1.1" is not an IPv4 or IPv6 address',
      refused { servers = { "1.1.1.1", "300.1.1.1" } })
    assert.equal('dns.search[1]: "a b" is not a domain name', refused { search = { "a b" } })
    assert.equal('dns.options[1]: "nd ots" is not a resolver option', refused { options = { "nd ots" } })
    assert.equal("dns: unknown field 'server' (servers, search, options)", refused { server = { "1.1.1.1" } })
    assert.equal("dns: { servers =, search =, options = } expected, got string", refused("1.1.1.1"))
  end)

  it("are written per container, never into the image, even in place", function()
    local img = H.tmpdir("etcimg")
    finally(function() H.rm(img) end)
    assert(os.execute(string.format("cp -a %s/. %s/ && ln -sf ../run/stub-resolv.conf %s/etc/resolv.conf && " ..
      "echo image > %s/etc/hostname", q(H.rootfs), q(img), q(img), q(img))))
    local before = H.sh("cd " .. q(img) .. " && ls -lA etc && cat etc/hostname")
    local st, out, err = H.run_sh("cat /etc/hostname; cat /etc/resolv.conf | wc -l", { rootfs = img, hostname = "c1",
      dns = { servers = { "192.0.2.1" } } })
    assert.equal(0, st, tostring(out) .. tostring(err))
    assert.equal("c1\n1\n", out)
    st, out, err = H.run_sh("cat /etc/hostname; grep -c ' /etc/' /proc/mounts", H.in_place { rootfs = img, hostname = "c2" })
    assert.equal(0, st, tostring(out) .. tostring(err))
    assert.equal("c2\n2\n", out) -- bound over the image's files (its resolv.conf, a link to nowhere, left alone)
    local after = H.sh("cd " .. q(img) .. " && ls -lA etc && cat etc/hostname")
    -- in place, the missing hosts file is made (empty) as the mount point of its bind: that is all
    assert.equal(before, (after:gsub("\n[^\n]* hosts\n", "\n")))
  end)

  it("leave a file the recipe mounts to the recipe", function()
    local dir = H.tmpdir("own-resolv")
    finally(function() H.rm(dir) end)
    assert(os.execute("echo 'nameserver 192.0.2.99' > " .. q(dir .. "/resolv.conf") .. " && chmod 644 " ..
      q(dir .. "/resolv.conf")))
    local st, out = H.run_sh("cat /etc/resolv.conf /etc/hostname", { hostname = "own",
      mounts = { { source = dir .. "/resolv.conf", destination = "/etc/resolv.conf", readonly = true } } })
    assert.equal(0, st, out)
    assert.equal("nameserver 192.0.2.99\nown\n", out)
  end)

  it("are left out of an image without an /etc", function()
    local img = H.tmpdir("noetc")
    finally(function() H.rm(img) end)
    assert(os.execute(string.format("cp -a %s/. %s/ && rm -r %s/etc", q(H.rootfs), q(img), q(img))))
    local st, out = H.run_sh("test -e /etc && echo has-etc; echo ok", { rootfs = img })
    assert.equal(0, st)
    assert.equal("ok\n", out)
  end)
end)
