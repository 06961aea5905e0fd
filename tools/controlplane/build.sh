#!/usr/bin/env bash
# Builds the pinned control-plane binaries (etcd, kube-apiserver, kube-controller-manager,
# kube-scheduler, kubectl, kwok, helm) from Go modules into a cache outside the repository, keyed by
# version. Idempotent: a binary already in the cache is not rebuilt. One binary at a time, CGO off,
# -trimpath, stripped, versions stamped (helm and kubectl read them).
#
#   tools/controlplane/build.sh            build whatever is missing, print the bin directory
#   tools/controlplane/build.sh --print    only print the bin directory (non-zero if incomplete)
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=versions.sh
source "$here/versions.sh"

root="$COHORT_CACHE/controlplane"
bindir="$root/bin-k8s${K8S_VERSION}-etcd${ETCD_VERSION}-kwok${KWOK_VERSION}-helm${HELM_VERSION}"
binaries=(etcd kube-apiserver kube-controller-manager kube-scheduler kubectl kwok helm)

complete() {
  local b
  for b in "${binaries[@]}"; do [[ -x "$bindir/$b" ]] || return 1; done
  [[ -f "$bindir/kwok-stages.yaml" ]]
}

# kwok ships no stages inside its binary; its module carries the upstream ones. Fast node
# initialisation, heartbeats through a node Lease (fewer writes than status heartbeats), and fast
# pod stages (pods become Running and Ready as soon as they are scheduled; deleted ones go away).
write_kwok_stages() {
  local stages="$GOMODCACHE/sigs.k8s.io/kwok@$KWOK_VERSION/kustomize/stage" f
  [[ -d $stages ]] || (cd "$root/src/kwok-$KWOK_VERSION" && go mod download "sigs.k8s.io/kwok@$KWOK_VERSION")
  for f in node/fast/node-initialize.yaml node/heartbeat-with-lease/node-heartbeat-with-lease.yaml \
           pod/fast/pod-ready.yaml pod/fast/pod-complete.yaml pod/fast/pod-delete.yaml; do
    echo "---"
    cat "$stages/$f"
  done >"$bindir/kwok-stages.yaml.tmp"
  mv "$bindir/kwok-stages.yaml.tmp" "$bindir/kwok-stages.yaml"
}

if [[ "${1:-}" == "--print" ]]; then
  complete && { echo "$bindir"; exit 0; }
  echo "control plane not built: run tools/controlplane/build.sh" >&2
  exit 1
fi
if complete; then echo "$bindir"; exit 0; fi

