//! Confined endpoints over real HTTP, against the `sandbox-lab` example: every escape attempt
//! is contained while the server keeps answering other requests, and every outbound
//! allowlist bypass is refused while an "evil" server on 127.0.0.1 records no connection.

mod support;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;
use support::{Running, TempDir, spawn, terminate};

/// A server on 127.0.0.1 that counts the connections it accepts and answers each with
/// `respond(path)` (status line and headers, without the final blank line).
struct Recorder {
    port: u16,
    connections: Arc<AtomicUsize>,
}

impl Recorder {
    fn start(port: u16, respond: fn(&str) -> String) -> Recorder {
        let listener = TcpListener::bind(("127.0.0.1", port)).expect("bind the recorder");
        let port = listener.local_addr().unwrap().port();
        let connections = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&connections);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                counter.fetch_add(1, Ordering::SeqCst);
                let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") && stream.read(&mut byte).unwrap_or(0) == 1 {
                    head.push(byte[0]);
                }
                let head = String::from_utf8_lossy(&head);
                let path = head.split_whitespace().nth(1).unwrap_or("/").to_string();
                let _ = write!(
                    stream,
                    "{}\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok",
                    respond(&path)
                );
            }
        });
        Recorder { port, connections }
    }

    fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

fn lab(env: &[(&str, &str)]) -> Running {
    let mut all = vec![
        ("ENDPOINT_CONFINED_TIMEOUT", "2s"),
        ("ENDPOINT_CONFINED_MEMORY", "128MiB"),
        ("ENDPOINT_CONFINED_WORKERS", "2"),
    ];
    all.extend_from_slice(env);
    spawn("sandbox-lab", &all)
}

async fn get(server: &Running, path: &str) -> (u16, Value) {
    let response = reqwest::Client::new()
        .get(format!("{}{path}", server.base))
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {path}: {e}"));
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// The server still answers a normal endpoint and a confined one.
async fn still_serving(server: &Running, after: &str) {
    assert_eq!(
        get(server, "/lab/health").await,
        (200, Value::String("ok".into())),
        "after {after}"
    );
    let (status, body) = get(server, "/lab/echo/ann?x=1").await;
    assert_eq!(status, 200, "after {after}: {body}");
    assert_eq!(body["params"]["name"], "ann", "after {after}");
}

#[tokio::test]
async fn every_escape_attempt_is_contained_and_the_server_keeps_serving() {
    let evil = Recorder::start(0, |_| "HTTP/1.1 200 OK".into());
    let dir = TempDir::new("confined-secret");
    let secret = dir.0.join("secret.txt");
    std::fs::write(&secret, "the server can read this").unwrap();
    let server = lab(&[]);

    // The request data reaches the handler; its log line reaches the server.
    let (status, body) = get(&server, "/lab/echo/ann?x=1").await;
    assert_eq!(status, 200);
    assert_eq!(body["method"], "GET");
    assert_eq!(body["path"], "/lab/echo/ann");
    assert_eq!(body["query"]["x"], "1");
    assert_eq!(body["body"], Value::Null);

    let attempts = [
        (
            format!("/lab/read-file?path={}", secret.display()),
            "read a file",
        ),
        (
            "/lab/read-file?path=/etc/passwd".to_string(),
            "read /etc/passwd",
        ),
        (
            format!("/lab/connect?addr=127.0.0.1:{}", evil.port),
            "open a TCP connection",
        ),
        ("/lab/spawn".to_string(), "start a process"),
    ];
    for (path, what) in &attempts {
        let (status, body) = get(&server, path).await;
        assert_eq!(status, 200, "{what}: {body}");
        assert_eq!(body["outcome"], "blocked", "{what} must be blocked: {body}");
        still_serving(&server, what).await;
    }
    assert_eq!(evil.connections(), 0, "the worker reached the evil server");

    // Memory past the limit: the worker dies, the caller gets 500, a new worker serves on.
    let (status, body) = get(&server, "/lab/allocate?mib=512").await;
    assert_eq!(status, 500, "{body}");
    assert!(
        body["data"]["request_id"].is_string(),
        "5xx carries the request id: {body}"
    );
    still_serving(&server, "a worker out of memory").await;

    // A panic: 500 without the panic message, and the next call works.
    let (status, body) = get(&server, "/lab/panic").await;
    assert_eq!(status, 500);
    assert!(
        !body.to_string().contains("gave up"),
        "no internals in the body: {body}"
    );
    still_serving(&server, "a panic").await;

    // An endless loop: 503 at the limit, while other requests are answered meanwhile.
    let base = server.base.clone();
    let started = Instant::now();
    let looping = tokio::spawn(async move {
        reqwest::get(format!("{base}/lab/loop"))
            .await
            .unwrap()
            .status()
            .as_u16()
    });
    // Once the loop is running in its worker:
    wait_for_a_spinning_worker(server.child.id()).await;
    still_serving(&server, "a loop that is still running").await;
    assert!(!looping.is_finished(), "served while the loop ran");
    assert_eq!(looping.await.unwrap(), 503);
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_secs(2) && elapsed < Duration::from_secs(6),
        "503 at the 2 s limit, not {elapsed:?}"
    );
    still_serving(&server, "a worker killed at the time limit").await;

    terminate(server);
}

