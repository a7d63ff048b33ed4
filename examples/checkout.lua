--- Lets an example run from a checkout with no LUA_PATH set, as bin/nsbox does:
-- when the checkout's lua/ is beside this directory, it goes first on the module
-- paths (as an absolute path: a container's child may change directory before it
-- loads a module); an installed nsbox is found as usual otherwise.
-- Called by each example as `assert(loadfile(here .. "checkout.lua"))(here)`.
local here = ...
if here:sub(1, 1) ~= "/" then here = (os.getenv("PWD") or ".") .. "/" .. here end
local top = (here:match("^(.*/)[^/]+/$") or here .. "../") .. "lua/"
local f = io.open(top .. "nsbox/init.lua")
if f then
  f:close()
  package.path = top .. "?.lua;" .. top .. "?/init.lua;" .. package.path
  package.cpath = top .. "?.so;" .. package.cpath
end
