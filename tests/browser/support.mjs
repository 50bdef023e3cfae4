// What the browser tests share: the showcase started on a free port, and headless Chromium.
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { chromium } from "playwright-core";

export const root = resolve(import.meta.dirname, "../..");
export const showcase = join(root, "target/debug/examples/showcase");

/// Starts the showcase in a temporary directory with `env` added; resolves to
/// `{ server, base, stop }` once it prints `listening on`.
export async function startShowcase(env = {}) {
  const workdir = mkdtempSync(join(tmpdir(), "endpoint-browser-"));
  const server = spawn(showcase, [], {
    cwd: workdir,
    env: { ...process.env, ENDPOINT_PORT: "0", ENDPOINT_HOST: "127.0.0.1", RUST_LOG: "warn", ...env },
    stdio: ["ignore", "pipe", "inherit"],
  });
  const base = await new Promise((resolveBase, reject) => {
    const timer = setTimeout(() => reject(new Error("showcase did not start within 30 s")), 30_000);
    let buffer = "";
    server.stdout.on("data", (chunk) => {
      buffer += chunk;
      const match = buffer.match(/^listening on (\S+)$/m);
      if (match) { clearTimeout(timer); resolveBase(match[1]); }
    });
    server.on("exit", (code) => reject(new Error(`showcase exited with ${code}`)));
  });
  const stop = () => {
    server.kill("SIGTERM");
    rmSync(workdir, { recursive: true, force: true });
  };
  return { server, base, stop };
}

/// Headless Debian Chromium, loopback only.
export function launchChromium() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
}