#[tokio::test]
async fn outbound_allowlist_bypasses_are_refused() {
    let evil = Recorder::start(0, |_| "HTTP/1.1 200 OK".into());
    // The declared name `localhost:31872` resolves to loopback: it must not be reached either.
    let evil_by_name = Recorder::start(31872, |_| "HTTP/1.1 200 OK".into());
    let upstream = Recorder::start(31871, |path| {
        if path == "/redirect" {
            format!(
                "HTTP/1.1 302 Found\r\nlocation: http://127.0.0.1:{}/stolen",
                EVIL_PORT.load(Ordering::SeqCst)
            )
        } else {
            "HTTP/1.1 200 OK".into()
        }
    });
    EVIL_PORT.store(evil.port as usize, Ordering::SeqCst);
    let server = lab(&[]);
    let e = evil.port;
    let u = upstream.port;

    let fetch = |url: String| {
        let server = &server;
        async move {
            let query = format!("/lab/fetch?url={}", urlencode(&url));
            let (status, body) = get(server, &query).await;
            assert_eq!(status, 200, "{url}: {body}");
            body
        }
    };

    // The positive control: the declared origin, written in other case, is reached.
    let body = fetch(format!("HTTP://127.0.0.1:{u}/ok")).await;
    assert_eq!(body["outcome"], "sent", "{body}");
    assert_eq!(body["status"], 200);
    assert_eq!(upstream.connections(), 1);
    // Another numeric form of the declared address is the same origin.
    let body = fetch(format!("http://2130706433:{u}/ok")).await;
    assert_eq!(body["outcome"], "sent", "{body}");

    let bypasses = [
        (
            format!("http://127.0.0.1:{u}@127.0.0.1:{e}/"),
            "user info naming the allowed origin",
        ),
        (
            format!("http://user:pw@127.0.0.1:{u}/"),
            "user info on the allowed origin",
        ),
        (format!("http://127.0.0.1:{e}/"), "port mismatch"),
        (format!("https://127.0.0.1:{u}/"), "scheme mismatch"),
        (
            format!("HTTP://127.0.0.1.:{e}/"),
            "case and trailing-dot variant",
        ),
        (
            format!("http://LOCALHOST.:{e}/"),
            "case and trailing-dot name",
        ),
        (
            format!("http://127.0.0.1:{u}.evil.test/"),
            "origin as a prefix of another host",
        ),
        (format!("http://2130706433:{e}/"), "decimal IPv4"),
        (format!("http://0177.0.0.1:{e}/"), "octal IPv4"),
        (format!("http://0x7f.1:{e}/"), "hexadecimal IPv4"),
        (
            format!("http://[::ffff:127.0.0.1]:{e}/"),
            "IPv4-mapped IPv6",
        ),
        (
            format!("http://[::ffff:7f00:1]:{e}/"),
            "IPv4-mapped IPv6, hex",
        ),
        (
            "http://localhost:31872/".to_string(),
            "a declared name resolving to loopback",
        ),
        ("file:///etc/passwd".to_string(), "another scheme"),
        ("not a url".to_string(), "not a URL"),
    ];
    for (url, what) in &bypasses {
        let body = fetch(url.clone()).await;
        assert_eq!(
            body["outcome"], "refused",
            "{what} ({url}) must be refused: {body}"
        );
    }

    // A redirect from the allowed origin is returned as is, never followed.
    let body = fetch(format!("http://127.0.0.1:{u}/redirect")).await;
    assert_eq!(body["outcome"], "sent", "{body}");
    assert_eq!(body["status"], 302);
    assert_eq!(body["location"], format!("http://127.0.0.1:{e}/stolen"));

    // Capabilities that were not declared are refused, not silently allowed.
    let before = upstream.connections();
    let (status, body) = get(&server, "/lab/undeclared").await;
    assert_eq!(status, 200);
    assert!(
        body["log"].as_str().unwrap().contains("not declared"),
        "{body}"
    );
    assert!(
        body["request"].as_str().unwrap().contains("not declared"),
        "{body}"
    );
    assert_eq!(upstream.connections(), before);
    // The refusals came before any connection: the calls above have returned.
    assert_eq!(evil.connections(), 0, "the evil server was reached");
    assert_eq!(
        evil_by_name.connections(),
        0,
        "the loopback name was reached"
    );
    terminate(server);
}

