#!/usr/bin/env bash
# The main job (README): from a fresh machine to a Ready AnalyticsPipeline on a local control plane.
# It installs what is missing, starts a control plane (etcd, kube-apiserver, controller-manager,
# scheduler, kwok), installs the Helm chart from the working tree with its operator Deployment
# scaled to zero (kwok's pods run nothing), builds cohort-operator and runs it here, as the chart's
# ServiceAccount, applies the minimal sample pipeline into a namespace that enforces the restricted
# Pod Security Standard (with the Dify source turned on), waits until the pipeline is Ready, then
# runs cohort-ingest here with the configuration the operator rendered for it (kwok's pods run
# nothing), sends it sample traffic through the official Amplitude Node SDK and Dify-shaped traces,
# prints what was accepted and how to look at it all.
#
#   tools/demo.sh [start]   set up or refresh the demo; everything keeps running in the background
#   tools/demo.sh stop      stop the operator and the control plane (also what Ctrl-C during start does)
#
# State lives in .demo/ (git-ignored): control-plane/, build/ (a Release tree), the operator's
# kubeconfig, log and pid, ingest/ (the local cohort-ingest: config, secrets, data, log). A second start reuses a running control plane (every install step is
# idempotent) and restarts the operator with a fresh build; a control plane that is not running is
# replaced by a new, empty one. COHORT_JOBS sets the build's parallelism (default: all cores).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

demo=$root/.demo
cp_dir=$demo/control-plane
build_dir=$demo/build
release=cohort-operator          # the chart's fullname is then cohort-operator too
operator_ns=cohort-system
demo_ns=cohort-demo
pipeline=analytics               # metadata.name in the sample
sample=manifests/samples/analyticspipeline-minimal.yaml

log() { printf '\n==> %s\n' "$*" >&2; }
die() { echo "demo: $*" >&2; exit 1; }

# ---------------------------------------------------------------- the operator process
operator_pid() { cat "$demo/operator.pid" 2>/dev/null || true; }

