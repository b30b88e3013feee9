-- The interactive side of the dfush REPL: the banner, help() from the library's own doc
-- comments (lua/dfu/_meta.lua for the C modules, the `---` comments of lua/dfu/*.lua for the
-- rest), and Tab completion of names and methods (lua/host.c calls complete()).
local M = {}

-- The objects whose methods help() and completion know: registry metatable -> doc prefix.
local CLASSES = { ["dfu.Device"] = "Device", ["dfu.Image"] = "Image", ["dfu.Sim"] = "Sim" }

-- The doc prefix of a file's local tables: _meta.lua names its classes, init.lua's helpers are
-- Device methods, any other module's M is dfu.<module>.
local META_TABLES = { core = "dfu.core", image = "dfu.image", sim = "dfu.sim", Device = "Device",
                      Image = "Image", Sim = "Sim" }

--- The banner the REPL prints on a terminal.
function M.banner()
  local ok, core = pcall(require, "dfu.core")
  return string.format("dfush %s (%s): `dfu` is loaded. help() for help, help(dfu.open) for one " ..
    "function; Tab completes; Ctrl-D exits.", ok and core.version or "?", _VERSION)
end

-- The source file of module `name` on package.path (the library's sources are installed next
-- to the compiled-in copy), or nil.
local function source_of(name)
  return package.searchpath(name, package.path)
end

-- A doc block (lines without their leading ---) in readable form: @param and @return lines
-- become "name: type  text" lists.
local function render(lines)
  local out = {}
  for _, l in ipairs(lines) do
    local tag, rest = l:match("^@(%w+)%s*(.*)$")
    if tag == "param" then
      local n, t, d = rest:match("^(%S+)%s+(%S+)%s*(.*)$")
      out[#out + 1] = string.format("  %s: %s%s", n or rest, t or "", d and d ~= "" and ("  " .. d) or "")
    elseif tag == "return" then
      out[#out + 1] = "  returns " .. rest
    elseif tag == nil then
      out[#out + 1] = l
    end
  end
  return table.concat(out, "\n")
end

-- Parse one source file into docs[key] = {sig=, text=}.
local function scan(path, module, docs)
  local f = io.open(path, "rb")
  if not f then return end
  local block = {}
  for line in f:lines() do
    local d = line:match("^%-%-%-%s?(.*)$")
    if d and not line:match("^%-%-%-%-") then
      block[#block + 1] = d
    else
      local tbl, sep, name, args = line:match("^function ([%w_]+)([%.:])([%w_]+)(%b())")
      if tbl and #block > 0 then
        local prefix
        if module == "dfu._meta" then prefix = META_TABLES[tbl]
        elseif tbl == "helpers" then
          prefix, sep = "Device", ":"
          args = args:gsub("^%(%s*[%w_]+%s*,?%s*", "(") -- the device is the receiver
        elseif tbl == "M" then prefix = module end
        if prefix then
          if prefix == "Device" or prefix == "Image" or prefix == "Sim" then sep = ":" end
          local key = prefix .. sep .. name
          if not docs[key] then docs[key] = { sig = key .. args, text = render(block) } end
        end
      end
      block = {}
    end
  end
  f:close()
end

local docs_cache

--- The doc index: {["dfu.open"] = {sig=, text=}, ["Device:flash"] = ...}, and whether the
--- sources were found.
function M.docs()
  if docs_cache then return docs_cache, next(docs_cache) ~= nil end
  local docs = {}
  local mods = { "dfu._meta", "dfu" }
  local root = source_of("dfu")
  local dir = root and root:match("^(.*)/dfu/init%.lua$") or root and root:match("^(.*)/dfu%.lua$")
  local ok, core = pcall(require, "dfu.core")
  if dir and ok then
    for _, f in ipairs(core.listdir(dir .. "/dfu") or {}) do
      local n = f:match("^([%w_]+)%.lua$")
      if n and n ~= "init" and n ~= "_meta" then mods[#mods + 1] = "dfu." .. n end
    end
  end
  for _, m in ipairs(mods) do
    local p = source_of(m)
    if p then scan(p, m, docs) end
  end
  docs_cache = docs
  return docs, next(docs) ~= nil
end

-- The class tables of the C objects: {Device = index table, ...}.
local function class_tables()
  local out, reg = {}, debug.getregistry()
  for mt, name in pairs(CLASSES) do
    local t = reg[mt]
    if type(t) == "table" and type(t.__index) == "table" then out[name] = t.__index end
  end
  return out
end

-- The doc key of a value: a function of dfu, of a dfu module, or a method; a module table.
local function key_of(v)
  local dfu = package.loaded.dfu
  if type(dfu) ~= "table" then return nil end
  if v == dfu then return "dfu" end
  for k, x in pairs(dfu) do
    if x == v then return "dfu." .. k end
  end
  for cname, idx in pairs(class_tables()) do
    if v == idx then return cname end
    for k, x in pairs(idx) do
      if x == v then return cname .. ":" .. k end
    end
  end
  for k, mod in pairs(dfu) do
    if type(mod) == "table" and type(k) == "string" and k ~= "helpers" then
      for k2, x in pairs(mod) do
        if x == v and type(k2) == "string" then return "dfu." .. k .. "." .. k2 end
      end
    end
  end
  return nil
end

-- The first line of a doc text.
local function first_line(text)
  return (text:match("^[^\n]*") or "")
end

-- Members of a table (a module or a class) with their summaries, for help(dfu.core) etc.
local function members(prefix, t, sep, docs)
  local names = {}
  for k, v in pairs(t) do
    if type(k) == "string" and type(v) == "function" and not k:match("^_") then names[#names + 1] = k end
  end
  table.sort(names)
  local out = {}
  for _, k in ipairs(names) do
    local d = docs[prefix .. sep .. k]
    out[#out + 1] = string.format("  %-28s %s", prefix .. sep .. k, d and first_line(d.text) or "")
  end
  return table.concat(out, "\n")
end

local OVERVIEW = [[
The dfu module (loaded as `dfu`):
  dev = assert(dfu.open("sim:stm32h753"))     open a device (a device string, as -d)
  img = assert(dfu.image.load("fw.elf"))      load an image (ELF, HEX, S-record, DfuSe, bin)
  dev:flash(img, { leave = true })            erase, write, verify, leave
  dev:info(), dev:alts(), dev:upload(...)     descriptors, alt settings, raw requests
  dfu.list()                                  DFU devices on USB
Failures return nil, message, CODE; misuse raises.
help(dfu.open), help(dev.flash), help("Device:flash"), help(dfu.image): one topic.
help(dfu) lists the functions; Tab completes names and methods.]]

--- The help text for x (nil: an overview). Returns a string.
function M.help_text(x)
  if x == nil then return OVERVIEW end
  local docs, found = M.docs()
  local key = type(x) == "string" and x:gsub("^dev:", "Device:"):gsub("^img:", "Image:") or key_of(x)
  if type(x) == "userdata" or (type(x) == "table" and getmetatable(x) and CLASSES[getmetatable(x).__name]) then
    local mt = getmetatable(x)
    local cname = mt and CLASSES[mt.__name]
    if cname and type(mt.__index) == "table" then
      return cname .. " methods:\n" .. members(cname, mt.__index, ":", docs)
    end
  end
  if not key then return "no help for this value (help() for an overview)" end
  local d = docs[key]
  if d then return d.sig .. "\n" .. d.text end
  local classes = class_tables()
  if classes[key] then return key .. " methods:\n" .. members(key, classes[key], ":", docs) end
  local t = key == "dfu" and package.loaded.dfu or (type(x) == "table" and x)
  if type(t) == "table" then
    local out = { key .. ":" , members(key, t, ".", docs) }
    if key == "dfu" then out[#out + 1] = "(help(dfu.core), help(dfu.image), help(\"Device\") for more)" end
    return table.concat(out, "\n")
  end
  if not found then
    return key .. ": the documentation sources (dfu/_meta.lua) are not installed; see doc/usage.md"
  end
  return key .. ": no documentation"
end

--- help(x): print the documentation of x.
function M.help(x)
  print(M.help_text(x))
end

-- Keys of a table and of the __index tables behind it, for completion.
local function keys_of(v, methods_only)
  local out, seen = {}, {}
  local function add(t)
    if type(t) ~= "table" then return end
    for k, x in pairs(t) do
      if type(k) == "string" and k:match("^[%a_][%w_]*$") and not seen[k] and
          (not methods_only or type(x) == "function") then
        seen[k] = true
        out[#out + 1] = { name = k, value = x }
      end
    end
  end
  local depth = 0
  local cur = v
  while cur ~= nil and depth < 4 do
    if type(cur) == "table" then add(cur) end
    local mt = getmetatable(cur)
    cur = type(mt) == "table" and type(mt.__index) == "table" and mt.__index or nil
    depth = depth + 1
  end
  return out
end

--- Completions of `text`, the word before the cursor ("dfu.op", "dev:fl", "pri"): a sorted
--- list of full words; a function gets "(" appended, a table "." (when it is the only match).
--- Only plain fields are read (no __index functions are called).
function M.complete(text, env)
  env = env or _G
  local path, sep, partial = text:match("^([%a_][%w_%.:]-)([%.:])([%w_]*)$")
  local base, prefix
  if path then
    base = env
    for part in path:gmatch("[^%.:]+") do
      if type(base) ~= "table" and type(base) ~= "userdata" then return {} end
      local ok, v = pcall(function() return type(base) == "table" and rawget(base, part) or nil end)
      if not ok then return {} end
      if v == nil and type(base) == "table" then
        -- a module table reached through __index (a global behind _ENV)
        local mt = getmetatable(base)
        if type(mt) == "table" and type(mt.__index) == "table" then v = rawget(mt.__index, part) end
      end
      base = v
    end
    if base == nil or path:find(":[^%.:]*[%.:]") then return {} end
    prefix = path .. sep
  else
    partial = text:match("^([%a_][%w_]*)$") or (text == "" and "")
    if not partial then return {} end
    base, prefix = env, ""
  end
  local out = {}
  for _, e in ipairs(keys_of(base, sep == ":")) do
    if e.name:sub(1, #partial) == partial then out[#out + 1] = e end
  end
  if not path then
    for _, kw in ipairs({ "and", "break", "do", "else", "elseif", "end", "false", "for", "function", "goto",
                          "if", "in", "local", "nil", "not", "or", "repeat", "return", "then", "true",
                          "until", "while" }) do
      if kw:sub(1, #partial) == partial and #partial > 0 then out[#out + 1] = { name = kw, keyword = true } end
    end
  end
  table.sort(out, function(a, b) return a.name < b.name end)
  local words = {}
  for _, e in ipairs(out) do
    local w = prefix .. e.name
    if #out == 1 and not e.keyword then
      if type(e.value) == "function" then w = w .. "("
      elseif type(e.value) == "table" then w = w .. "." end
    end
    words[#words + 1] = w
  end
  return words
end

--- Set up the REPL's globals (help); returns the banner.
function M.setup(env)
  env = env or _G
  if env.help == nil then env.help = M.help end
  return M.banner()
end

return M
