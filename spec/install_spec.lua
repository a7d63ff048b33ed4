-- Installs nsbox with luarocks (offline) into a fresh tree and loads it from there.
-- Works on a copy of the sources: the builtin backend writes csrc/*.o and ./nsbox/core.so.
local function sh(cmd)
  local p = assert(io.popen(cmd .. " 2>&1"))
  local out = p:read("a")
  local ok, _, code = p:close()
  return ok, out, code
end
local function q(s) return "'" .. s:gsub("'", "'\\''") .. "'" end

local spec_dir = debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or "spec"
local root = select(2, sh("cd " .. q(spec_dir .. "/..") .. " && pwd")):match("[^\n]+")

describe("installing with luarocks", function()
  local src, tree

  setup(function()
    src = select(2, sh("mktemp -d")):match("[^\n]+")
    tree = select(2, sh("mktemp -d")):match("[^\n]+")
    -- The sources without build products (build/, *.o, *.so, .git).
    assert(sh(("tar -C %s --exclude=.git --exclude=./build --exclude='*.o' --exclude='*.so' -cf - . | tar -xf - -C %s")
      :format(q(root), q(src))))
  end)

  teardown(function()
    if src then os.execute("rm -rf " .. q(src)) end
    if tree then os.execute("rm -rf " .. q(tree)) end
  end)

  it("builds and installs the rockspec offline, then loads nsbox from that tree only", function()
    local ok, out = sh(("cd %s && luarocks --lua-version 5.4 --tree %s make rockspec/nsbox-scm-1.rockspec %s")
      :format(q(src), q(tree), q("CFLAGS=-O2 -fPIC -std=c11")))
    assert(ok, out)

    local lpath = tree .. "/share/lua/5.4/?.lua;" .. tree .. "/share/lua/5.4/?/init.lua"
    local cpath = tree .. "/lib/lua/5.4/?.so"
    local ok2, got = sh(("cd / && LUA_PATH=%s LUA_CPATH=%s lua5.4 -e %s"):format(q(lpath), q(cpath), q(
      'local n = require "nsbox"; io.write(package.searchpath("nsbox.core", package.cpath), " ", math.type(n.core.getpid()))')))
    assert(ok2, got)
    assert.are.equal(tree .. "/lib/lua/5.4/nsbox/core.so integer", got)
    local ok3, said = sh(("cd / && env -u LUA_PATH -u LUA_CPATH %s run --rootfs %s --hostname from-tree hostname")
      :format(q(tree .. "/bin/nsbox"), q(root .. "/build/rootfs")))
    assert(ok3, said)
    assert.are.equal("from-tree\n", said)
  end)

  it("installs the same with make install PREFIX=... and runs from there", function()
    local prefix = tree .. "/prefix"
    local ok, out = sh(("make -s -C %s install PREFIX=%s"):format(q(src), q(prefix)))
    assert(ok, out)
    -- ";;": the system's own paths too, for Debian's lua-argparse
    local lpath = prefix .. "/share/lua/5.4/?.lua;" .. prefix .. "/share/lua/5.4/?/init.lua;;"
    local cpath = prefix .. "/lib/lua/5.4/?.so;;"
    local ok2, said = sh(("cd / && LUA_PATH=%s LUA_CPATH=%s %s run --rootfs %s --hostname from-prefix hostname")
      :format(q(lpath), q(cpath), q(prefix .. "/bin/nsbox"), q(root .. "/build/rootfs")))
    assert(ok2, said)
    assert.are.equal("from-prefix\n", said)
  end)
end)
