//! End to end: runs the example binaries as a user would (configured by environment
//! variables, stopped by SIGTERM) and calls every route over real HTTP.

mod support;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use support::{Running, assert_exits, example, send_sigterm, spawn, terminate};

#[tokio::test]
async fn greet_serves_its_three_routes() {
    let running = spawn("greet", &[]);
    let client = reqwest::Client::new();
    for (path, body) in [
        ("/greet", "Hello, World!"),
        ("/greet/intro", "Nice to meet you."),
        ("/greet/goodbye", "Goodbye!"),
    ] {
        let response = client
            .get(format!("{}{path}", running.base))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 200, "{path}");
        assert_eq!(response.text().await.unwrap(), body, "{path}");
    }
    let response = client
        .delete(format!("{}/greet/intro", running.base))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 405);
    assert_eq!(response.headers()["allow"], "GET,HEAD");
    let response = client
        .get(format!("{}/nope", running.base))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 404);
    assert_eq!(response.headers()["content-type"], "application/json");
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["data"]["code"], "ROUTE_NOT_FOUND");
    terminate(running);
}

/// More silent sockets than the server has file descriptors: the oldest are closed to make
/// room, so a real client is still served at once (before the connection cap, `accept`
/// failed with `Too many open files` and every client timed out).
#[tokio::test]
async fn a_flood_of_silent_sockets_past_the_descriptor_limit_keeps_no_client_out() {
    let running = support::spawn_with_nofile("greet", &[], 256);
    let addr = running.base.trim_start_matches("http://").to_string();
    let mut silent = Vec::new();
    for _ in 0..400 {
        silent.push(tokio::net::TcpStream::connect(&addr).await.unwrap());
    }
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .timeout(std::time::Duration::from_secs(1))
        .build()
        .unwrap();
    for _ in 0..5 {
        let response = client
            .get(format!("{}/greet/intro", running.base))
            .send()
            .await
            .expect("served within 1 s during the flood");
        assert_eq!(response.text().await.unwrap(), "Nice to meet you.");
    }
    drop(silent);
    terminate(running);
}

