// The AWS SDK for JavaScript v3, unmodified, against `ferrodyn` (the full
// database, store embedded) and `ferrodyn-store`, each started as a process
// on an ephemeral port with --in-memory. Only the endpoint differs from a
// program written for DynamoDB.
//
// Binaries come from FERRODYN_BIN_DIR (default: the workspace's debug build).

import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import path from "node:path";
import { fileURLToPath } from "node:url";

import {
  DynamoDBClient,
  CreateTableCommand,
  DescribeTableCommand,
  PutItemCommand,
  GetItemCommand,
  UpdateItemCommand,
  DeleteItemCommand,
  TransactWriteItemsCommand,
  ConditionalCheckFailedException,
  TransactionCanceledException,
  ResourceNotFoundException,
  paginateQuery,
  paginateScan,
  waitUntilTableExists,
} from "@aws-sdk/client-dynamodb";
import {
  DynamoDBStreamsClient,
  ListStreamsCommand,
  DescribeStreamCommand,
  GetShardIteratorCommand,
  GetRecordsCommand,
} from "@aws-sdk/client-dynamodb-streams";
import { DynamoDBDocumentClient, PutCommand, GetCommand } from "@aws-sdk/lib-dynamodb";

const here = path.dirname(fileURLToPath(import.meta.url));
const binDir = process.env.FERRODYN_BIN_DIR ?? path.join(here, "..", "..", "target", "debug");

const clientConfig = (endpoint) => ({
  endpoint,
  region: "us-east-1",
  credentials: { accessKeyId: "js", secretAccessKey: "js" },
});

// Start `binary` on an ephemeral port; resolves with the process and the
// URL of its FERRODYN_LISTENING line.
function startServer(binary, args) {
  return new Promise((resolve, reject) => {
    const child = spawn(path.join(binDir, binary), args, {
      stdio: ["ignore", "pipe", "inherit"],
    });
    child.once("error", reject);
    child.once("exit", (code) => reject(new Error(`${binary} exited with ${code} before listening`)));
    const lines = createInterface({ input: child.stdout });
    lines.on("line", (line) => {
      const [tag, url] = line.split(" ");
      if (tag === "FERRODYN_LISTENING") {
        resolve({ child, endpoint: url });
      }
    });
  });
}

const servers = [
  ["ferrodyn", ["--in-memory", "--listen", "127.0.0.1:0", "--admin-listen", "off"]],
  ["ferrodyn-store", ["--in-memory", "--listen", "127.0.0.1:0"]],
];

