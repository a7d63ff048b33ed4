--- Fault injection for the specs: once `fault.arm(STEP)` has run in a process,
-- the named setup step fails there as if the kernel had refused it, so each
-- failure path (message, clean-up) can be proved. Nothing in the product arms
-- it: no environment variable, no recipe field. A forked child inherits the
-- armed step with the parent's Lua state; a re-executed child is a fresh
-- interpreter, which the specs arm by giving an `interpreter` that runs
-- `require("nsbox.fault").arm(STEP)` before nsbox's bootstrap
-- (spec/faults_spec.lua). Unarmed, a step costs a compare.
-- @module nsbox.fault
local failure = require "nsbox.failure"

local M = {}

--- The steps that can fail, in the order they run.
M.STEPS = {
  "idmap", "attach",                                                      -- the parent
  "mount-private", "bind-rootfs", "proc", "dev", "sys", "mounts", "mask", -- the child
  "pivot_root", "hostname", "lo", "net", "cwd", "harden", "exec",
}

--- The armed step, or nil.
M.armed = nil

--- Arm step (one of STEPS), or disarm with nil: for specs only.
function M.arm(step)
  M.armed = step
end

--- Fail here if this step is armed: raises { error = "STEP: injected fault", errno = EIO }.
function M.point(step)
  if M.armed == step then
    -- nsbox.core is required here, not at load: the specs' arming interpreter
    -- loads this module before the bootstrap has set package.cpath
    failure.raise(step .. ": injected fault", require("nsbox.core").EIO)
  end
end

return M
