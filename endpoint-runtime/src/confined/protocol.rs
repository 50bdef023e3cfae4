//! The messages between the server and a worker: a 4-byte big-endian length, then JSON.

use std::io::{Read, Write};

use serde::{Deserialize, Serialize};

use super::{ConfinedError, ConfinedRequest, HostError, HostResponse, Reply};

/// The largest message either side accepts (16 MiB): a worker cannot make the server buffer
/// more than this.
pub(crate) const MAX_MESSAGE: usize = 16 * 1024 * 1024;

/// The argument that starts the binary as a worker.
pub(crate) const WORKER_ARG: &str = "__endpoint-confined-worker";

/// Server to worker.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(crate) enum ToWorker {
    /// Run the handler `endpoint` on `request`.
    Call {
        endpoint: String,
        request: ConfinedRequest,
    },
    /// The answer to the worker's last host call.
    HostReply {
        result: Result<HostResult, HostError>,
    },
    /// Try to read a file, open a socket and start a process, and report.
    SelfTest,
}

/// Worker to server.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(crate) enum FromWorker {
    /// Sent once, after the sandbox is in place.
    Ready { hardening: SandboxLayers },
    /// A host call; the worker waits for [`ToWorker::HostReply`].
    Host { call: HostCall },
    /// The handler's answer.
    Done {
        result: Result<Reply, ConfinedError>,
    },
    /// The handler panicked; the worker stays usable.
    Panicked { message: String },
    /// The answer to [`ToWorker::SelfTest`]: `true` where the attempt was blocked.
    SelfTest {
        file_read_blocked: bool,
        socket_blocked: bool,
        exec_blocked: bool,
    },
}

/// The sandbox layers a worker could put in place, as it reports them (named apart from
/// [`Hardening`](crate::Hardening), the mode that judges them).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SandboxLayers {
    /// Landlock: `fully enforced (ABI n)`, `enforced for the kernel's ABI n`, `not enforced`
    /// or an error.
    pub landlock: String,
    /// Whether Landlock restricts the filesystem at all.
    pub landlock_enforced: bool,
    /// The running kernel's Landlock ABI (0 without Landlock).
    pub landlock_abi: u32,
    /// Whether Landlock enforces every right the rules handle that this kernel's ABI knows.
    pub landlock_complete: bool,
    /// Whether the seccomp allow-list is installed.
    pub seccomp: bool,
    /// Whether `no_new_privs` is set.
    pub no_new_privs: bool,
    /// Whether the resource limits are set.
    pub limits: bool,
    /// Whether the worker gets `SIGKILL` when the server dies (`PR_SET_PDEATHSIG`).
    pub parent_death_signal: bool,
    /// File descriptors above 2 the worker found open when it started, besides nothing: any
    /// number here is a descriptor it inherited by mistake.
    pub inherited_fds: Vec<i32>,
}

impl SandboxLayers {
    /// Everything `required` needs.
    pub fn complete(&self) -> bool {
        self.shortfall().is_none()
    }

    /// What `required` misses, in words; `None` when nothing.
    pub fn shortfall(&self) -> Option<String> {
        let mut missing = Vec::new();
        if !self.landlock_complete {
            missing.push(format!(
                "Landlock does not enforce every right on this kernel ({})",
                self.landlock
            ));
        }
        if !self.seccomp {
            missing.push("the seccomp filter is not installed".to_string());
        }
        if !self.no_new_privs {
            missing.push("no_new_privs is not set".to_string());
        }
        if !self.limits {
            missing.push("the resource limits are not set".to_string());
        }
        if !self.parent_death_signal {
            missing.push("the parent-death signal is not set".to_string());
        }
        if self.inherited_fds == [-1] {
            missing.push(
                "its descriptors could not be checked (`/proc/self/fd` is not readable: is \
                 /proc mounted?)"
                    .to_string(),
            );
        } else if !self.inherited_fds.is_empty() {
            missing.push(format!(
                "it inherited file descriptors {:?}",
                self.inherited_fds
            ));
        }
        (!missing.is_empty()).then(|| missing.join("; "))
    }
}

/// A host call from a handler.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub(crate) enum HostCall {
    Log {
        message: String,
    },
    Request {
        method: String,
        url: String,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    },
}

/// The result of a host call.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub(crate) enum HostResult {
    Logged,
    Response(HostResponse),
}

/// Writes one message (blocking; the worker's side).
pub(crate) fn write_message(out: &mut impl Write, message: &impl Serialize) -> std::io::Result<()> {
    let bytes = serde_json::to_vec(message).map_err(std::io::Error::other)?;
    out.write_all(&u32::try_from(bytes.len()).unwrap_or(u32::MAX).to_be_bytes())?;
    out.write_all(&bytes)?;
    out.flush()
}

/// Reads one message (blocking; the worker's side). `Ok(None)` at end of input.
pub(crate) fn read_message<T: for<'de> Deserialize<'de>>(
    input: &mut impl Read,
) -> std::io::Result<Option<T>> {
    let mut length = [0u8; 4];
    match input.read_exact(&mut length) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let length = u32::from_be_bytes(length) as usize;
    if length > MAX_MESSAGE {
        return Err(std::io::Error::other("message too large"));
    }
    let mut bytes = vec![0u8; length];
    input.read_exact(&mut bytes)?;
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(std::io::Error::other)
}

/// Writes one message (the server's side).
pub(crate) async fn send<W: tokio::io::AsyncWrite + Unpin>(
    out: &mut W,
    message: &ToWorker,
) -> std::io::Result<()> {
    use tokio::io::AsyncWriteExt as _;
    let bytes = serde_json::to_vec(message).map_err(std::io::Error::other)?;
    out.write_all(&u32::try_from(bytes.len()).unwrap_or(u32::MAX).to_be_bytes())
        .await?;
    out.write_all(&bytes).await?;
    out.flush().await
}

/// Reads one message (the server's side); an oversized or malformed message is an error.
pub(crate) async fn receive<R: tokio::io::AsyncRead + Unpin>(
    input: &mut R,
) -> std::io::Result<FromWorker> {
    use tokio::io::AsyncReadExt as _;
    let length = input.read_u32().await? as usize;
    if length > MAX_MESSAGE {
        return Err(std::io::Error::other(format!(
            "the worker sent a {length}-byte message, over the {MAX_MESSAGE}-byte limit"
        )));
    }
    let mut bytes = vec![0u8; length];
    input.read_exact(&mut bytes).await?;
    serde_json::from_slice(&bytes).map_err(std::io::Error::other)
}
