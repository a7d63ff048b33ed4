-- Timing helpers for the benchmarks: wall-clock samples and their medians.
local clock = require("bench.clock").clock

local M = {}

--- Run fn n times; return the sorted samples in milliseconds.
function M.sample(n, fn)
  local t = {}
  for i = 1, n do
    local t0 = clock()
    fn(i)
    t[i] = (clock() - t0) * 1000
  end
  table.sort(t)
  return t
end

function M.median(t)
  local s = {}
  for i, v in ipairs(t) do s[i] = v end
  table.sort(s)
  local n = #s
  if n == 0 then return 0 / 0 end
  if n % 2 == 1 then return s[(n + 1) // 2] end
  return (s[n // 2] + s[n // 2 + 1]) / 2
end

--- One table row: | name | median ms | ratio |
function M.row(name, ms, base)
  return string.format("| %-52s | %9.3f | %6s |", name, ms, base and string.format("%.2fx", ms / base) or "")
end

return M
