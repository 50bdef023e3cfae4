//! The worker's sandbox: resource limits, `no_new_privs`, Landlock and seccomp.

use std::collections::BTreeMap;

use rustix::process::{Resource, Rlimit, setrlimit};

use super::protocol::SandboxLayers;

/// CPU seconds a worker may use over its life; the pool replaces workers long before.
const CPU_SECONDS: u64 = 300;

/// The system calls a worker may make once its sandbox is in place; every other call fails
/// with `EPERM` (see [`seccomp`]).
///
/// Measured, not guessed: `strace -f` over the confined tests and the `sandbox-lab` handlers
/// (the self-test, echo with a 1 MiB JSON body, a host call, a panic, a worker out of memory,
/// the refused escapes) shows a worker calling, once the filter is in place, exactly
/// `read write brk mmap munmap futex getrandom rt_sigprocmask getpid gettid tgkill`, plus the
/// refused `openat socket clone3`. The others below are each named for what needs them
/// although the tests do not reach it.
pub(super) const ALLOWED: &[i64] = &[
    // The protocol on the inherited pipes, and a handler's `eprintln!` (stderr is a pipe).
    libc::SYS_read,
    libc::SYS_write,
    // The allocator; `mremap` is glibc's `realloc` of a block it `mmap`ed (large `Vec`s).
    libc::SYS_brk,
    libc::SYS_mmap,
    libc::SYS_munmap,
    libc::SYS_mremap,
    // `std`'s locks and `OnceLock`, `HashMap`'s random seed.
    libc::SYS_futex,
    libc::SYS_getrandom,
    // `Instant::now()` and `SystemTime::now()` (which `unwrap` the result) when the vDSO falls
    // back to the system call, and `std::thread::sleep` (bounded by the call's time limit).
    libc::SYS_clock_gettime,
    libc::SYS_clock_nanosleep,
    libc::SYS_nanosleep,
    // `abort()` after a failed allocation or a double panic: block signals, raise `SIGABRT` at
    // itself (`tgkill` is restricted to this process below); `rt_sigreturn` ends a signal
    // handler (std's stack-overflow handler returns for a fault that is not an overflow).
    libc::SYS_rt_sigprocmask,
    libc::SYS_rt_sigreturn,
    libc::SYS_getpid,
    libc::SYS_gettid,
    // The end of the process (`std::process::exit` at the end of the channel). A worker has
    // one thread and cannot start another (`clone`, `clone3`), so no `exit`.
    libc::SYS_exit_group,
];

/// Applies every layer it can and reports which took effect. `inherited_fds` and
/// `parent_death_signal` are what [`worker`](super::worker) found and set before.
pub(super) fn apply(
    memory: u64,
    inherited_fds: Vec<i32>,
    parent_death_signal: bool,
) -> SandboxLayers {
    let limit = |resource, value: u64| {
        setrlimit(
            resource,
            Rlimit {
                current: Some(value),
                maximum: Some(value),
            },
        )
        .is_ok()
    };
    let limits = limit(Resource::As, memory)
        & limit(Resource::Core, 0)
        & limit(Resource::Fsize, 0)
        & limit(Resource::Cpu, CPU_SECONDS)
        & limit(Resource::Nofile, 16);
    let no_new_privs = rustix::thread::set_no_new_privs(true).is_ok();
    let landlock = landlock();
    let seccomp = seccomp().is_ok();
    SandboxLayers {
        landlock: landlock.summary,
        landlock_enforced: landlock.enforced,
        landlock_abi: landlock.abi,
        landlock_complete: landlock.complete,
        seccomp,
        no_new_privs,
        limits,
        parent_death_signal,
        inherited_fds,
    }
}

/// The rights every worker's ruleset handles (and grants none of): the whole filesystem, TCP
/// bind and connect, signals and abstract Unix sockets outside the sandbox. `V6` is the ABI
/// that brought the last of them (scopes, Linux 6.12).
const RULES_ABI: landlock::ABI = landlock::ABI::V6;

/// What [`landlock`] put in place.
struct Landlock {
    summary: String,
    enforced: bool,
    abi: u32,
    complete: bool,
}

/// No filesystem access, no TCP bind or connect, no signals or abstract sockets outside.
///
/// The ruleset asks for every right of [`RULES_ABI`] in the crate's best-effort mode, which
/// drops exactly the rights the running kernel's ABI does not know: so the rules are
/// *complete for this kernel* when the kernel's ABI is at least `V6` and the status is
/// `FullyEnforced`, or the ABI is lower and the status is `PartiallyEnforced` (what was
/// dropped does not exist on this kernel; the seccomp allow-list refuses `truncate`,
/// `socket` and `kill` there anyway).
fn landlock() -> Landlock {
    use landlock::{
        ABI, Access as _, AccessFs, AccessNet, LandlockStatus, Ruleset, RulesetAttr as _,
        RulesetStatus, Scope,
    };
    let result = Ruleset::default()
        .handle_access(AccessFs::from_all(RULES_ABI))
        .and_then(|r| r.handle_access(AccessNet::from_all(RULES_ABI)))
        .and_then(|r| r.scope(Scope::from_all(RULES_ABI)))
        .and_then(|r| r.create())
        .and_then(|r| r.restrict_self());
    let status = match result {
        Ok(status) => status,
        Err(error) => {
            return Landlock {
                summary: format!("error: {error}"),
                enforced: false,
                abi: 0,
                complete: false,
            };
        }
    };
    let kernel_abi = match status.landlock {
        LandlockStatus::Available { effective_abi, .. } => effective_abi,
        LandlockStatus::NotEnabled | LandlockStatus::NotImplemented => ABI::Unsupported,
    };
    let abi = kernel_abi as u32;
    let (summary, enforced, complete) = match status.ruleset {
        RulesetStatus::FullyEnforced => (format!("fully enforced (ABI {abi})"), true, true),
        RulesetStatus::PartiallyEnforced => (
            format!(
                "enforced for the kernel's ABI {abi} (below {})",
                RULES_ABI as u32
            ),
            true,
            kernel_abi < RULES_ABI && kernel_abi != ABI::Unsupported,
        ),
        RulesetStatus::NotEnforced => (
            "not enforced (kernel without Landlock)".to_string(),
            false,
            false,
        ),
    };
    Landlock {
        summary,
        enforced,
        abi,
        complete,
    }
}

