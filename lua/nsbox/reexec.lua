--- Docker's reexec pattern in Lua: a program re-executes itself to run a
-- registered function in a new process (typically in new namespaces).
--
--    reexec.register("nsInitialisation", function(...) ... end)
--    if reexec.init() then os.exit(0) end
--    local spec = reexec.command("nsInitialisation", "arg")
--    spec.flags = core.CLONE_NEWUTS ...; core.spawn(spec)
-- @module nsbox.reexec
local core = require "nsbox.core"

local M = {}
local MARKER = "NSBOX_REEXEC"
local registry = {}

--- Register fn under name; re-executions started with command(name) run it.
function M.register(name, fn)
  assert(type(name) == "string" and name ~= "", "reexec.register: name must be a non-empty string")
  assert(type(fn) == "function", "reexec.register: fn must be a function")
  if registry[name] then error("reexec.register: '" .. name .. "' is already registered", 2) end
  registry[name] = fn
end

--- If this process is a re-execution for a registered name, remove the marker
-- from the environment, run the function with the command-line arguments and
-- return true (and what it returned). Otherwise return false.
function M.init()
  local name = os.getenv(MARKER)
  local fn = name and registry[name]
  if not fn then return false end
  core.setenv(MARKER, nil)
  local args = rawget(_G, "arg") or {}
  return true, fn(table.unpack(args, 1, #args))
end

--- The interpreter's argv as this process was started: negative indices of `arg`.
local function interpreter_argv()
  local args = rawget(_G, "arg")
  if not args or not args[0] then return nil end
  local lo = 0
  while args[lo - 1] do lo = lo - 1 end
  local argv = {}
  for i = lo, 0 do argv[#argv + 1] = args[i] end
  return argv
end

--- A spawn spec for core.spawn that re-executes the current program with the
-- marker for name and extra arguments; package.path and package.cpath carry over.
-- @treturn table { path =, argv =, env = }
function M.command(name, ...)
  assert(registry[name], "reexec.command: '" .. tostring(name) .. "' is not registered")
  local argv = interpreter_argv()
  if not argv then error("reexec.command: no script to re-execute (arg[0] is unknown)", 2) end
  for i = 1, select("#", ...) do argv[#argv + 1] = tostring((select(i, ...))) end
  local env = {}
  for _, kv in ipairs(core.environ()) do
    local k = kv:match("^([^=]*)=")
    if k ~= MARKER and k ~= "LUA_PATH_5_4" and k ~= "LUA_CPATH_5_4" then env[#env + 1] = kv end
  end
  env[#env + 1] = MARKER .. "=" .. name
  env[#env + 1] = "LUA_PATH_5_4=" .. package.path
  env[#env + 1] = "LUA_CPATH_5_4=" .. package.cpath
  return { path = "/proc/self/exe", argv = argv, env = env }
end

return M
