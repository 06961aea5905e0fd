#!/usr/bin/env python3
"""Turns the ingest config the operator rendered for a pipeline into one cohort-ingest can run with
on this machine (tools/demo.sh): pods under kwok run nothing, so the demo runs the server here.

  local_ingest_config.py NAMESPACE STATEFULSET OUT_DIR

Reads the StatefulSet's pod template (which ConfigMap and which Secrets it mounts, and where) with
kubectl, writes each mounted Secret key to OUT_DIR/secrets/<mount dir>/<key> (what the kubelet
would mount), and writes OUT_DIR/config.json: the rendered config with its mount paths moved under
OUT_DIR, the data directory OUT_DIR/data, listeners on 127.0.0.1 with free ports, and no TLS (the
demo has no certificate), and a generated read key for the query API when the pipeline mounts
none. Prints the ConfigMap's name.
"""

import base64
import json
import pathlib
import secrets
import subprocess
import sys

SECRETS_DIR = "/etc/cohort/secrets"


def kubectl_json(*args):
    out = subprocess.run(["kubectl", *args, "-o", "json"], check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


def main():
    namespace, statefulset, out = sys.argv[1], sys.argv[2], pathlib.Path(sys.argv[3])
    sts = kubectl_json("get", "-n", namespace, "statefulset", statefulset)
    pod = sts["spec"]["template"]["spec"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    container = next(c for c in pod["containers"] if c["name"] == "ingest")
    configmap = volumes["config"]["configMap"]["name"]
    rendered = kubectl_json("get", "-n", namespace, "configmap", configmap)["data"]["config.yaml"]
    config = json.loads(rendered)  # the operator renders canonical JSON (JSON is YAML)

    local_secrets = out / "secrets"
    for mount in container["volumeMounts"]:
        volume = volumes.get(mount["name"], {})  # the data volume comes from a claim template
        if "secret" not in volume or not mount["mountPath"].startswith(SECRETS_DIR):
            continue
        secret = kubectl_json("get", "-n", namespace, "secret", volume["secret"]["secretName"])
        target = local_secrets / mount["mountPath"][len(SECRETS_DIR) + 1:]
        target.mkdir(parents=True, exist_ok=True)
        for key, value in secret.get("data", {}).items():
            path = target / key
            path.write_bytes(base64.b64decode(value))
            path.chmod(0o600)

    def local(path):
        return str(local_secrets / path[len(SECRETS_DIR) + 1:]) if path.startswith(SECRETS_DIR) else path

    def relocate(node):
        if isinstance(node, dict):
            return {k: (local(v) if k.endswith("File") and isinstance(v, str) else relocate(v))
                    for k, v in node.items()}
        if isinstance(node, list):
            return [relocate(v) for v in node]
        return node

    config = relocate(config)
    config.pop("tls", None)
    # A read key for the query API, unless the pipeline mounts one: the demo asks for numbers.
    auth = config.setdefault("auth", {})
    if "queryKeysFile" not in auth:
        keys = local_secrets / "query-keys" / "query-keys"
        keys.parent.mkdir(parents=True, exist_ok=True)
        keys.write_text(secrets.token_hex(16) + " *\n")
        keys.chmod(0o600)
        auth["queryKeysFile"] = str(keys)
    config["listeners"] = {"address": "127.0.0.1", "ingestPort": 0, "queryPort": 0,
                           "metricsPort": 0}
    config["paths"] = {"dataDir": str(out / "data")}
    (out / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    print(configmap)


if __name__ == "__main__":
    main()
