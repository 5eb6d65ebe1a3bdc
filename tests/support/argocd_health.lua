-- Runs an Argo CD health script the way Argo CD does (the object as the global `obj`, the
-- script's return value as the health) on a JSON object read from stdin; prints the health as
-- JSON. Usage: lua5.1 argocd_health.lua SCRIPT < object.json
local cjson = require("cjson")

-- Argo CD hands the script JSON null as nil; cjson decodes it to a sentinel.
local function without_nulls(value)
  if type(value) ~= "table" then
    return value
  end
  local out = {}
  for k, v in pairs(value) do
    if v ~= cjson.null then
      out[k] = without_nulls(v)
    end
  end
  return out
end

local script = assert(loadfile(arg[1]))
obj = without_nulls(cjson.decode(io.read("*a")))
local hs = script()
io.write(cjson.encode({status = hs.status, message = hs.message}))
