-- Argo CD health check for cohort.dev AnalyticsPipeline (Lua 5.1, as Argo CD runs it; tested with
-- 5.4 by health_test.lua). Argo CD runs it with the live object in
-- `obj` and shows the returned status and message. Install it in the argocd-cm ConfigMap under
-- resource.customizations.health.cohort.dev_AnalyticsPipeline (the chart's README shows how).
--
--   Progressing  the operator has not yet reported on the current spec (no status, or
--                status.observedGeneration < metadata.generation): older conditions are stale
--   Degraded     Degraded=True (e.g. a referenced Secret is missing, a rollout exceeded its deadline)
--   Progressing  Progressing=True (a rollout in progress, pods starting)
--   Healthy      Ready=True
--   Degraded     Ready=False and neither of the above (not ready and not getting there)
--   Progressing  otherwise (no Ready condition yet, or Ready=Unknown)
-- The message is the deciding condition's "reason: message".
local hs = {}

local function condition(conditions, type)
  if conditions == nil then
    return nil
  end
  for _, c in ipairs(conditions) do
    if c.type == type then
      return c
    end
  end
  return nil
end

local function describe(c)
  local reason = c.reason or ""
  local message = c.message or ""
  if reason ~= "" and message ~= "" then
    return reason .. ": " .. message
  end
  if reason ~= "" then
    return reason
  end
  return message
end

local generation = obj.metadata ~= nil and obj.metadata.generation or nil
local status = obj.status
if status == nil or status.observedGeneration == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to reconcile the pipeline"
  return hs
end
if generation ~= nil and status.observedGeneration < generation then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to observe generation " .. math.floor(generation) ..
    " (observed " .. math.floor(status.observedGeneration) .. ")"
  return hs
end

local degraded = condition(status.conditions, "Degraded")
if degraded ~= nil and degraded.status == "True" then
  hs.status = "Degraded"
  hs.message = describe(degraded)
  return hs
end
local progressing = condition(status.conditions, "Progressing")
if progressing ~= nil and progressing.status == "True" then
  hs.status = "Progressing"
  hs.message = describe(progressing)
  return hs
end
local ready = condition(status.conditions, "Ready")
if ready ~= nil and ready.status == "True" then
  hs.status = "Healthy"
  hs.message = describe(ready)
  return hs
end
if ready ~= nil and ready.status == "False" then
  hs.status = "Degraded"
  hs.message = describe(ready)
  return hs
end
hs.status = "Progressing"
hs.message = "Waiting for the Ready condition"
return hs