#[tokio::test]
async fn factor_echoes_param_and_body() {
    let running = spawn("factor", &[]);
    let client = reqwest::Client::new();
    let response = client
        .post(format!("{}/my-endpoint-path/hello", running.base))
        .json(&serde_json::json!({ "a": 1 }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(
        body,
        serde_json::json!({ "status": "success", "data": { "foo": "bar", "param": "hello", "args": { "a": 1 } } })
    );
    terminate(running);
}

#[test]
fn a_bad_variable_exits_non_zero_naming_it() {
    let output = Command::new(example("greet"))
        .env("ENDPOINT_PORT", "not-a-port")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("ENDPOINT_PORT") && stderr.contains("a port number from 0 to 65535"),
        "{stderr}"
    );
}

#[test]
fn the_route_table_is_printed_at_start() {
    let mut command = Command::new(example("greet"));
    command
        .env("ENDPOINT_PORT", "0")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut child = command.spawn().unwrap();
    let reader = BufReader::new(child.stdout.take().unwrap());
    let mut table = Vec::new();
    for line in reader.lines().map_while(Result::ok) {
        if line.starts_with("listening on ") {
            break;
        }
        table.push(line);
    }
    let running = Running {
        child,
        base: String::new(),
    };
    assert!(
        table[0].starts_with("METHOD") && table[0].contains("SOURCE"),
        "{table:?}"
    );
    let intro = table
        .iter()
        .find(|l| l.contains("/greet/intro"))
        .expect("listed");
    assert!(
        intro.starts_with("GET")
            && intro.contains("public")
            && intro.contains("examples/greet/main.rs:"),
        "{intro}"
    );
    // The header, the three endpoints, then the runtime's liveness and readiness routes.
    assert_eq!(table.len(), 6, "{table:?}");
    assert!(
        table[4].contains("/livez") && table[5].contains("/readyz"),
        "{table:?}"
    );
    terminate(running);
}

const SECRET: &str = "example-secret-0123456789abcdef01234";

fn token(args: &[&str]) -> String {
    support::token("access", SECRET, args)
}

#[tokio::test]
async fn access_levels_with_tokens_from_the_token_command() {
    let user = token(&["--user", "ann", "--role", "reader"]);
    let editor = token(&["--user", "eve", "--role", "editor", "--ttl", "5m"]);
    let admin = token(&["--user", "root", "--admin"]);
    let running = spawn("access", &[("ENDPOINT_JWT_SECRET", SECRET)]);
    let client = reqwest::Client::new();
    let call = |method: reqwest::Method, path: &str, token: Option<&str>| {
        let mut request = client.request(method, format!("{}{path}", running.base));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send()
    };
    use reqwest::Method;
    let status = |r: reqwest::Response| r.status().as_u16();
    assert_eq!(
        status(call(Method::GET, "/articles", None).await.unwrap()),
        200
    );
    assert_eq!(
        status(call(Method::GET, "/articles/drafts", None).await.unwrap()),
        401
    );
    let drafts: serde_json::Value = call(Method::GET, "/articles/drafts", Some(&user))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        drafts,
        serde_json::json!({ "status": "success", "data": { "drafts_of": "ann", "role": "reader" } })
    );
    assert_eq!(
        status(
            call(Method::GET, "/articles/stats", Some(&user))
                .await
                .unwrap()
        ),
        403
    );
    assert_eq!(
        status(
            call(Method::GET, "/articles/stats", Some(&admin))
                .await
                .unwrap()
        ),
        200
    );
    assert_eq!(
        status(
            call(Method::POST, "/articles/7/publish", Some(&user))
                .await
                .unwrap()
        ),
        403
    );
    assert_eq!(
        status(
            call(Method::POST, "/articles/7/publish", Some(&editor))
                .await
                .unwrap()
        ),
        200
    );
    assert_eq!(
        status(
            call(Method::POST, "/articles/7/publish", Some(&admin))
                .await
                .unwrap()
        ),
        200
    );
    let response = call(Method::GET, "/articles", Some("garbage"))
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 401);
    assert_eq!(
        response.headers()["www-authenticate"],
        "Bearer error=\"invalid_token\""
    );
    terminate(running);
}

#[test]
fn the_token_command_needs_a_secret() {
    let output = Command::new(example("access"))
        .args(["token", "--user", "ann"])
        .env_remove("ENDPOINT_JWT_SECRET")
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("ENDPOINT_JWT_SECRET"));
    let help = Command::new(example("access"))
        .arg("--help")
        .output()
        .unwrap();
    assert!(help.status.success());
    let help = String::from_utf8_lossy(&help.stdout);
    for command in ["serve", "routes", "openapi", "check", "token"] {
        assert!(
            help.contains(command),
            "`{command}` missing from --help:\n{help}"
        );
    }
}

#[test]
fn routes_openapi_and_check_commands() {
    let run = |command: &str| {
        Command::new(example("access"))
            .arg(command)
            .env_remove("ENDPOINT_DATABASE_URL")
            .output()
            .unwrap()
    };
    let routes = run("routes");
    assert!(routes.status.success());
    let table = String::from_utf8_lossy(&routes.stdout);
    assert!(
        table.starts_with("METHOD") && table.contains("/articles/stats") && table.contains("admin"),
        "{table}"
    );
    assert!(!table.contains("listening on"), "routes prints and exits");

    let openapi = run("openapi");
    assert!(openapi.status.success());
    let document: serde_json::Value = serde_json::from_slice(&openapi.stdout).unwrap();
    assert_eq!(document["openapi"], "3.1.0");
    assert_eq!(
        document["paths"]["/articles/stats"]["get"]["x-access"],
        "admin"
    );

    let check = run("check");
    assert!(check.status.success());
    assert_eq!(
        String::from_utf8_lossy(&check.stdout).trim(),
        "ok: 5 endpoints, no route conflicts"
    );
}

