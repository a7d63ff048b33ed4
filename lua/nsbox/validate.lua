--- The rule every validator follows: a check raises `bad(field, ...)` at the
-- first wrong field, and `validator(check)` turns that into nil and
-- "field: reason" for the caller; any other error is a bug and propagates.
-- @module nsbox.validate
local M = {}

-- The metatable that tells a refused field from a bug.
local Bad = {}

--- Refuse field: raises "field: <fmt formatted>".
function M.bad(field, fmt, ...)
  error(setmetatable({ msg = field .. ": " .. string.format(fmt, ...) }, Bad), 0)
end

--- Refuse with a message already made by another validator.
function M.raise(msg)
  error(setmetatable({ msg = msg }, Bad), 0)
end

--- The function check(...) as a validator: its result, or nil and the message of a refused field.
function M.validator(check)
  return function(...)
    local ok, res = pcall(check, ...)
    if ok then return res end
    if getmetatable(res) == Bad then return nil, res.msg end
    error(res, 0)
  end
end

return M
