-- Install (offline, with Debian's lua-cjson: make deps; run from the repository root,
-- add --tree DIR for a private tree):
--   LUAROCKS_CONFIG=rockspec/debian-provided.lua luarocks --lua-version 5.4 make rockspec/nsbox-scm-1.rockspec
-- The build is the Makefile's (`make`, then `make install` into the rock's directories);
-- it adds -std=c11 and the warnings to luarocks' CFLAGS. The dependencies are lua and
-- lua-cjson (the JSON of the state entries and `nsbox ps --json`); luarocks does not see
-- Debian's packages, and debian-provided.lua tells it that Debian's lua-cjson is there,
-- so it never contacts a server (without it, luarocks fetches the lua-cjson rock).
-- Objects go to build/ in the source tree.
rockspec_format = "3.0"
package = "nsbox"
version = "scm-1"

-- Where the project is published; `luarocks make` builds the checkout it runs in and
-- never fetches this.
source = {
   url = "git+https://github.com/nsbox/nsbox.git",
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
   "lua-cjson",
}

external_dependencies = {
   MNL = { header = "libmnl/libmnl.h", library = "mnl" },
   SECCOMP = { header = "seccomp.h", library = "seccomp" },
   NFTNL = { header = "libnftnl/table.h", library = "nftnl" },
}

build = {
   -- The Makefile builds nsbox.core and precompiles the Lua modules (luac5.4), and
   -- installs both: the same files as `make install PREFIX=...`.
   type = "make",
   build_variables = {
      CFLAGS = "$(CFLAGS)",
      LUA_INC = "-I$(LUA_INCDIR) -I$(MNL_INCDIR) -I$(SECCOMP_INCDIR) -I$(NFTNL_INCDIR)",
      LUAC = "$(LUA_BINDIR)/luac5.4",
      LIBS = "-L$(MNL_LIBDIR) -lmnl",
      SECCOMP_LIBS = "-L$(SECCOMP_LIBDIR) -lseccomp",
      NFT_LIBS = "-L$(NFTNL_LIBDIR) -L$(MNL_LIBDIR) -lnftnl -lmnl",
   },
   install_variables = {
      PREFIX = "$(PREFIX)",
      LMOD = "$(LUADIR)",
      CMOD = "$(LIBDIR)",
      BINDIR = "$(BINDIR)",
      -- luarocks deploys only lua/, lib/ and bin/ of a rock: the man page goes straight
      -- into the tree's share/man ($(PREFIX) is TREE/lib/luarocks/rocks-5.4/nsbox/VERSION),
      -- where man finds it from TREE/bin on PATH.
      MANDIR = "$(PREFIX)/../../../../../share/man",
   },
}
