-- Installs nsbox with luarocks (offline) into a fresh tree and loads it from there.
-- Works on a copy of the sources: the builtin backend writes csrc/*.o and ./nsbox/core.so.
local H = require "spec.support.helpers"
local sh, q, root = H.run, H.sh_quote, H.root

describe("installing with luarocks", function()
  local src, tree

  setup(function()
    src, tree = H.tmpdir("install-src"), H.tmpdir("install-tree")
    -- The sources without build products (build/, *.o, *.so, .git).
    assert(sh(("tar -C %s --exclude=.git --exclude=./build --exclude='*.o' --exclude='*.so' -cf - . | tar -xf - -C %s")
      :format(q(root), q(src))))
  end)

  teardown(function()
    if src then H.rm(src) end
    if tree then H.rm(tree) end
  end)

  it("builds and installs the rockspec offline, then loads nsbox from that tree only", function()
    -- Debian's lua-cjson, which luarocks does not see, named as provided
    local ok, out = sh(("cd %s && LUAROCKS_CONFIG=rockspec/debian-provided.lua " ..
      "luarocks --lua-version 5.4 --tree %s make rockspec/nsbox-scm-1.rockspec"):format(q(src), q(tree)))
    assert(ok, out)

    local lpath = tree .. "/share/lua/5.4/?.lua;" .. tree .. "/share/lua/5.4/?/init.lua"
    local cpath = tree .. "/lib/lua/5.4/?.so"
    local ok2, got = sh(("cd / && LUA_PATH=%s LUA_CPATH=%s lua5.4 -e %s"):format(q(lpath), q(cpath), q(
      'local n = require "nsbox"; io.write(package.searchpath("nsbox.core", package.cpath), " ", math.type(n.core.getpid()))')))
    assert(ok2, got)
    assert.are.equal(tree .. "/lib/lua/5.4/nsbox/core.so integer", got)
    -- the modules are installed precompiled (no parsing at require), with their line numbers
    local f = assert(io.open(tree .. "/share/lua/5.4/nsbox/recipe.lua", "rb"))
    assert.are.equal("\27Lua", f:read(4))
    f:close()
    local ok4, err = sh(("cd / && LUA_PATH=%s LUA_CPATH=%s lua5.4 -e %s"):format(q(lpath), q(cpath), q(
      'local ok, e = pcall(require("nsbox.channel").send, 0, "error", print) io.write(tostring(e))')))
    assert(ok4, err)
    assert.matches("^lua/nsbox/channel.lua:%d+: channel: cannot send a function", err)
    local ok3, said = sh(("cd / && env -u LUA_PATH -u LUA_CPATH %s run --rootfs %s --hostname from-tree hostname")
      :format(q(tree .. "/bin/nsbox"), q(root .. "/build/rootfs")))
    assert(ok3, said)
    assert.are.equal("from-tree\n", said)
    -- installed, there is no bundled rootfs: --help and the error say so
    local ok5, help = sh(("cd / && %s run --help"):format(q(tree .. "/bin/nsbox")))
    assert(ok5, help)
    assert.matches("%-%-rootfs DIR%s+Root filesystem directory: required once installed", help)
    local ok6, refused = sh(("cd / && %s run hostname 2>&1"):format(q(tree .. "/bin/nsbox")))
    assert.is_falsy(ok6)
    assert.are.equal("nsbox: --rootfs: required (the image directory; no default once installed)\n", refused)
    -- the man page lands where man finds it from the tree's bin/ on PATH
    local ok7, page = sh(("cd / && env -u MANPATH PATH=%s:/usr/bin:/bin man -w nsbox"):format(q(tree .. "/bin")))
    assert(ok7, page)
    assert.are.equal(tree .. "/share/man/man1/nsbox.1\n", page)
  end)

  it("installs the same with make install PREFIX=... and runs from there", function()
    local prefix = tree .. "/prefix"
    local ok, out = sh(("make -s -C %s install PREFIX=%s"):format(q(src), q(prefix)))
    assert(ok, out)
    -- ";;": the system's own paths too (the interpreter's defaults)
    local lpath = prefix .. "/share/lua/5.4/?.lua;" .. prefix .. "/share/lua/5.4/?/init.lua;;"
    local cpath = prefix .. "/lib/lua/5.4/?.so;;"
    local ok2, said = sh(("cd / && LUA_PATH=%s LUA_CPATH=%s %s run --rootfs %s --hostname from-prefix hostname")
      :format(q(lpath), q(cpath), q(prefix .. "/bin/nsbox"), q(root .. "/build/rootfs")))
    assert(ok2, said)
    assert.are.equal("from-prefix\n", said)
  end)
end)
