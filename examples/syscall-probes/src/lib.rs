//! A test fixture: tries, with raw system calls, what a confined worker must not be able to
//! do, and reports the `errno` of each attempt (`0` when it succeeded).
//!
//! Used by `sandbox-lab`'s `/lab/probes` endpoint (`examples/tests/confined.rs`). It lives
//! in its own crate because the workspace forbids `unsafe`, and `std` has no way to call
//! `ptrace`, `process_vm_writev`, `io_uring_setup`, `shmget`, `setxattr`, `truncate` and
//! the others. Each probe is written so that it harms nothing if it succeeds: it changes a
//! file the test created for it, targets the worker itself, or writes to an unmapped address.

use std::collections::BTreeMap;

/// The `errno` of each probe by name (`0`: the call succeeded), and the descriptors found
/// open among `first_fd..limit_fd`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// Probe name to `errno`.
    pub errno: BTreeMap<&'static str, i32>,
    /// Descriptors that answer a zero-length `read` or `write` with anything but `EBADF`.
    pub open_fds: Vec<i32>,
}

/// Runs every probe: `file` is a file the caller created (chmod, chown, setxattr,
/// utimensat, truncate and open use it), `server` the server's process id (ptrace,
/// process_vm_writev and the `/proc` reads target it), `fds` the descriptors to check.
#[cfg(target_os = "linux")]
pub fn run(file: &str, server: i32, fds: std::ops::Range<i32>) -> Report {
    imp::run(file, server, fds)
}

/// Without Linux, nothing to probe.
#[cfg(not(target_os = "linux"))]
pub fn run(_file: &str, _server: i32, _fds: std::ops::Range<i32>) -> Report {
    Report::default()
}

#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
mod imp {
    use std::ffi::CString;

    use super::Report;

    /// The `errno` of a call that returned `result` (`0` when it did not fail).
    fn errno(result: libc::c_long) -> i32 {
        if result < 0 {
            std::io::Error::last_os_error().raw_os_error().unwrap_or(-1)
        } else {
            0
        }
    }

    fn c(text: &str) -> CString {
        CString::new(text).unwrap_or_default()
    }

    pub(super) fn run(file: &str, server: i32, fds: std::ops::Range<i32>) -> Report {
        let path = c(file);
        let mut report = Report::default();
        let mut probe = |name: &'static str, result: libc::c_long| {
            report.errno.insert(name, errno(result));
        };
        // SAFETY (every block below): the arguments are valid C strings, initialized
        // buffers and structures that outlive the call, or addresses the kernel only
        // reads through copy_from_user and answers EFAULT for.
        unsafe {
            let fd = libc::open(path.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC);
            probe("open", fd.into());
            if fd >= 0 {
                libc::close(fd);
            }
            for (name, proc_file) in [
                ("open_server_environ", "environ"),
                ("open_server_cmdline", "cmdline"),
            ] {
                let proc_path = c(&format!("/proc/{server}/{proc_file}"));
                let fd = libc::open(proc_path.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC);
                probe(name, fd.into());
                if fd >= 0 {
                    libc::close(fd);
                }
            }
            probe("chmod", libc::chmod(path.as_ptr(), 0o777).into());
            // `-1, -1`: change nothing, but the kernel checks the call all the same.
            probe(
                "chown",
                libc::chown(path.as_ptr(), u32::MAX, u32::MAX).into(),
            );
            let name = c("user.confined-probe");
            probe(
                "setxattr",
                libc::setxattr(path.as_ptr(), name.as_ptr(), b"1".as_ptr().cast(), 1, 0).into(),
            );
            probe(
                "utimensat",
                libc::utimensat(libc::AT_FDCWD, path.as_ptr(), std::ptr::null(), 0).into(),
            );
            probe("truncate", libc::truncate(path.as_ptr(), 0).into());
            probe(
                "ptrace",
                libc::ptrace(
                    libc::PTRACE_ATTACH,
                    server,
                    std::ptr::null_mut::<libc::c_void>(),
                    std::ptr::null_mut::<libc::c_void>(),
                ),
            );
            let byte = [0u8; 1];
            let local = libc::iovec {
                iov_base: byte.as_ptr() as *mut libc::c_void,
                iov_len: 1,
            };
            // Address 1 is never mapped: had the call been allowed, it would answer EFAULT.
            let remote = libc::iovec {
                iov_base: std::ptr::without_provenance_mut(1),
                iov_len: 1,
            };
            probe(
                "process_vm_writev",
                libc::process_vm_writev(server, &local, 1, &remote, 1, 0) as libc::c_long,
            );
            let mut params = [0u8; 120]; // struct io_uring_params
            let ring = libc::syscall(libc::SYS_io_uring_setup, 1u32, params.as_mut_ptr());
            probe("io_uring_setup", ring);
            if ring >= 0 {
                libc::close(ring as i32);
            }
            // This process only (0), lowest priority: harmless had it worked.
            probe(
                "setpriority",
                libc::setpriority(libc::PRIO_PROCESS, 0, 19).into(),
            );
            let segment = libc::shmget(libc::IPC_PRIVATE, 4096, libc::IPC_CREAT | 0o600);
            probe("shmget", segment.into());
            if segment >= 0 {
                libc::shmctl(segment, libc::IPC_RMID, std::ptr::null_mut());
            }
            let socket = libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
            probe("socket", socket.into());
            if socket >= 0 {
                libc::close(socket);
            }
            // `connect` on standard input (/dev/null): ENOTSOCK if the call were allowed.
            let address = libc::sockaddr_in {
                sin_family: libc::AF_INET as libc::sa_family_t,
                sin_port: 9u16.to_be(),
                sin_addr: libc::in_addr {
                    s_addr: u32::from_be_bytes([127, 0, 0, 1]).to_be(),
                },
                sin_zero: [0; 8],
            };
            probe(
                "connect",
                libc::connect(
                    0,
                    (&raw const address).cast(),
                    std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
                )
                .into(),
            );
            let program = c("/bin/true");
            let argv = [program.as_ptr(), std::ptr::null()];
            let envp = [std::ptr::null()];
            probe(
                "execve",
                libc::execve(program.as_ptr(), argv.as_ptr(), envp.as_ptr()).into(),
            );
            // An x32 system call number (getpid | __X32_SYSCALL_BIT).
            #[cfg(target_arch = "x86_64")]
            probe("x32_getpid", libc::syscall(libc::SYS_getpid | 0x4000_0000));
            let mut buffer = [0u8; 1];
            for fd in fds {
                let read = libc::read(fd, buffer.as_mut_ptr().cast(), 0);
                let read_errno = errno(read as libc::c_long);
                let write = libc::write(fd, buffer.as_ptr().cast(), 0);
                let write_errno = errno(write as libc::c_long);
                if read_errno != libc::EBADF || write_errno != libc::EBADF {
                    report.open_fds.push(fd);
                }
            }
        }
        report
    }
}
