#!/usr/bin/env python3
"""Generates the CRDs in crds/ from their sources in crds/src/.

A source (crds/src/<plural>.yaml) is a CustomResourceDefinition whose schema may contain
`{$k8sRef: <OpenAPI definition name>, ...}` nodes. Each stands for a Kubernetes type's schema as the
API server publishes it under /openapi/v3, read from a committed snapshot
(crds/src/k8s-openapi-<version>.json, <version> = K8S_VERSION in tools/controlplane/versions.sh).
The generator inlines those schemas in structural form (no $ref, IntOrString and Quantity as
x-kubernetes-int-or-string, descriptions kept), lints the result and writes crds/<group>_<plural>.yaml.

  gen_crds.py                       regenerate the CRDs from the sources and the snapshot
  gen_crds.py --check               exit 1 (with a diff) if a committed CRD is not what would be generated
  gen_crds.py --refresh-openapi     start a control plane (tools/controlplane/cpctl), fetch the snapshot
                                    of every type the sources name, then regenerate
  gen_crds.py --refresh-openapi --kubeconfig FILE
                                    the same against a running API server of the pinned version

Exit codes: 0 done (or up to date), 1 --check found a difference, 2 any error (message on stderr).
See tools/crdgen/README.md.
"""

import argparse
import collections
import copy
import difflib
import json
import os
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile

import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
SRC_DIR = ROOT / "crds" / "src"
OUT_DIR = ROOT / "crds"
VERSIONS_SH = ROOT / "tools" / "controlplane" / "versions.sh"
CPCTL = ROOT / "tools" / "controlplane" / "cpctl"
BUILD_SH = ROOT / "tools" / "controlplane" / "build.sh"

REF_KEY = "$k8sRef"
REF_PREFIX = "#/components/schemas/"
QUANTITY = "io.k8s.apimachinery.pkg.api.resource.Quantity"
INT_OR_STRING = "io.k8s.apimachinery.pkg.util.intstr.IntOrString"
# What controller-gen emits for resource.Quantity: the API server's own parser accepts exactly these.
QUANTITY_PATTERN = (r"^(\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|"
                    r"([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$")

# OpenAPI keywords copied from the API server's schemas as they are (all valid in a CRD schema).
PASSTHROUGH = {
    "description", "type", "format", "required", "pattern", "minimum", "maximum",
    "exclusiveMinimum", "exclusiveMaximum", "minLength", "maxLength", "minItems", "maxItems",
    "uniqueItems", "minProperties", "maxProperties", "multipleOf", "nullable",
    "x-kubernetes-list-type", "x-kubernetes-list-map-keys", "x-kubernetes-map-type",
    "x-kubernetes-preserve-unknown-fields", "x-kubernetes-embedded-resource",
    "x-kubernetes-int-or-string", "x-kubernetes-validations",
}
# Dropped from the API server's schemas:
# - default: built-in types are defaulted by the API server when the Pod is created; in a CRD a
#   default like {} on a struct with required fields would make the CRD invalid.
# - enum: built-in types validate enums in Go code, often feature-gated (Toleration's Lt/Gt) and
#   allowing "" for "unset"; as a CRD enum they would reject what the Pod API accepts.
# - strategic-merge-patch and union hints: not part of a CRD schema (CRDs use x-kubernetes-list-*).
DROPPED = {
    "default", "enum", "x-kubernetes-patch-merge-key", "x-kubernetes-patch-strategy",
    "x-kubernetes-group-version-kind", "x-kubernetes-unions",
}
# Output order of schema keywords, so the generated YAML reads top-down and diffs stay small.
KEY_ORDER = [
    "description", "type", "format", "x-kubernetes-int-or-string", "anyOf", "enum", "default",
    "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "minLength", "maxLength",
    "pattern", "minItems", "maxItems", "uniqueItems", "minProperties", "maxProperties",
    "multipleOf", "nullable", "required", "properties", "additionalProperties", "items",
    "x-kubernetes-list-type", "x-kubernetes-list-map-keys", "x-kubernetes-map-type",
    "x-kubernetes-preserve-unknown-fields", "x-kubernetes-embedded-resource",
    "x-kubernetes-validations",
]


