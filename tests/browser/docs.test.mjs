// The /docs page in a real browser: headless Debian Chromium, no network but loopback.
// Starts the showcase, checks that every operation of its OpenAPI document is listed, runs a
// "Try it" call, and saves a screenshot under target/browser/.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { chromium } from "playwright-core";

const root = resolve(import.meta.dirname, "../..");
const showcase = join(root, "target/debug/examples/showcase");
const output = join(root, "target/browser");
let server, base, browser, workdir;

before(async () => {
  workdir = mkdtempSync(join(tmpdir(), "endpoint-docs-"));
  server = spawn(showcase, [], {
    cwd: workdir,
    env: { ...process.env, ENDPOINT_PORT: "0", ENDPOINT_HOST: "127.0.0.1", RUST_LOG: "warn" },
    stdio: ["ignore", "pipe", "inherit"],
  });
  base = await new Promise((resolveBase, reject) => {
    const timer = setTimeout(() => reject(new Error("showcase did not start within 30 s")), 30_000);
    let buffer = "";
    server.stdout.on("data", (chunk) => {
      buffer += chunk;
      const match = buffer.match(/^listening on (\S+)$/m);
      if (match) { clearTimeout(timer); resolveBase(match[1]); }
    });
    server.on("exit", (code) => reject(new Error(`showcase exited with ${code}`)));
  });
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
});

after(async () => {
  await browser?.close();
  server?.kill("SIGTERM");
  if (workdir) rmSync(workdir, { recursive: true, force: true });
});

test("the docs page lists every operation and runs a request", async () => {
  const spec = await (await fetch(`${base}/openapi.json`)).json();
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const external = [];
  page.on("request", (request) => { if (!request.url().startsWith(base)) external.push(request.url()); });
  await page.goto(`${base}/docs`);
  await page.waitForSelector("body[data-ready=true]", { timeout: 15_000 });

  for (const [path, item] of Object.entries(spec.paths)) {
    for (const method of Object.keys(item)) {
      const selector = `details.op[data-path="${path}"][data-method="${method.toUpperCase()}"]`;
      assert.equal(await page.locator(selector).count(), 1, `${method.toUpperCase()} ${path} is listed`);
    }
  }
  const groups = await page.locator("main h2").allTextContents();
  for (const tag of ["greet", "recipes", "root", "articles"]) assert.ok(groups.includes(tag), `group ${tag} in ${groups}`);

  // Try it: GET /products/{id} with id 2.
  const op = page.locator('details.op[data-path="/products/{id}"][data-method="GET"]');
  await op.locator("summary").click();
  await op.locator('input[data-param="id"]').fill("2");
  await op.locator("button", { hasText: "Try it" }).click();
  await op.locator(".status").waitFor({ timeout: 10_000 });
  assert.equal(await op.locator(".status").getAttribute("data-status"), "200");
  assert.match(await op.locator("pre.response").textContent(), /Rust mug/);

  // Try it with a protected endpoint and no token: the envelope's 401 is shown.
  const stats = page.locator('details.op[data-path="/article-stats/by-author"][data-method="GET"]');
  await stats.locator("summary").click();
  await stats.locator("button", { hasText: "Try it" }).click();
  await stats.locator(".status").waitFor({ timeout: 10_000 });
  assert.equal(await stats.locator(".status").getAttribute("data-status"), "401");

  mkdirSync(output, { recursive: true });
  await page.screenshot({ path: join(output, "docs.png"), fullPage: false });
  assert.deepEqual(external, [], "the page loads nothing from outside");
});
