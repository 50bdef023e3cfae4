// CORS in a real browser: headless Debian Chromium, loopback only. The showcase allows one
// origin (ENDPOINT_CORS_ORIGINS); a page served from that origin calls a protected endpoint
// with `fetch` and a bearer token, and the same page served from another origin is refused by
// the browser.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createServer } from "node:http";
import { launchChromium, showcase, startShowcase } from "./support.mjs";

const secret = "cors-browser-secret-0123456789abcdef";
let pages, base, browser, app, allowed, other, token;

before(async () => {
  // The page's server: the same blank page on every path.
  pages = createServer((_, response) => {
    response.writeHead(200, { "content-type": "text/html" });
    response.end("<!doctype html><title>app</title>");
  });
  await new Promise((done) => pages.listen(0, "127.0.0.1", done));
  const port = pages.address().port;
  allowed = `http://127.0.0.1:${port}`;
  other = `http://localhost:${port}`; // another origin: the host differs
  token = spawnSync(showcase, ["token", "--user", "eve", "--role", "editor"], {
    env: { ...process.env, ENDPOINT_JWT_SECRET: secret },
    encoding: "utf8",
  }).stdout.trim();
  assert.match(token, /^ey/, "the token command printed a JWT");
  app = await startShowcase({ ENDPOINT_JWT_SECRET: secret, ENDPOINT_CORS_ORIGINS: allowed });
  base = app.base;
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  app?.stop();
  pages?.close();
});

/// Calls the protected endpoint from a page of `origin`, as the page's script would.
async function callFrom(origin) {
  const page = await browser.newPage();
  await page.goto(`${origin}/`);
  const result = await page.evaluate(async ({ base, token }) => {
    try {
      const response = await fetch(`${base}/article-stats/by-author`, {
        headers: { Authorization: `Bearer ${token}` },
      });
      return {
        status: response.status,
        body: await response.json(),
        requestId: response.headers.get("x-request-id"),
      };
    } catch (error) {
      return { refused: String(error) };
    }
  }, { base, token });
  await page.close();
  return result;
}

test("a listed origin calls a protected endpoint with a bearer token", async () => {
  const result = await callFrom(allowed);
  assert.equal(result.refused, undefined, `refused: ${result.refused}`);
  assert.equal(result.status, 200);
  assert.ok(Array.isArray(result.body) && result.body.length === 3, JSON.stringify(result.body));
  assert.equal(result.body[0].author, "Ann Author");
  // The server's own id: its random prefix, `-`, a counter (both hex).
  assert.match(result.requestId ?? "", /^[0-9a-f]{16}-[0-9a-f]+$/, "x-request-id is exposed to the page");
});

test("an origin not listed is refused by the browser", async () => {
  const result = await callFrom(other);
  assert.match(result.refused ?? "", /TypeError|Failed to fetch/, JSON.stringify(result));
});
