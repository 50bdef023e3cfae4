//! Runs example binaries as a user would: configured by environment variables, stopped by
//! SIGTERM. `cargo test` builds the examples before it runs tests; the binaries are found
//! beside this test's own executable, in `target/<profile>/examples/`.
#![allow(dead_code, unreachable_pub)] // each test binary uses a different part

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

pub struct Running {
    pub child: Child,
    pub base: String,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn example(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let path = exe
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("examples")
        .join(name);
    assert!(
        path.exists(),
        "{} is missing: run the tests with `cargo test --workspace`, which builds the examples",
        path.display()
    );
    path
}

/// Starts an example on a free port and waits for its `listening on` line.
pub fn spawn(name: &str, env: &[(&str, &str)]) -> Running {
    spawn_in(name, env, None)
}

/// Like [`spawn`], in the working directory `dir`.
pub fn spawn_in(name: &str, env: &[(&str, &str)], dir: Option<&Path>) -> Running {
    spawn_command(name, Command::new(example(name)), env, dir)
}

/// Like [`spawn`], under a soft and hard file-descriptor limit of `nofile` (the shell's
/// `ulimit -n`), as a server started by a service manager with a low limit would be.
pub fn spawn_with_nofile(name: &str, env: &[(&str, &str)], nofile: u32) -> Running {
    let mut command = Command::new("sh");
    command
        .arg("-c")
        .arg(format!("ulimit -n {nofile} && exec \"$0\""))
        .arg(example(name));
    spawn_command(name, command, env, None)
}

fn spawn_command(
    name: &str,
    mut command: Command,
    env: &[(&str, &str)],
    dir: Option<&Path>,
) -> Running {
    command
        .env("ENDPOINT_PORT", "0")
        .env("ENDPOINT_HOST", "127.0.0.1")
        .env("RUST_LOG", "warn")
        .env_remove("ENDPOINT_DATABASE_URL")
        .env_remove("DATABASE_URL")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(dir) = dir {
        command.current_dir(dir);
    }
    for (key, value) in env {
        command.env(key, value);
    }
    let mut child = command.spawn().unwrap();
    let stdout = child.stdout.take().unwrap();
    let (lines, received) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if lines.send(line).is_err() {
                break;
            }
        }
    });
    let mut printed = Vec::new();
    loop {
        match received.recv_timeout(Duration::from_secs(30)) {
            Ok(line) => {
                if let Some(base) = line.strip_prefix("listening on ") {
                    return Running {
                        child,
                        base: base.to_string(),
                    };
                }
                printed.push(line);
            }
            Err(_) => {
                let _ = child.kill();
                let output = child.wait_with_output().ok();
                let stderr = output
                    .map(|o| String::from_utf8_lossy(&o.stderr).into_owned())
                    .unwrap_or_default();
                panic!(
                    "{name} did not start; it printed:\n{}\n{stderr}",
                    printed.join("\n")
                );
            }
        }
    }
}

/// Sends SIGTERM, without waiting.
pub fn send_sigterm(running: &Running) {
    let status = Command::new("kill")
        .args(["-TERM", &running.child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

/// Sends SIGTERM and asserts a clean exit within 5 s.
pub fn terminate(running: Running) {
    send_sigterm(&running);
    assert_exits(running);
}

/// Asserts a clean exit within 5 s.
pub fn assert_exits(mut running: Running) {
    for _ in 0..100 {
        if let Some(status) = running.child.try_wait().unwrap() {
            assert!(status.success(), "exit status after SIGTERM: {status}");
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("no exit within 5 s of SIGTERM");
}

/// A temporary directory (`tempfile`), removed on drop; `.0` is its path.
pub struct TempDir(pub PathBuf, #[allow(dead_code)] tempfile::TempDir);

impl TempDir {
    pub fn new(tag: &str) -> Self {
        let dir = tempfile::Builder::new()
            .prefix(&format!("endpoint-{tag}-"))
            .tempdir()
            .unwrap();
        TempDir(dir.path().to_path_buf(), dir)
    }
}

/// Runs `<example> token ARGS` with `secret` and returns the printed JWT.
pub fn token(name: &str, secret: &str, args: &[&str]) -> String {
    let output = Command::new(example(name))
        .arg("token")
        .args(args)
        .env("ENDPOINT_JWT_SECRET", secret)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap().trim().to_string()
}
