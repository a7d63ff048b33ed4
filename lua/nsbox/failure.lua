--- How a setup step of the child fails: it raises { error = message, errno =,
-- status = }, which nsbox.inside sends to the parent and exits with. One shape
-- for every module of the child side.
-- @module nsbox.failure
local M = {}

--- Fail the step with message err (errno and the exit status optional).
function M.raise(err, errno, status)
  error({ error = err, errno = errno, status = status }, 0)
end

--- ok, or fail the step with the `nil, message, errno` of the call that gave ok.
function M.try(ok, err, errno)
  if not ok then error({ error = err, errno = errno }, 0) end
  return ok
end

return M
