// A third-party client of the showcase, as a TypeScript team would write one: the types come
// from the showcase's OpenAPI document (openapi-typescript), the calls from openapi-fetch, and
// `tsc` checks both before this runs against the running showcase (loopback only).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import createClient from "openapi-fetch";
import type { paths, components } from "./generated/showcase.js";

// Run from `dist/` (compiled by tsc): the repository is three levels up.
const root = resolve(import.meta.dirname, "../../..");
const showcase = join(root, "target/debug/examples/showcase");
const secret = "client-ts-secret-0123456789abcdef0123";

let server: ChildProcess | undefined;
let workdir: string | undefined;
let base = "";

before(async () => {
  workdir = mkdtempSync(join(tmpdir(), "endpoint-client-ts-"));
  const child = spawn(showcase, [], {
    cwd: workdir,
    // JSend errors whatever the caller's environment says (`fieldErrors` reads JSend).
    env: {
      ...process.env,
      ENDPOINT_PORT: "0",
      ENDPOINT_HOST: "127.0.0.1",
      RUST_LOG: "warn",
      ENDPOINT_JWT_SECRET: secret,
      ENDPOINT_ERROR_FORMAT: "jsend",
    },
    stdio: ["ignore", "pipe", "inherit"],
  });
  server = child;
  base = await new Promise<string>((done, fail) => {
    const timer = setTimeout(() => fail(new Error("showcase did not start within 30 s")), 30_000);
    let buffer = "";
    child.stdout?.on("data", (chunk: Buffer) => {
      buffer += chunk.toString();
      const match = buffer.match(/^listening on (\S+)$/m);
      if (match?.[1]) {
        clearTimeout(timer);
        done(match[1]);
      }
    });
    child.on("exit", (code) => fail(new Error(`showcase exited with ${code}`)));
    child.on("error", fail);
  });
});

after(async () => {
  if (server && server.exitCode === null) {
    const exited = new Promise((done) => server?.once("exit", done));
    server.kill("SIGTERM");
    await exited;
  }
  if (workdir) rmSync(workdir, { recursive: true, force: true });
});

const client = () => createClient<paths>({ baseUrl: base });

/// The envelope of a failed request, as the document describes it (JSend `fail`).
type Envelope = components["schemas"]["ErrorEnvelope"];
type FieldError = components["schemas"]["FieldError"];

/// The field errors of a JSend `fail` body.
function fieldErrors(body: Envelope | undefined): FieldError[] {
  if (body && "data" in body && body.data && "errors" in body.data) {
    return body.data.errors ?? [];
  }
  return [];
}

test("a plain-text GET", async () => {
  const { data, response } = await client().GET("/greet/intro", { parseAs: "text" });
  assert.equal(response.status, 200);
  assert.equal(data, "Nice to meet you.");
});

test("a typed path parameter, and its range", async () => {
  const ok = await client().GET("/products/{id}", { params: { path: { id: 2 } } });
  assert.equal(ok.response.status, 200);
  assert.ok(ok.data, "a product");

  // The document says 1..=1,000,000; the server says the same, field by field.
  const out = await client().GET("/products/{id}", { params: { path: { id: 0 } } });
  assert.equal(out.response.status, 422);
  assert.deepEqual(fieldErrors(out.error).map((e) => [e.in, e.path, e.code]), [["path", "id", "range"]]);
});

test("a validated JSON body: 201 with a typed answer, or every failing field", async () => {
  const order: components["schemas"]["Order"] = {
    customer: "Ada",
    items: [{ sku: "TEA-0001", quantity: 2 }, { sku: "TEA-0002", quantity: 3 }],
  };
  const placed = await client().POST("/orders", { body: order });
  assert.equal(placed.response.status, 201);
  // `units` is a number in the generated types: this line does not compile otherwise.
  const units: number | undefined = placed.data?.data.units;
  assert.equal(units, 5);

  const refused = await client().POST("/orders", {
    body: { customer: "", items: [{ sku: "nope", quantity: 0 }] },
  });
  assert.equal(refused.response.status, 422);
  assert.deepEqual(
    fieldErrors(refused.error).map((e) => `${e.path}:${e.code}`).sort(),
    ["customer:length", "items[0].quantity:range", "items[0].sku:length", "items[0].sku:pattern"],
  );

  // A body the document does not allow does not type-check: openapi-fetch's own `body`
  // parameter refuses an order without `customer` (never called, only compiled).
  const untyped = () =>
    // @ts-expect-error `customer` is required
    client().POST("/orders", { body: { items: [] } });
  assert.equal(typeof untyped, "function");
});

test("the newest API version by default, an older one by header", async () => {
  const newest = await client().GET("/catalog");
  assert.equal(newest.response.status, 200);
  assert.equal(newest.response.headers.get("api-version"), "2.0");
  const total: number | undefined = newest.data?.data.total;
  assert.equal(total, 2);

  const older = await fetch(`${base}/catalog`, { headers: { "api-version": "1.0" } });
  assert.equal(older.status, 200);
  assert.equal(older.headers.get("deprecation"), "@1782777600");
});

test("a protected, idempotent POST with a bearer token", async () => {
  const minted = spawnSync(showcase, ["token", "--user", "client-ts", "--role", "editor"], {
    env: { ...process.env, ENDPOINT_JWT_SECRET: secret },
    encoding: "utf8",
  });
  assert.equal(minted.status, 0, minted.stderr);
  const token = minted.stdout.trim();
  assert.match(token, /^ey/);
  const authorized = createClient<paths>({ baseUrl: base, headers: { Authorization: `Bearer ${token}` } });
  const key = `client-ts-${Date.now()}`;
  const first = await authorized.POST("/articles", {
    params: { header: { "Idempotency-Key": key } },
    body: { title: "Typed clients", author_id: 1 },
  });
  assert.equal(first.response.status, 201);
  const again = await authorized.POST("/articles", {
    params: { header: { "Idempotency-Key": key } },
    body: { title: "Typed clients", author_id: 1 },
  });
  assert.equal(again.response.status, 201);
  assert.equal(again.response.headers.get("idempotent-replayed"), "true");
  assert.deepEqual(again.data, first.data);

  const anonymous = await client().POST("/articles", { body: { title: "x", author_id: 1 } });
  assert.equal(anonymous.response.status, 401);
});
