# Pinned versions of the control-plane components built from Go modules by build.sh.
# Sourced by build.sh, cpctl and .ci/run. Changing a version changes the cache key, so the next
# run rebuilds exactly what changed. Record changes in docs/control-plane.md.
K8S_VERSION=v1.36.3        # kube-apiserver, kube-controller-manager, kube-scheduler, kubectl
ETCD_VERSION=v3.6.16       # etcd server
KWOK_VERSION=v0.8.0        # fake nodes and pod lifecycle
HELM_VERSION=v3.22.0       # helm 3 client
# The Go release these were built and tested with; every module above declares go 1.26.0.
GO_MIN_VERSION=1.26
# Root of the build cache, outside the repository. Binaries land in
# $COHORT_CACHE/controlplane/<tool>-<version>/bin.
COHORT_CACHE=${COHORT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/cohort-operator}
