-- luacheck configuration (test.sh runs: luacheck lua scripts tests doc/recipes)
std = "lua54"
exclude_files = { "tests/usb/work/**" } -- the real-USB test's cache
max_line_length = 120
max_string_line_length = false -- help texts and messages are prose
globals = { package = { fields = { "dfush_scripts" } } } -- set by the dfush host (lua/host.c)
files["tests/spec"] = { std = "+busted" }
-- recipes end their help text ([[...]]) on a code line
files["scripts"] = { ignore = { "631" } }
