//! The worker side: the application binary started with [`WORKER_ARG`], sandboxed, running
//! one call at a time over its standard input and output.

use std::cell::RefCell;
use std::fs::File;
use std::panic::AssertUnwindSafe;
use std::rc::Rc;

use super::protocol::{
    FromWorker, HostCall, HostResult, ToWorker, WORKER_ARG, read_message, write_message,
};
use super::{ConfinedError, HostError};

/// If this process was started as a confined worker, runs the worker and exits; otherwise
/// returns at once.
///
/// [`#[endpoint_runtime::main]`](crate::main) calls it first thing. An application with its
/// own `main` (such as `#[tokio::main]`) must call it first too, **before any thread is
/// started**: Landlock and seccomp confine the calling thread and the threads it starts
/// afterwards, not threads that already exist. [`run()`](crate::run) refuses to serve when it
/// finds itself in a worker process that was not entered this way.
pub fn enter_worker_if_requested() {
    let mut args = std::env::args_os().skip(1);
    if args.next().as_deref() != Some(std::ffi::OsStr::new(WORKER_ARG)) {
        return;
    }
    let memory = args
        .next()
        .and_then(|m| m.to_str().and_then(|m| m.parse::<u64>().ok()))
        .unwrap_or(256 * 1024 * 1024);
    let server = args
        .next()
        .and_then(|m| m.to_str().and_then(|m| m.parse::<i32>().ok()))
        .unwrap_or(0);
    // The one endpoint this worker serves (empty for the start-up self-test: none).
    let endpoint = args
        .next()
        .and_then(|e| e.into_string().ok())
        .unwrap_or_default();
    std::process::exit(run(memory, server, &endpoint));
}

/// Whether this process is a worker (its first argument is [`WORKER_ARG`]).
pub(crate) fn is_worker_process() -> bool {
    std::env::args_os().nth(1).as_deref() == Some(std::ffi::OsStr::new(WORKER_ARG))
}

/// The protocol's two ends: the original standard input and output.
struct Io {
    input: File,
    output: File,
}

/// A handler's way to the server, shared between the call loop and its [`Host`](super::Host).
#[derive(Clone)]
pub(crate) struct Channel(Rc<RefCell<Io>>);

impl Channel {
    /// Sends a host call and waits for the server's answer.
    pub(crate) fn host_call(&self, call: HostCall) -> Result<HostResult, HostError> {
        let mut io = self.0.borrow_mut();
        let io = &mut *io;
        write_message(&mut io.output, &FromWorker::Host { call })
            .map_err(|e| HostError::Failed(format!("the server channel failed: {e}")))?;
        match read_message::<ToWorker>(&mut io.input) {
            Ok(Some(ToWorker::HostReply { result })) => result,
            Ok(_) | Err(_) => Err(HostError::Failed(
                "the server channel answered out of order".into(),
            )),
        }
    }
}

#[cfg(target_os = "linux")]
fn protocol_io() -> std::io::Result<Io> {
    use std::os::fd::AsFd as _;
    // The protocol keeps private copies of stdin and stdout; stdout then points at stderr and
    // stdin at /dev/null, so a handler's `println!` cannot corrupt the protocol.
    let input = File::from(std::io::stdin().as_fd().try_clone_to_owned()?);
    let output = File::from(std::io::stdout().as_fd().try_clone_to_owned()?);
    rustix::stdio::dup2_stdout(std::io::stderr())?;
    let null = File::open("/dev/null")?;
    rustix::stdio::dup2_stdin(&null)?;
    Ok(Io { input, output })
}

#[cfg(not(target_os = "linux"))]
fn protocol_io() -> std::io::Result<Io> {
    Err(std::io::Error::other("confined workers need Linux"))
}

/// Asks the kernel for `SIGKILL` when the server dies: `Some(false)` when it refuses, `None`
/// when the server is no longer the parent (it died before the request took effect).
#[cfg(target_os = "linux")]
fn die_with_the_server(server: i32) -> Option<bool> {
    use rustix::process::{Signal, getppid, set_parent_process_death_signal};
    let set = set_parent_process_death_signal(Some(Signal::KILL)).is_ok();
    (getppid().map(|pid| pid.as_raw_nonzero().get()) == Some(server)).then_some(set)
}

