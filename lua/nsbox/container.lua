--- The parent side of a container: spawn the re-executed child in new
-- namespaces, write its id maps, hand it the recipe, wait for its exec, reap it.
-- @module nsbox.container
local core = require "nsbox.core"
local channel = require "nsbox.channel"
local idmap = require "nsbox.idmap"
local fault = require "nsbox.fault"
local recipe = require "nsbox.recipe"
local status = require "nsbox.status"
local layers = require "nsbox.layers"
local etc = require "nsbox.etc"
local ids = require "nsbox.ids"
local cgroup = require "nsbox.cgroup"
local resources = require "nsbox.resources"
local tty = require "nsbox.tty"
-- nsbox.state (and lua-cjson) only for a box with a state entry: loaded when one is made
local function state() return require "nsbox.state" end

local Box = {}
Box.__index = Box

-- The sealed nsbox-init every start execs (core.init_stub), made once, when
-- nsbox is loaded: a start that fails leaves nothing of its own behind. A
-- failure here is met again, and reported, at the first start.
core.init_stub()

-- The life of a box: new, launched (cloned, setting up), running (its command
-- exec'd), done (reaped, or its start failed). A failed start goes from
-- launched to done; a box for a container started elsewhere begins running.
local take_ids, release, send_trees, reachable_paths

local MOVES = { new = { launched = true }, launched = { running = true, done = true }, running = { done = true },
                done = {} }
local REFUSED = { launched = "container: already started", running = "container: already started",
                  done = "container: not started" }

-- The one place a box changes state: the move to `to`, or nil and why it is
-- refused (nothing changes then). With ask, only whether it may (an operation
-- that blocks before it moves, like wait).
local function move(self, to, ask)
  if not MOVES[self.state][to] then return nil, REFUSED[to] end
  if not ask then self.state = to end
  return self
end

-- nil and why, unless the box is in state s (for what moves nothing: exec, kill).
local function need(self, s)
  if self.state == s then return self end
  return nil, string.format("container: not %s (%s)", s, self.state)
end

local function env_list(env)
  local out = {}
  for k, v in pairs(env) do out[#out + 1] = k .. "=" .. v end
  table.sort(out)
  return out
end

-- Bind sources the parent opens for the child: those marked idmap, and as root
-- every one when the container's root is a range's, which may not reach a source
-- the caller can (under a 0700 home).
local function passed_binds(r)
  local all = layers.other_root(r) ~= nil
  for _, m in ipairs(r.mounts) do
    if m.type == "bind" and (m.idmap or all) then return all and "all" or "idmap" end
  end
end

-- What the child needs, and nothing the parent keeps to itself. dirs: the
-- overlay's directories on disk (layers.prepare), if any.
local function child_recipe(r, dirs)
  return {
    rootfs = r.rootfs, layers = r.layers, in_place = r.in_place, upper = dirs.upper, work = dirs.work,
    idmapped = r.auto_ids and not r.in_place, binds = passed_binds(r),
    user = r.user, home_given = r.home_given, cwd_given = r.cwd_given,
    resolv_conf = etc.resolv_conf(r.dns), command = r.command, env = env_list(r.env), path = r.env.PATH,
    cwd = r.cwd, hostname = r.hostname, domainname = r.domainname, namespaces = r.namespaces,
    mounts = r.mounts, keep_fds = r.keep_fds, readonly = r.readonly, stdio = r.stdio, gid_map = r.gid_map,
    tty = type(r.tty) == "table" and tty.size(r.tty, r),
    capabilities = r.capabilities, no_new_privs = r.no_new_privs, new_session = r.new_session, init = r.init,
    rlimits = r.rlimits, seccomp = r.seccomp,
    -- placed in its cgroup after the clone: it makes its cgroup namespace then, rooted there
    cgroupns = r.resources ~= nil and r.namespaces.cgroup or nil,
    -- who configures the container's interface: this process as root (it makes
    -- the host side itself, or pasta does it), else the child, from the "network" message
    net = r.network and ((r.network.mode == "pasta" or require("nsbox.net").direct()) and "parent" or "child") or false,
    -- an address the recipe names is announced (nsbox.net says why): through the helper, when its link comes up
    announce = r.network and r.network.address ~= nil or nil,
  }
end

-- The child side's modules as one stripped bytecode chunk that fills
-- package.preload: the re-executed interpreter loads it from the channel
-- instead of searching and compiling the sources (about 0.8 ms a container).
-- Built once per process, from its second container on: a process that starts
-- one container would spend more compiling the bundle than the child saves.
-- Modules not found as files are left to require.
local CHILD_MODULES = { "nsbox.failure", "nsbox.status", "nsbox.fault", "nsbox.channel", "nsbox.validate", "nsbox.idmap",
                        "nsbox.net", "nsbox.rootfs", "nsbox.etc", "nsbox.users", "nsbox.resources",
                        "nsbox.inside" }
local bundle_cache, starts = {}, 0
local function bundle()
  local key = package.path
  starts = starts + 1
  if starts == 1 then return nil end
  if not bundle_cache[key] then
    local src = {}
    for _, name in ipairs(CHILD_MODULES) do
      local path = package.searchpath(name, package.path)
      local chunk = path and loadfile(path)
      if chunk then
        src[#src + 1] = string.format("package.preload[%q] = load(%q, %q, 'b')", name,
          string.dump(chunk, true), "=" .. name)
      end
    end
    bundle_cache[key] = channel.frame("bundle", string.dump(assert(load(table.concat(src, "\n"))), true))
  end
  return bundle_cache[key]
end

-- The Lua code the re-executed interpreter runs: the parent's package paths,
-- the messages it takes before its modules are loaded ("maps" when held, the
-- bundle if one is sent), then the child side's entry point.
local function bootstrap(held, with_bundle, entry, fd, path, cpath, ...)
  local kinds = {}
  if held then kinds[#kinds + 1] = "maps" end
  if with_bundle then kinds[#kinds + 1] = "bundle" end
  return string.format("package.path=%q package.cpath=%q %srequire('nsbox.inside').%s(%s)",
    path, cpath, #kinds > 0 and channel.bootstrap(fd, kinds) or "", entry,
    table.concat({ fd, ... }, ","))
end

-- A re-executed child whose root is a range's runs as that range's uid from its
-- exec on, which may not reach nsbox's modules where the caller can (a checkout
-- under a 0700 home): its package paths go through fds of their directories
-- (O_PATH, opened for this start, added to keep; the caller closes them once the
-- child is spawned): a lookup through /proc/self/fd/N starts at the directory,
-- past the home it lies in.
function reachable_paths(keep)
  local fds = {}
  local function rewrite(paths)
    return (paths:gsub("[^;]+", function(t)
      local dir, rest = t:match("^(/[^?]*)/(%?.*)$")
      if not dir then return nil end
      if fds[dir] == nil then
        fds[dir] = core.open_in_root(dir, "/") or false
        if fds[dir] then keep[#keep + 1] = fds[dir] end
      end
      if not fds[dir] then return nil end
      return "/proc/self/fd/" .. fds[dir] .. "/" .. rest
    end))
  end
  local path, cpath = rewrite(package.path), rewrite(package.cpath)
  local list = {}
  for _, fd in pairs(fds) do if fd then list[#list + 1] = fd end end
  return path, cpath, list
end

local function reap(pidfd)
  local how, code = core.wait(pidfd)
  core.close(pidfd)
  return how, code
end

-- Read the child's reports: "exec" then EOF is success, or "exec" then
-- "running" (from nsbox-init, which keeps the channel open: its EOF is our
-- death). path: what core.spawn exec'd (an "exec_failed" report names it,
-- unless it comes from the stub after "exec", which names the command).
-- Returns true, and whether the channel must stay open for the box's life.
-- got.pty: the pty's master, if the child sent one (checked to be one).
local function await_exec(sock, path, got)
  local execd
  while true do
    local kind, msg, errno = channel.recv(sock)
    local fds = kind == "pty" and errno or {}
    local fd = fds[1]
    for i = 2, #fds do core.close(fds[i]) end -- one fd is a pty message: any more are dropped
    if fd and got and got.want_pty and not got.pty and core.is_pty_master(fd) then
      got.pty = fd
    elseif kind == "pty" then
      if fd then core.close(fd) end
      return nil, "pty: the container sent no pty master (or one not asked for)", core.EPROTO
    elseif kind == nil then
      -- EOF after "exec" is the exec; anything else is a child that died silently.
      if execd and not msg then return true end
      return nil
    elseif kind == "error" then
      return nil, msg.error, msg.errno, msg.status
    elseif kind == "exec_failed" and execd then
      return nil, string.format("exec(%s): %s", execd, core.strerror(msg)), msg, msg == core.ENOENT and 127 or 126
    elseif kind == "exec_failed" then
      return nil, string.format("execve(%s): %s", path, core.strerror(msg)), msg
    elseif kind == "exec" then
      execd = msg or true
    elseif kind == "running" and execd then
      return true, true
    else
      return nil, "channel: unexpected " .. kind .. " message from the child", errno
    end
  end
end

-- Start the child side of entry ("main" or "join") with the child's recipe cr:
-- forked, so the child goes on in this Lua state with the modules already
-- loaded (no interpreter exec, no module loading: the bulk of a start), unless
-- the recipe asks for a re-exec or this process has threads, where a fork may
-- not run Lua; then the interpreter is re-executed with a bootstrap.
-- spec: the core.spawn fields (flags, setup, pdeathsig); with a setup (the id
-- maps) the child is held until it is done and the "maps" message sent. keep:
-- fds the child needs (its channel end is added). The channel is the child's
-- only one. Returns pid, pidfd, the parent's channel end, what was exec'd.
local function spawn_side(r, entry, cr, spec, keep, ...)
  local stub, serr, errno = core.init_stub()
  if not stub then return nil, serr, errno end
  local psock, csock, serrno = channel.pair()
  if not psock then return nil, csock, serrno end
  table.insert(keep, 1, csock)
  keep[#keep + 1] = stub
  cr.stub = stub
  -- the child closes everything else at once: it never holds another box's channel
  spec.channel, spec.peer, spec.keep_fds, spec.close_fds = csock, psock, keep, true
  local setup = spec.setup
  if setup then
    spec.hold = true
    spec.setup = function(p)
      local ok, err, eno = setup(p)
      if not ok then return nil, err, eno end
      return channel.send(psock, "maps")
    end
  end
  local pid, pidfd
  if not r.reexec then
    local inside = require "nsbox.inside"
    if cr.net then require "nsbox.net" end -- the child may configure its interface after pivot_root
    spec.fork = true
    pid, pidfd, errno = core.spawn(spec)
    if pid == 0 then -- the child: it must never return into the caller's code
      pcall(inside.forked, entry, cr, keep, setup ~= nil, ...)
      core._exit(1)
    end
    spec.fork = nil
  end
  local code
  if r.reexec or errno == core.EBUSY then
    code = bundle()
    spec.path, spec.env = r.interpreter, {}
    local ppath, pcpath, path_fds = package.path, package.cpath, {}
    if entry == "main" and layers.other_root(r) then ppath, pcpath, path_fds = reachable_paths(keep) end
    spec.argv = { r.interpreter, "-e", bootstrap(setup ~= nil, code, entry, csock, ppath, pcpath, ...) }
    pid, pidfd, errno = core.spawn(spec)
    for _, fd in ipairs(path_fds) do core.close(fd) end
  end
  core.close(csock)
  if not pid then
    core.close(psock)
    return nil, pidfd, errno
  end
  if spec.path then
    -- The child may already have failed and gone: a send error is read back as its report.
    if code then core.write(psock, code) end
    channel.send(psock, "recipe", cr)
  end
  return pid, pidfd, psock, spec.path
end

-- What the parent does to a held child before it runs: into its v1 cgroups (v2
-- clones it there), its hard rlimits raised. Returns true or nil, message, errno.
local function confine(cg, rlimits, pid)
  if cg then
    local ok, err, errno = cgroup.place(cg, pid)
    if not ok then return nil, err, errno end
  end
  return resources.raise(pid, rlimits)
end

-- A picked id range (r.auto_ids): leased, and written into r as both maps.
-- Returns the lease's fd (nil without a range), or nil, message.
function take_ids(r)
  if not r.auto_ids then return nil end
  local want, werr
  if r.upper then
    want, werr = ids.recorded(r.upper)
    if werr then return nil, werr end
  end
  local base, lock = ids.lease(want)
  if not base then return nil, lock end
  if r.upper and not want then
    local ok, err = ids.record(r.upper, base)
    if not ok then ids.release(base, lock) return nil, err end
  end
  local map = { { inside = 0, outside = base, count = ids.SIZE } }
  r.uid_map, r.gid_map = map, map
  return lock
end

-- What a launch holds until the box is done: the overlay's directories on disk,
-- the id lease, the cgroup (its last counters kept for stats()).
function release(self)
  if self.cg then self.last_stats = cgroup.finish(self.cg) self.cg = nil end
  layers.remove(self.dirs, self.recipe)
  self.dirs = nil
  if self.ids_lock then ids.release(self.recipe.uid_map[1].outside, self.ids_lock) self.ids_lock = nil end
end

-- The image's layers (cr.idmapped) and the sources of the mounts marked idmap,
-- as clones idmapped through the child's user namespace (its maps are written:
-- core.spawn held it until then), and as root with a range every bind source,
-- cloned (passed_binds): sent on the "layers" message, the fds, the layers
-- first, and which mounts follow. A tree the kernel would not clone or idmap is
-- the child's error to report.
function send_trees(r, cr, pid, psock)
  local userns, err, errno = core.open_ns("/proc/" .. pid .. "/ns/user")
  local trees, what = {}, { layers = 0, mounts = {} }
  local function add(path, fd_err, ...)
    local fd, ferr, ferrno = fd_err, ...
    if not fd then err, errno = ferr, ferrno return false end
    local tree
    tree, err, errno = core.idmapped_tree(fd, userns, path)
    if not tree then err = layers.idmap_refused(path, fd, err) end
    core.close(fd)
    trees[#trees + 1] = tree
    return tree ~= nil
  end
  if userns then
    local ok = true
    if cr.idmapped then
      for i, l in ipairs(r.layers) do
        local dir
        dir, err, errno = core.open_in_root(l, "/")
        local st = dir and core.stat(dir)
        -- the directory checked, not one swapped in since (whoever owns its parent could)
        if st and st.dev .. ":" .. st.ino ~= r.layer_ids[i] then
          core.close(dir)
          dir, err, errno = nil, string.format("rootfs: %s is not the directory the recipe was checked with: refused", l),
            core.ESTALE
        end
        ok = dir and add(l, dir) or false
        if not ok then break end
        what.layers = what.layers + 1
      end
    end
    local binds = cr.binds
    for i, m in ipairs(r.mounts) do
      if not ok then break end
      if m.idmap then
        ok = add(m.source, core.openat(nil, m.source, "read"))
      elseif m.type == "bind" and binds == "all" then
        local tree
        tree, err, errno = core.open_tree(m.source, true)
        trees[#trees + 1] = tree
        ok = tree ~= nil
      end
      if ok and (m.idmap or (m.type == "bind" and binds == "all")) then
        what.mounts[#what.mounts + 1] = i
        -- made read-only here: the clone is the host's, the child may not change it
        if m.readonly then
          ok, err, errno = core.mount_setattr(trees[#trees], core.MOUNT_ATTR_RDONLY, 0, true, m.source)
        end
      end
    end
    core.close(userns)
    if ok then
      channel.send(psock, "layers", what, trees)
      err = nil
    end
  end
  if err then channel.send(psock, "layers", { error = err, errno = errno }) end
  for _, t in ipairs(trees) do core.close(t) end
end

local function std_fds(stdio, keep)
  for i = 1, 3 do
    if stdio[i] then keep[#keep + 1] = stdio[i] end
  end
  return keep
end

-- The recipe as run, for nsbox inspect: what it asked for, in JSON's terms.
local function as_run(r, info)
  local ns = {}
  for _, n in ipairs(recipe.ALL) do if r.namespaces[n] then ns[#ns + 1] = n end end
  return { rootfs = r.rootfs, layers = r.layers, command = r.command, hostname = r.hostname, cwd = r.cwd,
           user = r.user and { uid = r.user.uid, gid = r.user.gid } or nil, namespaces = ns, mounts = r.mounts,
           readonly = r.readonly, tty = r.tty and true or false, init = r.init,
           resources = r.resources and r.resources.text or nil, uid_map = r.uid_map, gid_map = r.gid_map,
           network = info and { mode = info.pasta and "pasta" or "bridge", bridge = info.bridge,
                                interface = info.interface, address = info.address, gateway = info.gateway } or nil }
end

-- The state entry of a running box (nsbox ps, exec, stop, logs, inspect see it).
local function state_entry(self)
  local r = self.recipe
  return { name = self.name, id = self.id, pid = self.pid, command = r.command,
    ip = self.net and self.net.address or nil, interpreter = r.interpreter, env = r.env, cwd = r.cwd,
    flags = r.flags, hostname = r.hostname, capabilities = r.capabilities, no_new_privs = r.no_new_privs,
    rlimits = r.rlimits, seccomp = r.seccomp_spec, cgroup = self:cgroup_paths(), detached = self.detached,
    log = self.detached or nil, recipe = as_run(r, self.net) }
end

-- The box is done: its entry goes, or (a detached one, kept) records how it ended.
local function forget(self)
  if not self.recorded then return end
  self.recorded = false
  if self.keep_entry and self.status then
    local e = state_entry(self)
    e.exited, e.status, e.finished, e.note, e.starttime = true, self.status, os.time(), self.note, false
    e.started = self.started
    if state().save(e, "update") then return end
  end
  state().remove(self.name, self.id)
end

-- The fds a box or an exec holds for its relay, closed when it is done.
local function close_relay(io)
  if not io then return end
  if io.pty then core.close(io.pty) end
  for _, fd in ipairs(io.ours or {}) do core.close(fd) end
  for _, f in ipairs(io.flows or {}) do
    if f.own then core.close(f.to) end
  end
end

-- Pipes in place of the caller's terminals (no pty asked for): r.stdio as the
-- child gets it, and the relay's part (nil: none of its fds is a terminal).
local function interposed(r)
  if r.tty then return r.stdio, nil end
  local plan, err, errno = tty.interpose(r)
  if plan == false then return nil, err, errno end
  if not plan then return r.stdio, nil end
  return plan.stdio, plan
end

-- Once the child is spawned, its ends of the pipes are its own.
local function spawned(plan)
  for _, fd in ipairs(plan and plan.theirs or {}) do core.close(fd) end
  if plan then plan.theirs = {} end
end

-- Wait for pidfd with io's relay (the pty's, or the pipes'), the caller's
-- terminal raw meanwhile and given back however the wait ends. opts: the
-- other core.wait options (kill_after, kill_in).
local function relay_wait(pidfd, r, io, opts)
  local saved
  opts = opts or {}
  if io and io.pty and r.tty.relay then
    opts.relay = tty.pty_flows(r.tty, r, io.pty)
    if io.attach then opts.relay.attach = { io.attach, io.pty } end -- nsbox attach: the monitor's socket
    saved = tty.raw(r.tty, r)
  elseif io and io.flows then
    opts.relay = io.flows
  end
  local res = table.pack(pcall(core.wait, pidfd, status.FORWARD, opts))
  tty.restore(saved)
  if not res[1] then error(res[2], 0) end
  if io then io.flows = nil end -- the wait closed what it owned
  return table.unpack(res, 2, res.n)
end

--- Launch the container without waiting for its command's exec: the child is
-- cloned and handed its network, then builds its filesystem while this process
-- goes on (to launch others: children set up side by side). `start()` then
-- collects the outcome; `wait()`, `kill()` and closing the box work meanwhile.
-- @treturn Box|nil self, or nil, message, errno
function Box:launch()
  local may, refused = move(self, "launched", true)
  if not may then return nil, refused end
  local r = self.recipe
  if self.record == nil then self.record = r.named end
  if self.record then -- the name is taken before the container starts: of two of one name, one starts
    local ok, serr = state().save { name = self.name, id = self.id, detached = self.detached }
    if not ok then return nil, serr end
    self.recorded = true
  end
  local lock, ierr = take_ids(r)
  if ierr then forget(self) return nil, ierr end
  local dirs, derr = layers.prepare(r)
  if not dirs then
    if lock then ids.release(r.uid_map[1].outside, lock) end
    forget(self)
    return nil, derr
  end
  self.dirs, self.ids_lock = dirs, lock
  local cg, cerr
  if r.resources then
    local ok
    ok, cg, cerr = pcall(cgroup.create, r.id, r.resources, r.cgroup_parent)
    if not ok then cg, cerr = nil, "cgroup: " .. tostring(cg) end
    if not cg then
      release(self)
      forget(self)
      return nil, cerr
    end
    self.cg = cg
  end
  local cr = child_recipe(r, dirs)
  local plan, perrno
  cr.stdio, plan, perrno = interposed(r)
  if not cr.stdio then
    release(self)
    forget(self)
    return nil, plan, perrno
  end
  local keep = std_fds(cr.stdio, {})
  for _, fd in ipairs(r.keep_fds) do keep[#keep + 1] = fd end
  local pid, pidfd, psock, path = spawn_side(r, "main", cr, {
    flags = cr.cgroupns and r.flags & ~core.CLONE_NEWCGROUP or r.flags, pdeathsig = core.SIGKILL,
    root = r.namespaces.user, cgroup = cg and cg.fd,
    setup = function(p)
      if fault.armed == "idmap" then return nil, "idmap: injected fault" end
      local ok, err, errno = confine(cg, r.rlimits, p)
      if not ok then return nil, err, errno end
      return idmap.write(p, r.uid_map, r.gid_map)
    end,
  }, keep)
  spawned(plan)
  if not pid then -- nothing made: the box stays new
    close_relay(plan)
    release(self)
    forget(self)
    return nil, pidfd, psock
  end
  self.io = plan or { want_pty = type(r.tty) == "table" }
  if cr.idmapped or cr.binds then send_trees(r, cr, pid, psock) end
  -- The host side of the network is made while the child sets up its mounts.
  local info, nerr
  if r.network then
    if fault.armed == "attach" then nerr = "attach: injected fault"
    else
      local ok
      -- its names for the others on the bridge: as its own hosts file has them, then its name
      local known_as = { r.hostname, r.name }
      if r.domainname then table.insert(known_as, 1, r.hostname .. "." .. r.domainname) end
      ok, info, nerr = pcall(require("nsbox.net").attach, pid, r.network, known_as)
      if not ok then info, nerr = nil, tostring(info) end
    end
  end
  if nerr then
    core.kill(pidfd, core.SIGKILL) -- it waits for a network that will not come
  elseif info then
    -- the address goes to the child either way: its /etc/hosts names it
    channel.send(psock, "network", cr.net == "child" and { interface = info.interface, address = info.address,
                                                           gateway = info.gateway } or { address = info.address },
      info.hosts_tree and { info.hosts_tree })
    if info.hosts_tree then core.close(info.hosts_tree) info.hosts_tree = true end
  end
  self.launching = { pid = pid, pidfd = pidfd, psock = psock, info = info, nerr = nerr, path = path }
  return move(self, "launched")
end

--- Start the container (launching it first if `launch()` was not called);
-- returns once its command has been exec'd.
-- @treturn Box|nil self, or nil, message, errno
function Box:start()
  if self.state == "new" then
    local ok, err, errno = self:launch()
    if not ok then return nil, err, errno end
  end
  local may, refused = move(self, "running", true)
  if not may then return nil, refused end
  local l = self.launching
  self.launching = nil
  local ok, err, eno, failed = await_exec(l.psock, l.path, self.io)
  -- nsbox-init's channel stays open while the box runs: closed, it kills the container
  if ok and err then self.psock = l.psock else core.close(l.psock) end
  if not ok then
    local how, code = reap(l.pidfd)
    close_relay(self.io)
    self.io = nil
    if l.info then require("nsbox.net").detach(l.info) end
    release(self)
    self.status = failed
    forget(self)
    move(self, "done")
    if not err then
      err = l.nerr or string.format("container setup ended without a report (%s %d)", how, code)
    end
    return nil, err, eno
  end
  self.pid, self.pidfd, self.net = l.pid, l.pidfd, l.info
  self.pty = self.io.pty -- the script's to drive when tty.relay is false
  self.io.attach = self.attach_listen
  if self.recorded then
    self.started = os.time()
    local e = state_entry(self)
    e.started = self.started
    local sok, serr = state().save(e)
    if not sok then self.state_error = "state not saved (nsbox ps/exec will not see it): " .. tostring(serr) end
  end
  return move(self, "running")
end

--- Wait for the command to end, forwarding SIGINT, SIGTERM, SIGHUP, SIGQUIT,
-- SIGUSR1 and SIGUSR2 to it meanwhile, and relaying its terminal (recipe tty)
-- or the pipes put between it and the caller's terminal.
-- @tparam[opt] table opts `stop_timeout` (seconds): a container that has not
-- ended that long after a forwarded SIGINT, SIGTERM, SIGHUP or SIGQUIT is
-- killed (SIGKILL), and the note says so
-- @treturn integer exit status, or 128+N if killed by signal N
-- @treturn[opt] string a note: why it ended (killed at the stop timeout, out of memory)
function Box:wait(opts)
  if self.state == "launched" then
    local ok, err, errno = self:start()
    if not ok then
      if self.status then return self.status, err end
      return nil, err, errno
    end
  end
  if self.state == "done" then
    if self.note then return self.status, self.note end
    if self.status then return self.status end
    return nil, "container: its start failed"
  end
  local may, refused = move(self, "done", true)
  if not may then return nil, refused end
  local t = opts and opts.stop_timeout
  if t ~= nil and (type(t) ~= "number" or t < 0) then return nil, "stop_timeout: seconds >= 0 expected" end
  local how, code, stopped = relay_wait(self.pidfd, self.recipe, self.io,
    { kill_after = t and math.floor(t * 1000), kill_in = opts and opts.kill_in })
  if not how then return nil, code end
  close_relay(self.io)
  self.io, self.pty = nil, nil
  core.close(self.pidfd)
  self.pidfd = nil
  if self.psock then core.close(self.psock) self.psock = nil end
  if self.net then require("nsbox.net").detach(self.net) end
  local cg = self.cg
  release(self)
  self.status = status.of(how, code)
  self.note = cg and cgroup.note(cg, self.last_stats, self.status)
  if stopped then
    self.note = string.format("stopped: still running %g s after it was asked to end, so killed", t or opts.kill_in / 1000)
  end
  forget(self)
  move(self, "done")
  if self.note then return self.status, self.note end
  return self.status
end

--- Stop the container as `docker stop` does: SIGTERM (or sig), then SIGKILL
-- if it has not ended after timeout seconds (default 10); waits for it.
-- @treturn integer its status (137 if it had to be killed), and a note then
function Box:stop(timeout, sig)
  timeout = timeout or 10
  if type(timeout) ~= "number" or timeout < 0 then return nil, "stop: timeout: seconds >= 0 expected" end
  local running, why = need(self, "running")
  if not running then return nil, why end
  core.kill(self.pidfd, sig or core.SIGTERM)
  return self:wait { kill_in = math.floor(timeout * 1000) }
end

--- What the container's cgroup counts (a box with `resources`): memory current
-- and peak (bytes), cpu time and throttling (us), pids, out-of-memory kills; after
-- the end, the last counts.
-- @treturn table|nil { memory = { current, peak }, cpu = { usage_usec, user_usec, system_usec,
-- nr_throttled, throttled_usec }, pids = { current }, oom_kills }
function Box:stats()
  if self.cg then return cgroup.stats(self.cg) end
  if self.last_stats then return self.last_stats end
  return nil, "container: no cgroup (the recipe asks for no resources)"
end

--- start() then wait(). A command that could not be exec'd gives 127 (not
-- found) or 126 (not executable) and the message.
function Box:run()
  local ok, err, errno = self:launch()
  if not ok then return nil, err, errno end
  return self:wait()
end

--- Run a command in the running container: a new process joins all of its
-- namespaces (setns through its pidfd), made non-dumpable first, with the
-- container's root, cwd and environment unless given.
-- @tparam table spec `command` (required), `env`, `cwd`, `stdin`/`stdout`/`stderr` fds,
-- `new_session` (default true: the command leads a session of its own, away from the caller's terminal)
-- @treturn integer the command's exit status (127/126 and a message if it could not be run)
function Box:exec(spec)
  local running, why = need(self, "running")
  if not running then return nil, why end
  local r, err = recipe.validate_exec(spec, self.recipe)
  if not r then return nil, err end
  -- it joins the container's cgroup too (and its limits), and its raised rlimits
  local cg, setup = self.cg, nil
  if (cg and not cg.v2) or #r.rlimits > 0 then
    setup = function(p) return confine(cg, r.rlimits, p) end
  end
  local plan, perrno
  r.stdio, plan, perrno = interposed(r)
  if not r.stdio then return nil, plan, perrno end
  r.tty_size = type(r.tty) == "table" and tty.size(r.tty, r) or nil
  local pid, pidfd, psock, path = spawn_side(self.recipe, "join", r, { pdeathsig = core.SIGKILL,
                                   cgroup = cg and cg.fd, setup = setup }, std_fds(r.stdio, { self.pidfd }), self.pidfd)
  spawned(plan)
  if not pid then close_relay(plan) return nil, pidfd, psock end
  local io = plan or { want_pty = r.tty_size ~= nil }
  local ok, eno, failed
  ok, err, eno, failed = await_exec(psock, path, io)
  if ok then err = nil end
  core.close(psock)
  if not ok then
    local how, code = reap(pidfd)
    close_relay(io)
    if failed then return failed, err end
    return nil, err or string.format("exec: the joining process ended without a report (%s %d)", how, code), eno
  end
  local res = table.pack(pcall(relay_wait, pidfd, r, io))
  close_relay(io)
  core.close(pidfd)
  if not res[1] then error(res[2], 0) end
  if not res[2] then return nil, res[3] end
  return status.of(res[2], res[3])
end

--- The container's cgroup directories, for a state entry: { v2 =, paths = {...} }, or nil without one.
function Box:cgroup_paths()
  if not self.cg then return nil end
  local paths = {}
  for i, d in ipairs(self.cg.dirs) do paths[i] = d.path end
  return { v2 = self.cg.v2 or false, paths = paths }
end

--- Send a signal to the container's command (default SIGTERM).
function Box:kill(sig)
  if self.state == "launched" then return core.kill(self.launching.pidfd, sig or core.SIGTERM) end
  local running, why = need(self, "running")
  if not running then return nil, why end
  return core.kill(self.pidfd, sig or core.SIGTERM)
end

-- A box dropped or closed while its command runs: kill and reap it, so no
-- process or pidfd outlives the last reference.
local function finish(self)
  if self.state == "new" then return end
  if self.state == "launched" then
    core.kill(self.launching.pidfd, core.SIGKILL)
    self:start() -- reaps it and undoes its network
  end
  if self.foreign then
    if self.pidfd then core.close(self.pidfd) self.pidfd = nil end
    if self.cg then
      for _, d in ipairs(self.cg.dirs) do
        core.close(d.fd)
        if d.payload then core.close(d.payload) end
      end
      self.cg = nil
    end
    move(self, "done")
  elseif self.state == "running" then
    core.kill(self.pidfd, core.SIGKILL)
    self:wait()
  end
end
Box.__gc = finish
Box.__close = finish

--- Let go of the container now: a box of our own is killed and reaped, one
-- joined from elsewhere (container.running) only loses its pidfd.
Box.close = finish

local M = {}

--- Validate a recipe and return a container object, or nil, message. Its
-- `state` is "new", then "launched", "running" and "done" as it goes.
function M.new(spec)
  local r, err = recipe.validate(spec)
  if not r then return nil, err end
  return setmetatable({ recipe = r, id = r.id, name = r.name, state = "new" }, Box)
end

--- A box for a container started elsewhere (by `nsbox run`), from its state
-- entry: enough to exec into it and to signal it. The pidfd is opened first and
-- the start time checked after, so a reused pid is never joined.
function M.running(entry)
  local pidfd, err, errno = core.pidfd_open(entry.pid)
  if not pidfd then return nil, err, errno end
  if require("nsbox.state").starttime(entry.pid) ~= entry.starttime then
    core.close(pidfd)
    return nil, "container " .. entry.name .. " is gone"
  end
  local r = { interpreter = entry.interpreter, env = entry.env, cwd = entry.cwd, flags = entry.flags,
              hostname = entry.hostname, capabilities = entry.capabilities, no_new_privs = entry.no_new_privs,
              rlimits = entry.rlimits or {} }
  -- what is joined is confined as the container is: its filter, its cgroup
  local filters, serr = require("nsbox.seccomp").compile(entry.seccomp)
  if filters == nil then core.close(pidfd) return nil, serr end
  r.seccomp = filters
  local cg
  if entry.cgroup then
    cg = { v2 = entry.cgroup.v2, dirs = {} }
    -- only the container's own cgroups: under /sys/fs/cgroup, named for its id
    local paths = type(entry.cgroup.paths) == "table" and entry.cgroup.paths or {}
    for _, path in ipairs(paths) do
      if type(path) ~= "string" or path:find("/%.%.?/") or not path:match("^/sys/fs/cgroup/") or
        path:match("[^/]+$") ~= "nsbox-" .. tostring(entry.id) then
        core.close(pidfd)
        return nil, "container " .. entry.name .. ": its state entry names a cgroup not its own: refused"
      end
    end
    for i, path in ipairs(paths) do
      local fd, cerr, ceno = core.openat(nil, path, "dir")
      if not fd then
        for _, d in ipairs(cg.dirs) do core.close(d.fd) end
        core.close(pidfd)
        return nil, "cgroup: " .. cerr, ceno
      end
      cg.dirs[i] = { path = path, fd = fd }
    end
    if cg.v2 and cg.dirs[1] then -- the joiner goes where the container's processes run
      local fd, perr, peno = core.openat(cg.dirs[1].fd, cgroup.PAYLOAD, "dir")
      if not fd then
        for _, d in ipairs(cg.dirs) do core.close(d.fd) end
        core.close(pidfd)
        return nil, "cgroup: " .. perr, peno
      end
      cg.dirs[1].payload, cg.fd = fd, fd
    end
  end
  -- not ours to reap: closing the box only closes the pidfd (and the cgroup's fds)
  return setmetatable({ recipe = r, id = entry.id, name = entry.name, pid = entry.pid, pidfd = pidfd, cg = cg,
                        foreign = true, state = "running" }, Box)
end

M.Box = Box
return M
