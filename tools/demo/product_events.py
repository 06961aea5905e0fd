#!/usr/bin/env python3
"""Sends a small product's last two weeks to cohort-ingest's Amplitude API (tools/demo.sh), so the
query API has something to show: 60 users who arrive over 14 days, view pages, some sign up and
buy (a funnel), and come back on later days less and less often (retention).

  product_events.py INGEST_URL API_KEY

Deterministic (seeded), so two runs send the same events: the second is deduplicated.
"""

import json
import random
import sys
import time
import urllib.request

DAY_MS = 86_400_000


def main():
    url, api_key = sys.argv[1], sys.argv[2]
    rng = random.Random(20261126)
    now = int(time.time() * 1000)
    today = now - now % DAY_MS
    events = []
    for u in range(60):
        user, device = f"demo-user-{u:03d}", f"demo-device-{u:03d}"
        first_day = today - rng.randrange(0, 14) * DAY_MS
        for day in range(0, (today - first_day) // DAY_MS + 1):
            if day > 0 and rng.random() > 0.55 / day ** 0.5:
                continue  # returns less and less often
            start = first_day + day * DAY_MS + rng.randrange(8, 20) * 3_600_000
            if start >= now:
                continue
            session = start
            steps = ["page_view"]
            if day == 0 and rng.random() < 0.6:
                steps.append("signup")
                if rng.random() < 0.5:
                    steps.append("purchase")
            elif day > 0 and rng.random() < 0.2:
                steps.append("purchase")
            for i, step in enumerate(steps):
                t = start + i * rng.randrange(30_000, 600_000)
                if t >= now:
                    break
                events.append({"user_id": user, "device_id": device, "event_type": step,
                               "time": t, "session_id": session,
                               "insert_id": f"demo-{u}-{day}-{i}",
                               "event_properties": {"plan": rng.choice(["free", "pro"])}})
    sent = 0
    for i in range(0, len(events), 500):
        body = json.dumps({"api_key": api_key, "events": events[i:i + 500]}).encode()
        request = urllib.request.Request(url, body, {"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as response:
            sent += json.load(response)["events_ingested"]
    print(f"  {sent} product events (page_view → signup → purchase, 60 users, 14 days)")


if __name__ == "__main__":
    main()
