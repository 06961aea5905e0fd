#!/usr/bin/env bash
# The main job (README): sets up what is missing, starts a local Kubernetes control plane (etcd,
# kube-apiserver, controller-manager, scheduler, kwok) and prints how to use it with kubectl.
# The control plane keeps running in the background until `tools/controlplane/cpctl stop DIR`.
#
#   tools/demo.sh [DIR]     DIR defaults to .demo/control-plane in the repository (git-ignored)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
dir=${1:-$root/.demo/control-plane}

tools/install-deps.sh
bin=$(tools/controlplane/build.sh)
if tools/controlplane/cpctl status "$dir" >/dev/null 2>&1; then
  echo "A control plane already runs in $dir."
else
  mkdir -p "$dir"
  tools/controlplane/cpctl start "$dir" >/dev/null
fi
export KUBECONFIG=$dir/kubeconfig
"$bin/kubectl" get nodes
cat <<MSG

The control plane is up. To use it from this shell:

  eval "\$(tools/controlplane/cpctl env $dir)"    # KUBECONFIG and PATH (kubectl, helm)
  kubectl get nodes
  kubectl create deployment hello --image=example.invalid/hello --replicas=3
  kubectl rollout status deployment/hello        # kwok makes the pods Running and Ready

Status and logs: tools/controlplane/cpctl status $dir; ls $dir/logs; audit log: $dir/audit.log
Stop it:         tools/controlplane/cpctl stop $dir
MSG
