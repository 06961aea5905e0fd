#!/usr/bin/env python3
"""Sends a Dify-shaped trace + generation to cohort-ingest's Langfuse-compatible API with the real
Langfuse Python SDK's low-level ingestion client (the call Dify's Langfuse provider makes), and
checks the answers: projects lists a project, the batch is all 201s, a bad item is a per-item 400,
bad credentials are refused.

Usage: langfuse_sdk_test.py --base-url http://127.0.0.1:PORT/dify --public-key PK --secret-key SK
Needs `langfuse` (4.x, as Dify pins it) installed in the interpreter that runs it. Exit 0 on
success; prints the ids it sent (trace, generation) on the last line as JSON for the caller.
"""

import argparse
import datetime
import json
import sys
import uuid

from langfuse.api import (
    CreateGenerationBody,
    IngestionEvent_GenerationCreate,
    IngestionEvent_TraceCreate,
    LangfuseAPI,
    OpenAiUsage,
    TraceBody,
)


def fail(message):
    print(f"FAIL: {message}", file=sys.stderr)
    sys.exit(1)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--public-key", required=True)
    parser.add_argument("--secret-key", required=True)
    args = parser.parse_args()

    client = LangfuseAPI(
        base_url=args.base_url,
        username=args.public_key,
        password=args.secret_key,
        x_langfuse_public_key=args.public_key,
        x_langfuse_sdk_name="python",
        x_langfuse_sdk_version="4",
        timeout=10,
    )

    projects = client.projects.get()
    if not projects.data:
        fail("projects: empty (Dify would say Invalid Credentials)")

    run = uuid.uuid4().hex
    trace_id, generation_id = f"trace-{run}", f"gen-{run}"
    # Naive datetimes, as Dify passes them: the server must read them as UTC.
    start = datetime.datetime(2024, 5, 1, 12, 0, 0)
    now = datetime.datetime.now(datetime.timezone.utc).isoformat()
    batch = [
        IngestionEvent_TraceCreate(
            id=f"env-{trace_id}",
            timestamp=now,
            body=TraceBody(
                id=trace_id,
                name="message",
                user_id="sdk-user-1",
                session_id="conv-sdk-1",
                input="prompt text",
                output="answer text",
                metadata={"app_id": "app-sdk", "app_name": "SDK app", "ls_model_name": "gpt-4o"},
                tags=["sdk"],
            ),
        ),
        IngestionEvent_GenerationCreate(
            id=f"env-{generation_id}",
            timestamp=now,
            body=CreateGenerationBody(
                id=generation_id,
                trace_id=trace_id,
                name="llm",
                model="gpt-4o",
                start_time=start,
                completion_start_time=start + datetime.timedelta(milliseconds=300),
                end_time=start + datetime.timedelta(seconds=2),
                usage=OpenAiUsage(prompt_tokens=12, completion_tokens=8, total_tokens=20),
                metadata={"app_id": "app-sdk"},
            ),
        ),
    ]
    result = client.ingestion.batch(batch=batch)
    if result.errors or len(result.successes) != 2:
        fail(f"batch: {result}")
    if any(s.status != 201 for s in result.successes):
        fail(f"batch statuses: {result}")

    # A bad item: a per-item 400 naming the field, the request itself a 207.
    bad = client.ingestion.with_raw_response.batch(
        batch=[
            IngestionEvent_GenerationCreate(
                id=f"env-bad-{run}",
                timestamp="not-a-time",
                body=CreateGenerationBody(id=f"bad-{run}", trace_id=trace_id),
            )
        ]
    ).data
    if bad.successes or len(bad.errors) != 1 or bad.errors[0].status != 400:
        fail(f"bad item: {bad}")
    if "timestamp" not in (bad.errors[0].message or ""):
        fail(f"bad item message: {bad.errors[0].message}")

    wrong = LangfuseAPI(base_url=args.base_url, username=args.public_key, password="wrong-secret",
                        timeout=10)
    try:
        wrong.projects.get()
        fail("wrong credentials were accepted")
    except Exception as e:  # the SDK raises an ApiError carrying the status
        if getattr(e, "status_code", None) != 401:
            fail(f"wrong credentials: {e!r}")

    print(json.dumps({"trace_id": trace_id, "generation_id": generation_id}))


if __name__ == "__main__":
    main()
