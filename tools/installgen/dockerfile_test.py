#!/usr/bin/env python3
"""Checks the Dockerfile against the built binaries, since no container engine runs here:

- each runtime stage (`FROM debian:...-slim AS operator`, `... AS ingest`) installs exactly the
  Debian packages that own the shared libraries its binary loads (`ldd`, `dpkg -S`), apart from
  those every debian:12-slim has (libc6, libgcc-s1): a library added to the build fails here, not
  in a pod;
- each runs as UID 65532 (the chart's runAsUser, the pipeline pods' too) with its binary as the
  entrypoint; the operator stage is the last (a plain `docker build` makes the operator image);
- the build stage installs with `tools/install-deps.sh --build` and builds both targets.

  python3 tools/installgen/dockerfile_test.py BUILD_DIR/operator/cohort-operator \
      BUILD_DIR/ingest/server/cohort-ingest

(ctest dockerfile_test; not registered in sanitizer builds, whose binaries load sanitizer runtimes.)
"""

import pathlib
import re
import subprocess
import sys
import unittest

ROOT = pathlib.Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"
# Required/essential packages of every debian:12-slim image.
BASE_PACKAGES = {"libc6", "libgcc-s1"}
BINARIES = {}  # stage name → binary, set from argv


def stages(text):
    """{stage name: [instructions]} with line continuations joined and comments dropped."""
    joined = re.sub(r"\\\n", " ", text)
    result, current = {}, None
    for line in joined.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        m = re.match(r"FROM\s+(\S+)\s+AS\s+(\S+)$", line, re.IGNORECASE)
        if m:
            current = m.group(2)
            result[current] = [line]
        elif current is not None:
            result[current].append(line)
    return result


def installed_packages(instructions):
    packages = set()
    for line in instructions:
        m = re.search(r"apt-get install ([^&]*)", line)
        if m:
            packages |= {w for w in m.group(1).split() if not w.startswith("-")}
    return packages


def spellings(path):
    """`path` as ldd prints it, resolved, and with/without /usr (Debian 12 merged /usr)."""
    p = pathlib.Path(path)
    names = {str(p), str(p.resolve())}
    for n in list(names):
        names.add(n[len("/usr"):] if n.startswith("/usr/") else "/usr" + n)
    return names


def needed_packages(binary):
    """{Debian package: [libraries of the binary it ships]}."""
    out = subprocess.run(["ldd", binary], capture_output=True, text=True, check=True).stdout
    if "not found" in out:
        raise AssertionError(f"ldd {binary}: unresolved libraries:\n{out}")
    libs = {}
    for line in out.splitlines():
        m = re.match(r"\s*(\S+) => (\S+) \(", line)
        if m:
            libs[m.group(1)] = spellings(m.group(2))
        elif "ld-linux" in line:
            libs[line.split()[0]] = spellings(line.split()[0])
    # One dpkg call for every spelling (it is slow per call); it names the packages it finds.
    everything = sorted(set().union(*libs.values()))
    out = subprocess.run(["dpkg", "-S", *everything], capture_output=True, text=True).stdout
    owner = {}
    for line in out.splitlines():
        pkgs, _, path = line.partition(": ")
        owner[path.strip()] = pkgs.split(",")[0].split(":")[0].strip()
    packages = {}
    for lib, names in libs.items():
        found = {owner[n] for n in names if n in owner}
        if len(found) != 1:
            raise AssertionError(f"{lib}: want one Debian package shipping it, got {found} "
                                 f"(tried {sorted(names)})")
        packages.setdefault(found.pop(), []).append(lib)
    return packages


class DockerfileTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.stages = stages(DOCKERFILE.read_text())

    def test_runtime_packages_are_the_binarys_libraries(self):
        for stage, binary in BINARIES.items():
            with self.subTest(stage=stage):
                self.assertIn(stage, self.stages)
                runtime = self.stages[stage]
                self.assertRegex(runtime[0],
                                 r"^FROM debian:\$\{DEBIAN_VERSION\}-slim AS " + stage + "$")
                listed = installed_packages(runtime)
                needed = needed_packages(binary)
                missing = {p: libs for p, libs in needed.items()
                           if p not in listed and p not in BASE_PACKAGES}
                self.assertEqual(missing, {},
                                 "the runtime stage lacks the packages of these libraries")
                unneeded = listed - set(needed)
                self.assertEqual(unneeded, set(),
                                 "the runtime stage installs packages no library needs")

    def test_runtime_identity_and_entrypoint(self):
        for stage, binary in BINARIES.items():
            name = pathlib.Path(binary).name
            with self.subTest(stage=stage):
                runtime = self.stages[stage]
                self.assertIn("USER 65532:65532", runtime)
                self.assertIn(f'ENTRYPOINT ["/usr/local/bin/{name}"]', runtime)
                self.assertIn(f"COPY --from=build /{name} /usr/local/bin/{name}", runtime)
        # The operator stage is the last one: a plain `docker build` produces it.
        self.assertEqual(list(self.stages)[-1], "operator")

    def test_build_stage(self):
        build = " ".join(self.stages["build"])
        self.assertIn("FROM debian:${DEBIAN_VERSION} AS build", build)
        self.assertIn("tools/install-deps.sh --build", build)
        self.assertIn("--target cohort-operator cohort-ingest", build)
        self.assertIn("DEBIAN_VERSION=12", DOCKERFILE.read_text())


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    BINARIES["operator"] = sys.argv.pop(1)
    BINARIES["ingest"] = sys.argv.pop(1)
    unittest.main(verbosity=2)
