-- Install (offline; run from the repository root, add --tree DIR for a private tree):
--   luarocks --lua-version 5.4 make rockspec/nsbox-scm-1.rockspec "CFLAGS=-O2 -fPIC -std=c11"
-- The builtin backend has no per-module cflags: C11 comes from the CFLAGS=... argument
-- (without it luarocks uses its default "-O2 -fPIC", i.e. gcc's gnu17). The only dependency
-- is lua, which the VM provides, so luarocks never contacts a server.
-- The builtin backend writes csrc/*.o and ./nsbox/core.so into the source tree, and copies
-- everything under lua/ (including a stale lua/nsbox/core.so from `make`) into the rock.
rockspec_format = "3.0"
package = "nsbox"
version = "scm-1"

source = {
   url = "git+file:///work/main",
}

description = {
   summary = "Linux containers from namespace primitives, scriptable from Lua",
   detailed = [[
nsbox builds Linux containers (user, mount, uts, ipc, pid, net and cgroup
namespaces, pivot_root, rtnetlink networking) and drives them from Lua
scripts and busted specs. nsbox.core is the C layer; nsbox is the Lua API.
]],
}

supported_platforms = { "linux" }

dependencies = {
   "lua >= 5.4, < 5.5",
}

external_dependencies = {
   MNL = { header = "libmnl/libmnl.h", library = "mnl" },
}

build = {
   type = "builtin",
   modules = {
      -- Pure-Lua layer. KEEP IN SYNC with lua/nsbox/*.lua (luarocks needs an explicit list).
      ["nsbox"]           = "lua/nsbox/init.lua",
      ["nsbox.channel"]   = "lua/nsbox/channel.lua",
      ["nsbox.cli"]       = "lua/nsbox/cli.lua",
      ["nsbox.caps"]      = "lua/nsbox/caps.lua",
      ["nsbox.container"] = "lua/nsbox/container.lua",
      ["nsbox.fault"]     = "lua/nsbox/fault.lua",
      ["nsbox.idmap"]     = "lua/nsbox/idmap.lua",
      ["nsbox.inside"]    = "lua/nsbox/inside.lua",
      ["nsbox.json"]      = "lua/nsbox/json.lua",
      ["nsbox.net"]       = "lua/nsbox/net.lua",
      ["nsbox.recipe"]    = "lua/nsbox/recipe.lua",
      ["nsbox.reexec"]    = "lua/nsbox/reexec.lua",
      ["nsbox.rootfs"]    = "lua/nsbox/rootfs.lua",
      ["nsbox.state"]     = "lua/nsbox/state.lua",

      -- C layer: every csrc/*.c except csrc/nsbox-netns.c (a standalone helper program).
      -- KEEP IN SYNC with csrc/*.c.
      ["nsbox.core"] = {
         sources = {
            "csrc/common.c",
            "csrc/core.c",
            "csrc/fs.c",
            "csrc/lease.c",
            "csrc/lease_lua.c",
            "csrc/mount.c",
            "csrc/namespace.c",
            "csrc/netdev.c",
            "csrc/process.c",
            "csrc/resolve.c",
            "csrc/rtnl.c",
            "csrc/rtnl_addr.c",
         },
         incdirs = { "csrc", "$(MNL_INCDIR)" },
         libdirs = { "$(MNL_LIBDIR)" },
         libraries = { "mnl" },
      },
   },
   install = {
      bin = {
         ["nsbox"] = "bin/nsbox",
      },
   },
}
