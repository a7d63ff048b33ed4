-- The copy-on-write root: the image is never written (an overlay with a private
-- upper layer), layers, a kept upper directory, the in-place and read-only
-- modes, and every bad input refused by name with nothing left behind.
local H = require "spec.support.helpers"
local nsbox, core = H.nsbox, H.core
local q = H.sh_quote

-- Every file of a tree with its type, size and mode ("find -printf"), sorted: what the image holds.
local function listing(dir)
  return H.sh("cd " .. q(dir) .. " && find . -printf '%p %y %s %m\\n' | sort")
end

-- A private copy of the busybox rootfs, without /proc, /dev and /sys: the mount
-- points a container needs would show up in it if they were made in the image.
local function image(tag)
  local dir = H.tmpdir(tag or "image")
  assert(os.execute(string.format("cp -a %s/. %s/ && rmdir %s/proc %s/dev %s/sys 2>/dev/null; true",
    q(H.rootfs), q(dir), q(dir), q(dir), q(dir))))
  return dir
end

-- The leftovers a start could leave: nsbox's work and upper directories on disk, id range leases.
local function data_dirs()
  return H.sh("ls -A /var/lib/nsbox/overlay /var/tmp/nsbox-*/overlay /run/nsbox/ids 2>/dev/null; true")
end