/// The descriptors above 2 open in this process as it starts, besides the one listing them:
/// the server starts workers with standard input, output and error only, so any other is
/// inherited by mistake. `[-1]` when `/proc/self/fd` cannot be listed.
#[cfg(target_os = "linux")]
fn inherited_fds() -> Vec<i32> {
    let Ok(entries) = std::fs::read_dir("/proc/self/fd") else {
        return vec![-1];
    };
    let listing = std::path::PathBuf::from(format!("/proc/{}/fd", std::process::id()));
    let mut open = Vec::new();
    for entry in entries.flatten() {
        let Some(fd) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<i32>().ok())
        else {
            continue;
        };
        if fd > 2 && std::fs::read_link(entry.path()).ok().as_ref() != Some(&listing) {
            open.push(fd);
        }
    }
    open.sort_unstable();
    open
}

fn run(memory: u64, server: i32, endpoint: &str) -> i32 {
    // Panics are reported to the server, not printed.
    std::panic::set_hook(Box::new(|_| {}));
    #[cfg(target_os = "linux")]
    let Some(parent_death_signal) = die_with_the_server(server) else {
        // The server is gone already.
        return 74;
    };
    #[cfg(target_os = "linux")]
    let inherited = inherited_fds();
    let probe = std::env::current_exe().ok();
    let Ok(io) = protocol_io() else { return 70 };
    #[cfg(target_os = "linux")]
    let hardening = super::sandbox::apply(memory, inherited, parent_death_signal);
    #[cfg(not(target_os = "linux"))]
    let hardening = {
        let _ = (memory, server);
        super::protocol::SandboxLayers::default()
    };
    let channel = Channel(Rc::new(RefCell::new(io)));
    let send = |message: &FromWorker| {
        let mut io = channel.0.borrow_mut();
        write_message(&mut io.output, message).is_ok()
    };
    if !send(&FromWorker::Ready { hardening }) {
        return 71;
    }
    loop {
        let message = {
            let mut io = channel.0.borrow_mut();
            read_message::<ToWorker>(&mut io.input)
        };
        let answer = match message {
            Ok(None) => return 0,
            Err(_) => return 72,
            Ok(Some(ToWorker::HostReply { .. })) => continue,
            Ok(Some(ToWorker::SelfTest)) => self_test(probe.as_deref(), server),
            Ok(Some(ToWorker::Call {
                endpoint: called, ..
            })) if called != endpoint => FromWorker::Done {
                result: Err(ConfinedError::internal(format!(
                    "this worker serves `{endpoint}` only, not `{called}`"
                ))),
            },
            Ok(Some(ToWorker::Call { endpoint, request })) => {
                let spec = super::find(&endpoint);
                match spec {
                    None => FromWorker::Done {
                        result: Err(ConfinedError::internal(format!(
                            "no confined endpoint `{endpoint}` in this binary"
                        ))),
                    },
                    Some(spec) => {
                        let mut host = super::Host {
                            channel: channel.clone(),
                        };
                        match std::panic::catch_unwind(AssertUnwindSafe(|| {
                            (spec.run)(request, &mut host)
                        })) {
                            Ok(result) => FromWorker::Done { result },
                            Err(panic) => FromWorker::Panicked {
                                message: panic
                                    .downcast_ref::<&str>()
                                    .map(|s| (*s).to_string())
                                    .or_else(|| panic.downcast_ref::<String>().cloned())
                                    .unwrap_or_else(|| "a non-string panic payload".into()),
                            },
                        }
                    }
                }
            }
        };
        if !send(&answer) {
            return 73;
        }
    }
}

/// Tries what the sandbox must prevent; `true` where it was prevented.
fn self_test(probe: Option<&std::path::Path>, server: i32) -> FromWorker {
    let file_read_blocked = probe.is_none_or(|path| std::fs::read(path).is_err())
        && std::fs::read_dir("/").is_err()
        && std::fs::read(format!("/proc/{server}/environ")).is_err();
    let socket_blocked = std::net::UdpSocket::bind("127.0.0.1:0").is_err()
        && std::net::TcpListener::bind("127.0.0.1:0").is_err();
    let exec_blocked = std::process::Command::new("/bin/sh")
        .arg("-c")
        .arg("exit 0")
        .status()
        .is_err();
    FromWorker::SelfTest {
        file_read_blocked,
        socket_blocked,
        exec_blocked,
    }
}
