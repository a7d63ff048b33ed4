--- The container's own /etc/hostname, /etc/hosts and /etc/resolv.conf, as
-- podman writes them: validation of the recipe's `dns`, the resolver
-- configuration taken from the host (in the parent, which still sees the
-- host's files), and the files written in the child after pivot_root, never
-- into the image: into the overlay's upper layer, or (in_place) onto the
-- image's files as binds. Only where the image has an /etc, and not where the
-- recipe mounts its own.
-- @module nsbox.etc
local core = require "nsbox.core"
local validate = require "nsbox.validate"
local failure = require "nsbox.failure"

local M = {}

local bad = validate.bad
local try = failure.try

-- IPv4 or IPv6 literal (the resolver takes nothing else).
local function ip_literal(s)
  if s:match("^%d+%.%d+%.%d+%.%d+$") then
    for o in s:gmatch("%d+") do if tonumber(o) > 255 then return false end end
    return true
  end
  return s:find(":", 1, true) ~= nil and s:match("^[%x:.]+$") ~= nil and #s <= 45
end

local function list(field, v, check, what)
  if v == nil then return nil end
  if type(v) == "string" then v = { v } end
  if type(v) ~= "table" then bad(field, "array of strings expected, got %s", type(v)) end
  local out = {}
  for i, x in ipairs(v) do
    if type(x) ~= "string" or not check(x) then
      bad(string.format("%s[%d]", field, i), "%s is not %s", string.format("%q", tostring(x)), what)
    end
    out[i] = x
  end
  return out
end

local function domain(s) return #s <= 253 and s:match("^[%w][%w.-]*$") ~= nil end
local function option(s) return #s <= 64 and s:match("^[%w][%w:._-]*$") ~= nil end

--- Check the recipe's dns = { servers =, search =, options = } (each an array
-- of strings, or one string); nil: the host's.
function M.check_dns(v)
  if v == nil then return nil end
  if type(v) ~= "table" then bad("dns", "{ servers =, search =, options = } expected, got %s", type(v)) end
  for k in pairs(v) do
    if k ~= "servers" and k ~= "search" and k ~= "options" then
      bad("dns", "unknown field '%s' (servers, search, options)", tostring(k))
    end
  end
  return { servers = list("dns.servers", v.servers, ip_literal, "an IPv4 or IPv6 address"),
           search = list("dns.search", v.search, domain, "a domain name"),
           options = list("dns.options", v.options, option, "a resolver option") }
end

