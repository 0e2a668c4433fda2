"""A DynamoDB behaviour suite for comparing one engine reached directly with
the same engine reached through `ferrodyn --upstream`.

Each test drives a boto3 client with what applications do (items of every
type, conditions, updates, queries and scans with paging, indexes, batches,
transactions, errors) and records what it saw: the answers without their
request metadata and consumed capacity, and each error's type and message.
A test passes when its checks of DynamoDB's documented behaviour hold; the
runner (run.py) also requires the records to be the same both ways, so a
proxy that changes any answer is caught even where the engine itself
differs from DynamoDB.

Reads are eventually consistent unless a test says otherwise, so the
proxy's item and query caches answer them.
"""

import base64
import json
from decimal import Decimal

from botocore.exceptions import ClientError

TESTS = []


def test(fn):
    TESTS.append(fn)
    return fn


class Failed(Exception):
    pass


def check(cond, what):
    if not cond:
        raise Failed(what)


def clean(answer):
    """An answer without what differs between two runs."""
    answer = dict(answer)
    for k in ("ResponseMetadata", "ConsumedCapacity"):
        answer.pop(k, None)
    return answer


class Run:
    """One run of the suite: a client, a table-name prefix, the records."""

    def __init__(self, client, prefix):
        self.c = client
        self.prefix = prefix
        self.records = []

    def name(self, base):
        return f"{self.prefix}{base}"

    def call(self, op, **kw):
        """Call `op`; record and return its answer, or record and return the
        error as {'Error': (type, message)}."""
        try:
            out = clean(getattr(self.c, op)(**kw))
        except ClientError as e:
            err = e.response.get("Error", {})
            out = {"Error": (err.get("Code"), err.get("Message"))}
        # Attribute order in a map means nothing in DynamoDB: compare sorted.
        text = json.dumps(out, sort_keys=True, default=repr).replace(self.prefix, "<prefix>")
        self.records.append((op, text))
        return out


def S(v):
    return {"S": v}


def N(v):
    return {"N": str(v)}


def key(pk, sk=None):
    k = {"pk": S(pk)}
    if sk is not None:
        k["sk"] = N(sk)
    return k


def ok(out, what):
    check("Error" not in out, f"{what}: {out.get('Error')}")
    return out


def error_type(out):
    return out.get("Error", (None, None))[0]


def create(r, base, sort=False, gsi=False, stream=False):
    name = r.name(base)
    attrs = [{"AttributeName": "pk", "AttributeType": "S"}]
    schema = [{"AttributeName": "pk", "KeyType": "HASH"}]
    if sort:
        attrs.append({"AttributeName": "sk", "AttributeType": "N"})
        schema.append({"AttributeName": "sk", "KeyType": "RANGE"})
    kw = {}
    if gsi:
        attrs.append({"AttributeName": "g", "AttributeType": "S"})
        kw["GlobalSecondaryIndexes"] = [
            {
                "IndexName": "by_g",
                "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "ALL"},
            }
        ]
    if stream:
        kw["StreamSpecification"] = {
            "StreamEnabled": True,
            "StreamViewType": "NEW_AND_OLD_IMAGES",
        }
    r.c.create_table(
        TableName=name,
        AttributeDefinitions=attrs,
        KeySchema=schema,
        BillingMode="PAY_PER_REQUEST",
        **kw,
    )
    r.c.get_waiter("table_exists").wait(
        TableName=name, WaiterConfig={"Delay": 0.2, "MaxAttempts": 100}
    )
    return name


def get(r, table, k, **kw):
    return r.call("get_item", TableName=table, Key=k, **kw).get("Item")


@test
def items_of_every_type_round_trip(r):
    t = create(r, "types")
    item = {
        "pk": S("all"),
        "s": S("text ✓"),
        # DynamoDB's canonical form (see README, "In front of DynamoDB", on
        # numbers written in other forms).
        "n": N("-12345678901234567890123456789012345678000000"),
        "b": {"B": base64.b64decode("AAEC/w==")},
        "bool": {"BOOL": False},
        "null": {"NULL": True},
        "ss": {"SS": ["a", "b"]},
        "ns": {"NS": ["1", "2.5"]},
        "l": {"L": [S("x"), N(1), {"M": {"deep": {"L": []}}}]},
        "m": {"M": {"k": S("v"), "e": {"M": {}}}},
    }
    ok(r.call("put_item", TableName=t, Item=item), "put")
    got = get(r, t, key("all"))
    check(got is not None, "item missing")
    check(Decimal(got["n"]["N"]) == Decimal("-1.2345678901234567890123456789012345678E+43"),
          f"number changed: {got['n']}")
    check(set(got["ss"]["SS"]) == {"a", "b"}, "string set")
    check(got["m"]["M"]["k"] == S("v"), "map")