static EVIL_PORT: AtomicUsize = AtomicUsize::new(0);

#[tokio::test]
async fn access_is_checked_by_the_server_with_the_callers_accountability() {
    const SECRET: &str = "sandbox-lab-secret-0123456789abcdef0123";
    let server = lab(&[("ENDPOINT_JWT_SECRET", SECRET)]);
    let (status, body) = get(&server, "/lab/private").await;
    assert_eq!(status, 401, "anonymous: {body}");
    let token = support::token("sandbox-lab", SECRET, &["--user", "ann"]);
    let response = reqwest::Client::new()
        .get(format!("{}/lab/private", server.base))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let response = reqwest::Client::new()
        .get(format!("{}/lab/private", server.base))
        .bearer_auth("not-a-valid-token")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401, "an invalid token is not anonymous");
    terminate(server);
}

fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[test]
fn the_route_table_marks_confined_endpoints_and_bad_settings_are_named() {
    let output = std::process::Command::new(support::example("sandbox-lab"))
        .arg("routes")
        .output()
        .unwrap();
    let table = String::from_utf8_lossy(&output.stdout);
    assert!(table.contains("public (confined: log)"), "{table}");
    assert!(
        table
            .contains("public (confined: request=[http://127.0.0.1:31871 http://localhost:31872])"),
        "{table}"
    );
    let output = std::process::Command::new(support::example("sandbox-lab"))
        .env("ENDPOINT_CONFINED_HARDENING", "maybe")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("ENDPOINT_CONFINED_HARDENING"), "{stderr}");
    // Bounded: a server that accepted the value would serve until killed.
    let mut child = std::process::Command::new(support::example("sandbox-lab"))
        .env("ENDPOINT_CONFINED_QUEUE", "lots")
        .env("ENDPOINT_PORT", "0")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("ENDPOINT_CONFINED_QUEUE=lots was accepted: the server started");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(!status.success());
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert!(stderr.contains("ENDPOINT_CONFINED_QUEUE"), "{stderr}");
}

/// The errno the sandbox answers a refused call with (seccomp's `EPERM`; Landlock's
/// `EACCES` for a path is accepted as a refusal too).
const EPERM: i64 = 1;
const EACCES: i64 = 13;

