//! The worker's sandbox: resource limits, `no_new_privs`, Landlock and seccomp.

use std::collections::BTreeMap;

use rustix::process::{Resource, Rlimit, setrlimit};

use super::protocol::Hardening;

/// CPU seconds a worker may use over its life; the pool replaces workers long before.
const CPU_SECONDS: u64 = 300;

/// System calls that fail with `EPERM` in a worker.
const DENIED: &[i64] = &[
    libc::SYS_socket,
    libc::SYS_socketpair,
    libc::SYS_connect,
    libc::SYS_bind,
    libc::SYS_listen,
    libc::SYS_accept,
    libc::SYS_accept4,
    libc::SYS_execve,
    libc::SYS_execveat,
    libc::SYS_fork,
    libc::SYS_vfork,
    libc::SYS_clone,
    libc::SYS_clone3,
    libc::SYS_ptrace,
    libc::SYS_process_vm_readv,
    libc::SYS_process_vm_writev,
    libc::SYS_kill,
    libc::SYS_tkill,
    libc::SYS_rt_sigqueueinfo,
    libc::SYS_rt_tgsigqueueinfo,
    libc::SYS_pidfd_open,
    libc::SYS_pidfd_send_signal,
    libc::SYS_pidfd_getfd,
    libc::SYS_io_uring_setup,
    libc::SYS_io_uring_enter,
    libc::SYS_io_uring_register,
    libc::SYS_bpf,
    libc::SYS_perf_event_open,
    libc::SYS_userfaultfd,
    libc::SYS_unshare,
    libc::SYS_setns,
    libc::SYS_mount,
    libc::SYS_umount2,
    libc::SYS_pivot_root,
    libc::SYS_chroot,
    libc::SYS_keyctl,
    libc::SYS_add_key,
    libc::SYS_request_key,
    libc::SYS_init_module,
    libc::SYS_finit_module,
    libc::SYS_delete_module,
    libc::SYS_kexec_load,
    libc::SYS_reboot,
    libc::SYS_open_by_handle_at,
    libc::SYS_name_to_handle_at,
    // The limits above are final, even for a worker of a server running as root.
    libc::SYS_setrlimit,
];

/// Applies every layer it can and reports which took effect.
pub(super) fn apply(memory: u64) -> Hardening {
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
    let (landlock, landlock_enforced) = landlock();
    let seccomp = seccomp().is_ok();
    Hardening {
        landlock,
        landlock_enforced,
        seccomp,
        no_new_privs,
        limits,
    }
}

/// No filesystem access, no TCP bind or connect, no signals or abstract sockets outside.
fn landlock() -> (String, bool) {
    use landlock::{
        ABI, Access as _, AccessFs, AccessNet, Ruleset, RulesetAttr as _, RulesetStatus, Scope,
    };
    let abi = ABI::V6;
    let result = Ruleset::default()
        .handle_access(AccessFs::from_all(abi))
        .and_then(|r| r.handle_access(AccessNet::from_all(abi)))
        .and_then(|r| r.scope(Scope::from_all(abi)))
        .and_then(|r| r.create())
        .and_then(|r| r.restrict_self());
    match result {
        Ok(status) => match status.ruleset {
            RulesetStatus::FullyEnforced => ("fully enforced".into(), true),
            RulesetStatus::PartiallyEnforced => ("partially enforced".into(), true),
            RulesetStatus::NotEnforced => ("not enforced (kernel without Landlock)".into(), false),
        },
        Err(error) => (format!("error: {error}"), false),
    }
}

/// The deny-list above, plus `tgkill` to any other process.
fn seccomp() -> Result<(), String> {
    use seccompiler::{
        BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
        SeccompRule,
    };
    let mut rules: BTreeMap<i64, Vec<SeccompRule>> =
        DENIED.iter().map(|&call| (call, Vec::new())).collect();
    let pid = u64::from(
        rustix::process::getpid()
            .as_raw_nonzero()
            .get()
            .unsigned_abs(),
    );
    let other_process = SeccompCondition::new(0, SeccompCmpArgLen::Dword, SeccompCmpOp::Ne, pid)
        .map_err(|e| e.to_string())?;
    rules.insert(
        libc::SYS_tgkill,
        vec![SeccompRule::new(vec![other_process]).map_err(|e| e.to_string())?],
    );
    // `prlimit64` may read this process's limits, never set them or touch another process's.
    let condition = |arg, op| {
        SeccompCondition::new(arg, SeccompCmpArgLen::Qword, op, 0)
            .and_then(|c| SeccompRule::new(vec![c]))
            .map_err(|e| e.to_string())
    };
    rules.insert(
        libc::SYS_prlimit64,
        vec![
            condition(0, SeccompCmpOp::Ne)?,
            condition(2, SeccompCmpOp::Ne)?,
        ],
    );
    let arch = std::env::consts::ARCH
        .try_into()
        .map_err(|e: seccompiler::BackendError| e.to_string())?;
    let filter = SeccompFilter::new(
        rules,
        SeccompAction::Allow,
        SeccompAction::Errno(libc::EPERM as u32),
        arch,
    )
    .map_err(|e| e.to_string())?;
    let program: BpfProgram = filter
        .try_into()
        .map_err(|e: seccompiler::BackendError| e.to_string())?;
    seccompiler::apply_filter(&program).map_err(|e| e.to_string())
}
