-- dfush help [COMMAND]
local dfu = require "dfu"
local recipe = require "dfu.recipe"
local cli = require "dfu.cli"

return dfu.recipe {
  name = "help",
  usage = "help [COMMAND]",
  help = [[Show help: the command list, or one command's usage, options and examples.]],
  args = { { name = "command", optional = true } },
  examples = { "dfush help flash" },
  run = function(ctx, p)
    if not p.command then
      ctx.stdout:write(cli.global_help(ctx.recipe_dirs), "\n")
      return
    end
    local path = recipe.find(p.command, ctx.recipe_dirs)
    if not path then dfu.util.usage("help: no command '%s'; dfush help lists them", p.command) end
    local r = dfu.check(recipe.load(path))
    ctx.stdout:write(r:help_text(), "\n")
  end,
}
