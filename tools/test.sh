#!/usr/bin/env bash
# The one test command (README, .ci/run): installs what is missing, builds the control plane and the
# code, checks formatting, runs the unit tests under ASan+UBSan and under TSan, the fuzz smoke runs,
# then every other test but benchmarks (integration, e2e, script checks) in the normal build.
# Exits non-zero on any failure.
#
#   tools/test.sh                 everything
#   COHORT_TEST_QUICK=1 tools/test.sh   skip the sanitizer builds; unit tests run in the normal tree
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
jobs=${COHORT_JOBS:-2}
step() { printf '\n==== %s (%(%H:%M:%S)T, %ds so far)\n' "$1" -1 "$SECONDS"; }

step "dependencies"
tools/install-deps.sh

step "test clients"
# The official SDKs the integration tests drive, pinned by their lock files.
(cd tests/clients/amplitude-node && npm ci --no-audit --no-fund --loglevel=error)
# The Langfuse Python SDK, as Dify pins it (4.x), in a venv cached outside the repository.
langfuse_version=4.18.0
langfuse_venv=${XDG_CACHE_HOME:-$HOME/.cache}/cohort-operator/venv-langfuse-$langfuse_version
if [[ ! -x $langfuse_venv/bin/python ]] || ! "$langfuse_venv/bin/python" -c 'import langfuse' 2>/dev/null; then
  rm -rf "$langfuse_venv"
  python3 -m venv "$langfuse_venv"
  "$langfuse_venv/bin/pip" install -q --disable-pip-version-check "langfuse==$langfuse_version"
fi
export COHORT_LANGFUSE_PYTHON=$langfuse_venv/bin/python
# chdb, a current ClickHouse engine in-process, runs the ClickHouse store's SQL beside Debian's 18.16
# (tools/clickhouse/chdb_query.py); chdb-core is the engine, pinned too.
chdb_version=4.4.0 chdb_core_version=26.9.0
chdb_venv=${XDG_CACHE_HOME:-$HOME/.cache}/cohort-operator/venv-chdb-$chdb_version
if [[ ! -x $chdb_venv/bin/python ]] || [[ $("$chdb_venv/bin/python" -c \
    'import chdb, importlib.metadata as m; print(m.version("chdb-core"))' 2>/dev/null) != "$chdb_core_version" ]]; then
  rm -rf "$chdb_venv"
  python3 -m venv "$chdb_venv"
  "$chdb_venv/bin/pip" install -q --disable-pip-version-check "chdb==$chdb_version" \
    "chdb-core==$chdb_core_version"
fi
export COHORT_CHDB_PYTHON=$chdb_venv/bin/python

step "control plane binaries"
tools/controlplane/build.sh

step "format check"
tools/format.sh --check

configure_and_build() {  # dir, cmake args...
  local dir=$1; shift
  cmake -S . -B "$dir" -G Ninja "$@" >/dev/null
  cmake --build "$dir" -j "$jobs"
}

# Sanitizer trees build and run only the C++ unit tests: ctest's unit tests that are also build
# targets. Integration tests, benchmarks and the script checks (CRD and chart generation, helm
# lint) run once, in the normal tree; building them with sanitizers too would double CI's compile
# time for nothing. Tests labelled single_threaded (cohort_test SINGLE_THREADED) are left out of
# the ThreadSanitizer tree: they start no threads. Sets unit_regex for `ctest -R`.
configure_unit_tests() {  # dir, label to leave out ("" for none), cmake args...
  local dir=$1 exclude=$2; shift 2
  cmake -S . -B "$dir" -G Ninja "$@" >/dev/null
  local targets
  mapfile -t targets < <(comm -12 \
    <(ctest --test-dir "$dir" -N -L unit ${exclude:+-LE "$exclude"} |
      sed -n 's/^ *Test *#[0-9]*: //p' | sort) \
    <(cmake --build "$dir" --target help | sed -n 's/^\([A-Za-z0-9_.+-]*\): .*/\1/p' | sort))
  ((${#targets[@]})) || { echo "no unit tests found in $dir" >&2; exit 1; }
  cmake --build "$dir" -j "$jobs" --target "${targets[@]}"
  unit_regex="^($(IFS='|'; echo "${targets[*]}"))\$"
}

if [[ -z ${COHORT_TEST_QUICK:-} ]]; then
  step "unit tests under AddressSanitizer + UndefinedBehaviorSanitizer"
  configure_unit_tests build-asan "" -DCMAKE_BUILD_TYPE=Debug -DCOHORT_SANITIZE=ON
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
    ctest --test-dir build-asan -R "$unit_regex" -j "$jobs" --output-on-failure

  step "unit tests under ThreadSanitizer"
  # Abseil built with TSan, so TSan sees absl::Mutex (tools/build-absl-tsan.sh says why).
  absl_tsan=$(tools/build-absl-tsan.sh)
  configure_unit_tests build-tsan single_threaded -DCMAKE_BUILD_TYPE=Debug -DCOHORT_TSAN=ON \
    -Dabsl_DIR="$absl_tsan/lib/cmake/absl"
  TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 suppressions=$root/tools/tsan.supp" \
    ctest --test-dir build-tsan -R "$unit_regex" -j "$jobs" --output-on-failure

  step "fuzz smoke runs (libFuzzer, clang, ASan+UBSan)"
  cmake -S . -B build-fuzz -G Ninja -DCMAKE_CXX_COMPILER=clang++-14 -DCOHORT_FUZZ=ON >/dev/null
  mapfile -t fuzz_targets < <(cmake --build build-fuzz --target help | sed -n 's/^\([a-z_]*_fuzz\):.*/\1/p')
  cmake --build build-fuzz -j "$jobs" --target "${fuzz_targets[@]}"
  ctest --test-dir build-fuzz -R '_fuzz_smoke$' --output-on-failure
fi

if [[ -z ${COHORT_TEST_QUICK:-} ]]; then
  # The unit-test binaries ran in both sanitizer trees above: here the programs, benchmarks (built,
  # not run), integration and e2e tests, and the script checks (CRD and chart generation, helm).
  step "integration, e2e and script checks"
  configure_and_build build -DCOHORT_UNIT_TEST_BINARIES=OFF
else
  step "all tests but benchmarks (unit, integration, e2e)"
  configure_and_build build -DCOHORT_UNIT_TEST_BINARIES=ON
fi
ctest --test-dir build -LE bench -j "$jobs" --output-on-failure

step "done"
