-- Tests health.lua on sample AnalyticsPipeline statuses, as Argo CD runs it: the object in the
-- global `obj`, the result returned. Run: lua5.4 health_test.lua [path/to/health.lua]
-- (ctest argocd_health_test); it runs under Lua 5.1 too. Exits non-zero on any failure.
local script = arg[1] or (arg[0]:match("^(.*)/") or ".") .. "/health.lua"
local source = assert(io.open(script)):read("*a")

local function run(obj)
  -- A fresh environment per run, like Argo CD's fresh Lua state per object. Lua 5.1 (Argo CD's
  -- dialect) sets it with setfenv, 5.2+ with load's env argument.
  local env = setmetatable({ obj = obj }, { __index = _G })
  local chunk
  if setfenv then
    chunk = assert(loadstring(source, "@" .. script))
    setfenv(chunk, env)
  else
    chunk = assert(load(source, "@" .. script, "t", env))
  end
  return chunk()
end

local function cond(type, status, reason, message)
  return { type = type, status = status, reason = reason, message = message,
           lastTransitionTime = "2026-11-26T10:00:00Z", observedGeneration = 3 }
end

local function pipeline(generation, status)
  return {
    apiVersion = "cohort.dev/v1alpha1",
    kind = "AnalyticsPipeline",
    metadata = { name = "analytics", namespace = "demo", generation = generation },
    spec = { storage = { embedded = {} } },
    status = status,
  }
end

local ready = cond("Ready", "True", "Available", "1/1 ingest pods ready")
local notReady = cond("Ready", "False", "RolloutInProgress", "0/1 ingest pods ready")
local progressing = cond("Progressing", "True", "RollingUpdate", "updating to config 3f2a9c1e")
local notProgressing = cond("Progressing", "False", "Complete", "rollout complete")
local degraded = cond("Degraded", "True", "SecretNotFound",
  "Secret \"analytics-api-keys\" (spec.auth.apiKeysSecretRef) not found")
local notDegraded = cond("Degraded", "False", "AsExpected", "")

local cases = {
  { name = "no status yet", obj = pipeline(1, nil),
    status = "Progressing", message = "Waiting for the operator to reconcile the pipeline" },
  { name = "status without observedGeneration", obj = pipeline(1, { conditions = { ready } }),
    status = "Progressing", message = "Waiting for the operator to reconcile the pipeline" },
  { name = "ready and current", obj = pipeline(3, {
      observedGeneration = 3, conditions = { ready, notProgressing, notDegraded } }),
    status = "Healthy", message = "Available: 1/1 ingest pods ready" },
  { name = "ready but a newer spec not observed yet (stale conditions)", obj = pipeline(4, {
      observedGeneration = 3, conditions = { ready, notProgressing, notDegraded } }),
    status = "Progressing", message = "Waiting for the operator to observe generation 4 (observed 3)" },
  { name = "a stale generation goes before Degraded", obj = pipeline(5, {
      observedGeneration = 4, conditions = { notReady, degraded } }),
    status = "Progressing", message = "Waiting for the operator to observe generation 5 (observed 4)" },
  { name = "rolling out while still serving", obj = pipeline(3, {
      observedGeneration = 3, conditions = { ready, progressing, notDegraded } }),
    status = "Progressing", message = "RollingUpdate: updating to config 3f2a9c1e" },
  { name = "missing secret", obj = pipeline(3, {
      observedGeneration = 3, conditions = { notReady, notProgressing, degraded } }),
    status = "Degraded",
    message = "SecretNotFound: Secret \"analytics-api-keys\" (spec.auth.apiKeysSecretRef) not found" },
  { name = "degraded wins over progressing", obj = pipeline(3, {
      observedGeneration = 3, conditions = { notReady, progressing, degraded } }),
    status = "Degraded",
    message = "SecretNotFound: Secret \"analytics-api-keys\" (spec.auth.apiKeysSecretRef) not found" },
  { name = "degraded while the old pods still serve", obj = pipeline(3, {
      observedGeneration = 3, conditions = { ready, notProgressing,
        cond("Degraded", "True", "ProgressDeadlineExceeded", "rollout made no progress for 10m") } }),
    status = "Degraded", message = "ProgressDeadlineExceeded: rollout made no progress for 10m" },
  { name = "not ready and not progressing", obj = pipeline(3, {
      observedGeneration = 3, conditions = { notReady, notProgressing, notDegraded } }),
    status = "Degraded", message = "RolloutInProgress: 0/1 ingest pods ready" },
  { name = "ready unknown", obj = pipeline(3, {
      observedGeneration = 3, conditions = { cond("Ready", "Unknown", "Reconciling", "") } }),
    status = "Progressing", message = "Waiting for the Ready condition" },
  { name = "observed but no conditions", obj = pipeline(2, { observedGeneration = 2 }),
    status = "Progressing", message = "Waiting for the Ready condition" },
  { name = "reason without message", obj = pipeline(2, {
      observedGeneration = 2, conditions = { cond("Ready", "True", "Available", nil) } }),
    status = "Healthy", message = "Available" },
  { name = "numbers as JSON decodes them (floats)", obj = pipeline(7.0, {
      observedGeneration = 6.0, conditions = { ready } }),
    status = "Progressing", message = "Waiting for the operator to observe generation 7 (observed 6)" },
  { name = "observedGeneration ahead of a cached object", obj = pipeline(2, {
      observedGeneration = 3, conditions = { ready } }),
    status = "Healthy", message = "Available: 1/1 ingest pods ready" },
}

local failures = 0
for _, c in ipairs(cases) do
  local ok, hs = pcall(run, c.obj)
  if not ok then
    failures = failures + 1
    print("FAIL " .. c.name .. ": the script raised: " .. tostring(hs))
  elseif type(hs) ~= "table" or hs.status ~= c.status or hs.message ~= c.message then
    failures = failures + 1
    print(string.format("FAIL %s:\n  want %s %q\n  got  %s %q", c.name, c.status, c.message,
      tostring(type(hs) == "table" and hs.status), tostring(type(hs) == "table" and hs.message)))
  else
    print("ok   " .. c.name)
  end
end
print(string.format("%d of %d cases passed", #cases - failures, #cases))
os.exit(failures == 0 and 0 or 1)