#[test]
fn check_flags_public_writes_and_strict_fails_on_them() {
    // `factor`'s only endpoint is a POST whose attribute states no access.
    let run = |args: &[&str], default_access: Option<&str>| {
        let mut command = Command::new(example("factor"));
        command
            .args(args)
            .env_remove("ENDPOINT_DATABASE_URL")
            .env_remove("DATABASE_URL")
            .env_remove("ENDPOINT_DEFAULT_ACCESS");
        if let Some(value) = default_access {
            command.env("ENDPOINT_DEFAULT_ACCESS", value);
        }
        let output = command.output().unwrap();
        (
            output.status.success(),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    };
    let listed = |text: &str| {
        text.contains(
            "1 endpoint(s) change state and are public only because their attribute states no access:",
        ) && text.contains("  - POST /my-endpoint-path/{param} (factor::my_endpoint at ")
            && text.contains("factor/main.rs:")
    };
    // Plain `check` warns and succeeds.
    let (ok, stdout, stderr) = run(&["check"], None);
    assert!(ok, "{stderr}");
    assert_eq!(stdout.trim(), "ok: 1 endpoints, no route conflicts");
    assert!(
        listed(&stderr) && stderr.starts_with("warning: "),
        "{stderr}"
    );
    // `--strict` fails, listing it.
    let (ok, stdout, stderr) = run(&["check", "--strict"], None);
    assert!(!ok, "{stdout}");
    assert!(listed(&stderr), "{stderr}");
    // The route table marks and lists it too.
    let (ok, table, _) = run(&["routes"], None);
    assert!(ok);
    let row = table.lines().find(|l| l.starts_with("POST")).unwrap();
    assert!(row.contains("public (not stated)"), "{row}");
    assert!(listed(&table) && table.contains("\nwarning: "), "{table}");
    // Protected by the default, it is no longer public: nothing to flag.
    for default in ["authenticated", "admin"] {
        let (ok, _, stderr) = run(&["check", "--strict"], Some(default));
        assert!(ok, "{default}: {stderr}");
        assert!(!stderr.contains("warning"), "{default}: {stderr}");
    }
    // `access`'s endpoints all state their access (or only read): strict passes.
    let strict = Command::new(example("access"))
        .args(["check", "--strict"])
        .env_remove("ENDPOINT_DATABASE_URL")
        .env_remove("ENDPOINT_DEFAULT_ACCESS")
        .output()
        .unwrap();
    assert!(
        strict.status.success(),
        "{}",
        String::from_utf8_lossy(&strict.stderr)
    );
}

/// A route conflict is not a compile error (two parameter names on one path): `routes`
/// prints the table and exits non-zero naming both sites, `check` fails the same way, and
/// `serve` refuses to start.
#[test]
fn route_conflicts_fail_routes_check_and_serve_naming_both_sites() {
    let run = |command: &[&str]| {
        Command::new(example("route-conflict"))
            .args(command)
            .env("ENDPOINT_PORT", "0")
            .env_remove("ENDPOINT_DATABASE_URL")
            .output()
            .unwrap()
    };
    let routes = run(&["routes"]);
    assert!(
        !routes.status.success(),
        "routes exited 0 despite a conflict"
    );
    let table = String::from_utf8_lossy(&routes.stdout);
    assert!(
        table.contains("/pages/{id}") && table.contains("/pages/{slug}"),
        "{table}"
    );
    for output in [routes, run(&["check"]), run(&["serve"])] {
        assert!(!output.status.success());
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains("1 route conflict(s)"), "{stderr}");
        assert!(
            stderr.contains("route_conflict::page at examples/route-conflict/main.rs:13")
                && stderr
                    .contains("route_conflict::page_by_slug at examples/route-conflict/main.rs:19"),
            "{stderr}"
        );
        assert!(!String::from_utf8_lossy(&output.stdout).contains("listening on"));
    }
}

