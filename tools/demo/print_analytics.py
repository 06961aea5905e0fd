#!/usr/bin/env python3
"""Asks cohort-ingest's query API for today's active users, a retention table and a funnel, and
prints them (tools/demo.sh; docs/query-api.md has the API).

  print_analytics.py QUERY_URL READ_KEY PROJECT
"""

import json
import sys
import time
import urllib.error
import urllib.request

DAY_MS = 86_400_000


def query(url, key, document):
    request = urllib.request.Request(url, json.dumps(document).encode(),
                                     {"Authorization": f"Bearer {key}"})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return json.load(response)["result"]
    except urllib.error.HTTPError as error:
        sys.exit(f"query failed: {error.code} {error.read().decode()}")


def main():
    url, key, project = sys.argv[1], sys.argv[2], sys.argv[3]
    now = int(time.time() * 1000)
    today = now - now % DAY_MS
    scope = {"project": project, "timeZone": "UTC"}

    active = query(url, key, {"type": "activeUsers", **scope,
                              "range": {"from": today - 6 * DAY_MS, "to": today + DAY_MS}})
    print("Active users per day (UTC), the last 7 days:")
    for start, value in zip(active["buckets"], active["values"]):
        day = time.strftime("%Y-%m-%d", time.gmtime(start / 1000))
        print(f"  {day}  {value:4d}  {'#' * value}")
    print(f"  today: {active['values'][-1]} active users")

    retention = query(url, key, {"type": "retention", **scope,
                                 "range": {"from": today - 13 * DAY_MS, "to": today + DAY_MS},
                                 "startEvent": {"eventType": "_new"},
                                 "returnEvent": {"eventType": "_active"},
                                 "maxDay": 7, "days": "calendar"})
    print("Retention of new users (calendar days; day N = share back on day N; . = not yet known):")
    print("  cohort        size  " + " ".join(f"d{n:<4d}" for n in range(1, 8)))
    for row in retention["rows"]:
        day = time.strftime("%Y-%m-%d", time.gmtime(row["cohortDay"] / 1000))
        cells = []
        for cell in row["cells"]:
            cells.append(f"{100 * cell['count'] / cell['outOf']:4.0f}%" if cell["outOf"] else "  .  ")
        print(f"  {day}  {row['size']:4d}  " + " ".join(cells))

    funnel = query(url, key, {"type": "funnel", **scope,
                              "range": {"from": today - 13 * DAY_MS, "to": today + DAY_MS},
                              "steps": [{"eventType": "page_view"}, {"eventType": "signup"},
                                        {"eventType": "purchase"}],
                              "windowMs": DAY_MS})
    print("Funnel page_view → signup → purchase (within a day), last 14 days:")
    for name, step in zip(["page_view", "signup", "purchase"], funnel["all"]["steps"]):
        conversion = step["conversionFromFirst"]
        median = step["medianTimeMs"]
        print(f"  {name:10s} {step['actors']:4d} actors  "
              f"{'' if conversion is None else f'{100 * conversion:5.1f}% of step 1'}"
              f"{'' if median is None else f'  median {median / 60000:.1f} min from the step before'}")


if __name__ == "__main__":
    main()
