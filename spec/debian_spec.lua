-- A real distribution in a container: Debian 12 minbase (make debian-image),
-- never written, with its package manager, users and owners working as they
-- would on a machine: as root (a range of ids of its own, the image idmapped)
-- and as an unprivileged user with subordinate ranges, on an image imported
-- into them (nsbox import).
local H = require "spec.support.helpers"
local core = H.core
local q = H.sh_quote

local DEBIAN = H.root .. "/build/debian"

-- What the container runs: a .deb built on the host installed with dpkg, a user
-- made with useradd, su to it, chown to www-data's ids, and ls -ln of the result.
local WORK = "set -e; dpkg -i /pkgs/nsbox-hello.deb >/dev/null; nsbox-hello; " ..
  "useradd -m web; su - web -c 'id -un; touch ~/mine'; ls -ln /home/web/mine | awk '{print $3}'; " ..
  "touch /srv/f; chown 33:33 /srv/f; ls -ln /srv/f | awk '{print $3, $4}'"
local EXPECT = "hello from a package\nweb\n1000\n33 33\n"

-- A package of one script, built with dpkg-deb; its directory.
local function package()
  local dir = H.tmpdir("deb")
  local root = dir .. "/pkg"
  assert(os.execute(string.format("mkdir -p %s/DEBIAN %s/usr/bin && printf '%%s\\n' 'Package: nsbox-hello' 'Version: 1.0' " ..
    "'Architecture: all' 'Maintainer: nsbox <nsbox@example.org>' 'Description: a spec package' > %s/DEBIAN/control && " ..
    "printf '#!/bin/sh\\necho hello from a package\\n' > %s/usr/bin/nsbox-hello && chmod 755 %s/usr/bin/nsbox-hello && " ..
    "dpkg-deb --root-owner-group -b %s %s/nsbox-hello.deb >/dev/null && rm -r %s && chmod -R a+rX %s",
    q(root), q(root), q(root), q(root), q(root), q(root), q(dir), q(root), q(dir))))
  return dir
end

local function listing(dir)
  return H.sh("cd " .. q(dir) .. " && find . -xdev -printf '%p %U %G %m %s\\n' 2>/dev/null | sort | md5sum")
end

describe("a Debian 12 image", function()
  if H.needs_root("debootstraps the image (make debian-image) and becomes users with subordinate ranges") then return end
  if not core.stat(DEBIAN .. "/usr/bin/python3") then
    it("is built by make debian-image", function() pending("run make debian-image (debootstrap)") end)
    return
  end
  local pkgs, before
  setup(function()
    pkgs = package()
    before = listing(DEBIAN)
  end)
  teardown(function() H.rm(pkgs) end)

  it("installs a package, adds and becomes a user, chowns, as root: the image untouched", function()
    local st, out, err = H.run_sh(WORK, { rootfs = DEBIAN, mounts = { { source = pkgs, destination = "/pkgs" } } })
    assert.equal(0, st, tostring(out) .. tostring(err))
    assert.equal(EXPECT, out)
    assert.equal(before, listing(DEBIAN))
  end)

  it("answers hostname -f and getent at once, from its own /etc/hosts", function()
    local st, out = H.run_sh("hostname; hostname -f; getent hosts deb1 | awk '{print $2}'",
      { rootfs = DEBIAN, hostname = "deb1", dns = { servers = { "192.0.2.1" } } })
    assert.equal(0, st)
    assert.equal("deb1\ndeb1\ndeb1\n", out)
  end)

  -- The resolver is a socket that takes queries and never answers: a name
  -- looked up there would cost the resolver's timeout and leave a query queued.
  local SILENT = [[
import socket, subprocess
dns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
dns.bind(("127.0.0.53", 53))
print(socket.getfqdn())
print(subprocess.run(["hostname", "-f"], capture_output=True, text=True).stdout.strip())
dns.setblocking(False)
try:
    dns.recv(512)
    print("the resolver was asked")
except BlockingIOError:
    print("no query")
]]

  for _, case in ipairs {
    { "without a network", {} },
    { "with a domain name", { domainname = "example.test" }, "deb2.example.test" },
  } do
    it("answers python's getfqdn() and hostname -f from /etc/hosts, never asking the resolver: " .. case[1], function()
      local r = { rootfs = DEBIAN, hostname = "deb2",
                  dns = { servers = { "127.0.0.53" }, options = { "timeout:1", "attempts:1" } } }
      for k, v in pairs(case[2]) do r[k] = v end
      local st, out, err = H.run_sh("python3 -c " .. q(SILENT), r)
      assert.equal(0, st, tostring(err))
      local name = case[3] or "deb2"
      assert.equal(name .. "\n" .. name .. "\nno query\n", out)
    end)
  end

  describe("as an unprivileged user with subordinate ranges, imported", function()
    local USER, home, tarball = "nsbox-deb-spec"
    setup(function()
      home = H.tmpdir("deb-home")
      assert(os.execute("useradd --system --user-group --no-create-home --home-dir " .. q(home) ..
        " --shell /usr/sbin/nologin " .. USER .. " && chown " .. USER .. ": " .. q(home)))
      local uid = tonumber(H.sh("id -u " .. USER))
      local first = 520000 + uid % 1000 * 65536
      assert(os.execute(string.format("usermod --add-subuids %d-%d --add-subgids %d-%d %s", first, first + 65535,
        first, first + 65535, USER)))
      -- the image as a tarball anyone may read (the tree itself has files only root may)
      tarball = pkgs .. "/debian.tar"
      assert(os.execute("tar -C " .. q(DEBIAN) .. " --numeric-owner -cf " .. q(tarball) .. " . && chmod 644 " .. q(tarball)))
    end)
    teardown(function()
      os.execute("userdel " .. USER .. " 2>/dev/null; sed -i '/^" .. USER .. ":/d' /etc/subuid /etc/subgid")
      H.rm(home)
      os.remove(tarball)
    end)

    local function as_user(line)
      local tree = H.unprivileged_tree()
      return H.sh(string.format("cd %s && setpriv --reuid=%s --regid=%s --clear-groups env -i PATH=/usr/bin:/bin HOME=%s " ..
        "%s %s 2>&1; echo rc=$?", q(home), H.sh("id -u " .. USER):gsub("\n", ""), H.sh("id -g " .. USER):gsub("\n", ""),
        q(home), H.lua_env(tree), line))
    end

    it("imports the image into its ranges, then does the same work in it", function()
      local bin = H.unprivileged_tree() .. "/bin/nsbox"
      local out = as_user(bin .. " import " .. q(tarball) .. " " .. q(home .. "/debian"))
      assert.equal("rc=0\n", out)
      -- the image's root is the user, www-data (33) the 34th id of its range
      local uid = tonumber(H.sh("id -u " .. USER))
      assert.equal(uid, core.stat(home .. "/debian/etc/passwd").uid)
      local img = listing(home .. "/debian")
      out = as_user(bin .. " run --rootfs " .. q(home .. "/debian") .. " --bind " .. q(pkgs) .. ":/pkgs " ..
        "sh -c " .. q(WORK))
      assert.equal(EXPECT .. "rc=0\n", out)
      assert.equal(img, listing(home .. "/debian"))
    end)
  end)
end)
