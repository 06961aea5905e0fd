#!/usr/bin/env bash
# Builds Abseil with ThreadSanitizer for the TSan build tree (tools/test.sh). Debian's libabsl is not
# built with -fsanitize=thread, so TSan cannot see absl::Mutex (its annotations are compiled out)
# and reports races on everything that mutexes guard. This builds the same source package Debian
# ships (its patches applied, so the ABI options and inline namespace match), installs it into
# $COHORT_CACHE/absl-tsan-<version>, and prints that prefix. Idempotent; ~5 minutes once.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=controlplane/versions.sh
source "$here/controlplane/versions.sh"
version=$(dpkg-query -W -f='${Version}' libabsl-dev)
prefix="$COHORT_CACHE/absl-tsan-${version}"
if [[ -f $prefix/.complete ]]; then echo "$prefix"; exit 0; fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
# Debian's source package from the same mirror as the binary packages (deb-src is not enabled on
# the machine, so a private source list and package-list directory are used).
cat >deb-src.sources <<'SRC'
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
mkdir -p lists/partial
apt_opts=(-o Dir::Etc::SourceList="$work/deb-src.sources" -o Dir::Etc::SourceParts=/dev/null
          -o Dir::State::Lists="$work/lists" -o APT::Sandbox::User=root -qq)
apt-get "${apt_opts[@]}" update
apt-get "${apt_opts[@]}" source --download-only "abseil=$version" >/dev/null
mkdir src
tar -xzf abseil_*.orig.tar.gz -C src --strip-components=1
tar -xJf abseil_*.debian.tar.xz -C src
(cd src && while read -r p; do
   [[ -z $p || $p == \#* ]] && continue
   patch -p1 -s <"debian/patches/$p"
 done <debian/patches/series)
cmake -S src -B build -G Ninja -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_STANDARD=20 \
  -DABSL_PROPAGATE_CXX_STD=ON -DBUILD_TESTING=OFF -DCMAKE_POSITION_INDEPENDENT_CODE=ON \
  -DCMAKE_CXX_FLAGS="-fsanitize=thread -fno-omit-frame-pointer" \
  -DCMAKE_INSTALL_PREFIX="$prefix" >/dev/null
cmake --build build -j "${COHORT_JOBS:-2}" >/dev/null
cmake --install build >/dev/null
touch "$prefix/.complete"
echo "$prefix"