class GenError(Exception):
    """A problem with a source, the snapshot or the environment; reported and exit code 2."""


def ordered(node):
    rank = {k: i for i, k in enumerate(KEY_ORDER)}
    return dict(sorted(node.items(), key=lambda kv: (rank.get(kv[0], len(rank)), kv[0])))


def ref_name(ref):
    if not ref.startswith(REF_PREFIX):
        raise GenError(f"unsupported $ref {ref!r}")
    return ref[len(REF_PREFIX):]


class Converter:
    """Turns the API server's OpenAPI v3 schemas (with $refs) into structural CRD schemas."""

    def __init__(self, schemas):
        self.schemas = schemas  # definition name -> raw OpenAPI v3 schema

    def definition(self, name, stack=()):
        """The structural schema of definition `name`, every reference inlined."""
        if name in stack:
            raise GenError(f"recursive type {' -> '.join(stack + (name,))}: a CRD schema cannot "
                           "express it")
        if name not in self.schemas:
            raise GenError(f"{name} is not in the OpenAPI snapshot; run gen_crds.py --refresh-openapi")
        raw = self.schemas[name]
        if name in (QUANTITY, INT_OR_STRING):
            # Both are published as oneOf string/number (or integer); a CRD expresses that as
            # int-or-string. Their type descriptions explain Go serialization: left out.
            if set(raw) - {"description", "oneOf", "format"}:
                raise GenError(f"{name}: unexpected schema {raw}; check the conversion")
            out = {"anyOf": [{"type": "integer"}, {"type": "string"}],
                   "x-kubernetes-int-or-string": True}
            if name == QUANTITY:
                out["pattern"] = QUANTITY_PATTERN
            return ordered(out)
        return self.node(raw, stack + (name,))

    def node(self, raw, stack):
        where = stack[-1] if stack else "schema"
        raw = dict(raw)
        ref = None
        if "$ref" in raw:
            ref = raw.pop("$ref")
        elif "allOf" in raw:
            all_of = raw.pop("allOf")
            if len(all_of) != 1 or set(all_of[0]) != {"$ref"}:
                raise GenError(f"{where}: allOf other than a single $ref is not supported")
            ref = all_of[0]["$ref"]
        if ref is not None:
            # A field that refers to a type: the field's own description wins over the type's.
            siblings = {k: v for k, v in raw.items() if k not in DROPPED}
            if set(siblings) - {"description"}:
                raise GenError(f"{where}: unexpected keywords beside $ref: {sorted(siblings)}")
            out = copy.deepcopy(self.definition(ref_name(ref), stack))
            if "description" in siblings:
                out["description"] = siblings["description"]
            return ordered(out)

        out = {}
        for key, value in raw.items():
            if key in DROPPED:
                continue
            if key == "properties":
                out[key] = {p: self.node(s, stack) for p, s in value.items()}
            elif key == "items":
                out[key] = self.node(value, stack)
            elif key == "additionalProperties":
                out[key] = self.node(value, stack) if isinstance(value, dict) else value
            elif key in PASSTHROUGH:
                out[key] = copy.deepcopy(value)
            else:
                raise GenError(f"{where}: OpenAPI keyword {key!r} is not handled; extend gen_crds.py")
        if out.get("type") == "array" and "x-kubernetes-list-type" not in out:
            # What the API server assumes for a list without a type; said explicitly so every list
            # in the CRD carries one.
            out["x-kubernetes-list-type"] = "atomic"
        if ("type" not in out and not out.get("x-kubernetes-int-or-string")
                and not out.get("x-kubernetes-preserve-unknown-fields")):
            raise GenError(f"{where}: a schema without a type is not structural: {raw}")
        return ordered(out)

    def expand(self, node):
        """Resolves the $k8sRef nodes of one of our schemas; everything else is kept."""
        if isinstance(node, list):
            return [self.expand(v) for v in node]
        if not isinstance(node, dict):
            return node
        if REF_KEY in node:
            out = copy.deepcopy(self.definition(node[REF_KEY]))
            for key, value in node.items():
                if key != REF_KEY:
                    out[key] = copy.deepcopy(value)
            return ordered(out)
        out = {}
        for key, value in node.items():
            if key == "properties":
                out[key] = {p: self.expand(s) for p, s in value.items()}
            elif key in ("items", "additionalProperties"):
                out[key] = self.expand(value)
            else:
                out[key] = copy.deepcopy(value)
        return ordered(out)