@test
def a_missing_item_reads_as_absent_again_and_again(r):
    t = create(r, "missing")
    check(get(r, t, key("nope")) is None, "first read")
    check(get(r, t, key("nope")) is None, "second read")


@test
def a_write_is_read_back_at_once(r):
    t = create(r, "ryw")
    for v in range(5):
        ok(r.call("put_item", TableName=t, Item={**key("k"), "v": N(v)}), "put")
        got = get(r, t, key("k"))
        check(got and got["v"] == N(v), f"read {got} after writing {v}")


@test
def conditional_put_refuses_an_existing_item(r):
    t = create(r, "cond")
    ok(
        r.call(
            "put_item",
            TableName=t,
            Item={**key("k"), "v": N(1)},
            ConditionExpression="attribute_not_exists(pk)",
        ),
        "first put",
    )
    out = r.call(
        "put_item",
        TableName=t,
        Item={**key("k"), "v": N(2)},
        ConditionExpression="attribute_not_exists(pk)",
    )
    check(error_type(out) == "ConditionalCheckFailedException", f"second put: {out}")
    check(get(r, t, key("k"))["v"] == N(1), "the refused put changed the item")


@test
def update_expressions_set_add_remove_and_return_values(r):
    t = create(r, "update")
    ok(r.call("put_item", TableName=t, Item={**key("k"), "a": N(1), "gone": S("x")}), "put")
    out = ok(
        r.call(
            "update_item",
            TableName=t,
            Key=key("k"),
            UpdateExpression="SET b = :b, l = list_append(if_not_exists(l, :e), :l) "
            "ADD a :one REMOVE gone",
            ExpressionAttributeValues={
                ":b": S("new"),
                ":e": {"L": []},
                ":l": {"L": [N(7)]},
                ":one": N(1),
            },
            ReturnValues="ALL_NEW",
        ),
        "update",
    )
    attrs = out["Attributes"]
    check(attrs["a"] == N(2) and attrs["b"] == S("new") and "gone" not in attrs, f"{attrs}")
    got = get(r, t, key("k"))
    check(got == attrs, f"read {got}, update returned {attrs}")
    out = ok(
        r.call(
            "update_item",
            TableName=t,
            Key=key("k"),
            UpdateExpression="SET a = a + :one",
            ExpressionAttributeValues={":one": N(1)},
            ReturnValues="UPDATED_OLD",
        ),
        "second update",
    )
    check(out["Attributes"] == {"a": N(2)}, f"{out}")
    check(get(r, t, key("k"))["a"] == N(3), "counter")


@test
def delete_returns_the_old_item_and_forgets_it(r):
    t = create(r, "delete")
    ok(r.call("put_item", TableName=t, Item={**key("k"), "v": N(1)}), "put")
    check(get(r, t, key("k")) is not None, "cached before delete")
    out = ok(r.call("delete_item", TableName=t, Key=key("k"), ReturnValues="ALL_OLD"), "delete")
    check(out["Attributes"]["v"] == N(1), f"{out}")
    check(get(r, t, key("k")) is None, "deleted item still read")
    out = r.call(
        "delete_item", TableName=t, Key=key("k"), ConditionExpression="attribute_exists(pk)"
    )
    check(error_type(out) == "ConditionalCheckFailedException", f"{out}")


@test
def projections_select_attributes(r):
    t = create(r, "proj")
    ok(r.call("put_item", TableName=t, Item={**key("k"), "a": S("1"), "m": {"M": {"x": N(1), "y": N(2)}}}), "put")
    got = get(r, t, key("k"), ProjectionExpression="#a, m.y", ExpressionAttributeNames={"#a": "a"})
    check(got == {"a": S("1"), "m": {"M": {"y": N(2)}}}, f"{got}")
    got = get(r, t, key("k"))
    check("pk" in got and "a" in got, f"full item after projected read: {got}")


