-- Recipes: declaration and validation (dfu.recipe{...}), argument parsing from the
-- declaration, sandboxed loading from the recipe directories, and help text.
--
-- A recipe:
--   return dfu.recipe {
--     name = "erase", usage = "erase ADDR [LEN] | --mass --force",
--     help = "Erase the flash sectors ...",           -- first line = summary
--     args = { { name = "addr", optional = true }, { name = "len", optional = true } },
--     options = { { name = "mass", help = "..." }, { name = "force", help = "..." },
--                 { name = "alt", arg = "A", help = "..." },
--                 { name = "leave", arg = "ADDR", optional = true, help = "..." },
--                 { name = "output", short = "o", arg = "OUT", help = "..." } },
--     examples = { "dfush erase 0x08020000 128K" },
--     raw = true,                                     -- optional: no parsing, p.argv = the arguments
--     run = function(ctx, p) ... end,                 -- p.addr, p.mass, p.output, ...
--   }
local util = require "dfu.util"

local M = {}

local Recipe = {}
Recipe.__index = Recipe
Recipe.__name = "dfu.Recipe"
Recipe.__tostring = function(r) return "dfu.Recipe: " .. r.name end
M.Recipe = Recipe

local function key(name) return (name:gsub("%-", "_")) end

--- Validate a declaration and return the recipe object.
function M.new(t)
  if type(t) ~= "table" then error("dfu.recipe: expected a table", 2) end
  if type(t.name) ~= "string" or t.name == "" then error("dfu.recipe: 'name' must be a string", 2) end
  if type(t.run) ~= "function" then error("dfu.recipe '" .. t.name .. "': 'run' must be a function", 2) end
  t.usage = t.usage or t.name
  t.help = t.help or ""
  t.args = t.args or t.params or {}
  t.options = t.options or {}
  for i, a in ipairs(t.args) do
    if type(a) == "string" then t.args[i] = { name = a } end
  end
  for _, o in ipairs(t.options) do
    if type(o.name) ~= "string" then error("dfu.recipe '" .. t.name .. "': option without a name", 2) end
  end
  return setmetatable(t, Recipe)
end

--- Options every command accepts (handled by the CLI, also after the command name).
M.GLOBAL = {
  { name = "device", short = "d", arg = "DEV", help = "device string (default $DFUSH_DEVICE, else usb)" },
  { name = "verbose", short = "v", help = "more log output (-vv for protocol traffic)" },
  { name = "quiet", short = "q", help = "no progress or log output" },
  { name = "json", help = "print one JSON object on stdout" },
  { name = "help", short = "h", help = "show help for this command" },
}

local function exists(path)
  local f = io.open(path, "rb")
  if f then f:close() return true end
  return false
end

local function find_opt(list, name, short)
  for _, o in ipairs(list) do
    if (name and o.name == name) or (short and o.short == short) then return o end
  end
end