def refs_in_source(node, found=None):
    """Every definition a source names with $k8sRef."""
    found = set() if found is None else found
    if isinstance(node, dict):
        if REF_KEY in node:
            found.add(node[REF_KEY])
        for value in node.values():
            refs_in_source(value, found)
    elif isinstance(node, list):
        for value in node:
            refs_in_source(value, found)
    return found


def refs_in_openapi(node, found=None):
    found = set() if found is None else found
    if isinstance(node, dict):
        if isinstance(node.get("$ref"), str):
            found.add(ref_name(node["$ref"]))
        for value in node.values():
            refs_in_openapi(value, found)
    elif isinstance(node, list):
        for value in node:
            refs_in_openapi(value, found)
    return found


def lint(schema):
    """Problems with a generated schema: what the API conventions here require of every CRD."""
    problems = []

    def walk(node, path):
        if not isinstance(node, dict):
            return
        if ("type" not in node and not node.get("x-kubernetes-int-or-string")
                and not node.get("x-kubernetes-preserve-unknown-fields")):
            problems.append(f"{path}: no type (not structural)")
        for name, sub in node.get("properties", {}).items():
            # The root's metadata may only say `type: object` (the API server owns its schema).
            is_root_metadata = path == "" and name == "metadata"
            if not is_root_metadata and not str(sub.get("description", "")).strip():
                problems.append(f"{path}.{name}: no description (kubectl explain shows it)")
            walk(sub, f"{path}.{name}")
        if node.get("type") == "array":
            list_type = node.get("x-kubernetes-list-type")
            if list_type not in ("atomic", "set", "map"):
                problems.append(f"{path}: list without x-kubernetes-list-type")
            if list_type == "map":
                keys = node.get("x-kubernetes-list-map-keys") or []
                required = set(node.get("items", {}).get("required", []))
                if not keys:
                    problems.append(f"{path}: list-type map without x-kubernetes-list-map-keys")
                for key in keys:
                    if key not in required:
                        problems.append(f"{path}: map key {key} must be required in the items")
        if isinstance(node.get("items"), dict):
            walk(node["items"], f"{path}[]")
        if isinstance(node.get("additionalProperties"), dict):
            walk(node["additionalProperties"], f"{path}{{}}")

    walk(schema, "")
    return problems


class _Dumper(yaml.SafeDumper):
    def ignore_aliases(self, data):
        return True


def _str_representer(dumper, value):
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str_representer)


def render(crd, source_name, version):
    header = (
        f"# GENERATED by tools/crdgen/gen_crds.py - DO NOT EDIT.\n"
        f"# Source: crds/src/{source_name}; Kubernetes types from the {version} API server's OpenAPI\n"
        f"# (crds/src/k8s-openapi-{version}.json). Edit the source, then run\n"
        f"#   python3 tools/crdgen/gen_crds.py\n"
        f"# Apply it server-side (kubectl apply --server-side): a client-side apply would copy the\n"
        f"# whole CRD into its last-applied-configuration annotation (annotations: 256 KiB at most).\n")
    body = yaml.dump(crd, Dumper=_Dumper, sort_keys=False, width=100, allow_unicode=True,
                     default_flow_style=False)
    if yaml.safe_load(body) != crd:
        raise GenError(f"{source_name}: the YAML written does not read back as the CRD")
    return header + body