command -v go >/dev/null || { echo "build.sh: go not found on PATH" >&2; exit 1; }
export GOWORK=off CGO_ENABLED=0 GOFLAGS=
export GOMODCACHE="$root/gomodcache" GOCACHE="$root/gocache"
export GOTOOLCHAIN=${GOTOOLCHAIN:-local}
mkdir -p "$bindir" "$root/src"
log() { printf '[build.sh %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }

# new_module DIR MODULE_PATH: a throwaway wrapper module, one per tool, so dependency trees don't fight.
new_module() {
  rm -rf "$1"; mkdir -p "$1"
  printf 'module %s\n\ngo 1.26.0\n' "$2" >"$1/go.mod"
}

# install_bin NAME: move the freshly built binary into the cache atomically.
install_bin() {
  mv "$bindir/$1.tmp" "$bindir/$1"
}

build_etcd() {
  local d="$root/src/etcd-$ETCD_VERSION"
  new_module "$d" cohort.local/etcd
  cd "$d"
  go mod edit -require="go.etcd.io/etcd/server/v3@$ETCD_VERSION"
  # server/v3's go.mod has relative replaces that do not apply to a dependency; pin its siblings.
  local m
  for m in api/v3 client/pkg/v3 client/v3 pkg/v3; do
    go mod edit -require="go.etcd.io/etcd/$m@$ETCD_VERSION"
  done
  go mod edit -tool=go.etcd.io/etcd/server/v3
  go mod tidy
  go build -trimpath -ldflags "-s -w -X go.etcd.io/etcd/api/v3/version.GitSHA=$ETCD_VERSION" \
    -o "$bindir/etcd.tmp" go.etcd.io/etcd/server/v3
  install_bin etcd
}

k8s_module() {
  local d="$root/src/kubernetes-$K8S_VERSION"
  if [[ ! -f "$d/.ready" ]]; then
    new_module "$d" cohort.local/kubernetes
    cd "$d"
    local gomod
    gomod=$(go mod download -json "k8s.io/kubernetes@$K8S_VERSION" | sed -n 's/.*"GoMod": "\(.*\)",/\1/p')
    # Copy upstream's go and godebug lines: they change runtime defaults the binaries expect.
    grep -E '^(go|godebug) ' "$gomod" | while read -r key val; do
      if [[ $key == go ]]; then go mod edit -go="$val"; else go mod edit -godebug="$val"; fi
    done
    go mod edit -require="k8s.io/kubernetes@$K8S_VERSION"
    # Every staging module is required at v0.0.0 upstream; point each at its published v0.Y.Z.
    local minor=${K8S_VERSION#v1.} staging m
    staging="v0.$minor"
    for m in $(awk '$1 ~ /^k8s\.io\// && $2 == "v0.0.0" {print $1}' "$gomod"); do
      go mod edit -replace="$m=$m@$staging"
    done
    # tool directives keep the requirement through tidy (the wrapper has no Go source of its own).
    for m in kube-apiserver kube-controller-manager kube-scheduler kubectl; do
      go mod edit -tool="k8s.io/kubernetes/cmd/$m"
    done
    go mod tidy
    touch .ready
  fi
  cd "$d"
}

build_k8s() {
  local name=$1 pkg=$2
  k8s_module
  local minor=${K8S_VERSION#v1.}; minor=${minor%%.*}
  local now; now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
  local flags="-s -w" p
  for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    flags+=" -X $p.gitVersion=$K8S_VERSION -X $p.gitMajor=1 -X $p.gitMinor=$minor"
    flags+=" -X $p.gitTreeState=clean -X $p.gitCommit=$K8S_VERSION -X $p.buildDate=$now"
  done
  go build -trimpath -ldflags "$flags" -o "$bindir/$name.tmp" "$pkg"
  install_bin "$name"
}

build_simple() {
  local name=$1 mod=$2 ver=$3 pkg=$4 ldflags=$5
  local d="$root/src/$name-$ver"
  new_module "$d" "cohort.local/$name"
  cd "$d"
  go mod edit -require="$mod@$ver" -tool="$pkg"
  go mod tidy
  go build -trimpath -ldflags "-s -w $ldflags" -o "$bindir/$name.tmp" "$pkg"
  install_bin "$name"
}

start=$SECONDS
for b in "${binaries[@]}"; do
  [[ -x "$bindir/$b" ]] && continue
  t=$SECONDS
  log "building $b"
  case $b in
    etcd) build_etcd ;;
    kube-apiserver|kube-controller-manager|kube-scheduler|kubectl) build_k8s "$b" "k8s.io/kubernetes/cmd/$b" ;;
    kwok) build_simple kwok sigs.k8s.io/kwok "$KWOK_VERSION" sigs.k8s.io/kwok/cmd/kwok \
            "-X sigs.k8s.io/kwok/pkg/consts.Version=$KWOK_VERSION" ;;
    helm) build_simple helm helm.sh/helm/v3 "$HELM_VERSION" helm.sh/helm/v3/cmd/helm \
            "-X helm.sh/helm/v3/internal/version.version=$HELM_VERSION" ;;
  esac
  log "built $b in $((SECONDS - t)) s"
done
[[ -f "$bindir/kwok-stages.yaml" ]] || write_kwok_stages
log "control plane complete in $((SECONDS - start)) s"
echo "$bindir"
