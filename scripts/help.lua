-- dfush help [COMMAND]
local dfu = require "dfu"
local recipe = require "dfu.recipe"
local cli = require "dfu.cli"

local function describe(r)
  local opts = dfu.json.array {}
  for _, o in ipairs(r.options) do
    opts[#opts + 1] = { name = o.name, short = o.short, arg = o.arg, optional = o.optional, help = o.help }
  end
  return { name = r.name, usage = "dfush " .. r.usage, summary = r:summary(), help = r.help,
           options = opts, examples = dfu.json.array(r.examples or {}) }
end

return dfu.recipe {
  name = "help",
  device = false, -- no device: -d does not apply
  usage = "help [COMMAND]",
  help = [[Show the command list, or one command's usage and options.

With --json: {"commands":[{"name","summary"}...]}, or one command's name, usage, help, options and examples.]],
  -- "dfush help image convert": the words after the command name its subcommand, which
  -- the command's own help covers
  args = { { name = "command", optional = true }, { name = "sub", optional = true } },
  examples = { "dfush help flash", "dfush help --json" },
  run = function(ctx, p)
    if not p.command then
      if ctx.json then
        local list = dfu.json.array {}
        for _, e in ipairs(recipe.list(ctx.recipe_dirs)) do
          local r = recipe.load(e.path)
          if r then list[#list + 1] = { name = e.name, summary = r:summary(), path = e.path } end
        end
        ctx:set_result { commands = list }
        return
      end
      ctx.stdout:write(cli.global_help(ctx.recipe_dirs), "\n")
      return
    end
    local path = recipe.find(p.command, ctx.recipe_dirs)
    if not path then
      local names = {}
      for _, e in ipairs(recipe.list(ctx.recipe_dirs)) do names[#names + 1] = e.name end
      local near = dfu.util.suggest(p.command, names)
      dfu.util.usage("help: no command '%s'; %sdfush help lists them", p.command,
        near and ("did you mean '" .. near .. "'? ") or "")
    end
    local r = dfu.check(recipe.load(path))
    if ctx.json then
      ctx:set_result(describe(r))
      return
    end
    ctx.stdout:write(r:help_text(), "\n")
  end,
}
