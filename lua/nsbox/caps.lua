--- Capability names and the default bounding set of a container: podman's 11,
-- Docker's 14 without NET_RAW (raw sockets: ARP and IP spoofing on the bridge;
-- ping goes through ICMP datagram sockets instead, see nsbox.idmap), MKNOD and
-- AUDIT_WRITE. Names are accepted as "CAP_NET_ADMIN" or "net_admin".
-- @module nsbox.caps
local M = {}

M.NAMES = {
  "chown", "dac_override", "dac_read_search", "fowner", "fsetid", "kill", "setgid", "setuid",
  "setpcap", "linux_immutable", "net_bind_service", "net_broadcast", "net_admin", "net_raw",
  "ipc_lock", "ipc_owner", "sys_module", "sys_rawio", "sys_chroot", "sys_ptrace", "sys_pacct",
  "sys_admin", "sys_boot", "sys_nice", "sys_resource", "sys_time", "sys_tty_config", "mknod",
  "lease", "audit_write", "audit_control", "setfcap", "mac_override", "mac_admin", "syslog",
  "wake_alarm", "block_suspend", "audit_read", "perfmon", "bpf", "checkpoint_restore",
}
M.NUMBER = {}
for i, n in ipairs(M.NAMES) do M.NUMBER[n] = i - 1 end

M.DEFAULT = { "chown", "dac_override", "fowner", "fsetid", "kill", "net_bind_service", "setfcap",
              "setgid", "setpcap", "setuid", "sys_chroot" }

--- The canonical name of a capability, or nil.
function M.name(s)
  if type(s) ~= "string" then return nil end
  s = s:lower():gsub("^cap_", "")
  return M.NUMBER[s] and s or nil
end

--- The bounding set for { add =, drop = } (names): a set of numbers, or nil and the bad name.
function M.set(spec)
  local set = {}
  for _, n in ipairs(M.DEFAULT) do set[M.NUMBER[n]] = true end
  for _, which in ipairs { "add", "drop" } do
    for _, s in ipairs(spec and spec[which] or {}) do
      local n = M.name(s)
      if not n then return nil, which, s end
      set[M.NUMBER[n]] = which == "add" or nil
    end
  end
  return set
end

return M
