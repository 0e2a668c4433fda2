"""Export and import rates of ferrodyn-store against a Scan of the same table.

usage: run.py [--bin PATH] [--items N] [--work DIR]

Generates N DynamoDB JSON lines of about 200-byte items, then, each phase in
a fresh `ferrodyn-store` process (release build by default) on one data
directory, with buckets as folders:

  import  ImportTable of the lines (uncompressed) into a new table
  export  ExportTableToPointInTime of that table (gzip DynamoDB JSON)
  scan    a full Scan of the table, page by page, over HTTP

and prints, for each, the time, items/s, MB/s (of item bytes as DynamoDB
counts them) and the process's peak RSS (VmHWM). Python 3 standard library
only; everything stays on 127.0.0.1.
"""

import argparse
import http.client
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Store:
    def __init__(self, binary, data, buckets):
        self.port = free_port()
        self.proc = subprocess.Popen(
            [binary, "--listen", f"127.0.0.1:{self.port}", "--data-dir", data,
             "--export-dir", buckets],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            env=dict(os.environ, FERRODYN_LOG="warn"),
        )
        deadline = time.time() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                break
            except OSError:
                if time.time() > deadline:
                    raise SystemExit("store did not start")
                time.sleep(0.05)
        self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=600)

    def call(self, op, body):
        data = json.dumps(body).encode()
        self.conn.request("POST", "/", data, {
            "X-Amz-Target": f"DynamoDB_20120810.{op}",
            "Content-Type": "application/x-amz-json-1.0",
        })
        r = self.conn.getresponse()
        payload = r.read()
        if r.status != 200:
            raise SystemExit(f"{op}: {r.status} {payload[:300]!r}")
        return payload

    def peak_rss_mb(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
        return float("nan")

    def stop(self):
        self.conn.close()
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=60)


def report(name, seconds, items, nbytes, rss):
    print(f"{name:7} {seconds:8.2f} s  {items / seconds:10.0f} items/s  "
          f"{nbytes / seconds / 1e6:8.1f} MB/s  peak RSS {rss:7.1f} MB")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=os.path.join(
        os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target")), "release", "ferrodyn-store"))
    ap.add_argument("--items", type=int, default=1_000_000)
    ap.add_argument("--work", default=None)
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="ferrodyn-transfer-bench-", dir=args.work)
    try:
        data = os.path.join(work, "data")
        buckets = os.path.join(work, "buckets")
        os.makedirs(os.path.join(buckets, "src"))
        rng = random.Random(7)
        with open(os.path.join(buckets, "src", "items.json"), "w") as f:
            for i in range(args.items):
                payload = "%0160x" % rng.getrandbits(640)
                f.write('{"Item":{"pk":{"S":"key-%08d"},"n":{"N":"%d"},"payload":{"S":"%s"}}}\n'
                        % (i, i, payload))

        store = Store(args.bin, data, buckets)
        started = time.time()
        arn = json.loads(store.call("ImportTable", {
            "S3BucketSource": {"S3Bucket": "src", "S3KeyPrefix": "items"},
            "InputFormat": "DYNAMODB_JSON", "InputCompressionType": "NONE",
            "TableCreationParameters": {
                "TableName": "bench",
                "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
                "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
                "BillingMode": "PAY_PER_REQUEST"}}))["ImportTableDescription"]["ImportArn"]
        while True:
            d = json.loads(store.call("DescribeImport", {"ImportArn": arn}))["ImportTableDescription"]
            if d["ImportStatus"] != "IN_PROGRESS":
                break
            time.sleep(0.05)
        seconds = time.time() - started
        assert d["ImportStatus"] == "COMPLETED", d
        table = json.loads(store.call("DescribeTable", {"TableName": "bench"}))["Table"]
        size = table["TableSizeBytes"]
        report("import", seconds, d["ImportedItemCount"], size, store.peak_rss_mb())
        store.call("UpdateContinuousBackups", {"TableName": "bench",
            "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True}})
        store.stop()

        store = Store(args.bin, data, buckets)
        started = time.time()
        arn = json.loads(store.call("ExportTableToPointInTime", {
            "TableArn": table["TableArn"], "S3Bucket": "out"}))["ExportDescription"]["ExportArn"]
        while True:
            d = json.loads(store.call("DescribeExport", {"ExportArn": arn}))["ExportDescription"]
            if d["ExportStatus"] != "IN_PROGRESS":
                break
            time.sleep(0.05)
        seconds = time.time() - started
        assert d["ExportStatus"] == "COMPLETED", d
        report("export", seconds, d["ItemCount"], d["BilledSizeBytes"], store.peak_rss_mb())
        store.stop()

        store = Store(args.bin, data, buckets)
        started = time.time()
        items = 0
        start_key = None
        while True:
            body = {"TableName": "bench"}
            if start_key:
                body["ExclusiveStartKey"] = start_key
            page = json.loads(store.call("Scan", body))
            items += page["Count"]
            start_key = page.get("LastEvaluatedKey")
            if not start_key:
                break
        seconds = time.time() - started
        report("scan", seconds, items, size, store.peak_rss_mb())
        store.stop()
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