for (const [binary, args] of servers) {
  describe(`AWS SDK for JavaScript v3 against ${binary}`, () => {
    let server;
    let ddb;
    let streams;
    const table = "js_orders";

    before(async () => {
      server = await startServer(binary, args);
      ddb = new DynamoDBClient(clientConfig(server.endpoint));
      streams = new DynamoDBStreamsClient(clientConfig(server.endpoint));
      await ddb.send(
        new CreateTableCommand({
          TableName: table,
          BillingMode: "PAY_PER_REQUEST",
          KeySchema: [
            { AttributeName: "customer", KeyType: "HASH" },
            { AttributeName: "order", KeyType: "RANGE" },
          ],
          AttributeDefinitions: [
            { AttributeName: "customer", AttributeType: "S" },
            { AttributeName: "order", AttributeType: "N" },
          ],
          StreamSpecification: { StreamEnabled: true, StreamViewType: "NEW_AND_OLD_IMAGES" },
        }),
      );
      await waitUntilTableExists({ client: ddb, maxWaitTime: 30 }, { TableName: table });
    });

    after(() => {
      ddb?.destroy();
      streams?.destroy();
      server?.child.removeAllListeners("exit");
      server?.child.kill("SIGTERM");
    });

    test("put, get, update, delete and a failed condition", async () => {
      const key = { customer: { S: "ana" }, order: { N: "1" } };
      await ddb.send(
        new PutItemCommand({ TableName: table, Item: { ...key, amount: { N: "10.5" }, tags: { SS: ["a", "b"] } } }),
      );
      const got = await ddb.send(new GetItemCommand({ TableName: table, Key: key, ConsistentRead: true }));
      assert.equal(got.Item.amount.N, "10.5");
      assert.deepEqual(got.Item.tags.SS.sort(), ["a", "b"]);

      const updated = await ddb.send(
        new UpdateItemCommand({
          TableName: table,
          Key: key,
          UpdateExpression: "SET amount = amount + :d",
          ExpressionAttributeValues: { ":d": { N: "2" } },
          ReturnValues: "ALL_NEW",
        }),
      );
      assert.equal(updated.Attributes.amount.N, "12.5");

      await assert.rejects(
        ddb.send(
          new PutItemCommand({
            TableName: table,
            Item: key,
            ConditionExpression: "attribute_not_exists(customer)",
          }),
        ),
        (err) => err instanceof ConditionalCheckFailedException && err.name === "ConditionalCheckFailedException",
      );

      await ddb.send(new DeleteItemCommand({ TableName: table, Key: key }));
      const gone = await ddb.send(new GetItemCommand({ TableName: table, Key: key, ConsistentRead: true }));
      assert.equal(gone.Item, undefined);
    });

    test("a missing table is ResourceNotFoundException", async () => {
      await assert.rejects(
        ddb.send(new DescribeTableCommand({ TableName: "js_no_such_table" })),
        (err) => err instanceof ResourceNotFoundException,
      );
    });

    test("Query and Scan through the SDK's paginators", async () => {
      for (let i = 0; i < 60; i++) {
        await ddb.send(
          new PutItemCommand({
            TableName: table,
            Item: { customer: { S: "bo" }, order: { N: String(i) }, pad: { S: "x".repeat(100) } },
          }),
        );
      }
      const orders = [];
      let pages = 0;
      for await (const page of paginateQuery(
        { client: ddb, pageSize: 7 },
        {
          TableName: table,
          KeyConditionExpression: "customer = :c AND #o >= :from",
          ExpressionAttributeNames: { "#o": "order" },
          ExpressionAttributeValues: { ":c": { S: "bo" }, ":from": { N: "10" } },
          ScanIndexForward: false,
        },
      )) {
        pages += 1;
        orders.push(...page.Items.map((item) => Number(item.order.N)));
      }
      assert.equal(orders.length, 50);
      assert.deepEqual(orders, [...orders].sort((a, b) => b - a));
      assert.ok(pages >= 8, `${pages} pages of at most 7`);

      let scanned = 0;
      for await (const page of paginateScan({ client: ddb, pageSize: 13 }, { TableName: table })) {
        scanned += page.Count;
      }
      assert.ok(scanned >= 60);
    });

    test("TransactWriteItems commits all or nothing", async () => {
      await ddb.send(
        new TransactWriteItemsCommand({
          TransactItems: [
            { Put: { TableName: table, Item: { customer: { S: "cy" }, order: { N: "1" } } } },
            { Put: { TableName: table, Item: { customer: { S: "cy" }, order: { N: "2" } } } },
          ],
        }),
      );
      await assert.rejects(
        ddb.send(
          new TransactWriteItemsCommand({
            TransactItems: [
              { Put: { TableName: table, Item: { customer: { S: "cy" }, order: { N: "3" } } } },
              {
                Put: {
                  TableName: table,
                  Item: { customer: { S: "cy" }, order: { N: "1" } },
                  ConditionExpression: "attribute_not_exists(customer)",
                },
              },
            ],
          }),
        ),
        (err) => {
          assert.ok(err instanceof TransactionCanceledException, err.name);
          assert.deepEqual(
            err.CancellationReasons.map((r) => r.Code),
            ["None", "ConditionalCheckFailed"],
          );
          return true;
        },
      );
      const third = await ddb.send(
        new GetItemCommand({ TableName: table, Key: { customer: { S: "cy" }, order: { N: "3" } }, ConsistentRead: true }),
      );
      assert.equal(third.Item, undefined, "the cancelled transaction wrote nothing");
    });

    test("the document client marshals JavaScript values", async () => {
      const doc = DynamoDBDocumentClient.from(ddb);
      await doc.send(
        new PutCommand({
          TableName: table,
          Item: { customer: "dee", order: 7, nested: { list: [1, "two", true, null] }, flag: false },
        }),
      );
      const got = await doc.send(new GetCommand({ TableName: table, Key: { customer: "dee", order: 7 }, ConsistentRead: true }));
      assert.deepEqual(got.Item, { customer: "dee", order: 7, nested: { list: [1, "two", true, null] }, flag: false });
    });

    test("a DynamoDB Streams reader sees inserts, modifications and removals", async () => {
      const key = { customer: { S: "eve" }, order: { N: "1" } };
      await ddb.send(new PutItemCommand({ TableName: table, Item: { ...key, v: { N: "1" } } }));
      await ddb.send(new PutItemCommand({ TableName: table, Item: { ...key, v: { N: "2" } } }));
      await ddb.send(new DeleteItemCommand({ TableName: table, Key: key }));

      const { Streams } = await streams.send(new ListStreamsCommand({ TableName: table }));
      assert.equal(Streams.length, 1);
      const { StreamDescription } = await streams.send(
        new DescribeStreamCommand({ StreamArn: Streams[0].StreamArn }),
      );
      assert.equal(StreamDescription.StreamViewType, "NEW_AND_OLD_IMAGES");
      const events = [];
      for (const shard of StreamDescription.Shards) {
        let { ShardIterator: iterator } = await streams.send(
          new GetShardIteratorCommand({
            StreamArn: Streams[0].StreamArn,
            ShardId: shard.ShardId,
            ShardIteratorType: "TRIM_HORIZON",
          }),
        );
        for (let round = 0; iterator && round < 20; round++) {
          const page = await streams.send(new GetRecordsCommand({ ShardIterator: iterator }));
          for (const record of page.Records) {
            if (record.dynamodb.Keys.customer.S === "eve") {
              events.push(record);
            }
          }
          if (page.Records.length === 0) break;
          iterator = page.NextShardIterator;
        }
      }
      assert.deepEqual(
        events.map((e) => e.eventName),
        ["INSERT", "MODIFY", "REMOVE"],
      );
      assert.equal(events[1].dynamodb.OldImage.v.N, "1");
      assert.equal(events[1].dynamodb.NewImage.v.N, "2");
      assert.ok(events[0].dynamodb.ApproximateCreationDateTime instanceof Date);
    });
  });
}