/// The allow-list [`ALLOWED`], plus `tgkill` to this process (how `abort()` raises
/// `SIGABRT`); every other system call fails with `EPERM`.
///
/// **`EPERM` rather than killing the worker:** a refused call is an ordinary error for the
/// handler (`std::fs::set_permissions` returns an `io::Error`, `std::process::Command`
/// returns one), so a handler that probes the sandbox, or a library that tries a call and
/// falls back, fails the request it is serving, not the worker, and the refusal is visible to
/// the caller and to the tests. Nothing it could do with the refused call is reachable either
/// way. A call made for **another architecture** (`int 0x80` from an x86-64 process, whose
/// `seccomp_data.arch` is `AUDIT_ARCH_I386`) kills the process: seccompiler checks the
/// architecture first and answers `SECCOMP_RET_KILL_PROCESS`, since no Rust code makes such
/// calls. **x32** numbers (`nr | __X32_SYSCALL_BIT`, same architecture value as x86-64) are
/// refused by construction: only the exact numbers of [`ALLOWED`] are let through, and none
/// of them has bit 30 set.
fn seccomp() -> Result<(), String> {
    use seccompiler::{
        BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
        SeccompRule,
    };
    let mut rules: BTreeMap<i64, Vec<SeccompRule>> =
        ALLOWED.iter().map(|&call| (call, Vec::new())).collect();
    let pid = u64::from(
        rustix::process::getpid()
            .as_raw_nonzero()
            .get()
            .unsigned_abs(),
    );
    let this_process = SeccompCondition::new(0, SeccompCmpArgLen::Dword, SeccompCmpOp::Eq, pid)
        .map_err(|e| e.to_string())?;
    rules.insert(
        libc::SYS_tgkill,
        vec![SeccompRule::new(vec![this_process]).map_err(|e| e.to_string())?],
    );
    let arch = std::env::consts::ARCH
        .try_into()
        .map_err(|e: seccompiler::BackendError| e.to_string())?;
    let filter = SeccompFilter::new(
        rules,
        SeccompAction::Errno(libc::EPERM as u32),
        SeccompAction::Allow,
        arch,
    )
    .map_err(|e| e.to_string())?;
    let program: BpfProgram = filter
        .try_into()
        .map_err(|e: seccompiler::BackendError| e.to_string())?;
    seccompiler::apply_filter(&program).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::ALLOWED;

    #[cfg(target_arch = "x86_64")]
    /// What the issue names as reachable with a deny-list is not on the allow-list, nor is
    /// any way to reach a file, the network, another process or the kernel's other interfaces.
    #[test]
    fn the_allow_list_has_no_call_that_reaches_outside() {
        let refused = [
            ("open", libc::SYS_open),
            ("openat", libc::SYS_openat),
            ("openat2", libc::SYS_openat2),
            ("chmod", libc::SYS_chmod),
            ("fchmod", libc::SYS_fchmod),
            ("fchmodat", libc::SYS_fchmodat),
            ("chown", libc::SYS_chown),
            ("fchown", libc::SYS_fchown),
            ("fchownat", libc::SYS_fchownat),
            ("setxattr", libc::SYS_setxattr),
            ("fsetxattr", libc::SYS_fsetxattr),
            ("lsetxattr", libc::SYS_lsetxattr),
            ("utimensat", libc::SYS_utimensat),
            ("truncate", libc::SYS_truncate),
            ("ftruncate", libc::SYS_ftruncate),
            ("ptrace", libc::SYS_ptrace),
            ("process_vm_readv", libc::SYS_process_vm_readv),
            ("process_vm_writev", libc::SYS_process_vm_writev),
            ("io_uring_setup", libc::SYS_io_uring_setup),
            ("setpriority", libc::SYS_setpriority),
            ("shmget", libc::SYS_shmget),
            ("msgget", libc::SYS_msgget),
            ("semget", libc::SYS_semget),
            ("socket", libc::SYS_socket),
            ("connect", libc::SYS_connect),
            ("execve", libc::SYS_execve),
            ("execveat", libc::SYS_execveat),
            ("clone", libc::SYS_clone),
            ("clone3", libc::SYS_clone3),
            ("kill", libc::SYS_kill),
            ("prlimit64", libc::SYS_prlimit64),
            ("setrlimit", libc::SYS_setrlimit),
            ("prctl", libc::SYS_prctl),
            ("seccomp", libc::SYS_seccomp),
            ("ioctl", libc::SYS_ioctl),
            ("mprotect", libc::SYS_mprotect),
            ("close", libc::SYS_close),
            ("madvise", libc::SYS_madvise),
        ];
        for (name, nr) in refused {
            assert!(!ALLOWED.contains(&nr), "`{name}` must not be allowed");
        }
        // x32 numbers are refused by construction: no allowed number carries bit 30.
        assert!(ALLOWED.iter().all(|nr| nr & 0x4000_0000 == 0));
    }
}
