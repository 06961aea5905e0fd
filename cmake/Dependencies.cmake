# Every third-party dependency, found once, from Debian packages (tools/install-deps.sh installs
# them; docs/dependencies.md records versions and why each is here). A missing package fails the
# configure step with its name rather than a compile error later.
find_package(Threads REQUIRED)
find_package(absl CONFIG REQUIRED)
find_package(nlohmann_json 3.11 CONFIG REQUIRED)
find_package(GTest CONFIG REQUIRED)
find_package(cpprestsdk CONFIG REQUIRED)
find_package(simdjson CONFIG REQUIRED)
find_package(yaml-cpp CONFIG REQUIRED)
find_package(spdlog CONFIG REQUIRED)
find_package(Boost 1.74 REQUIRED COMPONENTS system)
find_package(OpenSSL REQUIRED)
find_package(ZLIB REQUIRED)

# RE2 (Debian libre2-dev ships no CMake package, only re2.pc): regex mapping rules in the ingest
# config (config/), linear-time on untrusted input. Imported target: PkgConfig::RE2.
find_package(PkgConfig REQUIRED)
pkg_check_modules(RE2 REQUIRED IMPORTED_TARGET re2)

# CRoaring (Debian libroaring-dev 0.2.66): the embedded store's per-hour active-actor bitmaps
# (analytics/store/hourly_active_actors.h). Imported target: roaring::roaring.
find_package(roaring CONFIG REQUIRED)
