#!/usr/bin/env python3
"""Benchmark of on-demand backups: CreateBackup latency, backup and restore
rates, and the store's peak RSS, for a table of N ~200-byte items.

usage: bench-backups.py --bin target/release/ferrodyn-store [--items 1000000]
                        [--loaders 4]

Starts the given ferrodyn-store on a free loopback port with a fresh data
directory, loads the table with BatchWriteItem from --loaders processes,
then measures (wall clock, this machine):
  * CreateBackup: the call's latency, then the time until AVAILABLE;
  * a full Scan of the table (the reference rate for reading it);
  * RestoreTableFromBackup: the time until the new table is ACTIVE;
  * the store process's peak RSS (VmHWM) after each phase.
Needs boto3. Loopback only; the server is stopped at the end.
"""

import argparse
import multiprocessing
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

import boto3


def client(endpoint):
    return boto3.client(
        "dynamodb",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="bench",
        aws_secret_access_key="bench",
    )


def load(args):
    endpoint, start, stop = args
    c = client(endpoint)
    batch = []
    for i in range(start, stop):
        batch.append(
            {
                "PutRequest": {
                    "Item": {
                        "pk": {"S": "item-%09d" % i},
                        "n": {"N": str(i)},
                        "payload": {"S": ("%09d" % i) * 18},
                    }
                }
            }
        )
        if len(batch) == 25:
            c.batch_write_item(RequestItems={"bench": batch})
            batch = []
    if batch:
        c.batch_write_item(RequestItems={"bench": batch})


def peak_rss_mb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--items", type=int, default=1_000_000)
    ap.add_argument("--loaders", type=int, default=4)
    a = ap.parse_args()

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    data = tempfile.mkdtemp(prefix="ferrodyn-bench-backups-")
    server = subprocess.Popen(
        [a.bin, "--listen", "127.0.0.1:%d" % port, "--data-dir", data],
        stdout=subprocess.DEVNULL,
        env=dict(os.environ, FERRODYN_LOG="warn"),
    )
    endpoint = "http://127.0.0.1:%d" % port
    try:
        c = client(endpoint)
        for _ in range(300):
            try:
                c.list_tables()
                break
            except Exception:
                time.sleep(0.1)
        c.create_table(
            TableName="bench",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        t = time.time()
        step = (a.items + a.loaders - 1) // a.loaders
        parts = [(endpoint, i, min(i + step, a.items)) for i in range(0, a.items, step)]
        with multiprocessing.Pool(a.loaders) as pool:
            pool.map(load, parts)
        desc = c.describe_table(TableName="bench")["Table"]
        print(
            "load: %d items, %.1f MB in %.1f s; peak RSS %.0f MB"
            % (desc["ItemCount"], desc["TableSizeBytes"] / 1e6, time.time() - t, peak_rss_mb(server.pid))
        )

        t = time.time()
        arn = c.create_backup(TableName="bench", BackupName="bench-backup")["BackupDetails"]["BackupArn"]
        latency = time.time() - t
        while True:
            d = c.describe_backup(BackupArn=arn)["BackupDescription"]["BackupDetails"]
            if d["BackupStatus"] == "AVAILABLE":
                break
            time.sleep(0.05)
        done = time.time() - t
        print(
            "CreateBackup: answered in %.1f ms; AVAILABLE after %.2f s (%.0f items/s, %.1f MB/s of snapshot, %d bytes); peak RSS %.0f MB"
            % (latency * 1000, done, a.items / done, d["BackupSizeBytes"] / 1e6 / done, d["BackupSizeBytes"], peak_rss_mb(server.pid))
        )

        t = time.time()
        count = 0
        kwargs = {"TableName": "bench", "Select": "COUNT"}
        while True:
            page = c.scan(**kwargs)
            count += page["Count"]
            if "LastEvaluatedKey" not in page:
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        took = time.time() - t
        print("Scan (Select COUNT, one client): %d items in %.2f s (%.0f items/s)" % (count, took, count / took))

        t = time.time()
        c.restore_table_from_backup(BackupArn=arn, TargetTableName="bench-restored")
        while c.describe_table(TableName="bench-restored")["Table"]["TableStatus"] != "ACTIVE":
            time.sleep(0.05)
        took = time.time() - t
        restored = c.describe_table(TableName="bench-restored")["Table"]
        print(
            "Restore: %d items ACTIVE after %.2f s (%.0f items/s, %.1f MB/s); peak RSS %.0f MB"
            % (restored["ItemCount"], took, restored["ItemCount"] / took, restored["TableSizeBytes"] / 1e6 / took, peak_rss_mb(server.pid))
        )
    finally:
        server.terminate()
        server.wait()
        shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