/// Every call of the issue, tried with raw system calls from inside a confined handler, is
/// refused, and the refusal reaches the test as the errno of each; the file the probes aim at
/// is unchanged.
#[tokio::test]
async fn every_refused_system_call_is_refused_inside_a_handler() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = TempDir::new("confined-probes");
    let target = dir.0.join("target.txt");
    std::fs::write(&target, "unchanged").unwrap();
    std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o600)).unwrap();
    let modified = std::fs::metadata(&target).unwrap().modified().unwrap();
    let server = lab(&[]);
    let pid = server.child.id();

    let (status, body) = get(
        &server,
        &format!("/lab/probes?file={}&server={pid}", target.display()),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let errno = &body["errno"];
    let refused = [
        "chmod",
        "chown",
        "setxattr",
        "utimensat",
        "truncate",
        "ptrace",
        "process_vm_writev",
        "io_uring_setup",
        "setpriority",
        "shmget",
        "socket",
        "connect",
        "execve",
        "open",
        "open_server_environ",
        "open_server_cmdline",
    ];
    for call in refused {
        let code = errno[call].as_i64();
        assert!(
            code == Some(EPERM) || code == Some(EACCES),
            "`{call}` must be refused with EPERM or EACCES, got errno {code:?}: {body}"
        );
    }
    // Nothing that is not on the allow-list gets through, whatever the number: the seccomp
    // filter answers EPERM (a kernel without x32 would say ENOSYS; one with it would run it).
    if cfg!(target_arch = "x86_64") {
        assert_eq!(errno["x32_getpid"], EPERM, "an x32 system call: {body}");
    }
    let metadata = std::fs::metadata(&target).unwrap();
    assert_eq!(metadata.permissions().mode() & 0o777, 0o600);
    assert_eq!(metadata.modified().unwrap(), modified);
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "unchanged");
    still_serving(&server, "the probes").await;
    terminate(server);
}

/// Starts sandbox-lab through `sh` with descriptor 7 open on `file` without close-on-exec,
/// as a careless parent process would leave it.
fn lab_with_leaked_fd(file: &std::path::Path) -> Running {
    use std::io::BufRead as _;
    let child = std::process::Command::new("/bin/sh")
        .arg("-c")
        .arg(r#"exec 7<>"$1"; exec "$0""#)
        .arg(support::example("sandbox-lab"))
        .arg(file)
        .env("ENDPOINT_PORT", "0")
        .env("ENDPOINT_HOST", "127.0.0.1")
        .env("RUST_LOG", "warn")
        .env("ENDPOINT_CONFINED_TIMEOUT", "10s")
        .env_remove("ENDPOINT_DATABASE_URL")
        .env_remove("DATABASE_URL")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Killed and waited for on drop, also when it does not start.
    let mut running = Running {
        child,
        base: String::new(),
    };
    let stdout = running.child.stdout.take().unwrap();
    let (lines, received) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            if lines.send(line).is_err() {
                break;
            }
        }
    });
    loop {
        let line = received
            .recv_timeout(Duration::from_secs(30))
            .expect("sandbox-lab did not start");
        if let Some(base) = line.strip_prefix("listening on ") {
            running.base = base.to_string();
            return running;
        }
    }
}

/// The confined workers among `server`'s children.
fn workers_of(server: u32) -> Vec<u32> {
    let mut workers = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let ppid = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1))
            .and_then(|p| p.parse::<u32>().ok());
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        if ppid == Some(server)
            && String::from_utf8_lossy(&cmdline).contains("__endpoint-confined-worker")
        {
            workers.push(pid);
        }
    }
    workers
}

/// The process's state letter (`R`, `S`, `Z`…), `None` once it is gone.
fn state(pid: u32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit_once(')')?
        .1
        .split_whitespace()
        .next()?
        .chars()
        .next()
}

/// The CPU time the process has used, in clock ticks (user and system).
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    // After the command: utime and stime, fields 14 and 15 of proc_pid_stat(5).
    [11, 12]
        .iter()
        .filter_map(|&i| fields.get(i).and_then(|f| f.parse::<u64>().ok()))
        .sum()
}

/// Waits (10 s at most) until one of the server's workers has spun for 200 ms of CPU time,
/// which no worker starting up does: `/lab/loop` holds its worker slot. Returns the workers.
async fn wait_for_a_spinning_worker(server: u32) -> Vec<u32> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let workers = workers_of(server);
        if workers.iter().any(|&w| cpu_ticks(w) >= 20) {
            return workers;
        }
        assert!(Instant::now() < deadline, "no worker started spinning");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A descriptor the server inherited without close-on-exec does not reach a worker, and a
