// The /docs page in a real browser: headless Debian Chromium, no network but loopback.
// Starts the showcase, checks that every operation of its OpenAPI document is listed, runs a
// "Try it" call, and saves a screenshot under target/browser/.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { launchChromium, root, startShowcase } from "./support.mjs";

const output = join(root, "target/browser");
let app, base, browser;

before(async () => {
  app = await startShowcase();
  base = app.base;
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  app?.stop();
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