/// SIGTERM under a steady load of requests: `/readyz` turns 503 at once, every request of the
/// load is answered while the server drains (`ENDPOINT_DRAIN_DELAY`), and the process exits
/// cleanly after it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_under_load_drains_without_losing_a_request() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    let running = spawn("greet", &[("ENDPOINT_DRAIN_DELAY", "2s")]);
    let draining = Arc::new(AtomicBool::new(false));
    let mut loads = Vec::new();
    let mut warmed = Vec::new();
    for _ in 0..4 {
        let (warm, warmed_up) = tokio::sync::oneshot::channel::<()>();
        warmed.push(warmed_up);
        let (base, draining) = (running.base.clone(), Arc::clone(&draining));
        loads.push(tokio::spawn(async move {
            // Each loop keeps its connection alive, as a load balancer's pool would.
            let client = reqwest::Client::new();
            let (mut answered, mut after_drain, mut failures) = (0u32, 0u32, Vec::new());
            let mut warm = Some(warm);
            // Bounded: 20,000 requests at most, and 50 once the drain has begun.
            while answered < 20_000 && after_drain < 50 {
                match client.get(format!("{base}/greet")).send().await {
                    Ok(response) if response.status() == 200 => answered += 1,
                    Ok(response) => failures.push(format!("status {}", response.status())),
                    Err(error) => failures.push(error.to_string()),
                }
                if answered == 20 {
                    warm.take().map(|w| w.send(()));
                }
                if draining.load(Ordering::SeqCst) {
                    after_drain += 1;
                }
            }
            (answered, after_drain, failures)
        }));
    }
    for warmed_up in warmed {
        warmed_up
            .await
            .expect("every load loop is answered before the signal");
    }
    send_sigterm(&running);
    let probe = reqwest::Client::new();
    let mut attempts = 0;
    loop {
        let response = probe
            .get(format!("{}/readyz", running.base))
            .send()
            .await
            .expect("still serving while draining");
        if response.status() == 503 {
            break;
        }
        attempts += 1;
        assert!(attempts < 10_000, "/readyz never turned 503");
    }
    draining.store(true, Ordering::SeqCst);
    for load in loads {
        let (answered, after_drain, failures) = load.await.unwrap();
        assert!(failures.is_empty(), "{failures:?}");
        assert_eq!(after_drain, 50, "the load went on during the drain");
        assert!(answered >= 70, "{answered}");
    }
    assert_exits(running);
}

/// The showcase's committed API lock: `check --api` passes on it as committed (CI runs it
/// too), fails on a lock the code breaks (listing the breaking change first), and
/// `openapi --write` writes what `check --api` then accepts.
#[test]
fn the_api_lock_is_checked_and_rewritten() {
    let run = |args: &[&str]| {
        let output = Command::new(example("showcase"))
            .args(args)
            .env_remove("ENDPOINT_ERROR_FORMAT")
            .env_remove("ENDPOINT_DEFAULT_ACCESS")
            .env_remove("ENDPOINT_RATE_LIMIT")
            .output()
            .unwrap();
        (
            output.status.success(),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    };
    let committed = concat!(env!("CARGO_MANIFEST_DIR"), "/showcase/openapi.lock.json");
    let (ok, stdout, stderr) = run(&["check", "--api", committed]);
    assert!(ok, "the committed lock is stale: {stderr}");
    assert!(stdout.contains("ok: the API matches"), "{stdout}");

    // A lock that promised more than the code gives: a longer customer name, an operation
    // that is gone, and one the lock did not have.
    let dir = tempfile::tempdir().unwrap();
    let mut lock: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(committed).unwrap()).unwrap();
    // The showcase is versioned: its lock has a document per version (`0.0` for those before
    // 2.0, and `2.0`). This one is changed in 2.0, and has a 1.5 the API never had.
    let newest = &mut lock["versions"]["2.0"];
    newest["components"]["schemas"]["Order"]["properties"]["customer"]["maxLength"] = 200.into();
    newest["paths"]["/retired"] =
        serde_json::json!({ "get": { "responses": { "200": { "description": "ok" } } } });
    newest["paths"]
        .as_object_mut()
        .unwrap()
        .remove("/greet/intro");
    lock["versions"]["1.5"] = lock["versions"]["0.0"].clone();
    let stale = dir.path().join("openapi.lock.json");
    std::fs::write(&stale, lock.to_string()).unwrap();
    let (ok, _, stderr) = run(&["check", "--api", stale.to_str().unwrap()]);
    assert!(!ok);
    let lines: Vec<&str> = stderr.lines().map(str::trim).collect();
    let at = |line: &str| {
        lines
            .iter()
            .position(|l| *l == line)
            .unwrap_or_else(|| panic!("{line}: {stderr}"))
    };
    let narrowed = at(
        "breaking: [2.0] POST /orders: request body field `customer`: `maxLength` 200 became 80",
    );
    let removed = at("breaking: [2.0] GET /retired: operation removed");
    let gone = at("breaking: [1.5] API: version no longer served");
    let added = at("compatible: [2.0] GET /greet/intro: operation added");
    assert!(
        narrowed < added && removed < added && gone < added,
        "{stderr}"
    );
    assert!(
        stderr.contains("3 breaking, 1 compatible change(s)"),
        "{stderr}"
    );

    // `openapi --write` brings it up to date.
    let (ok, stdout, _) = run(&["openapi", "--write", stale.to_str().unwrap()]);
    assert!(ok && stdout.contains("wrote the API lock"), "{stdout}");
    let (ok, _, stderr) = run(&["check", "--api", stale.to_str().unwrap()]);
    assert!(ok, "{stderr}");
}

