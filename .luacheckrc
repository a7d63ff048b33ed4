-- luacheck (Debian lua-check), run by `make test` as `luacheck lua spec bench examples rockspec`
-- (not `.`: build/debian's /dev/fd is a link to /proc/self/fd, a walk that never ends)
std = "lua54"
max_line_length = 130
exclude_files = { "build/**" }
-- specs: busted's globals, and the long lines of whole expected outputs
files["spec/**/*_spec.lua"] = { std = "+busted", max_line_length = 150 }
files["examples/container_spec.lua"] = { std = "+busted" }
-- bench/run.lua hands arguments to the scripts it runs through arg, as lua5.4 would
files["bench/run.lua"] = { globals = { "arg" } }
