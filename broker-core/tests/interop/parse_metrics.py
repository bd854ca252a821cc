#!/usr/bin/env python3
"""Fetches http://127.0.0.1:PORT/metrics and parses it with the Prometheus
project's own Python client (its strict OpenMetrics parser), for broker-rs's
metrics test. Prints one JSON line: {"families": {name: {"type", "unit",
"samples": [{"name", "labels", "value"}]}}}. Any parse error fails (exit 1).

Usage: parse_metrics.py PORT
"""

import json
import sys
import urllib.request

from prometheus_client.openmetrics.parser import text_string_to_metric_families


def main():
    port = int(sys.argv[1])
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        content_type = response.headers.get("Content-Type", "")
        text = response.read().decode("utf-8")
    if not content_type.startswith("application/openmetrics-text"):
        print(f"unexpected content type {content_type!r}", file=sys.stderr)
        sys.exit(1)
    families = {}
    for family in text_string_to_metric_families(text):
        families[family.name] = {
            "type": family.type,
            "unit": family.unit,
            "samples": [
                {"name": s.name, "labels": dict(s.labels), "value": s.value}
                for s in family.samples
            ],
        }
    print(json.dumps({"families": families}), flush=True)


if __name__ == "__main__":
    main()
