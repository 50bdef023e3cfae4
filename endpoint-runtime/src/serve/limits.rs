//! The file-descriptor limit: raised at start-up, and the default connection cap derived
//! from it.

use crate::config::Config;

/// Descriptors kept for everything but connections: the listener, the log, the standard
/// streams, files that handlers open.
const RESERVE: u64 = 64;
/// Descriptors kept per confined worker (its three pipes, spares).
const PER_WORKER: u64 = 4;
/// The cap never goes below this, however low the limit.
const MIN_CAP: u64 = 16;

/// The default of [`Config::max_connections`] under the process's current soft
/// `RLIMIT_NOFILE`: the limit minus 64, minus the database pool (`database_pool`
/// connections: 10 on PostgreSQL, 4 on SQLite, none without a database), minus 4 per
/// confined worker that can be alive (`ENDPOINT_CONFINED_WORKERS` × (confined endpoints +
/// 1), none without confined endpoints), and at least 16. Where the limit cannot be read
/// (not Linux), 1,024 is assumed.
pub(crate) fn default_max_connections(config: &Config, database_pool: u32) -> usize {
    let limit = soft_limit().unwrap_or(1024);
    // Confined workers serve one endpoint each: up to `workers` idle per confined endpoint,
    // plus `workers` busy.
    let confined = crate::registry::endpoints()
        .iter()
        .filter(|endpoint| endpoint.confined().is_some())
        .count();
    let workers = match confined {
        0 => 0,
        n => u64::try_from(config.confined.workers.saturating_mul(n + 1)).unwrap_or(u64::MAX),
    };
    let reserve = RESERVE
        .saturating_add(u64::from(database_pool))
        .saturating_add(workers.saturating_mul(PER_WORKER));
    usize::try_from(limit.saturating_sub(reserve).max(MIN_CAP)).unwrap_or(usize::MAX)
}

/// Whether `accept` failed for want of a file descriptor (`EMFILE`, `ENFILE`), rather than
/// for a connection that went away before it was accepted.
pub(super) fn out_of_descriptors(error: &std::io::Error) -> bool {
    #[cfg(target_os = "linux")]
    {
        use rustix::io::Errno;
        [Errno::MFILE, Errno::NFILE]
            .iter()
            .any(|errno| error.raw_os_error() == Some(errno.raw_os_error()))
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = error;
        true
    }
}

#[cfg(target_os = "linux")]
fn soft_limit() -> Option<u64> {
    rustix::process::getrlimit(rustix::process::Resource::Nofile).current
}

#[cfg(not(target_os = "linux"))]
fn soft_limit() -> Option<u64> {
    None
}

/// Raises the soft `RLIMIT_NOFILE` to the hard limit, as Go's runtime does at start since
/// 1.19, and logs both numbers (once per process at `info`). A limit that cannot be raised is
/// logged and left as it is: the connection cap follows whatever is in force.
#[cfg(target_os = "linux")]
pub(crate) fn raise_nofile_limit() {
    use rustix::process::{Resource, getrlimit, setrlimit};
    static LOGGED: std::sync::Once = std::sync::Once::new();
    let limit = getrlimit(Resource::Nofile);
    let (soft, hard) = (limit.current, limit.maximum);
    if soft.is_some() && soft != hard {
        let raised = rustix::process::Rlimit {
            current: hard,
            maximum: hard,
        };
        if let Err(error) = setrlimit(Resource::Nofile, raised) {
            tracing::warn!(%error, soft, hard, "cannot raise the file-descriptor limit");
            return;
        }
    }
    let show = |n: Option<u64>| n.map_or_else(|| "unlimited".to_string(), |n| n.to_string());
    LOGGED.call_once(|| {
        if soft == hard {
            tracing::info!(limit = %show(hard), "file-descriptor limit (RLIMIT_NOFILE) is at the hard limit");
        } else {
            tracing::info!(
                soft = %show(soft),
                hard = %show(hard),
                "file-descriptor limit (RLIMIT_NOFILE) raised from the soft to the hard limit"
            );
        }
    });
}

#[cfg(not(target_os = "linux"))]
pub(crate) fn raise_nofile_limit() {}
