-- Argo CD health of a ramp.dev Rollout, read from the status the Ramp operator writes.
-- Install as argocd-cm key resource.customizations.health.ramp.dev_Rollout (docs/gitops.md).
--   Healthy      the rollout completed (condition Ready=True)
--   Suspended    waiting for a person: paused, a Manual gate (`ramp promote`), or spec.enabled: false
--   Degraded     rolled back, failed, or stalled (condition Stalled=True): needs `ramp retry` or a fix
--   Progressing  moving through its phases, or the operator has not seen this generation yet
local hs = {status = "Progressing", message = "waiting for the Ramp operator to report a status"}
local status = obj.status
if status == nil or status.phase == nil then
  return hs
end
hs.message = status.message or status.phase
local generation = obj.metadata.generation
if generation ~= nil and (status.observedGeneration == nil or status.observedGeneration < generation) then
  hs.message = "waiting for the Ramp operator to observe generation " .. generation
  return hs
end
local stalled = false
for _, condition in ipairs(status.conditions or {}) do
  if condition.type == "Stalled" and condition.status == "True" then
    stalled = true
  end
end
local phase = status.phase
if phase == "Completed" then
  hs.status = "Healthy"
elseif phase == "Paused" or phase == "AwaitingApproval" or phase == "Disabled" then
  hs.status = "Suspended"
elseif phase == "RolledBack" or phase == "Failed" or stalled then
  hs.status = "Degraded"
end
return hs
