# Build conventions shared by every folder:
#   cohort_options   interface target: C++20, warnings as errors and sanitizer flags for our code
#   cohort_test()    one GoogleTest binary per test file, registered with ctest under a label
#
# Labels: unit (hermetic, run under ASan+UBSan and TSan in CI), integration (needs the shared control
# plane), e2e (whole system), bench (never run by CI; invoked explicitly, see docs/development.md).

add_library(cohort_options INTERFACE)
target_compile_options(cohort_options INTERFACE -Wall -Wextra -Werror -Wno-missing-field-initializers)

set(COHORT_SANITIZER_FLAGS "")
if(COHORT_SANITIZE)
  set(COHORT_SANITIZER_FLAGS -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer)
elseif(COHORT_TSAN)
  set(COHORT_SANITIZER_FLAGS -fsanitize=thread -fno-omit-frame-pointer)
endif()
if(COHORT_SANITIZER_FLAGS)
  # Applied to everything built here (tests and gtest_main included) so the runtime sees all code.
  add_compile_options(${COHORT_SANITIZER_FLAGS})
  add_link_options(${COHORT_SANITIZER_FLAGS})
endif()

# libFuzzer targets need clang: configure a separate tree with
#   -DCMAKE_CXX_COMPILER=clang++-14 -DCOHORT_FUZZ=ON   (see docs/development.md, "Fuzzing").
# Each folder adds its `<name>_fuzz` binary with cohort_fuzz_target (below), which also adds the
# ctest `<name>_fuzz_smoke` (label unit) that tools/test.sh runs.
option(COHORT_FUZZ "Build libFuzzer targets (needs clang)" OFF)
if(COHORT_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "COHORT_FUZZ needs clang (-DCMAKE_CXX_COMPILER=clang++-14)")
  endif()
  set(COHORT_FUZZ_FLAGS -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
    -fno-omit-frame-pointer)
endif()

# cohort_fuzz_target(<name> SOURCES ... LIBS ... [DICT file] [SEEDS dir]): the libFuzzer binary
# <name> from SOURCES (ours, compiled into it so they get coverage instrumentation) and LIBS, and
# its 30 s smoke ctest <name>_smoke (label unit) over the committed SEEDS; new inputs and
# artifacts go to the build tree, never to the source tree. Only with COHORT_FUZZ.
function(cohort_fuzz_target name)
  cmake_parse_arguments(FUZZ "" "DICT;SEEDS" "SOURCES;LIBS" ${ARGN})
  add_executable(${name} ${FUZZ_SOURCES})
  target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR})
  target_link_libraries(${name} PRIVATE cohort_options ${FUZZ_LIBS})
  target_compile_options(${name} PRIVATE ${COHORT_FUZZ_FLAGS})
  target_link_options(${name} PRIVATE ${COHORT_FUZZ_FLAGS})
  set(work ${CMAKE_CURRENT_BINARY_DIR}/${name}.work)
  file(MAKE_DIRECTORY ${work}/corpus ${work}/artifacts)
  set(options -max_total_time=30 -timeout=10 -rss_limit_mb=2048 -artifact_prefix=${work}/artifacts/)
  if(FUZZ_DICT)
    list(APPEND options -dict=${FUZZ_DICT})
  endif()
  add_test(NAME ${name}_smoke COMMAND ${name} ${options} ${work}/corpus ${FUZZ_SEEDS})
  set_tests_properties(${name}_smoke PROPERTIES LABELS unit TIMEOUT 120)
endfunction()

# The control plane used by integration and e2e tests. CTest starts one per run (fixture
# "control_plane") and every test of those labels shares it, each in namespaces of its own.
set(COHORT_CPCTL ${PROJECT_SOURCE_DIR}/tools/controlplane/cpctl)
set(COHORT_SHARED_CP_DIR ${PROJECT_BINARY_DIR}/control-plane)

# OFF leaves the unit-test binaries out of `all` and of ctest (they stay buildable by name). CI's
# normal tree uses it: the sanitizer trees already build and run every unit-test binary, so the
# normal tree builds the programs, integration and e2e tests and runs the script checks.
option(COHORT_UNIT_TEST_BINARIES "Build and register the unit-test binaries" ON)

# cohort_test(NAME LABEL [SINGLE_THREADED] [TIMEOUT s] SOURCES... [LIBS libs...])
# SINGLE_THREADED: the code under test starts no threads, so the ThreadSanitizer tree skips it
# (label single_threaded; tools/test.sh).
function(cohort_test name label)
  cmake_parse_arguments(ARG "SINGLE_THREADED" "TIMEOUT" "SOURCES;LIBS" ${ARGN})
  if(label STREQUAL "unit" AND NOT COHORT_UNIT_TEST_BINARIES)
    add_executable(${name} EXCLUDE_FROM_ALL ${ARG_SOURCES})
    target_link_libraries(${name} PRIVATE cohort_options GTest::gtest GTest::gmock ${ARG_LIBS})
    return()
  endif()
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE cohort_options GTest::gtest GTest::gmock ${ARG_LIBS})
  add_test(NAME ${name} COMMAND ${name})
  if(ARG_SINGLE_THREADED)
    set_tests_properties(${name} PROPERTIES LABELS "${label};single_threaded")
  else()
    set_tests_properties(${name} PROPERTIES LABELS ${label})
  endif()
  if(ARG_TIMEOUT)
    set_tests_properties(${name} PROPERTIES TIMEOUT ${ARG_TIMEOUT})
  endif()
  if(label STREQUAL "integration" OR label STREQUAL "e2e")
    # One at a time against the shared control plane: on 2 cores the control plane itself needs
    # a core, so two suites at once would only slow both and make timing-sensitive waits flaky.
    set_tests_properties(${name} PROPERTIES
      FIXTURES_REQUIRED control_plane
      RESOURCE_LOCK control_plane
      ENVIRONMENT "COHORT_CP_DIR=${COHORT_SHARED_CP_DIR};COHORT_CPCTL=${COHORT_CPCTL}")
  else()
    set_tests_properties(${name} PROPERTIES ENVIRONMENT "COHORT_CPCTL=${COHORT_CPCTL}")
  endif()
endfunction()
