#!/usr/bin/env python3
"""Benchmarks of endpoint-runtime against plain axum, side by side.

    python3 bench/run.py throughput [--rounds 5] [--duration 2] [--connections 64] [--servers a,b] [--warn-variant]
    python3 bench/run.py startup [--sizes 100,1000,10000]
    python3 bench/run.py compile [--endpoints 200] [--repeat 3]
    python3 bench/run.py confined [--rounds 3] [--duration 5]
    python3 bench/run.py flood [--sockets 1100] [--nofile 1024] [--duration 5]
    python3 bench/run.py confined-flood [--requests 300] [--size-mib 1]
    python3 bench/run.py build-size [--repeat 3]
    python3 bench/run.py instructions [--servers a,b]
    python3 bench/run.py policy [--rounds 7] [--instructions] [--redis URL]
    python3 bench/run.py cluster [--instances 1,2,3] [--rounds 3] [--duration 5]
    python3 bench/run.py streams [--connections 1000] [--hold 3] [--rounds 5] [--size 1024] [--transfers 50] [--mib 16]

Each prints a table and writes a CSV under bench/results/. Servers bind 127.0.0.1 only; every
load run is bounded in time and stops by itself. Not part of the test run.
"""
import argparse
import threading
import csv
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
TARGET = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
RELEASE = TARGET / "release"
SECRET = "bench-secret-0123456789abcdef0123456789"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def sh(cmd, **kw):
    return subprocess.run(cmd, check=True, text=True, capture_output=True, **kw)


def need(tool, package):
    if shutil.which(tool):
        return
    print(f"installing {package} (Debian) for `{tool}`", file=sys.stderr)
    subprocess.run(["apt-get", "update", "-qq"], check=True)
    subprocess.run(["apt-get", "install", "-y", "-qq", package], check=True, env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})


def cpu_seconds(pid):
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime + stime


