--- A process waited for as a shell waits for it: the signals passed on to it
-- meanwhile, and its status as a shell reports it.
-- @module nsbox.status
local core = require "nsbox.core"

local M = {}

--- The signals forwarded to a waited-for command (by the parent, by init = true, by exec).
M.FORWARD = { core.SIGINT, core.SIGTERM, core.SIGHUP, core.SIGQUIT, core.SIGUSR1, core.SIGUSR2 }

--- The status of an ended process from what core.wait or core.reap says:
-- its exit code, or 128+N if signal N ended it.
function M.of(how, code)
  if how == "exited" then return code end
  return 128 + code
end

return M
