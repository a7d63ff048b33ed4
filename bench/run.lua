-- make bench: every benchmark in bench/, results on stdout (markdown tables).
local dir = arg[0]:match("^(.*)/bench/run%.lua$") or "."
package.path = dir .. "/?.lua;" .. package.path
local core = require "nsbox.core"

local function uname()
  local p = io.popen("uname -srm")
  local s = p:read("l")
  p:close()
  return s
end
print("# nsbox benchmarks\n")
print(string.format("Machine: %s, %s cores.\n", uname(), io.popen("nproc"):read("l")))
if core.geteuid() == 0 then
  arg = { "200" }
  dofile(dir .. "/bench/net.lua")
else
  print("(bench/net.lua needs root: skipped)")
end
