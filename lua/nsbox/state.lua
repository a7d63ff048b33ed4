--- The state directory of `nsbox run`/`ps`/`exec`: one JSON file per container
-- (lua-cjson), named after it, holding what `ps` shows and `exec` needs.
-- BASE/containers/NAME, BASE: $NSBOX_STATE_DIR, else /run/nsbox as root,
-- $XDG_RUNTIME_DIR/nsbox (or /tmp/nsbox-UID) otherwise.
--
-- The entries hold `--env` values: BASE and BASE/containers must be the user's
-- own, mode 0700 and not symlinks (as the XDG runtime directory rules ask),
-- checked on an fd opened with O_NOFOLLOW, and every entry is then reached
-- through that fd (`*at` calls), never by a path that could be swapped between
-- the check and the use; entries are made 0600 whatever the umask.
--
-- A name is claimed before the container starts, by link(2) of a fully written
-- file to it (taken: "in use"), under an flock of the directory that every
-- claim, update and removal takes: an entry held by no live process (its nsbox
-- and its container both gone, or a file cut short) is removed by the next one
-- that finds it, and two claimants can never both remove it and both win.
-- @module nsbox.state
local core = require "nsbox.core"

local M = {}

-- lua-cjson, an instance of our own (settings are per instance), set deliberately:
-- inf and nan are refused (never written as invalid JSON, nor read); a table with
-- both string and integer keys is an object, its integer keys as decimal strings;
-- an excessively sparse array is refused. Numbers keep 14 significant digits:
-- every number nsbox stores (pids, start times in ticks, seconds, clone flags) is
-- an integer below 10^14. cjson reads every number as a float: see INTEGERS.
local json = require("cjson").new()
json.encode_invalid_numbers(false)
json.decode_invalid_numbers(false)
json.encode_sparse_array(false, 2, 10)
--- The JSON codec of nsbox (a lua-cjson instance: encode, decode), for entries and `ps --json`.
M.json = json

local INTEGERS = { "pid", "starttime", "owner", "owner_start", "started", "flags", "status", "finished" }
local PRIVATE, ENTRY = 448, 384 -- 0700, 0600

-- BASE; and whether group and others may read it: root's /run/nsbox, which the
-- network leases share (/run/nsbox/net, made 0755), holds only root's directories.
local function base_path()
  local given = os.getenv("NSBOX_STATE_DIR")
  if given then return given, false end
  if core.geteuid() == 0 then return "/run/nsbox", true end
  local xdg = os.getenv("XDG_RUNTIME_DIR")
  if xdg and xdg ~= "" then return xdg .. "/nsbox", false end
  return "/tmp/nsbox-" .. core.geteuid(), false
end

-- The directory name under dirfd (nil: the current one), made 0700 if missing,
-- open and checked: ours, private, not a symlink; path names it in messages.
local function open_private(dirfd, name, path, readable)
  local function refuse(why) return nil, "state directory " .. path .. ": " .. why end
  local fd, err, errno = core.openat(dirfd, name, "dir")
  local made = false
  if not fd and errno == core.ENOENT then
    local ok, merr, meno = core.mkdirat(dirfd, name, PRIVATE)
    if not ok and meno ~= core.EEXIST then return refuse(merr) end
    made = ok
    fd, err, errno = core.openat(dirfd, name, "dir")
  end
  if not fd then
    local st = (errno == core.ENOTDIR or errno == core.ELOOP) and core.stat(path)
    if st and st.type == "link" then return refuse("a symbolic link, not a directory") end
    if errno == core.ENOTDIR then return refuse("not a directory") end
    return refuse(err)
  end
  if made then core.fchmod(fd, PRIVATE) end -- just made, ours: its mode is not the umask's
  local st, euid = assert(core.fstat(fd)), core.geteuid()
  local why
  if st.uid ~= euid then
    why = string.format("owned by uid %d, not by you (uid %d)", st.uid, euid)
  elseif readable and st.mode & 18 ~= 0 then
    why = string.format("mode %04o lets group or others write (must not)", st.mode)
  elseif not readable and st.mode & 63 ~= 0 then
    why = string.format("mode %04o lets group or others in (must be 0700)", st.mode)
  end
  if why then
    core.close(fd)
    return refuse(why)
  end
  return fd