@test
def strongly_consistent_reads_see_the_latest_write(r):
    t = create(r, "consistent")
    for v in range(3):
        ok(r.call("put_item", TableName=t, Item={**key("k"), "v": N(v)}), "put")
        got = get(r, t, key("k"), ConsistentRead=True)
        check(got["v"] == N(v), f"{got}")


@test
def query_reads_a_partition_in_order_with_paging(r):
    t = create(r, "query", sort=True)
    for i in range(10):
        ok(r.call("put_item", TableName=t, Item={**key("p", i), "v": N(i * i)}), "put")
    ok(r.call("put_item", TableName=t, Item={**key("other", 1)}), "put other")
    seen, start = [], None
    while True:
        kw = {"ExclusiveStartKey": start} if start else {}
        out = ok(
            r.call(
                "query",
                TableName=t,
                KeyConditionExpression="pk = :p AND sk BETWEEN :lo AND :hi",
                ExpressionAttributeValues={":p": S("p"), ":lo": N(2), ":hi": N(8)},
                ScanIndexForward=False,
                Limit=3,
                **kw,
            ),
            "query page",
        )
        seen += [int(i["sk"]["N"]) for i in out["Items"]]
        start = out.get("LastEvaluatedKey")
        if not start:
            break
    check(seen == [8, 7, 6, 5, 4, 3, 2], f"{seen}")


@test
def query_filters_after_reading_and_counts(r):
    t = create(r, "filter", sort=True)
    for i in range(6):
        ok(r.call("put_item", TableName=t, Item={**key("p", i), "even": {"BOOL": i % 2 == 0}}), "put")
    out = ok(
        r.call(
            "query",
            TableName=t,
            KeyConditionExpression="pk = :p",
            FilterExpression="even = :t",
            ExpressionAttributeValues={":p": S("p"), ":t": {"BOOL": True}},
        ),
        "query",
    )
    check(out["Count"] == 3 and out["ScannedCount"] == 6, f"{out['Count']}/{out['ScannedCount']}")
    out = ok(
        r.call("query", TableName=t, KeyConditionExpression="pk = :p",
               ExpressionAttributeValues={":p": S("p")}, Select="COUNT"),
        "count",
    )
    check(out["Count"] == 6 and "Items" not in out, f"{out}")