def read_source(path):
    try:
        crd = yaml.safe_load(path.read_text())
    except yaml.YAMLError as e:
        raise GenError(f"{path}: {e}") from e
    if not isinstance(crd, dict) or crd.get("kind") != "CustomResourceDefinition":
        raise GenError(f"{path}: not a CustomResourceDefinition")
    return crd


def generate_one(source_path, converter, version):
    """(output path, text) of the CRD generated from one source."""
    crd = read_source(source_path)
    spec = crd["spec"]
    problems = []
    for v in spec.get("versions", []):
        schema = v.get("schema", {}).get("openAPIV3Schema")
        if schema is None:
            raise GenError(f"{source_path}: version {v.get('name')} has no openAPIV3Schema")
        v["schema"]["openAPIV3Schema"] = converter.expand(schema)
        problems += [f"{v['name']}{p}" for p in lint(v["schema"]["openAPIV3Schema"])]
    if problems:
        raise GenError(f"{source_path}:\n  " + "\n  ".join(problems))
    out = OUT_DIR / f"{spec['group']}_{spec['names']['plural']}.yaml"
    return out, render(crd, source_path.name, version)


def k8s_version():
    match = re.search(r"^K8S_VERSION=(\S+)", VERSIONS_SH.read_text(), re.MULTILINE)
    if not match:
        raise GenError(f"no K8S_VERSION in {VERSIONS_SH}")
    return match.group(1)


def snapshot_path(version):
    return SRC_DIR / f"k8s-openapi-{version}.json"


def sources():
    found = sorted(SRC_DIR.glob("*.yaml"))
    if not found:
        raise GenError(f"no sources in {SRC_DIR}")
    return found


def load_snapshot(version):
    path = snapshot_path(version)
    if not path.exists():
        raise GenError(f"{path.relative_to(ROOT)} is missing (the pinned Kubernetes is {version}); "
                       "run tools/crdgen/gen_crds.py --refresh-openapi")
    data = json.loads(path.read_text())
    if data.get("kubernetesVersion") != version:
        raise GenError(f"{path} says Kubernetes {data.get('kubernetesVersion')}, expected {version}")
    return {name: entry["schema"] for name, entry in data["schemas"].items()}


def generate_all():
    version = k8s_version()
    converter = Converter(load_snapshot(version))
    return [generate_one(src, converter, version) for src in sources()]


# ------------------------------------------------------------------------------ snapshot refresh