-- nameserver, search and options lines of a resolv.conf.
local function parse(path)
  local f = io.open(path)
  if not f then return nil end
  local c = { servers = {}, search = nil, options = {} }
  for line in f:lines() do
    local k, rest = line:match("^%s*(%a+)%s+(.-)%s*$")
    if k == "nameserver" then c.servers[#c.servers + 1] = rest
    elseif k == "search" or k == "domain" then
      c.search = {}
      for d in rest:gmatch("%S+") do c.search[#c.search + 1] = d end
    elseif k == "options" then
      for o in rest:gmatch("%S+") do c.options[#c.options + 1] = o end
    end
  end
  f:close()
  return c
end

local function loopback(s) return s:match("^127%.") or s == "::1" end

-- podman's fallback when no resolver is left (none configured, or only the host's loopback one)
local PUBLIC = { "8.8.8.8", "8.8.4.4" }

--- The text of the container's resolv.conf: the host's, but a loopback resolver
-- (systemd-resolved's 127.0.0.53, dnsmasq's 127.0.0.1) is out of the container's
-- reach: its upstream servers instead (/run/systemd/resolve/resolv.conf), else
-- it is dropped; dns (check_dns) overrides each part it gives.
function M.resolv_conf(dns)
  local c = parse("/etc/resolv.conf") or { servers = {}, options = {} }
  local kept = {}
  for _, s in ipairs(c.servers) do if not loopback(s) then kept[#kept + 1] = s end end
  if #kept < #c.servers then
    local up = parse("/run/systemd/resolve/resolv.conf")
    if up then
      kept = {}
      for _, s in ipairs(up.servers) do if not loopback(s) then kept[#kept + 1] = s end end
      c.search = c.search or up.search
    end
  end
  if #kept == 0 then kept = PUBLIC end
  dns = dns or {}
  local servers, search, options = dns.servers or kept, dns.search or c.search, dns.options or c.options
  local out = {}
  if search and #search > 0 then out[1] = "search " .. table.concat(search, " ") end
  for _, s in ipairs(servers) do out[#out + 1] = "nameserver " .. s end
  if #options > 0 then out[#out + 1] = "options " .. table.concat(options, " ") end
  return table.concat(out, "\n") .. "\n"
end

--- The text of the container's hosts file: localhost, and the hostname on the
-- container's address (address: "a.b.c.d[/n]", nil without a network: 127.0.1.1,
-- Debian's rule), so that `hostname -f` and getfqdn() answer from the file at once.
function M.hosts(hostname, domainname, address)
  local ip = address and address:match("^[^/]+") or "127.0.1.1"
  local names = domainname and (hostname .. "." .. domainname .. " " .. hostname) or hostname
  return "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n" .. ip .. "\t" .. names .. "\n"
end

-- A new file name in the directory fd dir holding text; whatever had the name
-- (a file, a link into the image) is removed first. mode 0644.
local function put(dir, name, text)
  local fd, err, errno = core.openat(dir, name, "new", tonumber("644", 8))
  if not fd and errno == core.EEXIST then
    try(core.unlinkat(dir, name))
    fd, err, errno = core.openat(dir, name, "new", tonumber("644", 8))
  end
  try(fd, err, errno)
  local ok, werr, werrno = core.write(fd, text)
  if ok then core.fchmod(fd, tonumber("644", 8)) end -- past the umask
  core.close(fd)
  try(ok, werr, werrno)
end

-- The files bound over the image's own, each made on the container's /dev
-- tmpfs (a mount of ours, attached: on 6.1 a detached one cannot be a bind's
-- source) and unlinked there once bound: in_place (made empty in the
-- image if missing: that is what in_place means; a link that leads nowhere is
-- left alone), or where the container's root may not write the image's /etc
-- (its owner unmapped: only existing files are covered then).
local function bind_over(files, existing)
  local dev = try(core.open_in_root("/", "/dev", nil, "beneath"))
  local ok, e = pcall(function()
    for _, f in ipairs(files) do
      -- a link (resolv.conf to ../run/...) resolved in the container's root, as its resolver would
      local place, err, errno = core.open_in_root("/", "/etc/" .. f[1], not existing and "file" or nil)
      if place then
        local name = ".nsbox-etc-" .. f[1]
        put(dev, name, f[2])
        local src = try(core.openat(dev, name, "read"))
        local tree
        tree, err, errno = core.open_tree(src, false, "/etc/" .. f[1])
        core.close(src)
        if tree then err, errno = select(2, core.move_mount(tree, place, "tmpfs", "/etc/" .. f[1])) end
        if tree then core.close(tree) end
        core.unlinkat(dev, name) -- once bound (a bind of an unlinked file is refused): the mount keeps it
        core.close(place)
      elseif errno == core.ENOENT or errno == core.ELOOP then -- missing (existing only), or a link to nowhere: left as it is
        err = nil
      end
      try(not err, err, errno)
    end
  end)
  core.close(dev)
  if not ok then error(e, 0) end
end

-- Write the files into /etc (the overlay's upper layer takes them); those the
-- container's root may not write there (EACCES, EPERM) are bound over instead.
local function write_files(etc, files)
  local denied = {}
  for _, f in ipairs(files) do
    local ok, e = pcall(put, etc, f[1], f[2])
    if not ok then
      if type(e) == "table" and (e.errno == core.EACCES or e.errno == core.EPERM) then denied[#denied + 1] = f
      else error(e, 0) end
    end
  end
  if #denied > 0 then bind_over(denied, true) end
end

--- The files of child recipe r, { { name, text }, ... } (address: the
-- container's, if known yet): those the recipe does not mount itself (its own
-- resolv.conf, or a directory at /etc).
function M.files(r, address)
  local all = { { "hosts", M.hosts(r.hostname, r.domainname, address) }, { "resolv.conf", r.resolv_conf } }
  if r.namespaces.uts then all[#all + 1] = { "hostname", r.hostname .. "\n" } end
  local files = {}
  for _, f in ipairs(all) do
    local mine = true
    for _, m in ipairs(r.mounts or {}) do
      local d = m.destination:gsub("/+$", "")
      if d == "/etc/" .. f[1] or d == "/etc" then mine = false end
    end
    if mine then files[#files + 1] = f end
  end
  return files
end

-- The bridge's hosts file (a detached mount, nsbox.names) bound at /etc/hosts:
-- made as its mount point if missing, where the container's root may; an image
-- with neither /etc/hosts nor an /etc it may write has no hosts file, as before.
local function bind_hosts(tree)
  local place, perr, perrno = core.open_in_root("/", "/etc/hosts", "file")
  if not place and (perrno == core.EACCES or perrno == core.EPERM or perrno == core.EROFS) then
    core.close(tree)
    return
  end
  try(place, perr, perrno)
  local ok, err, errno = core.move_mount(tree, place, "hosts", "/etc/hosts")
  core.close(place)
  core.close(tree)
  try(ok, err, errno)
end

--- In the child, after pivot_root: write the files of child recipe r (address:
-- the container's, if it has a network). placed: the overlay was made with
-- them in its upper layer already (rootfs), where only the hosts file may
-- still lack the address: it is rewritten there, in the upper layer.
-- hosts_tree: the bridge's hosts file, which names the others too, bound over
-- the container's own (unless the recipe mounts its own).
function M.write(r, address, placed, hosts_tree)
  local files = M.files(r, address)
  local shared = hosts_tree and files[1] and files[1][1] == "hosts"
  if hosts_tree and not shared then core.close(hosts_tree) end
  if shared then table.remove(files, 1) end
  if placed then
    if shared then return bind_hosts(hosts_tree) end
    if not address then return end
    local hosts = files[1]
    if not (hosts and hosts[1] == "hosts") then return end
    local fd = try(core.openat(nil, "/etc/hosts", "write"))
    local ok, err, errno = core.write(fd, hosts[2])
    core.close(fd)
    return try(ok, err, errno)
  end
  local etc = core.open_in_root("/", "/etc", nil, "beneath")
  local st = etc and core.stat(etc)
  if not (st and st.type == "directory") then -- no /etc (or one leading out of the root): nothing is written
    if etc then core.close(etc) end
    if shared then core.close(hosts_tree) end
    return
  end
  local ok, err = pcall(function()
    if r.in_place then bind_over(files) else write_files(etc, files) end
  end)
  core.close(etc)
  if not ok then
    if shared then core.close(hosts_tree) end
    error(err, 0)
  end
  if shared then bind_hosts(hosts_tree) end
end

return M