end

-- BASE/sub (containers, logs), open and checked (BASE too): fd, path; or nil, message.
local function open_dir(sub)
  local base, readable = base_path()
  local bfd, err = open_private(nil, base, base, readable)
  if not bfd then return nil, err end
  local dir = base .. "/" .. (sub or "containers")
  local fd
  fd, err = open_private(bfd, sub or "containers", dir, false)
  core.close(bfd)
  if not fd then return nil, err end
  return fd, dir
end

-- A detached container's log: BASE/logs/ID (its id: a name is reused, an id never).
local function log_name(e) return e.log and tostring(e.id):match("^[%w]+$") end

--- The log of a detached container (entry e), opened to append (made 0600 if
-- missing), or to read (how "read").
-- @treturn integer|nil fd, or nil and a message
function M.open_log(e, how)
  local name = log_name(e)
  if not name then return nil, "container " .. e.name .. ": it was not started detached (-d): no log" end
  local fd, dir = open_dir("logs")
  if not fd then return nil, dir end
  local lfd, err = core.openat(fd, name, how == "read" and "read" or "append", ENTRY)
  core.close(fd)
  if not lfd then return nil, "log of " .. e.name .. ": " .. err end
  return lfd
end

--- The directory of attach sockets (BASE/attach), open and checked: fd, or nil and a message.
function M.attach_dir()
  return open_dir("attach")
end

--- Remove the log of entry e (a detached container's, { name =, id =, log = true }).
function M.remove_log(e)
  local name = log_name(e)
  local fd = name and open_dir("logs")
  if fd then
    core.unlinkat(fd, name)
    core.close(fd)
  end
end

-- fn(fd, path) with the containers directory open and locked (flock, let go
-- when it is closed or this process ends, however it ends).
local function locked(fn)
  local fd, dir = open_dir()
  if not fd then return nil, dir end
  local ok, err = core.flock(fd, "ex")
  if not ok then
    core.close(fd)
    return nil, "state directory " .. dir .. ": " .. err
  end
  local res = table.pack(pcall(fn, fd, dir))
  core.close(fd)
  if not res[1] then error(res[2], 0) end
  return table.unpack(res, 2, res.n)
end

--- The directory of the entries (BASE/containers), made if missing and checked.
-- @treturn string|nil the path, or nil and why it is refused
function M.dir()
  local fd, dir = open_dir()
  if not fd then return nil, dir end
  core.close(fd)
  return dir
end

--- The start time of pid (core.starttime: field 22 of /proc/PID/stat, the
-- rule the address leases use too): tells a process from a later one with its pid.
-- @treturn integer|nil nil if pid is not running (a zombie is not)
function M.starttime(pid)
  return (core.starttime(pid))
end

-- The entry name under fd, or nil if it is missing or not a whole entry.
local function read_entry(fd, name)
  local efd = core.openat(fd, name, "read")
  if not efd then return nil end
  local s = core.read_all(efd)
  core.close(efd)
  local ok, e = pcall(json.decode, s or "")
  if not ok or type(e) ~= "table" then return nil end
  for _, k in ipairs(INTEGERS) do e[k] = math.tointeger(e[k]) end
  return e
end

local function alive(pid, start)
  return pid ~= nil and start ~= nil and M.starttime(pid) == start
end

-- Its container runs (a pid saved after it ended has no start time: never running).
local function running(e) return alive(e.pid, e.starttime) end

-- Someone holds the name: its container, the nsbox that claimed it, or (a
-- detached container that ended, its status recorded) the entry itself, until nsbox rm.
local function held(e) return running(e) or alive(e.owner, e.owner_start) or e.exited == true end

--- Whether the entry's nsbox (a detached container's monitor, or a foreground nsbox run) still runs.
function M.owner_alive(e) return alive(e.owner, e.owner_start) end

--- Whether the entry's container runs.
M.running = running