def user_seconds(pid):
    """The process's CPU time in user mode only (utime): the server's own code, without the
    kernel's share of each request (sockets, epoll), which no variant changes."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) / CLOCK_TICKS


def server_env(port, rust_log=None, log_format=None):
    """A benchmark server's environment: 127.0.0.1:`port`, one Tokio worker, the JWT secret, and
    the framework's default logging unless `rust_log` sets `RUST_LOG` or `log_format` sets
    `ENDPOINT_LOG_FORMAT`."""
    env = {**os.environ, "ENDPOINT_PORT": str(port), "ENDPOINT_HOST": "127.0.0.1",
           "ENDPOINT_JWT_SECRET": SECRET, "TOKIO_WORKER_THREADS": "1"}
    env.pop("RUST_LOG", None)
    env.pop("ENDPOINT_LOG_FORMAT", None)
    if rust_log:
        env["RUST_LOG"] = rust_log
    if log_format:
        env["ENDPOINT_LOG_FORMAT"] = log_format
    return env


class Server:
    """A server pinned to core 1 with one Tokio worker, started and stopped around a run."""

    def __init__(self, name, binary, port, rust_log=None, extra_env=None):
        self.name, self.binary, self.port = name, binary, port
        env = {**server_env(port, rust_log), **(extra_env or {})}
        self.process = subprocess.Popen(["taskset", "-c", "1", str(binary)], env=env,
                                        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        deadline = time.time() + 30
        self.cold_start_ms = float("nan")
        for line in self.process.stdout:
            cold = re.search(r"cold start ([\d.]+) ms", line)
            if cold:
                self.cold_start_ms = float(cold.group(1))
            if line.startswith("listening on "):
                break
            if time.time() > deadline:
                raise RuntimeError(f"{name} did not start")
        # Whatever the server prints next (an access log) is read and dropped, so that a full
        # pipe never blocks it.
        threading.Thread(target=lambda: [None for _ in self.process.stdout], daemon=True).start()
        self.base = f"http://127.0.0.1:{port}"

    def stop(self):
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()


def wrk(url, duration, connections, script=None, headers=()):
    cmd = ["taskset", "-c", "0", "wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--latency"]
    for header in headers:
        cmd += ["-H", header]
    if script:
        cmd += ["-s", str(script)]
    out = sh(cmd + [url]).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    total = int(re.search(r"(\d+) requests in", out).group(1))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if errors:
        raise RuntimeError(f"{url}: {errors.group(1)} non-2xx responses\n{out}")

    def percentile(p):
        m = re.search(rf"^\s+{p}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        value, unit = float(m.group(1)), m.group(2)
        return value * {"us": 1, "ms": 1000, "s": 1_000_000}[unit]

    return rps, total, percentile(50), percentile(99)


def echo_script():
    items = [{"id": i, "name": f"item number {i}", "tags": ["alpha", "beta", "gamma"], "score": i * 1.5} for i in range(11)]
    import json
    body = json.dumps({"items": items})
    assert 900 <= len(body) <= 1200, len(body)
    path = RESULTS / "echo.lua"
    path.write_text('wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
                    f"wrk.body = {json.dumps(body)}\n")
    return path, len(body)


def bench_routes():
    """Builds the servers; the five routes as (label, path, wrk script, framework headers)."""
    sh(["cargo", "build", "--release", "-q", "-p", "endpoint-bench"], cwd=ROOT)
    script, size = echo_script()
    value_script = RESULTS / "echo-value.lua"
    value_script.write_text(script.read_text())
    token = sh([str(RELEASE / "bench-framework"), "token", "--user", "bench", "--ttl", "2h"],
               env={**os.environ, "ENDPOINT_JWT_SECRET": SECRET}).stdout.strip()
    return [
        ("GET /greet/intro (text)", "/greet/intro", None, ()),
        ("GET /users/{id} (JSON)", "/users/42", None, ()),
        (f"POST /echo ({size} B, struct)", "/echo", script, ()),
        (f"POST /echo-value ({size} B, Value)", "/echo-value", value_script, ()),
        ("GET /secure/intro (HS256 JWT)", "/secure/intro", None, (f"Authorization: Bearer {token}",)),
    ]


def build_baselines():
    """Builds `bench/baselines` (raw hyper, actix-web, axum + tower-http by hand): a crate
    outside the workspace with a lock file of its own, into the same target directory."""
    sh(["cargo", "build", "--release", "-q", "--locked", "--manifest-path",
        str(ROOT / "bench" / "baselines" / "Cargo.toml"), "--target-dir", str(TARGET)], cwd=ROOT)


def status_mib(pid, key):
    """A size from `/proc/<pid>/status` (`VmHWM`: the peak resident set; `RssAnon`: the
    resident anonymous memory, heap and stacks, without the binary's own pages), in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{key}:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def peak_rss_mib(pid):
    return status_mib(pid, "VmHWM")


# The servers of `throughput`: (name, binary, port, RUST_LOG). The framework with its default
# middleware and logging; raw axum (the reference of every ratio); raw hyper and actix-web (the
# floors a framework is measured against); axum with tower-http doing the framework's defaults
# by hand. The JWT route's baselines serve the same body without authentication.
THROUGHPUT_SERVERS = [
    ("framework", "bench-framework", 3291, None),
    ("axum", "bench-axum", 3292, None),
    ("hyper", "bench-hyper", 3294, None),
    ("actix", "bench-actix", 3295, None),
    ("axum-tower", "bench-axum-tower", 3296, None),
]


def throughput(args):
    need("wrk", "wrk")
    RESULTS.mkdir(parents=True, exist_ok=True)
    routes = bench_routes()
    build_baselines()
    servers = [(name, RELEASE / binary, port, log) for name, binary, port, log in THROUGHPUT_SERVERS]
    if args.warn_variant:
        # The framework with `RUST_LOG=warn`: nothing logged per request. Not a target; it
        # shows what the default `info` logging costs.
        servers.insert(1, ("fw-warn", RELEASE / "bench-framework", 3293, "warn"))
    if args.servers:
        wanted = set(args.servers.split(",")) | {"axum"}
        servers = [s for s in servers if s[0] in wanted]
    names = [name for name, *_ in servers]
    rows = []
    for label, path, lua, headers in routes:
        # Every server of the route runs at once (idle ones cost nothing), so that the runs of
        # one round follow each other within seconds: this VM's speed drifts by tens of percent
        # over minutes, and a ratio taken within a round cancels most of that drift.
        running = [(name, Server(name, binary, port, rust_log)) for name, binary, port, rust_log in servers]
        framework = lambda name: name.startswith("fw") or name == "framework"
        try:
            for name, server in running:
                wrk(server.base + path, 2, args.connections, lua, headers if framework(name) else ())  # warm-up
            for round_ in range(1, args.rounds + 1):
                order = running if round_ % 2 else list(reversed(running))
                for name, server in order:
                    sent = headers if framework(name) else ()
                    before = cpu_seconds(server.process.pid)
                    rps, total, p50, p99 = wrk(server.base + path, args.duration, args.connections, lua, sent)
                    cpu_us = (cpu_seconds(server.process.pid) - before) * 1e6 / total
                    rows.append({"round": round_, "route": label, "server": name, "rps": round(rps),
                                 "p50_us": round(p50), "p99_us": round(p99), "cpu_us_per_req": round(cpu_us, 2),
                                 "peak_rss_mib": round(peak_rss_mib(server.process.pid), 2),
                                 "rss_anon_mib": round(status_mib(server.process.pid, "RssAnon"), 2)})
                    print(f"round {round_:2}  {label:34} {name:10} {rps:10.0f} req/s  p50 {p50:7.0f} us  "
                          f"p99 {p99:7.0f} us  cpu {cpu_us:5.2f} us/req", flush=True)
        finally:
            for _, server in running:
                server.stop()
    write_csv("throughput.csv", rows)

    def med(label, server, key):
        return statistics.median(r[key] for r in rows if r["route"] == label and r["server"] == server)

    def ratio(label, server, key, base="axum"):
        """The median over rounds of `server`'s value over `base`'s in the same round."""
        by_round = {}
        for r in rows:
            if r["route"] == label:
                by_round.setdefault(r["round"], {})[r["server"]] = r[key]
        return statistics.median(v[server] / v[base] for v in by_round.values())

    def peak(label, server, key="peak_rss_mib"):
        return max(r[key] for r in rows if r["route"] == label and r["server"] == server)

    for title, key, unit in (("server CPU per request", "cpu_us_per_req", "us"),
                             ("p99 latency", "p99_us", "us"), ("requests per second", "rps", "")):
        print(f"\n{title}: median of rounds ({unit or 'req/s'}), and x raw axum in the same round")
        print(f"{'route':34}" + "".join(f" {name:>17}" for name in names))
        for label, *_ in routes:
            print(f"{label:34}" + "".join(
                f" {med(label, name, key):9.{2 if key == 'cpu_us_per_req' else 0}f} {ratio(label, name, key):5.2f}x"
                for name in names))
    print("\nserver CPU per request, x actix-web in the same round")
    print(f"{'route':34}" + "".join(f" {name:>10}" for name in names))
    for label, *_ in routes:
        print(f"{label:34}" + "".join(f" {ratio(label, name, 'cpu_us_per_req', 'actix'):9.2f}x" for name in names))
    print("\npeak RSS (VmHWM, MiB), and x raw axum")
    print(f"{'route':34}" + "".join(f" {name:>17}" for name in names))
    for label, *_ in routes:
        print(f"{label:34}" + "".join(f" {peak(label, name):9.2f} {peak(label, name) / peak(label, 'axum'):5.2f}x"
                                      for name in names))
    print("\nanonymous memory (RssAnon after the route's last round: heap and stacks, not the binary's pages; MiB), and x raw axum")
    print(f"{'route':34}" + "".join(f" {name:>17}" for name in names))
    for label, *_ in routes:
        print(f"{label:34}" + "".join(
            f" {peak(label, name, 'rss_anon_mib'):9.2f} {peak(label, name, 'rss_anon_mib') / peak(label, 'axum', 'rss_anon_mib'):5.2f}x"
            for name in names))
    commit = sh(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT).stdout.strip()
    print(f"\ncommit {commit}; {args.rounds} rounds of {args.duration} s per server and route, wrk 1 thread "
          f"{args.connections} connections on core 0, servers on core 1 (1 worker), rounds alternate the "
          f"order; ratios are medians of per-round ratios; CSV: {RESULTS / 'throughput.csv'}")


def policy(args):
    """Server CPU per request on the text route with the defaults, then with each operations
    feature on: metrics recorded (`ENDPOINT_METRICS_ADDR`), a rate limit on the route (GCRA,
    `ENDPOINT_RATE_LIMIT`, never reached: every request pays the bucket step), the access log
    (`ENDPOINT_ACCESS_LOG=on`, written to a pipe that is drained). All four servers run at once,
    in interleaved rounds; ratios are medians of per-round ratios to the defaults."""
    need("wrk", "wrk")
    RESULTS.mkdir(parents=True, exist_ok=True)
    sh(["cargo", "build", "--release", "-q", "-p", "endpoint-bench"], cwd=ROOT)
    variants = [
        ("defaults", {}),
        ("metrics", {"ENDPOINT_METRICS_ADDR": "127.0.0.1:39464"}),
        ("rate limit", {"ENDPOINT_RATE_LIMIT": "1000000000/second"}),
        ("access log", {"ENDPOINT_ACCESS_LOG": "on"}),
    ]
    if args.redis:
        # The same never-reached rate, its buckets in Redis: a round trip per request.
        variants.append(("rate limit, Redis", {"ENDPOINT_RATE_LIMIT": "1000000000/second",
                                              "ENDPOINT_REDIS_URL": args.redis}))
    if args.instructions:
        need("valgrind", "valgrind")
        counts = {}
        for name, extra in variants:
            env = {**server_env(3294), **extra}
            counts[name] = callgrind_per_request(RELEASE / "bench-framework", env,
                                                 "http://127.0.0.1:3294/greet/intro")
            print(f"{name:16} {counts[name]:9.0f} instructions/request", flush=True)
        write_csv("policy-instructions.csv", [{"variant": n, "instructions_per_request": round(c)}
                                              for n, c in counts.items()])
        print(f"\n{'GET /greet/intro':16} {'instr/req':>10} {'vs defaults':>12}")
        for name, count in counts.items():
            print(f"{name:16} {count:10.0f} {count / counts['defaults']:12.3f}")
        print("\nuserland instructions per request of the server process (callgrind, 4 connections)")
        return
    running = [(name, Server(name, RELEASE / "bench-framework", 3301 + i, None, env))
               for i, (name, env) in enumerate(variants)]
    rows = []
    try:
        for _, server in running:
            wrk(server.base + "/greet/intro", 2, args.connections)  # warm-up
        for round_ in range(1, args.rounds + 1):
            order = running if round_ % 2 else list(reversed(running))
            for name, server in order:
                before = cpu_seconds(server.process.pid)
                user_before = user_seconds(server.process.pid)
                rps, total, p50, p99 = wrk(server.base + "/greet/intro", args.duration, args.connections)
                cpu_us = (cpu_seconds(server.process.pid) - before) * 1e6 / total
                user_us = (user_seconds(server.process.pid) - user_before) * 1e6 / total
                rows.append({"round": round_, "variant": name, "rps": round(rps), "p99_us": round(p99),
                             "cpu_us_per_req": round(cpu_us, 3), "user_us_per_req": round(user_us, 3)})
                print(f"round {round_:2}  {name:11} {rps:10.0f} req/s  p99 {p99:7.0f} us  cpu {cpu_us:6.3f} us/req", flush=True)
        # Latency one request at a time (1 connection): what each variant adds to a request.
        latency = {}
        for name, server in running:
            _, _, p50, p99 = wrk(server.base + "/greet/intro", args.duration, 1)
            latency[name] = (p50, p99)
    finally:
        for _, server in running:
            server.stop()
    write_csv("policy.csv", rows)
    def ratio(name, column):
        by_round = {}
        for r in rows:
            by_round.setdefault(r["round"], {})[r["variant"]] = r[column]
        return statistics.median(v[name] / v["defaults"] for v in by_round.values())

    print(f"\n{'GET /greet/intro':18} {'cpu us/req':>11} {'vs defaults':>12} {'user us/req':>12} "
          f"{'vs defaults':>12} {'req/s':>9} {'p50 us':>8} {'p99 us':>8}")
    for name, _ in variants:
        cpu = statistics.median(r["cpu_us_per_req"] for r in rows if r["variant"] == name)
        user = statistics.median(r["user_us_per_req"] for r in rows if r["variant"] == name)
        rps = statistics.median(r["rps"] for r in rows if r["variant"] == name)
        print(f"{name:18} {cpu:11.3f} {ratio(name, 'cpu_us_per_req'):12.3f} {user:12.3f} "
              f"{ratio(name, 'user_us_per_req'):12.3f} {rps:9.0f} {latency[name][0]:8.0f} {latency[name][1]:8.0f}")
    print(f"\n{args.rounds} rounds of {args.duration} s per variant, {args.connections} connections; "
          f"server on core 1 (1 Tokio worker), wrk on core 0; CSV: {RESULTS / 'policy.csv'}")


def cluster(args):
    """Requests per second and latency through HAProxy with 1, 2 and 3 showcase instances
    (`examples/cluster/cluster.sh`, release build) on one PostgreSQL and one Redis, everything
    on this machine: on 2 cores, the instances, HAProxy, PostgreSQL and wrk share the same two
    CPUs, so more instances cannot add capacity here; the numbers show what the hops cost."""
    need("wrk", "wrk")
    RESULTS.mkdir(parents=True, exist_ok=True)
    script = ROOT / "examples" / "cluster" / "cluster.sh"
    env = {**os.environ, "CLUSTER_RELEASE": "1", "CLUSTER_PORT": "3300",
           "CLUSTER_DIR": "/tmp/endpoint-bench-cluster"}
    env.pop("RUST_LOG", None)
    paths = [("GET /greet/intro", "/greet/intro"), ("GET /recipes/popular", "/recipes/popular")]
    counts = [int(n) for n in args.instances.split(",")]
    rows = []
    for n in counts:
        subprocess.run(["bash", str(script), "start", str(n)], check=True, env=env,
                       stdout=subprocess.DEVNULL)
        try:
            for label, path in paths:
                url = "http://127.0.0.1:3300" + path
                wrk(url, 2, args.connections)  # warm-up
                for round_ in range(1, args.rounds + 1):
                    rps, _, p50, p99 = wrk(url, args.duration, args.connections)
                    rows.append({"instances": n, "route": label, "round": round_, "rps": round(rps),
                                 "p50_us": round(p50), "p99_us": round(p99)})
                    print(f"{n} instance(s)  {label:22} round {round_}  {rps:8.0f} req/s  "
                          f"p50 {p50:7.0f} us  p99 {p99:7.0f} us", flush=True)
        finally:
            subprocess.run(["bash", str(script), "stop"], env=env, stdout=subprocess.DEVNULL)
    write_csv("cluster.csv", rows)
    print(f"\n{'through HAProxy':24} {'instances':>9} {'req/s':>9} {'p50 us':>8} {'p99 us':>8}")
    for label, _ in paths:
        for n in counts:
            mine = [r for r in rows if r["instances"] == n and r["route"] == label]
            print(f"{label:24} {n:9} {statistics.median(r['rps'] for r in mine):9.0f} "
                  f"{statistics.median(r['p50_us'] for r in mine):8.0f} "
                  f"{statistics.median(r['p99_us'] for r in mine):8.0f}")
    print(f"\nmedians of {args.rounds} rounds of {args.duration} s, {args.connections} connections, wrk "
          f"(1 thread) on core 0; CSV: {RESULTS / 'cluster.csv'}")


def callgrind_run(binary, env, url, seconds, lua=None, headers=()):
    """Runs `binary` (listening on `url`'s port, from `env`) under callgrind while `wrk` sends
    to `url` for `seconds` on 4 connections; returns (requests, userland instructions)."""
    out_dir = ROOT / "target" / "bench-callgrind"
    out_dir.mkdir(parents=True, exist_ok=True)
    out = out_dir / f"callgrind.{seconds}.out"
    process = subprocess.Popen(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", str(binary)],
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        deadline = time.time() + 120
        for line in process.stdout:
            if line.startswith("listening on "):
                break
            if time.time() > deadline:
                raise RuntimeError(f"{binary} did not start under valgrind")
        cmd = ["wrk", "-t1", "-c4", f"-d{seconds}s"]
        for header in headers:
            cmd += ["-H", header]
        if lua:
            cmd += ["-s", str(lua)]
        text = sh(cmd + [url]).stdout
        if re.search(r"Non-2xx or 3xx responses: (\d+)", text):
            raise RuntimeError(f"{url}: non-2xx responses under valgrind\n{text}")
        requests = int(re.search(r"(\d+) requests in", text).group(1))
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=120)
    total = next(int(line.split()[1]) for line in out.read_text().splitlines()
                 if line.startswith(("summary:", "totals:")))
    return requests, total


def callgrind_per_request(binary, env, url, lua=None, headers=()):
    """Instructions per request: a short and a long run, the difference of the totals over the
    difference of the request counts (start-up and shutdown cancel out)."""
    short = callgrind_run(binary, env, url, 2, lua, headers)
    long = callgrind_run(binary, env, url, 6, lua, headers)
    return (long[1] - short[1]) / (long[0] - short[0])


def instructions(args):
    """Userland instructions per request of the whole server process (hyper, routing,
    middleware, handler, logging; not the kernel), counted by callgrind: deterministic where
    req/s on this VM is not. Each server runs under `valgrind --tool=callgrind` twice, with
    `wrk` for a short and a long time; the difference of the totals over the difference of the
    request counts removes start-up and shutdown. `fw-warn` is the framework with
    `RUST_LOG=warn` (no request span), `fw-json` with `ENDPOINT_LOG_FORMAT=json`."""
    need("wrk", "wrk")
    need("valgrind", "valgrind")
    RESULTS.mkdir(parents=True, exist_ok=True)
    routes = bench_routes()
    # (name, binary, RUST_LOG, ENDPOINT_LOG_FORMAT)
    servers = [("framework", RELEASE / "bench-framework", None, None),
               ("fw-warn", RELEASE / "bench-framework", "warn", None),
               ("fw-json", RELEASE / "bench-framework", None, "json"),
               ("axum", RELEASE / "bench-axum", None, None),
               ("hyper", RELEASE / "bench-hyper", None, None),
               ("actix", RELEASE / "bench-actix", None, None)]
    build_baselines()
    if args.servers:
        wanted = set(args.servers.split(",")) | {"axum"}
        servers = [s for s in servers if s[0] in wanted]
    names = [name for name, *_ in servers if name != "axum"]
    rows = []
    for label, path, lua, headers in routes:
        for name, binary, rust_log, log_format in servers:
            sent = headers if name.startswith("f") else ()
            url = f"http://127.0.0.1:3294{path}"
            per_request = callgrind_per_request(binary, server_env(3294, rust_log, log_format), url, lua, sent)
            rows.append({"route": label, "server": name, "instructions_per_request": round(per_request)})
            print(f"{label:32} {name:9} {per_request:9.0f} instructions/request", flush=True)
    write_csv("instructions.csv", rows)
    print()
    print(f"{'route':34} {'axum':>10}" + "".join(f" {name:>10} {'ratio':>6}" for name in names))
    for label, *_ in routes:
        value = {r["server"]: r["instructions_per_request"] for r in rows if r["route"] == label}
        print(f"{label:34} {value['axum']:10}" + "".join(
            f" {value[name]:10} {value[name] / value['axum']:6.2f}" for name in names))
    print(f"\nuserland instructions per request of the server process (callgrind); CSV: {RESULTS / 'instructions.csv'}")


RUNTIME_DEPENDENCY = f'endpoint-runtime = {{ path = "{ROOT / "endpoint-runtime"}" }}\n'


def write_crate(name, dependencies, extra=""):
    """An empty standalone crate under target/bench-gen/ (its own workspace, this workspace's
    Cargo.lock so that dependency versions match); returns its directory."""
    crate = ROOT / "target" / "bench-gen" / name
    (crate / "src").mkdir(parents=True, exist_ok=True)
    (crate / "Cargo.toml").write_text(f"""[package]
name = "{name}"
version = "0.1.0"
edition = "2024"
publish = false

[dependencies]
{dependencies}
{extra}
[workspace]
""")
    shutil.copy(ROOT / "Cargo.lock", crate / "Cargo.lock")
    return crate


def generate_app(count):
    """A crate with `count` endpoints in groups of 100, built against this workspace's runtime."""
    crate = write_crate(f"bench-app-{count}", RUNTIME_DEPENDENCY, "[profile.release]\ndebug = false\n")
    lines = ["use endpoint_runtime::prelude::*;", ""]
    for i in range(count):
        lines.append(f'#[endpoint(id = "g{i // 100}", route = "/e{i}")]')
        lines.append(f"async fn e{i}() -> &'static str {{ \"ok {i}\" }}")
    lines += ["", "#[endpoint_runtime::main]",
              "async fn main() -> Result<(), endpoint_runtime::Error> {",
              "    endpoint_runtime::run().await", "}", ""]
    (crate / "src" / "main.rs").write_text("\n".join(lines))
    return crate


def startup(args):
    import urllib.request
    RESULTS.mkdir(parents=True, exist_ok=True)
    rows = []
    for count in [int(n) for n in args.sizes.split(",")]:
        crate = generate_app(count)
        started = time.time()
        sh(["cargo", "build", "--release", "-q", "--offline"], cwd=crate,
           env={**os.environ, "CARGO_TARGET_DIR": str(ROOT / "target" / "bench-gen" / "target")})
        build_s = time.time() - started
        binary = ROOT / "target" / "bench-gen" / "target" / "release" / f"bench-app-{count}"
        samples = []
        for _ in range(args.repeat):
            port = 3300
            env = {**os.environ, "ENDPOINT_PORT": str(port), "ENDPOINT_HOST": "127.0.0.1", "RUST_LOG": "warn"}
            url = f"http://127.0.0.1:{port}/g{(count - 1) // 100}/e{count - 1}"
            begin = time.perf_counter()
            process = subprocess.Popen([str(binary)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                while True:
                    try:
                        with urllib.request.urlopen(url, timeout=1) as response:
                            assert response.read().decode() == f"ok {count - 1}"
                            break
                    except OSError:
                        if time.perf_counter() - begin > 30:
                            raise RuntimeError(f"{count} endpoints: no answer within 30 s")
                        time.sleep(0.002)
                first_ms = (time.perf_counter() - begin) * 1000
                rss_kib = int(re.search(r"VmRSS:\s+(\d+)", Path(f"/proc/{process.pid}/status").read_text()).group(1))
            finally:
                process.terminate()
                process.wait(timeout=10)
            samples.append((first_ms, rss_kib))
        first = statistics.median(s[0] for s in samples)
        rss = statistics.median(s[1] for s in samples)
        rows.append({"endpoints": count, "first_request_ms": round(first, 1), "rss_mib": round(rss / 1024, 1), "release_build_s": round(build_s, 1)})
        print(f"{count:>6} endpoints: first request after {first:7.1f} ms, RSS {rss / 1024:6.1f} MiB (release build {build_s:.0f} s)", flush=True)
    write_csv("startup.csv", rows)
    print(f"\nmedians of {args.repeat} starts; time from process start to the first successful request to the last endpoint; CSV: {RESULTS / 'startup.csv'}")


def generate_compile_crate(kind, count):
    """`count` handlers (text, and JSON from a typed path parameter, alternately) written with
    the framework (`kind = "framework"`) or in plain axum (`kind = "axum"`)."""
    serde = 'serde = { version = "1", features = ["derive"] }\n'
    deps = (RUNTIME_DEPENDENCY + serde if kind == "framework" else
            'axum = "0.8"\ntokio = { version = "1", features = ["rt-multi-thread", "macros", "net"] }\n' + serde)
    crate = write_crate(f"compile-{kind}-{count}", deps)
    lines = []
    if kind == "framework":
        lines += ["use endpoint_runtime::prelude::*;", "use serde::Serialize;", ""]
    else:
        lines += ["use axum::{Json, Router, extract::Path, routing::get};", "use serde::Serialize;", ""]
    lines += ["#[derive(Serialize)]", "struct Item { id: u64, name: &'static str }", ""]
    routes = []
    for i in range(count):
        group = f"g{i // 20}"
        if kind == "framework":
            if i % 2:
                lines.append(f'#[endpoint(id = "{group}", route = "/e{i}/{{id}}")]')
                lines.append(f'async fn e{i}(id: u64) -> Json<Item> {{ Json(Item {{ id, name: "item {i}" }}) }}')
            else:
                lines.append(f'#[endpoint(id = "{group}", route = "/e{i}")]')
                lines.append(f"async fn e{i}() -> &'static str {{ \"ok {i}\" }}")
        else:
            if i % 2:
                lines.append(f'async fn e{i}(Path(id): Path<u64>) -> Json<Item> {{ Json(Item {{ id, name: "item {i}" }}) }}')
                routes.append(f'        .route("/{group}/e{i}/{{id}}", get(e{i}))')
            else:
                lines.append(f"async fn e{i}() -> &'static str {{ \"ok {i}\" }}")
                routes.append(f'        .route("/{group}/e{i}", get(e{i}))')
    if kind == "framework":
        lines += ["", "#[endpoint_runtime::main]",
                  "async fn main() -> Result<(), endpoint_runtime::Error> {",
                  "    endpoint_runtime::run().await", "}", ""]
    else:
        lines += ["", "#[tokio::main]", "async fn main() {", "    let app = Router::new()", *routes, "        ;",
                  '    let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await.unwrap();',
                  "    axum::serve(listener, app).await.unwrap();", "}", ""]
    (crate / "src" / "main.rs").write_text("\n".join(lines))
    return crate


def compile_cost(args):
    """Debug builds (the edit-compile loop) in one shared target directory: the first build
    (dependencies included), a clean build of the crate alone (`cargo clean -p`), then
    `--repeat` incremental builds, each after editing the body of one handler."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    target = ROOT / "target" / "bench-gen" / "target-compile"
    env = {**os.environ, "CARGO_TARGET_DIR": str(target)}
    rows = []
    for kind in ("framework", "axum"):
        crate = generate_compile_crate(kind, args.endpoints)
        name = crate.name

        def build():
            started = time.perf_counter()
            sh(["cargo", "build", "-q", "--offline"], cwd=crate, env=env)
            return time.perf_counter() - started

        first = build()
        cleans, incrementals = [], []
        main = crate / "src" / "main.rs"
        original = main.read_text()
        for n in range(args.repeat):
            sh(["cargo", "clean", "-q", "--offline", "-p", name], cwd=crate, env=env)
            cleans.append(build())
        for n in range(args.repeat):
            # Edit one handler's body (the one in the middle), as a developer would.
            edited = original.replace(f'"ok {args.endpoints // 2}"', f'"edited {n}"')
            assert edited != original
            main.write_text(edited)
            incrementals.append(build())
        main.write_text(original)
        row = {"kind": kind, "endpoints": args.endpoints, "first_build_s": round(first, 1),
               "clean_crate_s": round(statistics.median(cleans), 2),
               "incremental_s": round(statistics.median(incrementals), 2)}
        rows.append(row)
        print(f"{kind:9} {args.endpoints} handlers: first build (with dependencies) {first:6.1f} s, "
              f"clean crate {row['clean_crate_s']:6.2f} s, incremental {row['incremental_s']:6.2f} s", flush=True)
    write_csv("compile.csv", rows)
    fw, ax = rows
    print(f"\nframework/axum: clean crate {fw['clean_crate_s'] / ax['clean_crate_s']:.2f}, "
          f"incremental {fw['incremental_s'] / ax['incremental_s']:.2f} "
          f"(medians of {args.repeat}; debug profile; CSV: {RESULTS / 'compile.csv'})")


def confined(args):
    """Latency of a confined endpoint over the same body from a normal one, with warm workers,
    one connection (sequential requests), and the cost of a cold worker (spawn, sandbox,
    handshake) as the server measures it at start-up."""
    need("wrk", "wrk")
    RESULTS.mkdir(parents=True, exist_ok=True)
    sh(["cargo", "build", "--release", "-q", "-p", "endpoint-bench"], cwd=ROOT)
    rows = []
    cold = []
    for round_ in range(1, args.rounds + 1):
        server = Server("framework", RELEASE / "bench-framework", 3293)
        try:
            for label, path in [("normal", "/sandbox/plain"), ("confined", "/sandbox/greet")]:
                wrk(server.base + path, 1, 1)  # warm-up
                rps, total, p50, p99 = wrk(server.base + path, args.duration, 1)
                rows.append({"round": round_, "endpoint": label, "rps": round(rps), "p50_us": p50, "p99_us": p99})
                print(f"round {round_}  {label:9} {rps:8.0f} req/s  p50 {p50:7.1f} us  p99 {p99:7.1f} us", flush=True)
            cold.append(server.cold_start_ms)
        finally:
            server.stop()
    write_csv("confined.csv", rows)

    def med(label, key):
        return statistics.median(r[key] for r in rows if r["endpoint"] == label)
    added50 = med("confined", "p50_us") - med("normal", "p50_us")
    added99 = med("confined", "p99_us") - med("normal", "p99_us")
    print(f"\nmedian p50: normal {med('normal', 'p50_us'):.1f} us, confined {med('confined', 'p50_us'):.1f} us: "
          f"added {added50:.1f} us (target <= 100 us); p99 added {added99:.1f} us")
    print(f"cold worker (spawn + sandbox + handshake): median {statistics.median(cold):.1f} ms of {len(cold)} starts")
    print(f"{args.rounds} rounds, {args.duration} s each, 1 connection; server on core 1, wrk on core 0; CSV: {RESULTS / 'confined.csv'}")


def flood(args):
    """The hostile-client check of the connection limits: a server started under `ulimit -n
    NOFILE` gets SOCKETS silent connections (more than it has descriptors for), then
    sequential requests on new connections for DURATION seconds: how many are served, how
    fast, and what the server logged. Then how long one silent socket stays open under the
    default header-read timeout. The server is the `greet` example (a debug build unless
    --binary says otherwise)."""
    import resource
    import socket
    import urllib.request
    binary = Path(args.binary) if args.binary else TARGET / "debug" / "examples" / "greet"
    if not args.binary:
        sh(["cargo", "build", "-q", "-p", "endpoint-examples", "--example", "greet"], cwd=ROOT)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # this side holds the flood

    def start(port, nofile):
        env = {**os.environ, "ENDPOINT_PORT": str(port), "ENDPOINT_HOST": "127.0.0.1", "RUST_LOG": "warn"}
        log = open(RESULTS / f"flood-{port}.log", "w")
        process = subprocess.Popen(["sh", "-c", f'ulimit -n {nofile} && exec "$0"', str(binary)],
                                   env=env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.time() + 20
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                return process
            except OSError:
                time.sleep(0.05)
        process.kill()
        raise SystemExit(f"the server on port {port} did not start; see {log.name}")

    RESULTS.mkdir(parents=True, exist_ok=True)
    port = 3295
    server = start(port, args.nofile)
    silent = []
    try:
        for _ in range(args.sockets):
            s = socket.socket()
            s.settimeout(2)
            try:
                s.connect(("127.0.0.1", port))
            except OSError as error:
                print(f"silent socket {len(silent) + 1} could not connect: {error}")
                break
            silent.append(s)
        served, failed, latencies = 0, 0, []
        end = time.time() + args.duration
        while time.time() < end:
            started = time.perf_counter()
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/greet/intro", timeout=1) as response:
                    response.read()
                served += 1
                latencies.append((time.perf_counter() - started) * 1000)
            except OSError:
                failed += 1
        rss = next((line.split()[1] for line in Path(f"/proc/{server.pid}/status").read_text().splitlines()
                    if line.startswith("VmHWM")), "?")
    finally:
        for s in silent:
            s.close()
        server.terminate()
        server.wait(timeout=10)
    latencies.sort()
    p50 = latencies[len(latencies) // 2] if latencies else float("nan")
    p99 = latencies[int(len(latencies) * 0.99)] if latencies else float("nan")
    warnings = sum(1 for line in open(RESULTS / f"flood-{port}.log") if "WARN" in line)
    print(f"flood: {len(silent)} silent sockets under ulimit -n {args.nofile}, then {args.duration} s of requests")
    print(f"  served {served}, failed {failed}, p50 {p50:.2f} ms, p99 {p99:.2f} ms, server peak RSS {rss} kB, "
          f"{warnings} WARN lines in the log")

    server = start(port + 1, args.nofile)
    try:
        s = socket.create_connection(("127.0.0.1", port + 1))
        s.settimeout(60)
        started = time.perf_counter()
        try:
            s.recv(1)
        except OSError:
            pass
        print(f"one silent socket (default ENDPOINT_HEADER_READ_TIMEOUT) was closed after "
              f"{time.perf_counter() - started:.2f} s")
    finally:
        server.terminate()
        server.wait(timeout=10)
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def confined_flood(args):
    """Peak memory of the server under REQUESTS parallel POSTs of SIZE MiB JSON bodies to a
    confined endpoint (sandbox-lab's `/lab/echo/{name}`): the bodies must not be buffered
    before a worker is free (ENDPOINT_CONFINED_QUEUE). Prints the statuses and the server's
    VmHWM before and after. A debug build unless --binary says otherwise."""
    import concurrent.futures
    import http.client
    import json
    import socket
    binary = Path(args.binary) if args.binary else TARGET / "debug" / "examples" / "sandbox-lab"
    if not args.binary:
        sh(["cargo", "build", "-q", "-p", "endpoint-examples", "--example", "sandbox-lab"], cwd=ROOT)
    port = 3297
    env = {**os.environ, "ENDPOINT_PORT": str(port), "ENDPOINT_HOST": "127.0.0.1", "RUST_LOG": "error"}
    server = subprocess.Popen([str(binary)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if time.time() > deadline:
                server.kill()
                raise SystemExit("sandbox-lab did not start")
            time.sleep(0.05)

    def hwm():
        return next(int(line.split()[1]) for line in Path(f"/proc/{server.pid}/status").read_text().splitlines()
                    if line.startswith("VmHWM"))

    body = json.dumps({"text": "x" * (args.size_mib * 1024 * 1024 - 16)}).encode()

    def post(_):
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            connection.request("POST", "/lab/echo/flood", body=body, headers={"content-type": "application/json"})
            status = connection.getresponse().status
            connection.close()
            return status
        except OSError as error:
            return type(error).__name__

    try:
        before = hwm()
        with concurrent.futures.ThreadPoolExecutor(args.requests) as pool:
            statuses = list(pool.map(post, range(args.requests)))
        after = hwm()
    finally:
        server.terminate()
        server.wait(timeout=10)
    counts = {}
    for status in statuses:
        counts[status] = counts.get(status, 0) + 1
    print(f"confined flood: {args.requests} parallel POSTs of {len(body)} B to /lab/echo/flood")
    print(f"  answers: {dict(sorted(counts.items(), key=str))}")
    print(f"  server peak RSS (VmHWM): {before} kB before, {after} kB after")


GREET = (ROOT / "examples" / "greet" / "main.rs").read_text()

AXUM_HELLO = """use axum::{Router, routing::get};

#[tokio::main]
async fn main() {
    let app = Router::new()
        .route("/greet", get(|| async { "Hello, World!" }))
        .route("/greet/intro", get(|| async { "Nice to meet you." }))
        .route("/greet/goodbye", get(|| async { "Goodbye!" }));
    let port = std::env::var("PORT").unwrap_or_else(|_| "3210".into());
    let listener = tokio::net::TcpListener::bind(format!("127.0.0.1:{port}")).await.unwrap();
    axum::serve(listener, app).await.unwrap();
}
"""


def build_size(args):
    """Cold release builds (a new target directory each time, so every dependency is compiled)
    of `examples/greet` with the runtime's default features, with `default-features = false`,
    and of the same three routes in plain axum (axum's default features, tokio's
    multi-threaded runtime); medians of `--repeat`, and the size of each binary as built and
    stripped."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    minimal = f'endpoint-runtime = {{ path = "{ROOT / "endpoint-runtime"}", default-features = false }}\n'
    crates = [
        ("greet (default features)", write_crate("bench-greet-default", RUNTIME_DEPENDENCY), GREET),
        ("greet (default-features = false)", write_crate("bench-greet-minimal", minimal), GREET),
        ("plain axum hello", write_crate(
            "bench-axum-hello",
            'axum = "0.8"\ntokio = { version = "1", features = ["rt-multi-thread", "macros", "net"] }\n'),
         AXUM_HELLO),
    ]
    rows = []
    for label, crate, source in crates:
        (crate / "src" / "main.rs").write_text(source)
        target = ROOT / "target" / "bench-gen" / f"target-{crate.name}"
        env = {**os.environ, "CARGO_TARGET_DIR": str(target)}
        times = []
        for _ in range(args.repeat):
            shutil.rmtree(target, ignore_errors=True)
            started = time.perf_counter()
            sh(["cargo", "build", "-q", "--release", "--offline"], cwd=crate, env=env)
            times.append(time.perf_counter() - started)
        binary = target / "release" / crate.name
        stripped = target / "stripped"
        shutil.copy(binary, stripped)
        sh(["strip", str(stripped)])
        row = {"build": label, "cold_release_build_s": round(statistics.median(times), 1),
               "builds_s": " ".join(f"{t:.1f}" for t in times),
               "binary_mib": round(binary.stat().st_size / 2**20, 2),
               "stripped_mib": round(stripped.stat().st_size / 2**20, 2)}
        rows.append(row)
        shutil.rmtree(target, ignore_errors=True)
        print(f"{label:34} cold release build {row['cold_release_build_s']:6.1f} s "
              f"({row['builds_s']}), binary {row['binary_mib']:6.2f} MiB, "
              f"stripped {row['stripped_mib']:6.2f} MiB", flush=True)
    write_csv("build-size.csv", rows)
    axum = rows[-1]
    print()
    for row in rows[:-1]:
        print(f"{row['build']:34} / axum: build {row['cold_release_build_s'] / axum['cold_release_build_s']:.2f}x, "
              f"binary {row['binary_mib'] / axum['binary_mib']:.2f}x, "
              f"stripped {row['stripped_mib'] / axum['stripped_mib']:.2f}x")
    print(f"(medians of {args.repeat}; this machine: {os.cpu_count()} cores; CSV: {RESULTS / 'build-size.csv'})")


async def sse_client(port, events):
    """One `GET /streams/sse` kept open: its head and first event read, then every event
    counted in `events` until the connection closes."""
    import asyncio
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET /streams/sse HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                 "Accept: text/event-stream\r\n\r\n".encode())
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    if b" 200 " not in head.split(b"\r\n")[0]:
        raise RuntimeError(f"SSE answered {head[:40]!r}")
    await reader.readuntil(b"\n\n")
    events[0] += 1

    async def drain():
        try:
            while True:
                await reader.readuntil(b"\n\n")
                events[0] += 1
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            pass
    return writer, asyncio.ensure_future(drain())


def ws_frame(payload):
    """A masked text frame, as a client sends it (RFC 6455 §5.2)."""
    mask = os.urandom(4)
    size = len(payload)
    head = bytes([0x81]) + (bytes([0x80 | size]) if size < 126 else bytes([0x80 | 126]) + size.to_bytes(2, "big"))
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


async def ws_read(reader):
    """One unmasked frame from the server: its payload."""
    first = await reader.readexactly(2)
    size = first[1] & 0x7F
    if size == 126:
        size = int.from_bytes(await reader.readexactly(2), "big")
    return await reader.readexactly(size)


async def ws_client(port):
    """One `GET /streams/ws` upgraded; returns its reader and writer."""
    import asyncio
    import base64
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write(f"GET /streams/ws HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
                 f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode())
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    if b" 101 " not in head.split(b"\r\n")[0]:
        raise RuntimeError(f"WebSocket answered {head[:40]!r}")
    return reader, writer


async def ws_round(sockets, payload):
    """Every socket sends `payload` and reads it back."""
    import asyncio

    async def one(reader, writer):
        writer.write(ws_frame(payload))
        await writer.drain()
        if await ws_read(reader) != payload:
            raise RuntimeError("the echo differs")
    await asyncio.gather(*(one(r, w) for r, w in sockets))


async def upload_client(port, mib):
    """One chunked `POST /streams/upload` of `mib` MiB, sent as fast as the server takes it."""
    import asyncio
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"POST /streams/upload HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                 "Content-Type: application/octet-stream\r\nTransfer-Encoding: chunked\r\n"
                 "Connection: close\r\n\r\n".encode())
    chunk = b"%x\r\n" % (64 * 1024) + bytes(64 * 1024) + b"\r\n"
    for _ in range(mib * 16):
        writer.write(chunk)
        await writer.drain()
    writer.write(b"0\r\n\r\n")
    await writer.drain()
    answer = await reader.read()
    writer.close()
    if not answer.endswith(str(mib << 20).encode()):
        raise RuntimeError(f"upload answered {answer[:60]!r}")


async def download_client(port, mib):
    """One `GET /streams/download/{mib}`, read to its end."""
    import asyncio
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET /streams/download/{mib} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                 "Connection: close\r\n\r\n".encode())
    await writer.drain()
    total = 0
    while True:
        data = await reader.read(256 * 1024)
        if not data:
            break
        total += len(data)
    writer.close()
    if total < mib << 20:
        raise RuntimeError(f"download ended after {total} bytes")


def sampled_peak(pid, stop):
    """The highest `RssAnon` seen every 20 ms until `stop` is set, in MiB (a list of one)."""
    peak = [0.0]

    def sample():
        while not stop.is_set():
            peak[0] = max(peak[0], status_mib(pid, "RssAnon"))
            time.sleep(0.02)
    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    return peak, thread


def streams(args):
    """What an open stream costs the server in memory, the framework beside plain axum: N
    server-sent-event streams (one event a second, read by the client), then N WebSockets that
    each echo ROUNDS messages of SIZE bytes. The server's resident anonymous memory (heap and
    stacks, `RssAnon`) is read with no stream open and with all N open; the difference over N is
    the cost of one. Release builds, one Tokio worker each, servers on core 1."""
    import asyncio
    import resource
    sh(["cargo", "build", "--release", "-q", "-p", "endpoint-bench"], cwd=ROOT)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # both sides hold N sockets
    payload = os.urandom(args.size // 2).hex().encode()[:args.size]
    rows = []

    async def sse_run(server):
        events = [0]
        clients = await asyncio.gather(*(sse_client(server.port, events) for _ in range(args.connections)))
        await asyncio.sleep(args.hold)  # events flow meanwhile: the load
        rss = status_mib(server.process.pid, "RssAnon")
        for writer, task in clients:
            writer.close()
            task.cancel()
        return rss, events[0]

    async def ws_run(server):
        sockets = await asyncio.gather(*(ws_client(server.port) for _ in range(args.connections)))
        for _ in range(args.rounds):
            await ws_round(sockets, payload)
        rss = status_mib(server.process.pid, "RssAnon")
        for _, writer in sockets:
            writer.close()
        return rss, args.rounds * args.connections

    async def transfer_run(server, client):
        stop = threading.Event()
        peak, thread = sampled_peak(server.process.pid, stop)
        await asyncio.gather(*(client(server.port, args.mib) for _ in range(args.transfers)))
        stop.set()
        thread.join()
        return peak[0], args.transfers

    async def upload_run(server):
        return await transfer_run(server, upload_client)

    async def download_run(server):
        return await transfer_run(server, download_client)

    paths = (("sse", sse_run, args.connections), ("ws", ws_run, args.connections),
             ("upload", upload_run, args.transfers), ("download", download_run, args.transfers))
    for name, binary, port in (("framework", "bench-framework", 3291), ("axum", "bench-axum", 3292)):
        for path, run, count in paths:
            server = Server(name, RELEASE / binary, port, rust_log="warn")
            try:
                time.sleep(0.5)  # start-up allocations settle
                idle = status_mib(server.process.pid, "RssAnon")
                rss, messages = asyncio.run(run(server))
                peak = peak_rss_mib(server.process.pid)
            finally:
                server.stop()
            rows.append({"server": name, "path": path, "connections": count,
                         "idle_rss_anon_mib": round(idle, 2), "open_rss_anon_mib": round(rss, 2),
                         "kib_per_connection": round((rss - idle) * 1024 / count, 1),
                         "peak_rss_mib": round(peak, 1), "messages": messages})
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    print(f"streams: {args.connections} open at once; SSE held {args.hold} s (1 event/s), "
          f"WebSocket {args.rounds} echoes of {args.size} B each; {args.transfers} streamed "
          f"uploads and downloads of {args.mib} MiB at once (their peak heap, sampled every 20 ms)")
    print(f"{'path':<10}{'server':<11}{'idle MiB':>10}{'open MiB':>10}{'KiB/conn':>10}{'peak MiB':>10}{'messages':>10}")
    for row in rows:
        print(f"{row['path']:<10}{row['server']:<11}{row['idle_rss_anon_mib']:>10}{row['open_rss_anon_mib']:>10}"
              f"{row['kib_per_connection']:>10}{row['peak_rss_mib']:>10}{row['messages']:>10}")
    for path, *_ in paths:
        cost = {row["server"]: row["kib_per_connection"] for row in rows if row["path"] == path}
        print(f"  {path}: the framework's connection costs {cost['framework'] / cost['axum']:.2f}x axum's")
    write_csv("streams", rows)


def write_csv(name, rows):
    with open(RESULTS / name, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    t = sub.add_parser("throughput", help="CPU per request, p99, req/s and peak RSS: framework, axum, hyper, actix-web, axum + tower-http")
    t.add_argument("--rounds", type=int, default=5)
    t.add_argument("--duration", type=int, default=2)
    t.add_argument("--connections", type=int, default=64)
    t.add_argument("--warn-variant", action="store_true",
                   help="also the framework with RUST_LOG=warn (nothing logged per request)")
    t.add_argument("--servers", help="a comma-separated subset of " +
                   ",".join(name for name, *_ in THROUGHPUT_SERVERS) + " (axum is always run)")
    st = sub.add_parser("startup", help="time to first request and RSS with many endpoints")
    st.add_argument("--sizes", default="100,1000,10000")
    st.add_argument("--repeat", type=int, default=5)
    cf = sub.add_parser("confined", help="added latency of a confined endpoint, and a cold worker's cost")
    cf.add_argument("--rounds", type=int, default=3)
    cf.add_argument("--duration", type=int, default=5)
    fl = sub.add_parser("flood", help="silent sockets past the descriptor limit; requests served meanwhile")
    fl.add_argument("--sockets", type=int, default=1100)
    fl.add_argument("--nofile", type=int, default=1024)
    fl.add_argument("--duration", type=int, default=5)
    fl.add_argument("--binary", help="the server to flood (default: the greet example, debug build)")
    cfl = sub.add_parser("confined-flood", help="peak RSS under parallel large POSTs to a confined endpoint")
    cfl.add_argument("--requests", type=int, default=300)
    cfl.add_argument("--size-mib", type=int, default=1)
    cfl.add_argument("--binary", help="the server (default: the sandbox-lab example, debug build)")
    ins = sub.add_parser("instructions", help="userland instructions per request of each server, under callgrind")
    ins.add_argument("--servers", help="a comma-separated subset of framework,fw-warn,fw-json,hyper,actix (axum is always run)")
    po = sub.add_parser("policy", help="CPU per request with metrics, a rate limit, the access log")
    po.add_argument("--rounds", type=int, default=7)
    po.add_argument("--duration", type=int, default=2)
    po.add_argument("--connections", type=int, default=50)
    po.add_argument("--redis", metavar="URL",
                    help="also a rate limit in Redis at URL (`bash .ci/redis.sh start` prints one)")
    po.add_argument("--instructions", action="store_true",
                    help="count userland instructions per request under callgrind instead (deterministic)")
    cl = sub.add_parser("cluster", help="req/s and latency through HAProxy with 1, 2, 3 showcase instances")
    cl.add_argument("--instances", default="1,2,3")
    cl.add_argument("--rounds", type=int, default=3)
    cl.add_argument("--duration", type=int, default=5)
    cl.add_argument("--connections", type=int, default=50)
    c = sub.add_parser("compile", help="clean and incremental build times, framework vs axum")
    c.add_argument("--endpoints", type=int, default=200)
    c.add_argument("--repeat", type=int, default=3)
    sm = sub.add_parser("streams", help="memory per open SSE stream and WebSocket under load, framework vs axum")
    sm.add_argument("--connections", type=int, default=1000)
    sm.add_argument("--hold", type=int, default=3, help="seconds the SSE streams stay open, events flowing")
    sm.add_argument("--rounds", type=int, default=5, help="echoes per WebSocket")
    sm.add_argument("--size", type=int, default=1024, help="bytes per WebSocket message")
    sm.add_argument("--transfers", type=int, default=50, help="concurrent streamed uploads and downloads")
    sm.add_argument("--mib", type=int, default=16, help="MiB per upload and download")
    b = sub.add_parser("build-size", help="cold release build time and binary size: greet, minimal greet, axum")
    b.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    {"build-size": build_size, "throughput": throughput, "startup": startup, "compile": compile_cost, "confined": confined,
     "instructions": instructions, "flood": flood, "confined-flood": confined_flood,
     "policy": policy, "cluster": cluster, "streams": streams}[args.command](args)


if __name__ == "__main__":
    main()
