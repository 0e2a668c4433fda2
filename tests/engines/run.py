#!/usr/bin/env python3
"""Run the behaviour suite (behaviour.py) against one DynamoDB-API engine
directly and through `ferrodyn --upstream` in front of it, and require
identical per-test results: the same pass or fail, and the same recorded
answers. Then measure how stale the proxy's cache can be for writes made
straight to the engine: `--trials` times, cache an item through the proxy,
write it on the engine, and time until the proxy answers the new value
(eventually consistent GetItem, polled every 2 ms).

    python3 tests/engines/run.py --name moto --direct http://127.0.0.1:5000 \\
        --proxy http://127.0.0.1:8000 --proxy-admin http://127.0.0.1:9000

Exits 1 if the results differ, or if a write is not seen through the
proxy within --stale-limit seconds (an invalidation that never came: the
cache's TTL is minutes). The latencies are reported, not asserted.
"""

import argparse
import json
import random
import string
import sys
import time
import traceback
import urllib.request

import boto3
from botocore.config import Config

sys.path.insert(0, __import__("os").path.dirname(__file__))
import behaviour  # noqa: E402


def client(url):
    return boto3.client(
        "dynamodb",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="behaviour",
        aws_secret_access_key="behaviour",
        config=Config(retries={"max_attempts": 3, "mode": "standard"}),
    )


def wait_ready(admin, limit=60):
    deadline = time.time() + limit
    last = None
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(f"{admin}/readyz", timeout=2) as r:
                if r.status == 200:
                    return
        except Exception as e:  # 503 raises too
            last = e
        time.sleep(0.1)
    sys.exit(f"the proxy is not ready after {limit} s: {last}")


def run_suite(url, prefix):
    results = {}
    c = client(url)
    for fn in behaviour.TESTS:
        r = behaviour.Run(c, prefix)
        try:
            fn(r)
            status = "pass"
        except behaviour.Failed as e:
            status = f"fail: {e}"
        except Exception as e:  # noqa: BLE001
            status = f"error: {type(e).__name__}: {e}"
            traceback.print_exc()
        results[fn.__name__] = {"status": status, "records": r.records}
    return results


def staleness(direct_url, proxy_url, prefix, trials, limit):
    direct, proxy = client(direct_url), client(proxy_url)
    r = behaviour.Run(direct, prefix)
    table = behaviour.create(r, "stale", stream=True)
    k = {"pk": {"S": "k"}}
    direct.put_item(TableName=table, Item={**k, "v": {"N": "0"}})
    lags, missed = [], 0
    for i in range(1, trials + 1):
        # Cached: the proxy answers the current value twice.
        deadline = time.time() + limit
        while True:
            got = proxy.get_item(TableName=table, Key=k).get("Item", {}).get("v", {}).get("N")
            again = proxy.get_item(TableName=table, Key=k).get("Item", {}).get("v", {}).get("N")
            if got == again == str(i - 1):
                break
            if time.time() > deadline:
                sys.exit(f"trial {i}: the proxy never answered {i - 1}")
            time.sleep(0.002)
        direct.put_item(TableName=table, Item={**k, "v": {"N": str(i)}})
        start = time.perf_counter()
        while True:
            got = proxy.get_item(TableName=table, Key=k).get("Item", {}).get("v", {}).get("N")
            elapsed = time.perf_counter() - start
            if got == str(i):
                lags.append(elapsed)
                break
            if elapsed > limit:
                missed += 1
                lags.append(elapsed)
                break
            time.sleep(0.002)
    lags.sort()
    pick = lambda q: lags[min(len(lags) - 1, int(q * len(lags)))]  # noqa: E731
    return {
        "trials": trials,
        "p50_ms": round(pick(0.50) * 1000, 1),
        "p99_ms": round(pick(0.99) * 1000, 1),
        "max_ms": round(lags[-1] * 1000, 1),
        "missed": missed,
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--name", required=True)
    ap.add_argument("--direct", required=True)
    ap.add_argument("--proxy", required=True)
    ap.add_argument("--proxy-admin", required=True)
    ap.add_argument("--trials", type=int, default=100)
    ap.add_argument("--stale-limit", type=float, default=10.0)
    ap.add_argument("--json")
    args = ap.parse_args()

    wait_ready(args.proxy_admin)
    tag = "".join(random.choices(string.ascii_lowercase, k=6))
    direct = run_suite(args.direct, f"d{tag}_")
    proxied = run_suite(args.proxy, f"p{tag}_")

    differences = 0
    print(f"\n{args.name}: behaviour suite, {len(direct)} tests, direct vs through ferrodyn")
    for name in direct:
        d, p = direct[name], proxied[name]
        same_records = d["records"] == p["records"]
        same = d["status"] == p["status"] and same_records
        differences += not same
        mark = "same" if same else "DIFFERENT"
        print(f"  {name:<60} direct {d['status'][:4]:<5} proxy {p['status'][:4]:<5} {mark}")
        if d["status"] != "pass":
            print(f"      the engine itself: {d['status']}")
        if not same_records:
            for (op, a), (_, b) in zip(d["records"], p["records"]):
                if a != b:
                    print(f"      first different answer, {op}:\n        direct {a[:300]}\n        proxy  {b[:300]}")
                    break
            if len(d["records"]) != len(p["records"]):
                print(f"      {len(d['records'])} answers direct, {len(p['records'])} through the proxy")
    passed = sum(r["status"] == "pass" for r in direct.values())
    print(f"{args.name}: {passed}/{len(direct)} pass on the engine; {len(direct) - differences} identical through the proxy, {differences} different")

    stale = staleness(args.direct, args.proxy, f"s{tag}_", args.trials, args.stale_limit)
    print(
        f"{args.name}: writes straight to the engine seen through the proxy, {stale['trials']} trials: "
        f"p50 {stale['p50_ms']} ms, p99 {stale['p99_ms']} ms, max {stale['max_ms']} ms, "
        f"{stale['missed']} not seen within {args.stale_limit} s"
    )
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"engine": args.name, "tests": len(direct), "passed_direct": passed,
                       "differences": differences, "staleness": stale}, f, indent=2)
    if differences or stale["missed"]:
        sys.exit(1)


if __name__ == "__main__":
    main()
