-- The documentation builds: the man page renders without warnings, and LDoc
-- builds the HTML reference (what `make doc` runs) with nsbox.core in it.
-- groff (groff-base) and ldoc (lua-ldoc) come with `make deps`: a missing tool
-- fails the spec with a message saying so, it is not skipped.
local H = require "spec.support.helpers"
local sh, q, root = H.run, H.sh_quote, H.root

local function need(tool, package)
  assert(sh("command -v " .. tool), tool .. " not found: install Debian's " .. package .. " (make deps)")
end

local function exists(path)
  local f = io.open(path)
  if f then f:close() end
  return f ~= nil
end

local function read(path)
  local f = assert(io.open(path))
  local s = f:read("a")
  f:close()
  return s
end

describe("documentation", function()
  it("the man page renders without warnings", function()
    need("groff", "groff-base")
    local ok, out = sh("groff -man -Tutf8 -ww -z " .. q(root .. "/man/nsbox.1"))
    assert.is_true(ok, "groff failed: " .. out)
    assert.are.equal("", out, "groff warnings")
  end)

  it("make doc builds the reference", function()
    need("ldoc", "lua-ldoc")
    local tmp = H.tmpdir("doc")
    finally(function() H.rm(tmp) end)
    local ok, out = sh("cd " .. q(root) .. " && ldoc -d " .. q(tmp) .. " .")
    assert.is_true(ok, "ldoc failed: " .. out)
    assert.is_true(exists(tmp .. "/index.html"), "no index.html; ldoc said: " .. out)
    local core = tmp .. "/modules/nsbox.core.html"
    assert.is_true(exists(core), "no page for nsbox.core; ldoc said: " .. out)
    -- The C files of nsbox.core are merged into one page (spawn.c, fs.c here).
    local page = read(core)
    assert.truthy(page:find('name = "spawn"', 1, true), "nsbox.core page lacks spawn (spawn.c)")
    assert.truthy(page:find('name = "stat"', 1, true), "nsbox.core page lacks stat (fs.c)")
    assert.is_true(exists(tmp .. "/modules/nsbox.core.rtnl.html"), "no page for nsbox.core.rtnl")
  end)

  it("the README's tour is examples/tour.lua, which its spec runs", function()
    local readme = read(root .. "/README.md")
    local block = readme:match("## A short tour\n.-```lua\n(.-)```\n")
    assert.truthy(block, "README.md has no lua block under 'A short tour'")
    local tour = read(root .. "/examples/tour.lua"):match("%-%- The tour starts here%.\n(.*)$")
    assert.are.equal(tour, block)
  end)

  it("the README's synopsis of run names --rootfs, which an installed nsbox needs", function()
    assert.truthy(read(root .. "/README.md"):find("bin/nsbox run [--rootfs DIR]", 1, true))
  end)
end)