/// worker busy in a handler dies with the server (`PR_SET_PDEATHSIG`): without it, a worker
/// in a loop outlives a killed server until its CPU limit.
#[tokio::test]
async fn a_worker_inherits_no_descriptor_and_dies_with_the_server() {
    let dir = TempDir::new("confined-fd");
    let file = dir.0.join("leaked.txt");
    std::fs::write(&file, "the server's file").unwrap();
    let mut server = lab_with_leaked_fd(&file);
    let pid = server.child.id();
    assert!(
        std::fs::read_link(format!("/proc/{pid}/fd/7")).is_ok(),
        "the server holds descriptor 7"
    );

    let (status, body) = get(
        &server,
        &format!("/lab/probes?file={}&server={pid}", file.display()),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let open: Vec<i64> = body["open_fds"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_i64)
        .collect();
    assert!(
        !open.contains(&7),
        "the worker inherited the server's descriptor 7: {body}"
    );

    // A worker spinning in a handler; then the server is killed outright.
    let looping = call_the_spinning_handler(&server);
    let workers = wait_for_a_spinning_worker(pid).await;
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let alive: Vec<u32> = workers
            .iter()
            .copied()
            .filter(|&w| !matches!(state(w), None | Some('Z' | 'X')))
            .collect();
        if alive.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "workers {alive:?} outlived the server by 5 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    looping.abort();
}

/// Two endpoints never share a worker: each one's handler sees only its own calls in its
/// process's memory, the process ids differ, and the one without `log` stays without it.
#[tokio::test]
async fn workers_are_not_shared_across_endpoints() {
    let server = lab(&[("ENDPOINT_CONFINED_WORKERS", "1")]);
    let mut pids = [Vec::new(), Vec::new()];
    for round in 0..3 {
        for (i, name) in ["b", "a"].into_iter().enumerate() {
            let (status, body) = get(&server, &format!("/lab/tally-{name}")).await;
            assert_eq!(status, 200, "{body}");
            let seen = body["seen"].as_array().unwrap();
            assert!(
                seen.iter().all(|s| s == name),
                "round {round}: the worker of /tally-{name} also served another endpoint: {body}"
            );
            pids[i].push(body["pid"].as_u64().unwrap());
            if name == "a" {
                assert!(
                    body["log"].as_str().unwrap().contains("not declared"),
                    "{body}"
                );
            } else {
                assert_eq!(body["log"], Value::Null, "{body}");
            }
        }
    }
    assert!(
        pids[0].iter().all(|p| !pids[1].contains(p)),
        "one process served both endpoints: {pids:?}"
    );
    terminate(server);
}

/// Past the queue, a confined call is answered 503 with `Retry-After` at once, before its
/// body is sent: the server does not wait for (or buffer) bodies no worker can take.
#[tokio::test]
async fn past_the_queue_a_call_is_refused_before_its_body_is_read() {
    let server = lab(&[
        ("ENDPOINT_CONFINED_WORKERS", "1"),
        ("ENDPOINT_CONFINED_QUEUE", "0"),
        ("ENDPOINT_CONFINED_TIMEOUT", "10s"),
    ]);
    let pid = server.child.id();
    // The only worker slot is taken by a handler that spins.
    let looping = call_the_spinning_handler(&server);
    wait_for_a_spinning_worker(pid).await;

    // A head announcing 1 MiB, and no body: the answer comes without it.
    let address = server.base.trim_start_matches("http://").to_string();
    let answer = send_head(
        address,
        "POST /lab/echo/x HTTP/1.1\r\nhost: lab\r\ncontent-type: application/json\r\ncontent-length: 1048576\r\n\r\n",
        Duration::from_secs(3),
    )
    .await
    .to_ascii_lowercase();
    assert!(
        answer.starts_with("http/1.1 503"),
        "expected 503 before the body: {answer:?}"
    );
    assert!(answer.contains("retry-after: 1\r\n"), "{answer}");

    // A normal endpoint is unaffected.
    assert_eq!(
        get(&server, "/lab/health").await,
        (200, Value::String("ok".into()))
    );
    looping.abort();
    drop(server);
}

/// A body that does not arrive keeps the worker slot no longer than `ENDPOINT_CONFINED_TIMEOUT`
/// (408), after which the next call is served: a slow upload cannot hold a slot for the whole
/// request timeout.
#[tokio::test]
async fn a_stalled_body_gives_its_worker_slot_back() {
    let server = lab(&[
        ("ENDPOINT_CONFINED_WORKERS", "1"),
        ("ENDPOINT_CONFINED_QUEUE", "0"),
        ("ENDPOINT_CONFINED_TIMEOUT", "1s"),
    ]);
    let address = server.base.trim_start_matches("http://").to_string();
    let started = Instant::now();
    let answer = send_head(
        address,
        "POST /lab/echo/x HTTP/1.1\r\nhost: lab\r\ncontent-type: application/json\r\ncontent-length: 10\r\n\r\n[1,",
        Duration::from_secs(5),
    )
    .await;
    let elapsed = started.elapsed();
    assert!(
        answer.starts_with("HTTP/1.1 408"),
        "expected 408 for the stalled body: {answer:?}"
    );
    assert!(
        elapsed < Duration::from_secs(4),
        "408 at the 1 s limit, not {elapsed:?}"
    );
    // The slot is free again: with one worker and no queue, this call is served.
    let (status, body) = get(&server, "/lab/echo/ann").await;
    assert_eq!(status, 200, "{body}");
    terminate(server);
}

/// Sends `request` (a head, perhaps the start of a body) on a new connection to `address` and
/// returns the response head, or what arrived before the server closed or `timeout` passed.
async fn send_head(address: String, request: &'static str, timeout: Duration) -> String {
    tokio::task::spawn_blocking(move || {
        let mut stream = std::net::TcpStream::connect(address).unwrap();
        stream.set_read_timeout(Some(timeout)).unwrap();
        stream.write_all(request.as_bytes()).unwrap();
        let mut answer = Vec::new();
        let mut buffer = [0u8; 4096];
        while !String::from_utf8_lossy(&answer).contains("\r\n\r\n") {
            match stream.read(&mut buffer) {
                Ok(0) | Err(_) => break,
                Ok(n) => answer.extend_from_slice(&buffer[..n]),
            }
        }
        String::from_utf8_lossy(&answer).into_owned()
    })
    .await
    .unwrap()
}

/// Calls `/lab/loop`, whose handler spins until its worker is killed, in the background (the
/// call gives up after 20 s).
fn call_the_spinning_handler(server: &Running) -> tokio::task::JoinHandle<()> {
    let base = server.base.clone();
    tokio::spawn(async move {
        let _ = reqwest::Client::new()
            .get(format!("{base}/lab/loop"))
            .timeout(Duration::from_secs(20))
            .send()
            .await;
    })
}

/// `ENDPOINT_METRICS_ADDR`: the confined pool's workers, calls running and replacements are
/// scraped with the rest.
#[tokio::test]
async fn the_confined_pool_is_in_the_metrics() {
    // A free port, taken back at once.
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let server = lab(&[("ENDPOINT_METRICS_ADDR", &addr.to_string())]);
    let (status, _) = get(&server, "/lab/echo/ann").await;
    assert_eq!(status, 200);
    // A handler that panics: its worker is replaced.
    let (status, _) = get(&server, "/lab/panic").await;
    assert_eq!(status, 500);
    still_serving(&server, "a panic").await;
    let text = reqwest::get(format!("http://{addr}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let value = |name: &str| -> f64 {
        text.lines()
            .find_map(|line| line.strip_prefix(&format!("{name} ")))
            .unwrap_or_else(|| panic!("no {name} in:\n{text}"))
            .trim()
            .parse()
            .unwrap()
    };
    assert!(value("endpoint_confined_workers") >= 1.0, "{text}");
    assert_eq!(value("endpoint_confined_busy"), 0.0, "{text}");
    assert!(value("endpoint_confined_restarts_total") >= 1.0, "{text}");
    assert!(text.contains("http_route=\"/lab/echo/{name}\""), "{text}");
}