--- Parse argv (array of strings) against the declaration. Returns p (options by key,
--- positionals by name; many=true args as arrays) and the global options seen.
function Recipe:parse(argv)
  if self.raw then -- the recipe parses its own command line: p.argv, the arguments as given
    return { argv = table.move(argv, 1, #argv, 1, {}) }, {}
  end
  local p, g = {}, {}
  local pos = {}
  local i = 1
  local function take(o, inline, flag)
    local store, k = p, key(o.name)
    if find_opt(M.GLOBAL, o.name) == o then store = g end
    if not o.arg then
      if inline then util.usage("%s: option %s takes no value", self.name, flag) end
      if o.name == "verbose" then store[k] = (store[k] or 0) + 1 else store[k] = true end
      return
    end
    if inline == "" then
      util.usage("%s: option %s= needs a value (%s)", self.name, flag, o.arg)
    elseif inline then
      store[k] = inline
    elseif o.optional then
      store[k] = true
    else
      i = i + 1
      if argv[i] == nil then util.usage("%s: option %s needs a value (%s)", self.name, flag, o.arg) end
      store[k] = argv[i]
    end
    if o.choices and type(store[k]) == "string" then
      local okc = false
      for _, c in ipairs(o.choices) do if c == store[k] then okc = true end end
      if not okc then
        util.usage("%s: %s must be one of %s, got '%s'", self.name, flag, table.concat(o.choices, "|"), store[k])
      end
    end
  end
  local only_pos = false
  while i <= #argv do
    local a = argv[i]
    if only_pos or a == "-" or a:sub(1, 1) ~= "-" or a:match("^%-%d") then
      pos[#pos + 1] = a
    elseif a == "--" then
      only_pos = true
    elseif a:sub(1, 2) == "--" then
      local name, inline = a:match("^%-%-([^=]+)=(.*)$")
      name = name or a:sub(3)
      local o = find_opt(self.options, name) or find_opt(M.GLOBAL, name)
      if not o then
        local names = {}
        for _, l in ipairs({ self.options, M.GLOBAL }) do
          for _, x in ipairs(l) do names[#names + 1] = x.name end
        end
        local near = util.suggest(name, names)
        util.usage("%s: unknown option --%s%s (see: dfush help %s)", self.name, name,
          near and ("; did you mean --" .. near .. "?") or "", self.name)
      end
      take(o, inline, "--" .. name)
      if o.optional and not inline and argv[i + 1] and util.parse_number(argv[i + 1]) and
          not exists(argv[i + 1]) then
        -- "--leave 0x08000000": an optional value is attached, never the next argument
        util.usage("%s: --%s takes its value attached: --%s=%s (a separate '%s' would be read as an " ..
          "argument)", self.name, name, name, argv[i + 1], argv[i + 1])
      end
    else
      -- short options, possibly bundled (-vv) or with an attached value (-oOUT)
      local j = 2
      while j <= #a do
        local c = a:sub(j, j)
        local o = find_opt(self.options, nil, c) or find_opt(M.GLOBAL, nil, c)
        if not o then util.usage("%s: unknown option -%s (see: dfush help %s)", self.name, c, self.name) end
        if o.arg and j < #a then
          take(o, a:sub(j + 1), "-" .. c)
          break
        end
        take(o, nil, "-" .. c)
        j = j + 1
      end
    end
    i = i + 1
  end
  if g.help then return p, g end
  local k = 1
  for n, a in ipairs(self.args) do
    if a.many then
      local list = {}
      local rest_needed = #self.args - n
      while k <= #pos - rest_needed do
        list[#list + 1] = pos[k]
        k = k + 1
      end
      if #list == 0 and not a.optional then
        util.usage("%s: missing %s (usage: dfush %s)", self.name, a.name:upper(), self.usage)
      end
      p[key(a.name)] = list
    else
      if pos[k] == nil then
        if not a.optional then
          util.usage("%s: missing %s (usage: dfush %s)", self.name, a.name:upper(), self.usage)
        end
      else
        p[key(a.name)] = pos[k]
        k = k + 1
      end
    end
  end
  if k <= #pos then
    util.usage("%s: unexpected argument '%s' (usage: dfush %s)", self.name, pos[k], self.usage)
  end
  return p, g
end

local function wrap(text, indent, width)
  local out, line = {}, indent
  for word in text:gmatch("%S+") do
    if #line + #word + 1 > width and line ~= indent then
      out[#out + 1] = line
      line = indent
    end
    line = line .. (line == indent and "" or " ") .. word
  end
  if line ~= indent then out[#out + 1] = line end
  return table.concat(out, "\n")
end

--- A usage line folded at width: bracketed groups stay whole, continuation lines are indented
--- under the first argument.
function M.wrap_usage(line, width)
  if #line <= width then return line end
  local head, rest = line:match("^(usage: %S+ %S+)%s*(.*)$")
  if not head then return line end
  local words, cur, depth = {}, "", 0
  for c in rest:gmatch(".") do
    if c == " " and depth == 0 then
      if cur ~= "" then words[#words + 1] = cur end
      cur = ""
    else
      if c == "[" then depth = depth + 1 elseif c == "]" then depth = math.max(0, depth - 1) end
      cur = cur .. c
    end
  end
  if cur ~= "" then words[#words + 1] = cur end
  local indent = string.rep(" ", #head + 1)
  local lines, l = {}, head
  for _, wd in ipairs(words) do
    if #l + 1 + #wd > width and l ~= head and l ~= indent then
      lines[#lines + 1] = l
      l = indent .. wd
    else
      l = l .. " " .. wd
    end
  end
  lines[#lines + 1] = l
  return table.concat(lines, "\n")
end

local function opt_label(o)
  local s = (o.short and ("-" .. o.short .. ", ") or "    ") .. "--" .. o.name
  if o.arg then s = s .. (o.optional and ("[=" .. o.arg .. "]") or (" " .. o.arg)) end
  return s
end

--- The first line of help.
function Recipe:summary()
  return (self.help:match("^[^\n]*") or "")
end

--- Full help text for `dfush help NAME` and `NAME --help`.
function Recipe:help_text()
  local out = { M.wrap_usage("usage: dfush " .. self.usage, 78), "" }
  for para in (self.help .. "\n\n"):gmatch("(.-)\n%s*\n") do
    if para:find("%S") then
      -- a paragraph with indented lines (a list, a table) is kept as written; prose is filled
      if para:find("^%s") or para:find("\n%s") then out[#out + 1] = para else out[#out + 1] = wrap(para, "", 78) end
      out[#out + 1] = ""
    end
  end
  if #self.options > 0 then
    out[#out + 1] = "options:"
    local w = 0
    for _, o in ipairs(self.options) do w = math.max(w, #opt_label(o)) end
    w = math.min(w, 26)
    local indent = string.rep(" ", w + 4)
    for _, o in ipairs(self.options) do
      local label, text = "  " .. opt_label(o), wrap(o.help or "", indent, 78)
      if #label > w + 3 then
        out[#out + 1] = label -- a long option name: its help on the next lines
        out[#out + 1] = text
      else
        out[#out + 1] = label .. string.rep(" ", w + 4 - #label) .. text:sub(#indent + 1)
      end
    end
    out[#out + 1] = ""
  end
  if self.device == false then
    out[#out + 1] = "global options: -v, -q, --json (see: dfush help)"
  else
    out[#out + 1] = "global options: -d DEV, -v, -q, --json (see: dfush help)"
  end
  if self.examples and #self.examples > 0 then
    out[#out + 1] = ""
    out[#out + 1] = "examples:"
    for _, e in ipairs(self.examples) do out[#out + 1] = "  " .. e end
  end
  return table.concat(out, "\n")
end

-- ---- loading ----

--- The sandbox a recipe file runs in: the dfu modules through require, the safe standard
--- library, and no new globals.
function M.env(path)
  local env = {
    require = require, string = string, table = table, math = math, utf8 = utf8,
    ipairs = ipairs, pairs = pairs, next = next, select = select, type = type,
    tostring = tostring, tonumber = tonumber, error = error, assert = assert, pcall = pcall,
    xpcall = xpcall, setmetatable = setmetatable, getmetatable = getmetatable, rawget = rawget,
    rawset = rawset, rawequal = rawequal, rawlen = rawlen, print = print,
    os = { getenv = os.getenv, time = os.time, clock = os.clock, date = os.date },
    RECIPE_PATH = path,
  }
  env._G = env
  return setmetatable(env, {
    __newindex = function(_, k)
      error(string.format("%s: assignment to undeclared global '%s' (use local)", path, tostring(k)), 2)
    end,
    __index = function(_, k)
      error(string.format("%s: undefined global '%s'", path, tostring(k)), 2)
    end,
  })
end

--- Load a recipe file. Returns the recipe or nil, msg, code.
function M.load(path)
  local f, ferr = io.open(path, "rb")
  if not f then return nil, ferr, "NOT_FOUND" end
  local src = f:read("a")
  f:close()
  local chunk, err = load(src, "@" .. path, "t", M.env(path))
  if not chunk then return nil, err, "FORMAT" end
  local ok, r = util.pcall(chunk)
  if not ok then return nil, tostring(r), "FORMAT" end
  if getmetatable(r) ~= Recipe then
    return nil, path .. ": a recipe must return dfu.recipe{...}", "FORMAT"
  end
  r.path = path
  return r
end

--- Recipe directories: extra (--recipes DIR ...) first, then package.dfush_scripts.
--- Without the dfush host (stock lua5.4), the recipe directories are the package.path
--- entries ending in scripts/?.lua, plus $DFUSH_PATH.
function M.dirs(extra)
  local out = {}
  for _, d in ipairs(extra or {}) do out[#out + 1] = d end
  if package.dfush_scripts then
    for _, d in ipairs(package.dfush_scripts) do out[#out + 1] = d end
  else
    for tmpl in package.path:gmatch("[^;]+") do
      local d = tmpl:match("^(.*scripts)/%?%.lua$")
      if d then out[#out + 1] = d end
    end
    for d in (os.getenv("DFUSH_PATH") or ""):gmatch("[^:]+") do out[#out + 1] = d end
  end
  return out
end

--- Find the file of recipe `name` ("flash", "stm32.ob" -> stm32/ob.lua).
function M.find(name, dirs)
  if not name:match("^[%w_%-%.]+$") then return nil end
  local rel = name:gsub("%.", "/") .. ".lua"
  for _, d in ipairs(dirs) do
    local p = d .. "/" .. rel
    if exists(p) then return p end
  end
end

--- Names of the top-level recipes in the directories (for `dfush help`). A directory that
--- cannot be listed (missing, not a directory) is skipped.
function M.list(dirs)
  local core = require "dfu.core"
  local names, seen = {}, {}
  for _, d in ipairs(dirs) do
    local files = core.listdir(d) or {}
    table.sort(files)
    for _, f in ipairs(files) do
      local n = f:match("^([%w_%-]+)%.lua$")
      if n and not seen[n] then
        seen[n] = true
        names[#names + 1] = { name = n, path = d .. "/" .. f }
      end
    end
  end
  table.sort(names, function(a, b) return a.name < b.name end)
  return names
end

return M
