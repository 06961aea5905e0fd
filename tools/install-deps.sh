#!/usr/bin/env bash
# Installs the Debian packages the project builds and tests with. Idempotent: it asks apt only for
# what is missing, so a warm machine passes through in about a second. Versions: docs/dependencies.md.
#
#   tools/install-deps.sh           everything: building, testing, formatting, fuzzing (CI, developers)
#   tools/install-deps.sh --build   only what configuring and building the C++ code needs, and no Go
#                                   (the Dockerfile's build stage)
set -euo pipefail

build_only=false
case "${1:-}" in
  "") ;;
  --build) build_only=true ;;
  *) echo "usage: $0 [--build]" >&2; exit 2 ;;
esac

packages=(
  # toolchain
  g++ cmake ninja-build pkg-config
  # libraries named by the design card
  libcpprest-dev libboost-dev libboost-system-dev nlohmann-json3-dev libsimdjson-dev
  libyaml-cpp-dev libspdlog-dev libfmt-dev libgtest-dev libgmock-dev libabsl-dev
  libssl-dev zlib1g-dev
  # chosen for later parts: RE2 (mapping rules), Roaring bitmaps (actor sets),
  # Howard Hinnant's date/tz (time zones from the real tz database)
  libre2-dev libroaring-dev libhowardhinnant-date-dev tzdata
  # cohort-ingest's allocator (docs/benchmarks.md, "tcmalloc"); the runtime package is enough
  libtcmalloc-minimal4
  # configuring: CMake registers the Python-driven tests
  python3
)
if ! $build_only; then
  packages+=(
    # formatting, fuzzing
    clang-format clang-14 libclang-rt-14-dev
    # control plane at run time: certificates, process-group teardown, etcd health checks (curl)
    openssl procps util-linux curl
    # the CRD generator (tools/crdgen/gen_crds.py) and the install tests (tools/installgen/);
    # a venv for the Langfuse SDK the Dify tests drive (tools/test.sh)
    python3-yaml python3-venv
    # the Argo CD health check's test (charts/cohort-operator/argocd/health_test.lua)
    lua5.4
    # ClickHouse 18.16, started by the ClickHouse store's tests (analytics/clickhouse/testing) on
    # ports of their own; the package's own service is not used
    clickhouse-server clickhouse-client
  )
  # the official Amplitude Node SDK drives cohort-ingest in tests (tests/clients/amplitude-node);
  # a machine with its own Node.js keeps it
  command -v node >/dev/null && command -v npm >/dev/null || packages+=(nodejs npm)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "install-deps: installing ${missing[*]}" >&2
  sudo_cmd=()
  [[ $(id -u) == 0 ]] || sudo_cmd=(sudo)
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get update -qq
  "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Go builds the control plane (tools/controlplane/build.sh). The machine image ships Go; the
# pinned modules declare go 1.26.0. An older local Go fetches a newer toolchain through the module proxy.
if ! $build_only && ! command -v go >/dev/null; then
  echo "install-deps: Go >= 1.26 is required on PATH to build the control plane" >&2
  exit 1
fi