/// The lines `run`'s own subscriber writes while a request is served carry the request's
/// fields where a `request` span's were, in both formats (the subscriber makes no span per
/// request: `endpoint_runtime::logging::request`), and a line outside a request has none.
#[tokio::test]
async fn the_lines_of_a_request_carry_its_fields() {
    use std::io::Read as _;
    for format in ["text", "json"] {
        let mut running = spawn(
            "greet",
            &[
                ("RUST_LOG", "info"),
                ("ENDPOINT_ACCESS_LOG", "on"),
                ("ENDPOINT_LOG_FORMAT", format),
            ],
        );
        let client = reqwest::Client::new();
        let id = format!("e2e-{format}");
        let response = client
            .get(format!("{}/greet/intro", running.base))
            .header("x-request-id", &id)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 200);
        let refused = format!("e2e-{format}-refused");
        let response = client
            .get(format!("{}/greet/intro", running.base))
            .header("x-request-id", &refused)
            .header("authorization", "Bearer not-a-known-token")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 401);
        send_sigterm(&running);
        let mut stderr = String::new();
        running
            .child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut stderr)
            .unwrap();
        assert_exits(running);
        let line = |needle: &str| {
            stderr
                .lines()
                .find(|line| line.contains(needle))
                .unwrap_or_else(|| panic!("no line with {needle:?} in:\n{stderr}"))
                .to_string()
        };
        if format == "text" {
            let access = line(&format!("request_id={id} "));
            assert!(
                access.contains(&format!(
                    " INFO request{{request_id={id} method=GET path=/greet/intro endpoint=greet}}: endpoint_runtime::access: access "
                )),
                "{access}"
            );
            let rejected = line("credential rejected");
            assert!(
                rejected.contains(&format!(
                    " WARN request{{request_id={refused} method=GET path=/greet/intro endpoint=greet}}: "
                )),
                "{rejected}"
            );
            // Lines of no request (start-up, shutdown) carry no request.
            for other in stderr.lines().filter(|line| !line.contains("e2e-")) {
                assert!(!other.contains("request{"), "{other}");
            }
        } else {
            let access: serde_json::Value =
                serde_json::from_str(&line(&format!("\"request_id\":\"{id}\""))).unwrap();
            let request = serde_json::json!({
                "endpoint": "greet",
                "method": "GET",
                "path": "/greet/intro",
                "request_id": id,
                "name": "request",
            });
            assert_eq!(access["target"], "endpoint_runtime::access", "{access}");
            assert_eq!(access["span"], request, "{access}");
            assert_eq!(access["spans"], serde_json::json!([request]), "{access}");
            let rejected: serde_json::Value =
                serde_json::from_str(&line("credential rejected")).unwrap();
            assert_eq!(
                rejected["span"]["request_id"],
                refused.as_str(),
                "{rejected}"
            );
            for other in stderr.lines().filter(|line| !line.contains("e2e-")) {
                let other: serde_json::Value = serde_json::from_str(other).unwrap();
                assert!(other.get("spans").is_none(), "{other}");
            }
        }
    }
}
