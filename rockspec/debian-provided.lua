-- A luarocks config for a machine whose Lua modules come from Debian's packages
-- (make deps): luarocks does not see them, so it would look for the rocks nsbox
-- depends on on a server. Offline:
--   LUAROCKS_CONFIG=rockspec/debian-provided.lua luarocks --lua-version 5.4 make rockspec/nsbox-scm-1.rockspec
-- (it stands in for the user's own luarocks config, ~/.luarocks/config-5.4.lua).
-- luacheck: globals rocks_provided
rocks_provided = {
   ["lua-cjson"] = "2.1.0-1", -- Debian 12's lua-cjson 2.1.0+dfsg: the module cjson
}
