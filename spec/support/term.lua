-- A terminal the spec owns, as a user's: a pty of the host's devpts whose
-- slave is the controlling terminal of a command started on it (util-linux
-- `setsid --ctty`), driven from the master as `expect` would.
local core = require("nsbox").core

local T = { CPR = "<CPR>" }
T.__index = T

--- Start argv (a list) on a new terminal of rows x cols; env: extra "K=V" strings.
function T.spawn(argv, rows, cols, env)
  local pts = assert(core.open_in_root("/", "/dev/pts", nil, "beneath"))
  local master, slave = core.openpty(pts)
  core.close(pts)
  assert(master, slave)
  core.set_winsize(slave, rows or 24, cols or 80)
  local full = { "setsid", "--ctty", "--wait" }
  for _, a in ipairs(argv) do full[#full + 1] = a end
  local e = { "TERM=xterm", "PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LUA_PATH=" .. (os.getenv("LUA_PATH") or ""),
              "LUA_CPATH=" .. (os.getenv("LUA_CPATH") or ""), "NSBOX_STATE_DIR=" .. (os.getenv("NSBOX_STATE_DIR") or "") }
  if e[5] == "NSBOX_STATE_DIR=" then table.remove(e, 5) end
  for _, kv in ipairs(env or {}) do e[#e + 1] = kv end
  local pid, pidfd = assert(core.spawn { path = "/usr/bin/setsid", argv = full, env = e, stdin = slave, stdout = slave,
                                          stderr = slave })
  local self = setmetatable({ master = master, slave = slave, pid = pid, pidfd = pidfd, seen = "" }, T)
  self.modes = core.tty_modes(slave)
  return self
end

--- Type s. Just after a cursor query was answered, a moment later: busybox
-- reads the answer 16 bytes at a time and drops what came with it, as typed
-- keys never would.
function T:send(s)
  if self.answered then
    os.execute("sleep 0.2")
    self.answered = false
  end
  assert(core.write(self.master, s))
end

--- Read until pattern (a Lua pattern) is in what was read since the last match;
-- returns that text, or fails after timeout seconds (default 10) with what came.
-- A query of the cursor's position (ESC [6n: busybox's line editing and vi ask)
-- is answered as a terminal would, with self.cpr ("ROW;COL", default 1;5: after
-- a prompt of four characters), and shown as T.CPR: a program that asks reads
-- the answer before what is typed, so expect T.CPR before typing.
function T:expect(pattern, timeout)
  local deadline = os.time() + (timeout or 10)
  while true do
    local s, e = self.seen:find(pattern)
    if s then
      local got = self.seen:sub(1, e)
      self.seen = self.seen:sub(e + 1)
      return got
    end
    if os.time() > deadline then error("expected " .. pattern .. ", the terminal shows: " .. self.seen, 2) end
    local more = core.read_some(self.master, 4096, 200)
    if more == nil then error("the terminal closed; it showed: " .. self.seen, 2) end
    local n
    more, n = more:gsub("\27%[6n", T.CPR)
    for _ = 1, n do self:send("\27[" .. (self.cpr or "1;5") .. "R") end
    self.answered = self.answered or n > 0
    self.seen = self.seen .. more
  end
end

--- Wait for the command to end: its status.
function T:wait()
  local how, code = core.wait(self.pidfd)
  core.close(self.pidfd)
  self.pidfd = nil
  return how == "exited" and code or 128 + code
end

--- Whether the terminal's modes are those it had before the command ran.
function T:restored()
  return core.tty_modes(self.slave) == self.modes
end

function T:close()
  if self.pidfd then
    core.kill(self.pidfd, core.SIGKILL)
    self:wait()
  end
  core.close(self.master)
  core.close(self.slave)
end

return T
