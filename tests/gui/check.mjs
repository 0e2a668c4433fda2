// dynamodb-admin, the GUI many developers run against DynamoDB Local, against
// `ferrodyn`: started on free ports, driven in headless Chromium like a user
// would — list the tables, create one through the form, add an item in the
// editor, open the table and see the item. Exits non-zero on any failure and
// writes a screenshot of the last page (argument 2, default gui-check.png).
//
// Usage: node check.mjs <ferrodyn binary> [screenshot.png]

import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { createServer } from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const here = path.dirname(fileURLToPath(import.meta.url));
const [ferrodynBinary, screenshot = "gui-check.png"] = process.argv.slice(2);
if (!ferrodynBinary) {
  console.error("usage: node check.mjs <ferrodyn binary> [screenshot.png]");
  process.exit(2);
}
const children = [];
const stopAll = () => children.forEach((c) => c.kill("SIGTERM"));

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

function startFerrodyn() {
  return new Promise((resolve, reject) => {
    const child = spawn(ferrodynBinary, ["--in-memory", "--listen", "127.0.0.1:0", "--admin-listen", "off"], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    children.push(child);
    child.once("error", reject);
    createInterface({ input: child.stdout }).on("line", (line) => {
      const [tag, url] = line.split(" ");
      if (tag === "FERRODYN_LISTENING") resolve(url);
    });
  });
}

async function startAdmin(endpoint) {
  const port = await freePort();
  const child = spawn(
    process.execPath,
    [path.join(here, "node_modules", "dynamodb-admin", "bin", "dynamodb-admin.js"), "--host", "127.0.0.1", "--port", String(port)],
    {
      stdio: ["ignore", "inherit", "inherit"],
      env: {
        ...process.env,
        DYNAMO_ENDPOINT: endpoint,
        AWS_REGION: "us-east-1",
        AWS_ACCESS_KEY_ID: "key",
        AWS_SECRET_ACCESS_KEY: "secret",
      },
    },
  );
  children.push(child);
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 200; i++) {
    try {
      const r = await fetch(url + "/api/tables");
      if (r.ok) return url;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error("dynamodb-admin did not start");
}

let browser;
let page;
try {
  const endpoint = await startFerrodyn();
  const admin = await startAdmin(endpoint);
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  page = await browser.newPage();
  const failures = [];
  page.on("pageerror", (e) => failures.push(e.message));

  // 1. The table list loads (empty).
  await page.goto(admin + "/");
  await page.waitForLoadState("networkidle");
  console.log("tables page:", await page.title());

  // 2. Create a table through the form.
  await page.goto(admin + "/create-table");
  await page.fill("#TableName", "gui_orders");
  await page.fill("#HashAttributeName", "orderId");
  await page.selectOption("select[name=HashAttributeType]", "S");
  await page.click("#saveButton");
  await page.waitForURL((u) => !u.pathname.endsWith("/create-table"), { timeout: 15000 });
  await page.goto(admin + "/");
  await page.waitForSelector("text=gui_orders", { timeout: 15000 });
  console.log("table created and listed");

  // 3. Add an item in the JSON editor.
  await page.goto(admin + "/tables/gui_orders/add-item");
  // The page keeps its Ace editor in a top-level `const editor`.
  await page.waitForFunction(() => typeof editor !== "undefined");
  await page.evaluate(() =>
    editor.setValue(JSON.stringify({ orderId: "o-1", customer: "Ada", total: 42 }, null, 2)),
  );
  await page.click("#saveButton");
  await page.waitForURL((u) => u.pathname.includes("/items/"), { timeout: 15000 });
  console.log("item saved:", new URL(page.url()).pathname);

  // 4. The table's page shows the item.
  await page.goto(admin + "/tables/gui_orders");
  await page.waitForSelector("text=Ada", { timeout: 15000 });
  console.log("item visible in the table view");
  if (failures.length) throw new Error("page errors: " + failures.join("; "));
  await page.screenshot({ path: screenshot, fullPage: true });
  console.log("GUI check passed; screenshot:", screenshot);
} catch (e) {
  console.error("GUI check failed:", e.message);
  if (page) await page.screenshot({ path: screenshot, fullPage: true }).catch(() => {});
  process.exitCode = 1;
} finally {
  await browser?.close();
  stopAll();
}
