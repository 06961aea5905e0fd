#!/usr/bin/env python3
"""Sends Dify-shaped traces to a Langfuse-compatible endpoint, the way Dify's Langfuse tracer does
(POST {host}/api/public/ingestion, HTTP Basic with the key pair, one batch per call), and prints
each answer. Shapes from shared/reference/dify-langfuse.md: a chat message trace with its LLM
generation, a workflow run with two node spans, and the conversation-name generation Dify runs for
new conversations (attributed to the tenant, not an end user).

  dify_traces.py BASE_URL PUBLIC_KEY SECRET_KEY [CONVERSATIONS]
"""

import base64
import datetime
import json
import sys
import urllib.request
import uuid


def now(offset_ms=0):
    t = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(milliseconds=offset_ms)
    return t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def item(kind, body):
    return {"id": str(uuid.uuid4()), "timestamp": now(), "type": kind, "body": body}


def send(base, auth, items):
    req = urllib.request.Request(
        base + "/api/public/ingestion", data=json.dumps({"batch": items}).encode(),
        headers={"Content-Type": "application/json", "Authorization": auth}, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")


def main():
    base, public, secret = sys.argv[1:4]
    conversations = int(sys.argv[4]) if len(sys.argv) > 4 else 3
    auth = "Basic " + base64.b64encode(f"{public}:{secret}".encode()).decode()
    meta = {"app_id": "app-support", "app_name": "Support bot", "tenant_id": "tenant-1",
            "workspace_name": "Demo"}
    counts = {}
    for c in range(conversations):
        user, conversation = f"end-user-{c % 2}", f"conv-{uuid.uuid4()}"
        message = str(uuid.uuid4())
        batches = [
            [item("trace-create", {"id": message, "name": "message", "userId": user,
                                   "sessionId": conversation,
                                   "metadata": dict(meta, conversation_id=conversation,
                                                    message_id=message, status="succeeded",
                                                    ls_provider="openai", ls_model_name="gpt-4o")}),
             item("generation-create", {"id": str(uuid.uuid4()), "traceId": message, "name": "llm",
                                        "model": "gpt-4o", "startTime": now(-1800),
                                        "completionStartTime": now(-1500), "endTime": now(),
                                        "usage": {"input": 120, "output": 48, "total": 168,
                                                  "unit": "TOKENS", "totalCost": 0.00108},
                                        "input": "How do I reset my password?",
                                        "output": "Open Settings, then Security."})],
            [item("generation-create", {"id": str(uuid.uuid4()), "traceId": message,
                                        "name": "generate_conversation_name", "model": "gpt-4o",
                                        "startTime": now(-300), "endTime": now(),
                                        "usage": {"promptTokens": 30, "completionTokens": 6,
                                                  "totalTokens": 36}})],
        ]
        run = str(uuid.uuid4())
        batches.append(
            [item("trace-create", {"id": run, "name": "workflow", "userId": user,
                                   "sessionId": conversation,
                                   "metadata": dict(meta, workflow_run_id=run, status="succeeded")})]
            + [item("span-create", {"id": str(uuid.uuid4()), "traceId": run, "name": node,
                                    "startTime": now(-900), "endTime": now(),
                                    "metadata": {"node_type": kind, "node_name": node,
                                                 "status": "succeeded"}})
               for node, kind in (("Knowledge Retrieval", "knowledge-retrieval"),
                                  ("Answer", "answer"))])
        for batch in batches:
            status, body = send(base, auth, batch)
            counts[status] = counts.get(status, 0) + 1
            for e in body.get("errors", []):
                print(f"  item {e.get('id')}: {e.get('status')} {e.get('message')}")
    print("  Dify trace uploads by HTTP status: " +
          ", ".join(f"{s}: {n}" for s, n in sorted(counts.items())))
    return 0 if set(counts) == {207} else 1


if __name__ == "__main__":
    sys.exit(main())