@test
def a_query_sees_the_writes_made_before_it(r):
    t = create(r, "query_writes", sort=True)
    q = dict(TableName=t, KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": S("p")})
    check(ok(r.call("query", **q), "empty")["Count"] == 0, "not empty")
    ok(r.call("put_item", TableName=t, Item=key("p", 1)), "put")
    check(ok(r.call("query", **q), "one")["Count"] == 1, "the new item is not queried")
    ok(r.call("update_item", TableName=t, Key=key("p", 1), UpdateExpression="SET v = :v",
              ExpressionAttributeValues={":v": S("x")}), "update")
    items = ok(r.call("query", **q), "updated")["Items"]
    check(items[0].get("v") == S("x"), f"{items}")
    ok(r.call("delete_item", TableName=t, Key=key("p", 1)), "delete")
    check(ok(r.call("query", **q), "gone")["Count"] == 0, "the deleted item is queried")


@test
def scan_pages_through_every_item(r):
    t = create(r, "scan")
    for i in range(25):
        ok(r.call("put_item", TableName=t, Item={**key(f"k{i:02}"), "v": N(i)}), "put")
    seen, start = set(), None
    while True:
        kw = {"ExclusiveStartKey": start} if start else {}
        out = ok(r.call("scan", TableName=t, Limit=7, **kw), "scan page")
        seen |= {i["pk"]["S"] for i in out["Items"]}
        start = out.get("LastEvaluatedKey")
        if not start:
            break
    check(len(seen) == 25, f"{len(seen)} items")
    ok(r.call("delete_item", TableName=t, Key=key("k00")), "delete")
    out = ok(r.call("scan", TableName=t, Select="COUNT"), "count")
    check(out["Count"] == 24, f"{out}")


@test
def a_global_secondary_index_follows_its_items(r):
    t = create(r, "gsi", gsi=True)
    ok(r.call("put_item", TableName=t, Item={**key("a"), "g": S("red")}), "put a")
    ok(r.call("put_item", TableName=t, Item={**key("b"), "g": S("red")}), "put b")
    q = dict(TableName=t, IndexName="by_g", KeyConditionExpression="g = :g")
    red = ok(r.call("query", ExpressionAttributeValues={":g": S("red")}, **q), "red")
    check(red["Count"] == 2, f"{red}")
    ok(r.call("update_item", TableName=t, Key=key("a"), UpdateExpression="SET g = :g",
              ExpressionAttributeValues={":g": S("blue")}), "move a")
    red = ok(r.call("query", ExpressionAttributeValues={":g": S("red")}, **q), "red again")
    blue = ok(r.call("query", ExpressionAttributeValues={":g": S("blue")}, **q), "blue")
    check(red["Count"] == 1 and blue["Count"] == 1, f"red {red['Count']} blue {blue['Count']}")


@test
def batch_write_then_batch_get(r):
    t = create(r, "batch")
    puts = [{"PutRequest": {"Item": {**key(f"k{i}"), "v": N(i)}}} for i in range(20)]
    out = ok(r.call("batch_write_item", RequestItems={t: puts}), "batch write")
    check(not out.get("UnprocessedItems"), f"{out}")
    keys = [key(f"k{i}") for i in range(0, 20, 2)] + [key("absent")]
    out = ok(r.call("batch_get_item", RequestItems={t: {"Keys": keys}}), "batch get")
    got = sorted(int(i["v"]["N"]) for i in out["Responses"][t])
    check(got == list(range(0, 20, 2)), f"{got}")
    ok(r.call("batch_write_item", RequestItems={t: [{"DeleteRequest": {"Key": key("k0")}}]}), "delete")
    out = ok(r.call("batch_get_item", RequestItems={t: {"Keys": [key("k0"), key("k2")]}}), "again")
    check([i["pk"]["S"] for i in out["Responses"][t]] == ["k2"], f"{out}")


@test
def transactions_commit_together_or_not_at_all(r):
    t = create(r, "txn")
    ok(r.call("put_item", TableName=t, Item={**key("from"), "bal": N(10)}), "put")
    ok(r.call("put_item", TableName=t, Item={**key("to"), "bal": N(0)}), "put")
    move = lambda amount: r.call(  # noqa: E731
        "transact_write_items",
        TransactItems=[
            {"Update": {"TableName": t, "Key": key("from"), "UpdateExpression": "SET bal = bal - :a",
                        "ConditionExpression": "bal >= :a", "ExpressionAttributeValues": {":a": N(amount)}}},
            {"Update": {"TableName": t, "Key": key("to"), "UpdateExpression": "SET bal = bal + :a",
                        "ExpressionAttributeValues": {":a": N(amount)}}},
        ],
    )
    ok(move(4), "first move")
    out = move(100)
    check(error_type(out) == "TransactionCanceledException", f"{out}")
    check(get(r, t, key("from"))["bal"] == N(6) and get(r, t, key("to"))["bal"] == N(4), "balances")
    out = ok(r.call("transact_get_items", TransactItems=[{"Get": {"TableName": t, "Key": key("from")}},
                                                      {"Get": {"TableName": t, "Key": key("nobody")}}]),
             "transact get")
    check(out["Responses"][0]["Item"]["bal"] == N(6) and not out["Responses"][1], f"{out}")


@test
def errors_name_the_problem(r):
    t = create(r, "errors")
    out = r.call("get_item", TableName=r.name("no_such_table"), Key=key("k"))
    check(error_type(out) == "ResourceNotFoundException", f"{out}")
    out = r.call("get_item", TableName=t, Key={"pk": N(1)})
    check(error_type(out) == "ValidationException", f"wrong key type: {out}")
    out = r.call("put_item", TableName=t, Item={"v": S("no key")})
    check(error_type(out) == "ValidationException", f"missing key: {out}")
    out = r.call("update_item", TableName=t, Key=key("k"), UpdateExpression="SET = 1")
    check(error_type(out) == "ValidationException", f"bad expression: {out}")
    out = r.call("query", TableName=t, KeyConditionExpression="pk = :p")
    check(error_type(out) == "ValidationException", f"unknown value: {out}")


@test
def a_large_item_round_trips(r):
    t = create(r, "large")
    blob = "x" * 300_000
    ok(r.call("put_item", TableName=t, Item={**key("big"), "blob": S(blob)}), "put")
    got = get(r, t, key("big"))
    check(got["blob"]["S"] == blob, "blob changed")
    out = r.call("put_item", TableName=t, Item={**key("huge"), "blob": S("x" * 500_000)})
    check(error_type(out) == "ValidationException", f"over 400 KB: {out}")