# SIGTERM lets the operator finish its reconciles and release its Lease, so the next one leads at
# once; a stuck one is killed after the chart's grace period (40 s).
stop_operator() {
  local pid; pid=$(operator_pid)
  if [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    local i
    for ((i = 0; i < 400; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$demo/operator.pid"
}

ingest_dir=$demo/ingest
ingest_pid() { cat "$ingest_dir/pid" 2>/dev/null || true; }

# SIGTERM drains cohort-ingest (it answers what is in flight and closes its log).
stop_ingest() {
  local pid; pid=$(ingest_pid)
  if [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    local i
    for ((i = 0; i < 600; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$ingest_dir/pid"
}

stop_all() {
  stop_ingest
  stop_operator
  [[ ! -d $cp_dir ]] || tools/controlplane/cpctl stop "$cp_dir"
}

# ---------------------------------------------------------------- steps of start
# Reuses a running control plane; otherwise starts from an empty directory, so a stale etcd from an
# earlier run (a reboot, a killed supervisor) never mixes with this one.
ensure_control_plane() {
  if tools/controlplane/cpctl status "$cp_dir" >/dev/null 2>&1; then
    echo "reusing the control plane in $cp_dir"
    return
  fi
  [[ ! -d $cp_dir ]] || tools/controlplane/cpctl stop "$cp_dir" >/dev/null 2>&1 || true
  rm -rf "$cp_dir"
  mkdir -p "$cp_dir"
  tools/controlplane/cpctl start "$cp_dir" >/dev/null
  echo "started a control plane in $cp_dir"
}

# A namespace whose pods must meet the restricted Pod Security Standard: the API server rejects the
# operator's or the pipeline's pods if their security contexts fall short.
restricted_namespace() {
  kubectl apply -f - <<EOF
apiVersion: v1
kind: Namespace
metadata:
  name: $1
  labels:
    pod-security.kubernetes.io/enforce: restricted
    pod-security.kubernetes.io/enforce-version: latest
EOF
}

# The chart from the working tree, CRDs included. Helm creates the CRDs on the first install only and
# never upgrades them, so a later run applies them first, as the chart's README tells users to.
install_chart() {
  restricted_namespace "$operator_ns"
  if helm status "$release" -n "$operator_ns" >/dev/null 2>&1; then
    kubectl apply --server-side --force-conflicts -f charts/cohort-operator/crds/
  fi
  helm upgrade --install "$release" charts/cohort-operator -n "$operator_ns" \
    --set replicas=0 >/dev/null
  helm list -n "$operator_ns"
  kubectl wait --for=condition=Established --timeout=60s crd/analyticspipelines.cohort.dev
}

build_operator() {
  cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$build_dir" --target cohort-operator cohort-ingest -j "${COHORT_JOBS:-$(nproc)}"
}

# A kubeconfig holding a token of the chart's ServiceAccount: the local operator gets exactly the
# permissions the in-cluster one would (the admin kubeconfig would hide a missing RBAC rule).
write_operator_kubeconfig() {
  local server token
  server=$(kubectl config view --raw -o jsonpath='{.clusters[0].cluster.server}')
  token=$(kubectl -n "$operator_ns" create token "$release" --duration=24h)
  (
    umask 077
    cat >"$demo/operator.kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: demo
  cluster: {server: "$server", certificate-authority: "$cp_dir/pki/ca.crt"}
users:
- name: $release
  user: {token: "$token"}
contexts:
- name: demo
  context: {cluster: demo, user: $release, namespace: $operator_ns}
current-context: demo
EOF
  )
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# Runs the operator with the flags of the chart's Deployment (leader election in the release
# namespace) in a session of its own (setsid): it outlives this script and a Ctrl-C in the shell
# that started it, until `tools/demo.sh stop`. Returns once /readyz answers (its caches synced).
start_operator() {
  write_operator_kubeconfig
  metrics_port=$(free_port)
  health_port=$(free_port)
  printf 'metrics_port=%s\nhealth_port=%s\n' "$metrics_port" "$health_port" >"$demo/operator.ports"
  POD_NAMESPACE=$operator_ns setsid "$build_dir/operator/cohort-operator" \
    --kubeconfig="$demo/operator.kubeconfig" \
    --leader-elect --leader-election-namespace="$operator_ns" \
    --metrics-bind-address="127.0.0.1:$metrics_port" \
    --health-probe-bind-address="127.0.0.1:$health_port" \
    </dev/null >>"$demo/operator.log" 2>&1 &
  echo $! >"$demo/operator.pid"
  local i
  for ((i = 0; i < 600; i++)); do
    curl -sf "http://127.0.0.1:$health_port/readyz" >/dev/null && {
      echo "cohort-operator runs (pid $(operator_pid)), log: $demo/operator.log"
      return
    }
    kill -0 "$(operator_pid)" 2>/dev/null || break
    sleep 0.1
  done
  tail -n 30 "$demo/operator.log" >&2
  die "cohort-operator did not become ready; log: $demo/operator.log"
}

apply_sample() {
  restricted_namespace "$demo_ns"
  kubectl apply --server-side -n "$demo_ns" -f "$sample"
  # The demo also shows Dify tracing: a key pair Secret (FAKE values) and the source turned on.
  kubectl apply --server-side -n "$demo_ns" -f - <<YAML
apiVersion: v1
kind: Secret
metadata:
  name: $pipeline-dify-keys
type: Opaque
stringData:
  public-key: pk-lf-FAKE-demo-0000
  secret-key: sk-lf-FAKE-demo-0000
YAML
  kubectl patch -n "$demo_ns" "apl/$pipeline" --type=merge -p \
    "{\"spec\":{\"sources\":{\"dify\":{\"enabled\":true}},\"auth\":{\"difyKeysSecretRef\":{\"name\":\"$pipeline-dify-keys\"}}}}"
}

# cohort-ingest here, from the ConfigMap the operator rendered and the Secrets the pod mounts.
run_ingest() {
  stop_ingest
  rm -rf "$ingest_dir"
  mkdir -p "$ingest_dir"
  local configmap
  configmap=$(python3 tools/demo/local_ingest_config.py "$demo_ns" "$pipeline" "$ingest_dir")
  echo "config: ConfigMap $demo_ns/$configmap, rewritten for this machine: $ingest_dir/config.json"
  setsid "$build_dir/ingest/server/cohort-ingest" --config "$ingest_dir/config.json" \
    --ready-file "$ingest_dir/ready.json" --jsonl-sink "$ingest_dir/events.jsonl" \
    >"$ingest_dir/ingest.log" 2>&1 </dev/null &
  echo $! >"$ingest_dir/pid"
  local i
  for ((i = 0; i < 600; i++)); do
    [[ -f $ingest_dir/ready.json ]] && break
    kill -0 "$(ingest_pid)" 2>/dev/null || { cat "$ingest_dir/ingest.log" >&2; die "cohort-ingest exited"; }
    sleep 0.1
  done
  [[ -f $ingest_dir/ready.json ]] || die "cohort-ingest is not ready; log: $ingest_dir/ingest.log"
  ingest_port=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["ingestPort"])' "$ingest_dir/ready.json")
  ingest_metrics_port=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["metricsPort"])' "$ingest_dir/ready.json")
  ingest_query_port=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["queryPort"])' "$ingest_dir/ready.json")
  echo "cohort-ingest runs (pid $(ingest_pid)): ingest http://127.0.0.1:$ingest_port, metrics http://127.0.0.1:$ingest_metrics_port"
}

send_sample_traffic() {
  local api_key public secret
  api_key=$(awk '!/^#/ && NF {print $1; exit}' "$ingest_dir/secrets/api-keys/api-keys")
  public=$(cat "$ingest_dir/secrets/dify-keys/public-key")
  secret=$(cat "$ingest_dir/secrets/dify-keys/secret-key")
  (cd tests/clients/amplitude-node && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
  echo "Amplitude Node SDK (@amplitude/analytics-node, serverUrl pointed here): 1,000 events, 50 devices"
  node tests/clients/amplitude-node/send.js --server-url "http://127.0.0.1:$ingest_port/2/httpapi" \
    --api-key "$api_key" --events 1000 --devices 50 --prefix "demo-$(date +%s)" |
    python3 -c 'import json,sys; print("  SDK results by code:", json.load(sys.stdin)["codes"])'
  echo "Dify traces (Langfuse ingestion API under /dify): 3 conversations"
  python3 tools/demo/dify_traces.py "http://127.0.0.1:$ingest_port/dify" "$public" "$secret" 3
  echo "A small product's last two weeks (Amplitude HTTP API):"
  python3 tools/demo/product_events.py "http://127.0.0.1:$ingest_port/2/httpapi" "$api_key"
}

print_analytics() {
  local read_key project
  read_key=$(awk '!/^#/ && NF {print $1; exit}' "$ingest_dir/secrets/query-keys/query-keys")
  project=$(awk '!/^#/ && NF {split($2, p, ","); print p[1]; exit}' \
    "$ingest_dir/secrets/api-keys/api-keys")
  python3 tools/demo/print_analytics.py "http://127.0.0.1:$ingest_query_port/v1/query" \
    "$read_key" "$project"
}

print_accepted() {
  echo "What cohort-ingest accepted (its /metrics):"
  curl -s "http://127.0.0.1:$ingest_metrics_port/metrics" |
    grep -E '^cohort_ingest_events_total\{.*outcome="(stored|duplicate|dropped)"\} [1-9]|^cohort_wal_appended_records_total|^cohort_sink_delivered_events_total' |
    sed 's/^/  /'
  echo "The last events, as the JSON-lines sink wrote them ($ingest_dir/events.jsonl):"
  tail -n 3 "$ingest_dir/events.jsonl" | cut -c1-240 | sed 's/^/  /'
}

# Ready for the current generation, the rule of the Argo CD health check: a rerun with a changed
# sample must not pass on the Ready condition the operator wrote for the previous spec.
pipeline_ready() {
  local jsonpath='{.metadata.generation} {.status.conditions[?(@.type=="Ready")].observedGeneration}'
  jsonpath+=' {.status.conditions[?(@.type=="Ready")].status}'
  local generation observed status
  read -r generation observed status < <(kubectl get -n "$demo_ns" "apl/$pipeline" -o jsonpath="$jsonpath") || true
  [[ $status == True && $observed == "$generation" ]]
}

wait_for_pipeline() {
  local deadline=$((SECONDS + 120))
  until pipeline_ready; do
    if ((SECONDS > deadline)); then
      kubectl describe -n "$demo_ns" "apl/$pipeline" >&2 || true
      tail -n 30 "$demo/operator.log" >&2
      die "the pipeline is not Ready after 120 s; the demo keeps running for a look (tools/demo.sh stop)"
    fi
    sleep 0.5
  done
  echo "analyticspipeline/$pipeline is Ready"
}

print_next_steps() {
  cat <<MSG

The pipeline is Ready: cohort-operator (pid $(operator_pid)) reconciled it on the local control plane,
where kwok marks its pods Running without running them. To look around from this shell:

  eval "\$(tools/controlplane/cpctl env $cp_dir)"
      # KUBECONFIG=$cp_dir/kubeconfig; kubectl and helm on PATH
  kubectl -n $demo_ns describe apl $pipeline     # conditions and the operator's events
  kubectl -n $demo_ns get all,configmap,pvc -l app.kubernetes.io/instance=$pipeline
  kubectl -n $demo_ns patch apl $pipeline --type=merge -p '{"spec":{"identity":{"sessionTimeout":"45m"}}}'
  kubectl -n $demo_ns get apl -w                 # a new config, rolled out

cohort-ingest runs here with the pipeline's rendered config (pid $(ingest_pid)):
  curl -s http://127.0.0.1:$ingest_metrics_port/healthz
  node tests/clients/amplitude-node/send.js --server-url http://127.0.0.1:$ingest_port/2/httpapi \\
    --api-key "\$(awk '!/^#/ && NF {print \$1; exit}' $ingest_dir/secrets/api-keys/api-keys)" --events 100
  tail -f $ingest_dir/events.jsonl              # what reached the JSON-lines sink

Operator log:  $demo/operator.log
Ingest log:    $ingest_dir/ingest.log
Metrics:       curl -s http://127.0.0.1:$metrics_port/metrics   (probes: http://127.0.0.1:$health_port/readyz)
Run again:     tools/demo.sh         (rebuilds and restarts the operator, keeps the cluster)
Stop it all:   tools/demo.sh stop
MSG
}

# ---------------------------------------------------------------- commands
cmd_start() {
  mkdir -p "$demo"
  # Ctrl-C (or a kill) while setting up leaves nothing behind.
  trap 'echo; echo "demo: interrupted, stopping" >&2; stop_all; exit 130' INT TERM

  log "dependencies"
  tools/install-deps.sh
  bin=$(tools/controlplane/build.sh)
  export PATH=$bin:$PATH KUBECONFIG=$cp_dir/kubeconfig
  # Helm's cache and config stay inside the demo, not in ~/.config and ~/.cache.
  export HELM_CACHE_HOME=$demo/helm/cache HELM_CONFIG_HOME=$demo/helm/config \
    HELM_DATA_HOME=$demo/helm/data

  log "control plane"
  ensure_control_plane
  log "Helm chart (charts/cohort-operator, replicas=0) into $operator_ns"
  install_chart
  log "building cohort-operator (Release, $build_dir)"
  stop_operator  # before the build replaces its binary
  build_operator
  log "starting cohort-operator as ServiceAccount $operator_ns/$release"
  start_operator
  log "sample pipeline ($sample) into $demo_ns"
  apply_sample
  wait_for_pipeline
  log "cohort-ingest here, with the configuration the operator rendered for $demo_ns/$pipeline"
  run_ingest
  log "sample traffic"
  send_sample_traffic
  sleep 2  # the JSON-lines sink flushes every second
  trap - INT TERM

  log "kubectl get analyticspipelines -n $demo_ns"
  kubectl get analyticspipelines -n "$demo_ns"
  print_accepted
  log "numbers from the query API (docs/query-api.md)"
  print_analytics
  print_next_steps
}

cmd_stop() {
  stop_all
  echo "demo stopped (state kept in $demo; the next tools/demo.sh starts a fresh control plane)"
}

case ${1:-start} in
  start) cmd_start ;;
  stop) cmd_stop ;;
  -h|--help) sed -n '2,15s/^# \{0,1\}//p' "$0" ;;
  *) die "unknown command '$1' (tools/demo.sh [start|stop])" ;;
esac
