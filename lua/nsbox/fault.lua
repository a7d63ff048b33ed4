--- Fault injection for the specs: with NSBOX_FAULT=STEP in the parent's
-- environment, the named setup step fails as if the kernel had refused it, so
-- each failure path (message, clean-up) can be proved. Unset, it costs a compare.
-- @module nsbox.fault
local M = {}

--- The steps that can fail, in the order they run.
M.STEPS = {
  "idmap", "attach",                                                      -- the parent
  "mount-private", "bind-rootfs", "proc", "dev", "sys", "mounts", "mask", -- the child
  "pivot_root", "hostname", "lo", "net", "cwd", "harden", "exec",
}

--- The armed step (set from the parent's NSBOX_FAULT, passed to the child in its recipe).
M.armed = nil

--- Fail here if this step is armed: raises { error = "STEP: injected fault" }.
function M.point(step)
  if M.armed == step then error({ error = step .. ": injected fault", errno = 5 }, 0) end
end

return M
