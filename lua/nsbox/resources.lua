--- Validation of a recipe's `resources` (the limits of its cgroup) and
-- `rlimits`: every value parsed and checked against this machine (its CPUs,
-- fs.nr_open, this process's own hard limits), nothing created.
-- @module nsbox.resources
local core = require "nsbox.core"
local validate = require "nsbox.validate"

local bad = validate.bad

local M = {}

-- The controller each limit needs (v2 names; v1 calls io blkio).
M.CONTROLLER = { memory = "memory", memory_swap = "memory", pids = "pids", cpus = "cpu", cpu_weight = "cpu",
                 cpuset = "cpuset", io_weight = "io" }

local UNIT = { [""] = 1, b = 1, k = 1024, m = 1024 ^ 2, g = 1024 ^ 3, t = 1024 ^ 4 }

--- A size in bytes from an integer or a string like "256M", "1.5g", "512KiB"
-- (binary units, as podman's --memory), or nil if it does not parse.
function M.size(v)
  if math.type(v) == "integer" then return v end
  if type(v) ~= "string" then return nil end
  local num, unit = v:lower():match("^%s*(%d+%.?%d*)%s*([bkmgt]?)i?b?%s*$")
  if not num or (unit == "b" and v:lower():match("ib")) then return nil end
  local n = tonumber(num) * UNIT[unit]
  if n ~= n or n >= 2 ^ 62 then return nil end
  return math.floor(n)
end

local function size_field(field, v, min)
  local n = M.size(v)
  if n and n >= 2 ^ 52 then n = nil end -- past what any machine has, and what doubles hold exactly
  if not n then bad(field, "%s is not a size (bytes, or a number with b, k, m, g or t: \"256m\")", tostring(v)) end
  if n <= 0 then bad(field, "must be positive, got %s", tostring(v)) end
  if n < min then bad(field, "%s is below the smallest limit nsbox allows (%d bytes)", tostring(v), min) end
  return n
end

local function int_in(field, v, lo, hi)
  if math.type(v) ~= "integer" or v < lo or v > hi then bad(field, "an integer from %d to %d expected, got %s", lo, hi,
    tostring(v)) end
  return v
end

-- The CPUs of a list like "0-3,6" (kernel's cpulist format) as a set, or nil.
local function cpu_list(s)
  local set = {}
  for part in (s .. ","):gmatch("(.-),") do
    local a, b = part:match("^%s*(%d+)%s*%-%s*(%d+)%s*$")
    if not a then a = part:match("^%s*(%d+)%s*$") b = a end
    if not a or tonumber(a) > tonumber(b) or tonumber(b) > 8191 then return nil end -- the kernel's NR_CPUS at most
    for c = tonumber(a), tonumber(b) do set[c] = true end
  end
  return set
end

-- The first line of a file of the kernel's (nil if it cannot be read).
local function first_line(path)
  local f = io.open(path)
  local s = f and f:read("l")
  if f then f:close() end
  return s
end

-- This machine's online CPUs, as the kernel lists them ("0-1").
local function online_text()
  return first_line("/sys/devices/system/cpu/online") or "0"
end

local function online_cpus()
  return cpu_list(online_text()) or { [0] = true }
end

local function count(set)
  local n = 0
  for _ in pairs(set) do n = n + 1 end
  return n
end

-- The smallest memory limit: podman's (a container's runtime needs some).
local MIN_MEMORY = 6 * 1024 * 1024

--- The recipe's resources, normalized: { memory =, memory_swap = (-1: unlimited),
-- pids =, cpus =, cpu_weight =, cpuset = "0-1", io_weight =, text = { field = as given } },
-- or nil when the recipe has none (no cgroup then). Raises bad(field) otherwise.
function M.check(v)
  if v == nil then return nil end
  if type(v) ~= "table" then bad("resources", "table expected, got %s", type(v)) end
  for k in pairs(v) do
    if not M.CONTROLLER[k] then
      bad("resources", "unknown field '%s' (memory, memory_swap, pids, cpus, cpu_weight, cpuset, io_weight)", tostring(k))
    end
  end
  local out = { text = {} } -- {}: a cgroup without limits (its counters, box:stats())
  for k, x in pairs(v) do out.text[k] = tostring(x) end
  if v.memory ~= nil then out.memory = size_field("resources.memory", v.memory, MIN_MEMORY) end
  if v.memory_swap ~= nil then
    -- podman's meaning: memory and swap together; -1 for unlimited swap
    if not out.memory then bad("resources.memory_swap", "needs resources.memory (it is memory and swap together)") end
    if v.memory_swap == -1 or v.memory_swap == "-1" then out.memory_swap = -1
    else
      out.memory_swap = size_field("resources.memory_swap", v.memory_swap, 1)
      if out.memory_swap < out.memory then
        bad("resources.memory_swap", "%s is less than resources.memory (%s): it counts memory and swap together",
          tostring(v.memory_swap), tostring(v.memory))
      end
    end
  end
  if v.pids ~= nil then out.pids = int_in("resources.pids", v.pids, 1, 4194304) end
  local cpus = (v.cpus ~= nil or v.cpuset ~= nil) and online_cpus()
  if v.cpus ~= nil then
    local n = tonumber(v.cpus)
    if type(v.cpus) == "string" and n == nil or type(v.cpus) ~= "string" and type(v.cpus) ~= "number" then
      bad("resources.cpus", "a number of CPUs expected (1.5), got %s", tostring(v.cpus))
    end
    if n ~= n or n <= 0 then bad("resources.cpus", "must be positive, got %s", tostring(v.cpus)) end
    if n < 0.01 then bad("resources.cpus", "%s is below 0.01 (the kernel's smallest quota is 1 ms of 100)", tostring(v.cpus)) end
    if n > count(cpus) then
      bad("resources.cpus", "%s is more than this machine has (%d online)", tostring(v.cpus), count(cpus))
    end
    out.cpus = n
  end
  if v.cpu_weight ~= nil then out.cpu_weight = int_in("resources.cpu_weight", v.cpu_weight, 1, 10000) end
  if v.cpuset ~= nil then
    if type(v.cpuset) ~= "string" and math.type(v.cpuset) ~= "integer" then
      bad("resources.cpuset", "a list of CPUs expected (\"0-1,3\"), got %s", type(v.cpuset))
    end
    local set = cpu_list(tostring(v.cpuset))
    if not set or next(set) == nil then bad("resources.cpuset", "'%s' is not a list of CPUs (\"0-1,3\")", tostring(v.cpuset)) end
    local list = {}
    for c in pairs(set) do
      if not cpus[c] then bad("resources.cpuset", "CPU %d is not online here (online: %s)", c, online_text()) end
      list[#list + 1] = c
    end
    table.sort(list)
    out.cpuset = table.concat(list, ",")
  end
  if v.io_weight ~= nil then out.io_weight = int_in("resources.io_weight", v.io_weight, 1, 10000) end
  return out
end

local RLIMITS = { "as", "core", "cpu", "data", "fsize", "locks", "memlock", "msgqueue", "nice", "nofile", "nproc",
                  "rss", "rtprio", "rttime", "sigpending", "stack" }
local RLIMIT = {}
for _, n in ipairs(RLIMITS) do RLIMIT[n] = core["RLIMIT_" .. n:upper()] end

local function limit_value(field, x)
  if x == -1 or x == "unlimited" then return -1 end
  if math.type(x) ~= "integer" or x < 0 then bad(field, "a limit >= 0 or \"unlimited\" expected, got %s", tostring(x)) end
  return x
end

local function nr_open()
  return tonumber(first_line("/proc/sys/fs/nr_open")) or 1048576
end

-- CAP_SYS_RESOURCE in this process's effective set: what raising a hard limit takes
local function may_raise()
  local f = io.open("/proc/self/status")
  local caps = f and f:read("a"):match("CapEff:%s*(%x+)")
  if f then f:close() end
  return caps ~= nil and (tonumber(caps, 16) >> 24) & 1 == 1
end

-- a <= b where -1 is unlimited
local function le(a, b)
  if b == -1 then return true end
  return a ~= -1 and a <= b
end

--- The recipe's rlimits as a sorted list of { name =, resource =, soft =, hard = } (-1: unlimited).
-- A value is one limit for both, { soft, hard } or { soft =, hard = }.
function M.check_rlimits(v)
  if v == nil then return {} end
  if type(v) ~= "table" then bad("rlimits", "table of name = limit expected, got %s", type(v)) end
  local out = {}
  for k, x in pairs(v) do
    local name = type(k) == "string" and k:lower():gsub("^rlimit_", "")
    if not RLIMIT[name] then
      bad("rlimits", "unknown limit '%s' (%s)", tostring(k), table.concat(RLIMITS, ", "))
    end
    local field = "rlimits." .. name
    local soft, hard
    if type(x) == "table" then
      soft, hard = x.soft or x[1], x.hard or x[2]
      if soft == nil or hard == nil then bad(field, "{ soft, hard } expected") end
    else
      soft, hard = x, x
    end
    soft, hard = limit_value(field, soft), limit_value(field, hard)
    if not le(soft, hard) then bad(field, "soft limit %d is above the hard limit %d", soft, hard) end
    if name == "nofile" and (hard == -1 or hard > nr_open()) then
      bad(field, "the kernel allows at most %d open files (fs.nr_open), got %s", nr_open(), hard == -1 and "unlimited" or hard)
    end
    local _, own = core.getrlimit(RLIMIT[name])
    if not le(hard, own) and not may_raise() then
      bad(field, "hard limit %s is above this process's own (%s): raising it takes CAP_SYS_RESOURCE (root's)",
        hard == -1 and "unlimited" or hard, own == -1 and "unlimited" or own)
    end
    out[#out + 1] = { name = name, resource = RLIMIT[name], soft = soft, hard = hard, raise = not le(hard, own) }
  end
  table.sort(out, function(a, b) return a.name < b.name end)
  return out
end

--- Set the limits of list in this process (the container's side, before its
-- exec); an error names the limit.
function M.apply(list)
  for _, l in ipairs(list) do
    local ok, err, errno = core.setrlimit(l.resource, l.soft, l.hard)
    if not ok then return nil, "rlimits." .. l.name .. ": " .. err, errno end
  end
  return true
end

--- Raise, from this process (root: CAP_SYS_RESOURCE of the host), the hard
-- limits of pid that list puts above this process's own: in its new user
-- namespace the container may only lower them.
function M.raise(pid, list)
  for _, l in ipairs(list) do
    if l.raise then
      local soft = core.getrlimit(l.resource, pid)
      local ok, err, errno = core.setrlimit(l.resource, soft, l.hard, pid)
      if not ok then return nil, "rlimits." .. l.name .. ": " .. err, errno end
    end
  end
  return true
end

return M
