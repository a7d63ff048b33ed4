-- Users and id ranges: root's containers get 65536 ids of their own and see
-- their image through an idmapped mount; `user` runs the command as a user of
-- the image; nothing the container writes is owned by the host's root.
local H = require "spec.support.helpers"
local nsbox, core = H.nsbox, H.core
local q = H.sh_quote

-- A copy of the busybox rootfs with a user web (1000:1000, home /home/web) in a group staff (50).
local function image()
  local dir = H.tmpdir("users")
  assert(os.execute(string.format("cp -a %s/. %s/ && cd %s && " ..
    "echo 'web:x:1000:1000:web:/home/web:/bin/sh' >> etc/passwd && " ..
    "printf 'web:x:1000:\\nstaff:x:50:web\\n' >> etc/group && mkdir -p home/web && chown 1000:1000 home/web",
    q(H.rootfs), q(dir), q(dir))))
  return dir
end

-- The base of the range in the container's uid_map ("0 BASE 65536"), read from the host.
local function base_of(pid)
  local map = H.read_file("/proc/" .. pid .. "/uid_map")
  return tonumber(map:match("^%s*0%s+(%d+)%s+65536"))
end

describe("a container of root", function()
  if H.needs_root("root's containers get a range of ids picked for them") then return end
  local img
  setup(function() img = image() end)
  teardown(function() H.rm(img) end)

  it("gets 65536 ids of its own, none of them the host's root, leased while it runs", function()
    local r, w = assert(core.pipe())
    local a = assert(nsbox.container { rootfs = img, stdout = w, command = { "/bin/sh", "-c", "echo up; exec sleep 30" } })
    local b = assert(nsbox.container { rootfs = img, command = { "sleep", "30" } })
    assert(a:start())
    assert(b:start())
    core.close(w)
    core.read(r, 3)
    core.close(r)
    local ba, bb = base_of(a.pid), base_of(b.pid)
    assert.truthy(ba and bb, "a range of 65536")
    assert.are_not.equal(ba, bb)
    assert.truthy(ba >= 65536 and bb >= 65536)
    assert.truthy(core.stat("/run/nsbox/ids/" .. ba), "its lease")
    -- never a range /etc/subuid hands out, nor an existing uid
    for line in (H.read_file("/etc/subuid") or ""):gmatch("[^\n]+") do
      local s, n = line:match(":(%d+):(%d+)$")
      if s and not line:match("^root:") then
        for _, x in ipairs { ba, bb } do assert.is_false(x < s + n and tonumber(s) < x + 65536, line) end
      end
    end
    a:kill(core.SIGKILL) a:wait()
    b:kill(core.SIGKILL) b:wait()
    -- the lease is gone with the container
    assert.is_nil(core.stat("/run/nsbox/ids/" .. ba))
    assert.is_nil(core.stat("/run/nsbox/ids/" .. bb))
  end)

  it("takes its blocks from root's own /etc/subuid and /etc/subgid ranges where root has them", function()
    local BASE = 0x70000000 -- above nsbox's own pick range: a block here came from the files
    local FILES, saved, boxes = { "/etc/subuid", "/etc/subgid" }, {}, {}
    local function write(f, text)
      local out = assert(io.open(f, "w"))
      out:write(text)
      out:close()
    end
    -- one finally (busted keeps only the last one given): the containers, then the files as they were
    finally(function()
      for _, b in ipairs(boxes) do b:kill(core.SIGKILL) b:wait() end
      for _, f in ipairs(FILES) do
        if saved[f] then write(f, saved[f]) else os.remove(f) end
      end
    end)
    for _, f in ipairs(FILES) do
      saved[f] = H.read_file(f)
      write(f, (saved[f] or "") .. string.format("root:%d:131072\n", BASE))
    end
    for i = 1, 2 do
      boxes[i] = assert(nsbox.container { rootfs = img, command = { "sleep", "30" } })
      assert(boxes[i]:start())
    end
    local got = { base_of(boxes[1].pid), base_of(boxes[2].pid) }
    table.sort(got)
    assert.same({ BASE, BASE + 65536 }, got)
    -- two blocks in root's ranges, both taken: the third start is refused, naming where they come from
    local third = assert(nsbox.container { rootfs = img, command = { "true" } })
    local st, err = third:run()
    assert.is_nil(st)
    assert.matches("no free range of 65536 ids in /etc/subuid", err)
  end)

  it("sees its root-owned image as root's, and apt's kind of work (chown, su to a user) works", function()
    local st, out, err = H.run_sh("ls -ln /etc/passwd | awk '{print $3, $4}'; touch /f; chown 1000:50 /f; " ..
      "ls -ln /f | awk '{print $3, $4}'; su web -c 'id -u; touch /home/web/mine'; ls -ln /home/web/mine | awk '{print $3}'",
      { rootfs = img })
    assert.equal(0, st, err)
    assert.equal("0 0\n1000 50\n1000\n1000\n", out)
  end)

  it("writes nothing owned by the host's root: a kept upper holds the range's ids, a setuid file is not root's", function()
    local parent = H.sh("d=$(mktemp -d /var/tmp/nsbox-spec-plant.XXXXXX) && chmod 755 $d && echo $d"):gsub("\n$", "")
    finally(function() H.rm(parent) end)
    local upper = parent .. "/up"
    -- busybox copied as "id" (its applet), made setuid root inside
    local st, _, err = H.run_sh("mkdir /p && cp /bin/busybox /p/id && chown 0:0 /p/id && chmod 4755 /p/id",
      { rootfs = img, upper = upper })
    assert.equal(0, st, err)
    local s = assert(core.stat(upper .. "/p/id"))
    assert.are_not.equal(0, s.uid)
    assert.are_not.equal(0, s.gid)
    assert.equal(tonumber("4755", 8), s.mode & tonumber("7777", 8)) -- setuid, to the range's uid: never uid 0
    local id = H.sh("setpriv --reuid=65534 --regid=65534 --clear-groups " .. q(upper .. "/p/id") .. " -u")
    assert.are_not.equal("0\n", id)
    -- and the next container of that upper gets the same range back: still root's inside
    local out
    st, out = H.run_sh("ls -ln /p/id | awk '{print $1, $3}'", { rootfs = img, upper = upper })
    assert.equal(0, st)
    assert.equal("-rwsr-xr-x 0\n", out)
  end)

  it("never writes a kept upper's record of its range through a link planted beside it", function()
    local parent = H.tmpdir("plant-record")
    finally(function() H.rm(parent) end)
    local victim = parent .. "/victim"
    assert(os.execute("echo keep > " .. q(victim) .. " && ln -s victim " .. q(parent .. "/.up.nsbox-ids")))
    local st, out = H.run_sh("true", { rootfs = img, upper = parent .. "/up" })
    assert.is_nil(st)
    assert.matches("^upper: ", out)
    assert.equal("keep\n", H.read_file(victim))
  end)

  it("takes back only a range it would hand out, recorded by root, in a directory only root may write", function()
    local parent = H.tmpdir("plant-base")
    finally(function() H.rm(parent) end)
    -- a record of base 0 (the host's root) is refused, and so is one that is not root's
    assert(os.execute("echo 0 > " .. q(parent .. "/.up.nsbox-ids")))
    local st, out = H.run_sh("true", { rootfs = img, upper = parent .. "/up" })
    assert.is_nil(st)
    assert.matches("^upper: .*/%.up%.nsbox%-ids records no id range nsbox hands out", out)
    assert(os.execute("echo 655360 > " .. q(parent .. "/.up.nsbox-ids") .. " && chown 65534 " ..
      q(parent .. "/.up.nsbox-ids")))
    st, out = H.run_sh("true", { rootfs = img, upper = parent .. "/up" })
    assert.is_nil(st)
    assert.matches("records no id range", out)
    -- an upper in a directory others may write: refused before anything is made
    local open = H.tmpdir("plant-open")
    finally(function() H.rm(open) end)
    assert(os.execute("chmod 1777 " .. q(open)))
    local box, err = nsbox.container { rootfs = img, upper = open .. "/up" }
    assert.is_nil(box)
    assert.matches("^upper: '.*/up' lies in .*, which another user may write", err)
    assert.is_nil(core.stat(open .. "/up"))
  end)

  it("idmaps the image it was checked with, not a directory swapped in since", function()
    local dir = H.tmpdir("swap")
    finally(function() H.rm(dir) end)
    assert(os.execute(string.format("cp -a %s %s/img && mkdir %s/other", q(img), q(dir), q(dir))))
    local box = assert(nsbox.container { rootfs = dir .. "/img", command = { "true" } })
    assert(os.execute(string.format("mv %s/img %s/was && mv %s/other %s/img", q(dir), q(dir), q(dir), q(dir))))
    local ok, err = box:start()
    assert.is_nil(ok)
    assert.equal("rootfs: " .. dir .. "/img is not the directory the recipe was checked with: refused", err)
  end)

  it("needs the pid namespace for a picked range: its end takes every process of the range", function()
    local box, err = nsbox.container { rootfs = img, namespaces = { "user", "mount", "uts", "ipc", "net" } }
    assert.is_nil(box)
    assert.matches("^namespaces: a range of ids picked for the container %(root's default%) needs the pid namespace", err)
  end)

  it("keeps a setuid file of its private layer out of every host user's reach", function()
    local r, w = assert(core.pipe())
    local box = assert(nsbox.container { rootfs = img, stdout = w, command = { "/bin/sh", "-c",
      "mkdir /p && cp /bin/busybox /p/id && chmod 4755 /p/id && echo made && exec sleep 30" } })
    assert(box:start())
    core.close(w)
    finally(function() box:kill(core.SIGKILL) box:wait() end)
    assert.equal("made\n", core.read(r, 5))
    core.close(r)
    -- through /proc/PID/root the file is there, but its mount is another namespace's:
    -- the kernel ignores its setuid bit (mnt_may_suid), the caller stays itself
    local out = H.sh(string.format("setpriv --reuid=65534 --regid=65534 --clear-groups /proc/%d/root/p/id -u 2>&1; " ..
      "echo rc=$?", box.pid))
    assert.truthy(out == "65534\nrc=0\n" or out:find("Permission denied", 1, true), out)
  end)

  it("refuses to write an image in place with a range of its own, and takes the identity when given", function()
    local box, err = nsbox.container { rootfs = img, in_place = true }
    assert.is_nil(box)
    assert.matches("^in_place: the container's ids are a range of their own", err)
    local st = H.run_sh("id -u", H.in_place { rootfs = img })
    assert.equal(0, st)
  end)

  it("shows a bind mount's owners through its map with idmap, as the host's without", function()
    local dir = H.tmpdir("idmap-bind")
    finally(function() H.rm(dir) end)
    assert(os.execute("touch " .. q(dir .. "/f")))
    local st, out = H.run_sh("stat -c '%u %g' /plain/f /mapped/f; touch /mapped/new && echo wrote", { rootfs = img,
      mounts = { { source = dir, destination = "/plain" }, { source = dir, destination = "/mapped", idmap = true } } })
    assert.equal(0, st, out)
    assert.equal("65534 65534\n0 0\nwrote\n", out)
    assert.equal(0, core.stat(dir .. "/new").uid) -- what root inside wrote there is the host's root's
  end)
end)

describe("the user a command runs as", function()
  local img
  setup(function() img = image() end)
  teardown(function() H.rm(img) end)

  it("is named from the image's own /etc/passwd, with its groups, HOME and home directory", function()
    local st, out = H.run_sh("id; echo $HOME; pwd", { rootfs = img, user = "web" })
    assert.equal(0, st)
    assert.equal("uid=1000(web) gid=1000(web) groups=50(staff),1000(web)\n/home/web\n/home/web\n", out)
  end)

  it("may be uid:gid, name:group or a table, and holds no capability", function()
    local st, out = H.run_sh("id; grep CapEff /proc/self/status", { rootfs = img, user = "1000:50" })
    assert.equal(0, st)
    assert.equal("uid=1000(web) gid=50(staff) groups=50(staff)\nCapEff:\t0000000000000000\n", out)
    st, out = H.run_sh("id", { rootfs = img, user = "web:staff" })
    assert.equal(0, st)
    assert.equal("uid=1000(web) gid=50(staff) groups=50(staff)\n", out) -- as initgroups(web, staff)
    st, out = H.run_sh("id -G", { rootfs = img, user = { uid = 1000, gid = 1000, groups = { "staff", 7 } } })
    assert.equal(0, st)
    assert.equal("1000 7 50\n", out) -- the kernel keeps the groups sorted
    st, out = H.run_sh("echo $HOME; pwd", { rootfs = img, user = "web", cwd = "/tmp", env = { HOME = "/x" } })
    assert.equal(0, st)
    assert.equal("/x\n/tmp\n", out) -- the recipe's own win
  end)

  it("refuses, naming the field, a malformed user, an id outside the maps, an unknown name", function()
    local function refused(u, extra)
      local r = extra or {}
      r.rootfs, r.user = img, u
      local box, err = nsbox.container(r)
      assert.is_nil(box)
      return err
    end
    assert.equal("user: 'a:' is not name, uid, uid:gid or name:group", refused("a:"))
    assert.equal("user: 'b d' is not a user or group name", refused("b d"))
    assert.equal("user: unknown field 'name' (uid, gid, groups)", refused { name = "web" })
    assert.equal('user: a name, "uid[:gid]" or { uid =, gid =, groups = } expected, got boolean', refused(true))
    assert.matches("^user: uid 70000 is outside ", refused("70000"))
    assert.equal("user.groups[1]: gid 5 is outside gid_map: the container has no such id",
      refused({ uid = 0, groups = { 5 } }, { uid_map = { inside = 0, outside = core.getuid(), count = 1 },
        gid_map = { inside = 0, outside = core.getgid(), count = 1 } }))
    local box = assert(nsbox.container { rootfs = img, user = "nosuch", command = { "true" } })
    local ok, err = box:start()
    assert.is_nil(ok)
    assert.equal("user: no user 'nosuch' in the image's /etc/passwd (" .. img .. ")", err)
  end)

  it("is -u/--user on the command line", function()
    local out = H.sh(H.root .. "/bin/nsbox run --rootfs " .. q(img) .. " -u web id -un")
    assert.equal("web\n", out)
  end)
end)

describe("an unprivileged user's ids", function()
  if H.needs_root("becomes uid 65534 through setpriv") then return end

  it("are its own uid and gid inside with userns = keep-id, and root with one id otherwise", function()
    local tree = H.unprivileged_tree()
    local out, code = H.run_unprivileged("image_probe.lua", "id -u; id -g; cat /proc/self/uid_map | tr -s ' '",
      "rootfs=" .. tree .. "/rootfs", "userns=keep-id")
    assert.equal(0, code, out)
    assert.equal("status=0\n65534\n65534\n 65534 65534 1\n", out)
    out = H.run_unprivileged("image_probe.lua", "id -u", "rootfs=" .. tree .. "/rootfs")
    assert.equal("status=0\n0\n", out)
  end)

  it("refuse an idmapped bind mount, which needs root, and say once what a full range needs", function()
    local tree = H.unprivileged_tree()
    local as = "cd " .. q(tree) .. " && setpriv --reuid=65534 --regid=65534 --clear-groups env -i PATH=/usr/bin:/bin " ..
      H.lua_env(tree) .. " "
    local out = H.sh(as .. "lua5.4 -e " .. q("print(select(2, require('nsbox').container { rootfs = " ..
      string.format("%q", tree .. "/rootfs") .. ", mounts = { { source = '/tmp', destination = '/x', idmap = true } } }))"))
    assert.equal("mounts[1].idmap: an idmapped mount needs root (CAP_SYS_ADMIN over the source's filesystem): " ..
      "for your own files, your ids are the container's root already\n", out)
    local state = H.tmpdir("hint", true)
    finally(function() H.rm(state) end)
    os.execute("chown 65534:65534 " .. q(state))
    local cli = as .. "NSBOX_STATE_DIR=" .. q(state) .. " " .. tree .. "/bin/nsbox run --rootfs " .. q(tree .. "/rootfs") ..
      " true 2>&1"
    assert.matches("^nsbox: the container has one id %(root inside is you%): for a full range of ids.*said once\n$",
      H.sh(cli))
    assert.equal("", H.sh(cli))
  end)

  it("refuse keep-id as root and an unknown userns", function()
    local box, err = nsbox.container { rootfs = H.rootfs, userns = "keep-id" }
    assert.is_nil(box)
    assert.equal("userns: keep-id is for an unprivileged caller: root's ids are a range of their own", err)
    box, err = nsbox.container { rootfs = H.rootfs, userns = "yes" }
    assert.is_nil(box)
    assert.equal("userns: 'keep-id' or 'auto' expected, got yes", err)
  end)
end)

describe("nsbox import", function()
  it("refuses a missing source and a destination that is not empty, naming them", function()
    local dir = H.tmpdir("import")
    finally(function() H.rm(dir) end)
    local ok, err = nsbox.import("/no/such/image.tar", dir .. "/new")
    assert.is_nil(ok)
    assert.equal("import: /no/such/image.tar: no such file or directory", err)
    assert(io.open(dir .. "/file", "w")):close()
    ok, err = nsbox.import(H.rootfs, dir)
    assert.is_nil(ok)
    assert.equal("import: " .. dir .. " is not empty", err)
  end)

  it("makes no device node, and leaves nothing of a failed import behind", function()
    H.needs_root("makes an archive with a device node in it")
    local dir = H.tmpdir("import-dev")
    finally(function() H.rm(dir) end)
    assert(os.execute(string.format("mkdir -p %s/src/usr && mknod %s/src/usr/disk b 8 0 && echo x > %s/src/f && " ..
      "tar -C %s/src -cf %s/img.tar .", q(dir), q(dir), q(dir), q(dir), q(dir))))
    local ok, err = nsbox.import(dir .. "/img.tar", dir .. "/dest")
    assert.is_nil(ok)
    assert.matches("^import: unpacking .* failed", err)
    assert.is_nil(core.stat(dir .. "/dest"))
  end)

  it("copies a directory image into a new directory, owners kept as root", function()
    local dir = H.tmpdir("import")
    finally(function() H.rm(dir) end)
    assert(nsbox.import(H.rootfs, dir .. "/img"))
    assert.equal(H.sh("cd " .. q(H.rootfs) .. " && find . | sort | md5sum"),
      H.sh("cd " .. q(dir .. "/img") .. " && find . | sort | md5sum"))
    local st = H.run_sh("test -x /bin/busybox", { rootfs = dir .. "/img" })
    assert.equal(0, st)
  end)
end)