-- Write e to NAME: "claim" links a new file to the name (EEXIST if taken),
-- "update" renames one over it. Under the lock, so ".NAME.tmp" is ours.
local function write_entry(fd, e, how)
  local ok, text = pcall(json.encode, e)
  if not ok then return nil, "state entry " .. e.name .. ": " .. text end
  local tmp = "." .. e.name .. ".tmp"
  core.unlinkat(fd, tmp) -- left by an nsbox killed while it wrote
  local tfd, err, errno = core.openat(fd, tmp, "new", ENTRY)
  if not tfd then return nil, err, errno end
  ok, err, errno = core.fchmod(tfd, ENTRY)
  if ok then ok, err, errno = core.write(tfd, text) end
  core.close(tfd)
  if ok and how == "claim" then
    ok, err, errno = core.linkat(fd, tmp, e.name)
  elseif ok then
    ok, err, errno = core.renameat(fd, tmp, e.name)
    if ok then return true end
  end
  core.unlinkat(fd, tmp)
  return ok, err, errno
end

--- Record a container. The first save of a name claims it, before the container
-- starts (name and id are enough); later saves with the same id update it (pid,
-- command, ...: what `ps` and `exec` need). A name another entry holds (its nsbox
-- or its container still runs) is refused: "name NAME is in use".
-- @tparam table entry name, id, and pid, command, ip, env, ... once started
-- @tparam[opt] string only "update": never claim the name (an entry removed meanwhile stays removed)
-- @treturn boolean|nil true, or nil and a message
function M.save(entry, only)
  assert(type(entry.name) == "string" and type(entry.id) == "string", "state.save: name and id expected")
  local e = {}
  for k, v in pairs(entry) do e[k] = v end
  e.owner = core.getpid()
  e.owner_start = M.starttime(e.owner)
  if e.starttime == nil then e.starttime = e.pid and M.starttime(e.pid) or nil end
  e.started = e.started or os.time()
  return locked(function(fd, dir)
    local old = read_entry(fd, e.name)
    if old and old.id == e.id then return write_entry(fd, e, "update") end
    if only == "update" then return nil, "state entry " .. e.name .. ": gone" end
    local in_use = "name " .. e.name .. " is in use"
    if old and old.exited == true then in_use = in_use .. " by a container that has ended (nsbox rm " .. e.name .. ")" end
    if old and held(old) then return nil, in_use end
    core.unlinkat(fd, e.name) -- held by nobody, or cut short: stale
    local ok, err, errno = write_entry(fd, e, "claim")
    if not ok and errno == core.EEXIST then return nil, in_use end
    if not ok then return nil, "state directory " .. dir .. ": " .. err end
    return true
  end)
end

--- Forget a container (when it has ended): its entry and its log, only if it is still the one with this id.
function M.remove(name, id)
  locked(function(fd)
    local e = read_entry(fd, name)
    if e and e.id == id then
      core.unlinkat(fd, name)
      M.remove_log(e)
    end
  end)
end

--- Containers, sorted by name: the running ones, and with all the ended detached
-- ones too (their status recorded); entries nobody holds are removed, and their logs.
-- @tparam[opt] boolean all
-- @treturn table|nil the entries, or nil and a message
function M.list(all)
  return locked(function(fd, dir)
    local names, err = core.readdir("/proc/self/fd/" .. fd) -- the directory we checked, not a path
    if not names then return nil, "state directory " .. dir .. ": " .. err end
    local out = {}
    for _, name in ipairs(names) do
      if name:sub(1, 1) == "." then
        core.unlinkat(fd, name) -- a claim an nsbox killed while it wrote left half-made
      else
        local e = read_entry(fd, name)
        if e and (running(e) or (all and e.exited == true)) then
          out[#out + 1] = e
        elseif not (e and held(e)) then
          core.unlinkat(fd, name)
          if e then M.remove_log(e) end
        end
      end
    end
    table.sort(out, function(a, b) return a.name < b.name end)
    return out
  end)
end

--- The running container named name, or with that pid; with all, an ended one too.
function M.find(what, all)
  local list, err = M.list(all)
  if not list then return nil, err end
  for _, e in ipairs(list) do
    if e.name == what or (tostring(e.pid) == what and running(e)) then return e end
  end
  return nil, "no " .. (all and "" or "running ") .. "container named or with pid '" .. what .. "'"
end

return M