class _ApiServer:
    """kubectl against an API server: one we are given, or a control plane we start and stop."""

    def __init__(self, kubeconfig):
        self.kubeconfig = kubeconfig
        self.dir = None

    def __enter__(self):
        try:
            bin_dir = subprocess.run([str(BUILD_SH), "--print"], check=True, capture_output=True,
                                     text=True).stdout.strip()
        except subprocess.CalledProcessError as e:
            raise GenError("the control-plane binaries are not built; run "
                           f"tools/controlplane/build.sh ({e.stderr.strip()})") from e
        self.kubectl = os.path.join(bin_dir, "kubectl")
        if self.kubeconfig is None:
            self.dir = tempfile.mkdtemp(prefix="crdgen-cp.")
            print(f"gen_crds: starting a control plane in {self.dir}", file=sys.stderr)
            # --watch-pid: the control plane goes away with us even if we are killed.
            started = subprocess.run([str(CPCTL), "start", f"--watch-pid={os.getpid()}", self.dir],
                                     capture_output=True, text=True)
            if started.returncode != 0:
                self._stop()
                raise GenError(f"cpctl start failed:\n{started.stderr[-3000:]}")
            self.kubeconfig = os.path.join(self.dir, "kubeconfig")
        return self

    def __exit__(self, *exc):
        self._stop()

    def _stop(self):
        if self.dir is not None:
            subprocess.run([str(CPCTL), "stop", self.dir], capture_output=True)
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None

    def run(self, *args):
        done = subprocess.run([self.kubectl, f"--kubeconfig={self.kubeconfig}", *args],
                              capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            raise GenError(f"kubectl {' '.join(args)}: {done.stderr.strip()}")
        return done.stdout

    def get_json(self, path):
        return json.loads(self.run("get", "--raw", path))


def refresh_openapi(kubeconfig):
    version = k8s_version()
    roots = set()
    for src in sources():
        roots |= refs_in_source(read_source(src))
    with _ApiServer(kubeconfig) as server:
        served = server.get_json("/version")["gitVersion"]
        if served != version:
            raise GenError(f"the API server is {served}, but versions.sh pins {version}")
        paths = list(server.get_json("/openapi/v3")["paths"])
        # Core first, then every group-version, in a fixed order: a definition is taken from the
        # first document that has it (they are identical wherever they appear).
        docs = [p for p in paths if p == "api/v1"]
        docs += sorted(p for p in paths if re.fullmatch(r"apis/[^/]+/v[^/]+", p))
        fetched = {}
        found = {}
        queue = collections.deque(sorted(roots))
        while queue:
            name = queue.popleft()
            if name in found:
                continue
            for doc in docs:
                if doc not in fetched:
                    fetched[doc] = server.get_json(f"/openapi/v3/{doc}")["components"]["schemas"]
                if name in fetched[doc]:
                    found[name] = {"document": f"/openapi/v3/{doc}", "schema": fetched[doc][name]}
                    queue.extend(sorted(refs_in_openapi(fetched[doc][name])))
                    break
            else:
                raise GenError(f"{name} is in no OpenAPI document of the API server")
    snapshot = {
        "kubernetesVersion": version,
        "generatedBy": "tools/crdgen/gen_crds.py --refresh-openapi",
        "schemas": found,
    }
    path = snapshot_path(version)
    path.write_text(json.dumps(snapshot, indent=1, sort_keys=True) + "\n")
    for old in SRC_DIR.glob("k8s-openapi-*.json"):
        if old != path:
            old.unlink()
            print(f"gen_crds: removed {old.relative_to(ROOT)}", file=sys.stderr)
    print(f"gen_crds: wrote {path.relative_to(ROOT)} ({len(found)} definitions)", file=sys.stderr)


# ------------------------------------------------------------------------------ main

def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true",
                      help="fail if a committed CRD differs from what would be generated")
    mode.add_argument("--refresh-openapi", action="store_true",
                      help="fetch the Kubernetes type schemas from an API server, then generate")
    parser.add_argument("--kubeconfig", help="with --refresh-openapi: use this API server instead "
                        "of starting a control plane")
    args = parser.parse_args(argv)
    if args.kubeconfig and not args.refresh_openapi:
        parser.error("--kubeconfig goes with --refresh-openapi")
    try:
        if args.refresh_openapi:
            refresh_openapi(args.kubeconfig)
        outputs = generate_all()
    except GenError as e:
        print(f"gen_crds: {e}", file=sys.stderr)
        return 2

    if args.check:
        stale = 0
        for path, text in outputs:
            current = path.read_text() if path.exists() else ""
            if current != text:
                stale += 1
                diff = list(difflib.unified_diff(current.splitlines(), text.splitlines(),
                                                 f"{path.relative_to(ROOT)} (committed)",
                                                 f"{path.relative_to(ROOT)} (generated)",
                                                 lineterm=""))
                print("\n".join(diff[:80]), file=sys.stderr)
                if len(diff) > 80:
                    print(f"... {len(diff) - 80} more diff lines", file=sys.stderr)
        if stale:
            print(f"gen_crds: {stale} CRD(s) out of date; run python3 tools/crdgen/gen_crds.py",
                  file=sys.stderr)
            return 1
        print(f"gen_crds: {len(outputs)} CRD(s) up to date")
        return 0

    for path, text in outputs:
        if not path.exists() or path.read_text() != text:
            path.write_text(text)
            print(f"gen_crds: wrote {path.relative_to(ROOT)} ({len(text)} bytes)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