describe("a copy-on-write root", function()
  local img, before
  setup(function()
    img = image()
    before = listing(img)
  end)
  teardown(function() H.rm(img) end)

  it("takes the container's writes, deletes and mount points in a private layer: the image is never written", function()
    local st, out, err = H.run_sh("echo new > /new; echo changed > /etc/passwd; rm /bin/ls; mkdir -p /var/x; " ..
      "rm -r /etc; mkdir /etc; ls -A /etc; echo done; grep ' / ' /proc/mounts",
      { rootfs = img, mounts = { { type = "tmpfs", destination = "/made/here" } } })
    assert.equal(0, st, err)
    assert.matches("^done\n", out) -- rm -r d; mkdir d: an opaque, empty directory (no EIO)
    assert.matches("\noverlay / overlay rw,nodev,", out)
    assert.equal(before, listing(img))
  end)

  it("keeps two containers of one image apart: a write or a delete in one is not seen by the other", function()
    local r, w = assert(core.pipe())
    local a = assert(nsbox.container { rootfs = img, stdout = w,
      command = { "/bin/sh", "-c", "echo a > /only-a; rm /etc/group; echo ready; exec sleep 30" } })
    assert(a:start())
    core.close(w)
    assert.equal("ready\n", core.read(r, 6))
    core.close(r)
    local st, out = H.run_sh("test -e /only-a && echo sees-a; cat /etc/group | head -1", { rootfs = img })
    a:kill(core.SIGKILL)
    a:wait()
    assert.equal(0, st)
    assert.equal("root:x:0:\n", out)
    assert.equal(before, listing(img))
  end)

  it("stacks layers, the top first: a file of a higher layer wins, a whiteout there hides the file below", function()
    H.needs_root("makes a whiteout (a 0/0 character device) in a layer")
    local top = H.tmpdir("top")
    finally(function() H.rm(top) end)
    assert(os.execute(string.format("mkdir -p %s/etc %s/bin && echo top > %s/etc/motd && mknod %s/bin/cat c 0 0 && " ..
      "echo from-top > %s/etc/passwd", q(top), q(top), q(top), q(top), q(top))))
    local st, out = H.run_sh("cat /etc/motd /etc/passwd; test -e /bin/cat || echo no-cat; test -x /bin/ls && echo ls",
      { rootfs = { top, img } })
    assert.equal(0, st)
    assert.equal("top\nfrom-top\nno-cat\nls\n", out)
    assert.equal(before, listing(img))
  end)

  it("keeps the writes in an upper directory of the caller's, which a later container finds again", function()
    -- on disk: /tmp may be a tmpfs without user xattrs (before 6.6), which is refused
    local parent = H.sh("d=$(mktemp -d /var/tmp/nsbox-spec-upper.XXXXXX) && chmod 755 $d && echo $d"):gsub("\n$", "")
    finally(function() H.rm(parent) end)
    local upper = parent .. "/kept"
    local st, _, err = H.run_sh("echo one > /kept-file; rm /etc/group", { rootfs = img, upper = upper })
    assert.equal(0, st, err)
    local out
    st, out = H.run_sh("cat /kept-file; test -e /etc/group || echo group-gone", { rootfs = img, upper = upper })
    assert.equal(0, st)
    assert.equal("one\ngroup-gone\n", out)
    assert.equal("one\n", H.read_file(upper .. "/kept-file"))
    -- the work directory beside it lived as long as each container; as root, the
    -- upper records the container's id range, which the next one got back
    assert.matches("\nkept\n$", "\n" .. H.sh("ls -A " .. q(parent)))
    assert.is_nil(H.sh("ls -A " .. q(parent)):find("work", 1, true))
    assert.equal(before, listing(img))
  end)

  it("writes the image itself only when asked (in_place)", function()
    local dir = image("inplace")
    finally(function() H.rm(dir) end)
    local st = H.run_sh("echo x > /written", H.in_place { rootfs = dir })
    assert.equal(0, st)
    assert.equal("x\n", H.read_file(dir .. "/written"))
    assert.truthy(core.stat(dir .. "/proc"), "the mount points are made in the image")
  end)

  it("makes the whole root read-only with readonly, still written nowhere", function()
    local st, out = H.run_sh("touch /x 2>&1; cat /etc/hostname", { rootfs = img, readonly = true, hostname = "ro1" })
    assert.equal(0, st)
    assert.matches("Read%-only file system\nro1\n$", out)
    assert.equal(before, listing(img))
  end)

  it("leaves no upper or work directory, nor an id lease, behind after 200 containers", function()
    local was = data_dirs():gsub("/run/nsbox/ids:\n.*", "") -- leases of killed starts are swept
    for _ = 1, os.getenv("NSBOX_VM") and 20 or 200 do
      assert.equal(0, (H.run_sh("echo x > /f", { rootfs = img })))
    end
    assert.equal(was, data_dirs():gsub("/run/nsbox/ids:\n.*", ""))
    assert.equal("", H.sh("ls -A /run/nsbox/ids 2>/dev/null; true"))
    assert.equal(before, listing(img))
  end)

  describe("on an image the container cannot write", function()
    it("runs from an image on a read-only mount, its writes in its own layer", function()
      H.needs_root("binds an image read-only on the host")
      local dir = H.tmpdir("romount")
      finally(function() os.execute("umount " .. q(dir) .. " 2>/dev/null; rm -rf " .. q(dir)) end)
      assert(os.execute(string.format("mount --bind %s %s && mount -o remount,bind,ro %s", q(img), q(dir), q(dir))))
      local st, out, err = H.run_sh("echo w > /w && cat /w", { rootfs = dir })
      assert.equal(0, st, err)
      assert.equal("w\n", out)
    end)

    it("runs from an image that is itself on overlayfs", function()
      H.needs_root("mounts an overlay holding an image")
      local dir = H.tmpdir("ovl")
      finally(function() os.execute("umount " .. q(dir .. "/m") .. " 2>/dev/null; rm -rf " .. q(dir)) end)
      assert(os.execute(string.format("mkdir %s/u %s/w %s/m && mount -t overlay overlay -o lowerdir=%s,upperdir=%s/u," ..
        "workdir=%s/w %s/m", q(dir), q(dir), q(dir), q(img), q(dir), q(dir), q(dir))))
      -- overlayfs cannot be idmapped: root's default (a range of the container's own) is refused, by name
      local st, out = H.run_sh("true", { rootfs = dir .. "/m" })
      assert.is_nil(st)
      assert.matches("^rootfs: .*/m %(on overlayfs%) cannot be shown to the container's id range through an " ..
        "idmapped mount %(idmapped mount%(.*%): Invalid argument; tmpfs can be from Linux 6%.3, overlayfs never%): " ..
        "give uid_map and gid_map, e%.g%. the identity", out)
      local err
      st, out, err = H.run_sh("echo w > /w && cat /w", { rootfs = dir .. "/m",
        uid_map = { inside = 0, outside = 0, count = 65536 }, gid_map = { inside = 0, outside = 0, count = 65536 } })
      assert.equal(0, st, err)
      assert.equal("w\n", out)
      assert.equal("", H.sh("ls -A " .. q(dir .. "/u")))
    end)

    it("runs as an unprivileged user from an image on tmpfs", function()
      H.needs_root("mounts a tmpfs holding an image, becomes uid 65534 through setpriv")
      local dir = H.tmpdir("tmpfs-img")
      finally(function() os.execute("umount " .. q(dir) .. " 2>/dev/null; rm -rf " .. q(dir)) end)
      assert(os.execute(string.format("mount -t tmpfs -o mode=755 none %s && cp -a %s/. %s/", q(dir), q(img), q(dir))))
      local out, code = H.run_unprivileged("image_probe.lua", "echo x > /f && cat /f", "rootfs=" .. dir)
      assert.equal(0, code, out)
      assert.equal("status=0\nx\n", out)
      assert.is_nil(core.stat(dir .. "/f"))
    end)

    it("runs as an unprivileged user from a root-owned image it may only read", function()
      -- The root directory is the container's own (the private layer's); a directory
      -- of the image owned by an id outside the map cannot be copied up (EOVERFLOW):
      -- an image of one's own has none.
      H.needs_root("becomes uid 65534 through setpriv")
      local tree = H.unprivileged_tree()
      local ro = listing(tree .. "/rootfs")
      local out, code = H.run_unprivileged("image_probe.lua", "echo x > /f && cat /f; mkdir /d; rm -r /d; mkdir /d; " ..
        "ls -A /d; id -u; echo y > /tmp/f || echo no-copy-up", "rootfs=" .. tree .. "/rootfs")
      assert.equal(0, code, out)
      assert.matches("^status=0\nx\n0\n", out)
      assert.matches("no%-copy%-up\n", out)
      assert.equal(ro, listing(tree .. "/rootfs"))
    end)
  end)

  describe("refuses, naming the field, and leaves nothing behind", function()
    local function refused(r)
      local was = data_dirs()
      r.command = { "true" }
      local box, err = nsbox.container(r)
      assert.is_nil(box)
      assert.equal(was, data_dirs())
      return err
    end
    local file
    setup(function()
      file = H.tmpname("file")
      assert(io.open(file, "w")):close()
    end)
    teardown(function() os.remove(file) end)

    it("a missing layer, a layer that is a file, no layer at all", function()
      assert.matches("^rootfs%[2%]: stat%(/no/such/layer%): No such file or directory$", refused { rootfs = { img, "/no/such/layer" } })
      assert.matches("^rootfs%[1%]: '.*' is a file, not a directory$", refused { rootfs = { file, img } })
      assert.equal("rootfs: at least one layer directory expected", refused { rootfs = {} })
      assert.equal("rootfs: required", refused {})
    end)

    it("an upper directory inside the image, holding it, or a file", function()
      assert.matches("^upper: '.*' overlaps rootfs '.*': the upper layer must be outside the image$",
        refused { rootfs = img, upper = img .. "/var/up" })
      assert.matches("^upper: '.*' overlaps layer 2 ", refused { rootfs = { H.rootfs, img }, upper = img })
      assert.matches("^upper: '.*' is a file, not a directory$", refused { rootfs = img, upper = file })
      assert.matches("^upper: '/no/such/dir/up': its parent directory does not exist$",
        refused { rootfs = img, upper = "/no/such/dir/up" })
      assert.matches("^upper: '/proc' is a mount point: its work directory, beside it, would be on another filesystem$",
        refused { rootfs = img, upper = "/proc" })
    end)

    it("modes that exclude each other", function()
      assert.matches("^in_place: writes one image in place", refused { rootfs = { img, H.rootfs }, in_place = true })
      assert.matches("^in_place: and upper exclude each other", refused { rootfs = img, in_place = true, upper = "/tmp/x" })
      assert.matches("^upper: a read%-only root writes nothing", refused { rootfs = img, readonly = true, upper = "/tmp/x" })
      assert.equal("in_place: boolean expected, got string", refused { rootfs = img, in_place = "yes" })
    end)
  end)
end)
