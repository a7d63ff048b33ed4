-- "The internet" of the network specs: one more network namespace (held by a
-- shell of its own session) at 198.51.100.1/24, serving HTTP (busybox httpd,
-- with a CGI that prints the client's address) and DNS (dnsmasq: example.test
-- is 198.51.100.1), reached from the caller's namespace (the spec's "host") by
-- a veth whose end here is 198.51.100.2/24. No route leads back: what a
-- container sends reaches it only masqueraded as the host. Past it, as past a
-- router, is 203.0.113.1 (FAR): a subnet the host is not on.
local H = require "spec.support.helpers"

local I = { ADDR = "198.51.100.1", HOST = "198.51.100.2", FAR = "203.0.113.1", NAME = "example.test" }

--- Write s to path (chmod mode if given): the specs' servers' files.
function I.write(path, s, mode)
  local f = assert(io.open(path, "w"))
  f:write(s)
  f:close()
  if mode then assert(os.execute("chmod " .. mode .. " " .. path)) end
end

-- Until f() is true, at most 5 s.
local function await(f, what)
  for _ = 1, 100 do
    if f() then return end
    H.sleep(0.05)
  end
  error("internet: " .. what .. " not ready after 5 s")
end

--- Whether the namespace of pid listens on port (hex in /proc/net/tcp or udp, v4 or v6).
function I.listens(pid, proto, port)
  local t = (H.read_file("/proc/" .. pid .. "/net/" .. proto) or "") ..
    (H.read_file("/proc/" .. pid .. "/net/" .. proto .. "6") or "")
  return t:find(string.format(":%04X 0+:0000 %s", port, proto == "tcp" and "0A" or "07")) ~= nil
end
local listens = I.listens

--- Start it; returns { pid =, dir =, stop = function }. `uplink` names the veth
-- end in the caller's namespace (default "inet0").
function I.start(uplink)
  uplink = uplink or "inet0"
  local dir = H.tmpdir("internet")
  local write = I.write
  assert(os.execute("mkdir -p " .. dir .. "/www/cgi-bin"))
  write(dir .. "/www/index.html", "hello from the internet\n")
  -- (httpd listens on IPv6 too: a v4 client's address comes as [::ffff:a.b.c.d])
  write(dir .. "/www/cgi-bin/ip", "#!/bin/sh\na=${REMOTE_ADDR#[::ffff:}\n" ..
    "printf 'Content-Type: text/plain\\r\\n\\r\\n%s\\n' \"${a%]}\"\n",
    "755")
  -- the servers start once the link is configured (the go file): dnsmasq binds its address
  local holder = string.format([[
echo $$ > %s/pid
while [ ! -e %s/go ]; do sleep 0.05; done
busybox httpd -f -p 80 -h %s/www &
dnsmasq -k -u root --conf-file=/dev/null --no-resolv --no-hosts --pid-file= --listen-address=%s \
  --bind-interfaces --address=/%s/%s &
wait]], dir, dir, dir, I.ADDR, I.NAME, I.ADDR)
  write(dir .. "/holder.sh", holder)
  assert(os.execute("setsid unshare -n sh " .. dir .. "/holder.sh </dev/null >" .. dir .. "/log 2>&1 &"))
  local pid
  await(function()
    pid = tonumber(H.read_file(dir .. "/pid") or "")
    return pid
  end, "its namespace")
  local inet = { pid = pid, dir = dir, uplink = uplink }
  function inet.stop()
    -- dash's kill takes -N as the group N but refuses "-- -N": that form killed nothing
    os.execute("kill -9 -" .. pid .. " 2>/dev/null; ip link del " .. uplink .. " 2>/dev/null")
    H.rm(dir)
  end
  local ok, out = H.run(string.format([[set -e
ip link add %s type veth peer name eth0 netns %d
ip addr add %s/24 dev %s
ip link set %s up
nsenter -t %d -n sh -c 'ip link set lo up; ip addr add %s/24 dev eth0; ip addr add %s/32 dev lo; ip link set eth0 up'
ip route add %s/32 via %s]],
    uplink, pid, I.HOST, uplink, uplink, pid, I.ADDR, I.FAR, I.FAR, I.ADDR))
  if not ok then inet.stop() error("internet: " .. out) end
  write(dir .. "/go", "")
  local up, err = pcall(await, function() return listens(pid, "tcp", 80) and listens(pid, "udp", 53) end,
    "httpd and dnsmasq")
  if not up then inet.stop() error(err) end
  return inet
end

return I
