//! Variadic hooks (dprintf, vdprintf, syscall, execl, execlp, execle, clone, the wide
//! printf family: those taking a va_list too, which stable Rust cannot name). Their bodies
//! are C (variadic.c); the exported symbols are naked jumps into it, so the C function
//! receives the caller's registers untouched. The C side calls back into the `shadow_*`
//! functions.

use crate::boundary;
use crate::fdtable;
use crate::real::Errno;
use libc::{c_char, c_int, c_long, size_t};

extern "C" {
    fn shadow_c_dprintf();
    fn shadow_c_vdprintf();
    fn shadow_c_syscall();
    fn shadow_c_execl();
    fn shadow_c_execlp();
    fn shadow_c_execle();
    fn shadow_c_clone();
    fn shadow_c_fwprintf();
    fn shadow_c_vfwprintf();
    fn shadow_c_wprintf();
    fn shadow_c_vwprintf();
    fn shadow_c_fwprintf_chk();
    fn shadow_c_vfwprintf_chk();
    fn shadow_c_wprintf_chk();
    fn shadow_c_vwprintf_chk();
}

macro_rules! jump_to_c {
    ($($name:ident => $target:ident),*) => {$(
        /// Variadic hook: continues in variadic.c with every register intact.
        #[no_mangle]
        #[unsafe(naked)]
        pub unsafe extern "C-unwind" fn $name() {
            #[cfg(target_arch = "x86_64")]
            core::arch::naked_asm!("jmp {0}", sym $target);
            #[cfg(target_arch = "aarch64")]
            core::arch::naked_asm!("b {0}", sym $target);
        }
    )*};
}

jump_to_c! {
    dprintf => shadow_c_dprintf,
    vdprintf => shadow_c_vdprintf,
    syscall => shadow_c_syscall,
    execl => shadow_c_execl,
    execlp => shadow_c_execlp,
    execle => shadow_c_execle,
    clone => shadow_c_clone,
    fwprintf => shadow_c_fwprintf,
    vfwprintf => shadow_c_vfwprintf,
    wprintf => shadow_c_wprintf,
    vwprintf => shadow_c_vwprintf,
    __fwprintf_chk => shadow_c_fwprintf_chk,
    __vfwprintf_chk => shadow_c_vfwprintf_chk,
    __wprintf_chk => shadow_c_wprintf_chk,
    __vwprintf_chk => shadow_c_vwprintf_chk
}

#[no_mangle]
pub extern "C-unwind" fn shadow_fd_is_shadowed(fd: c_int) -> c_int {
    (fdtable::is_shadowed(fd) && crate::set::is_active()) as c_int
}

/// One of the shim's own numbers, asked for by the program (see `fdtable::straight_on`):
/// its dprintf answers EBADF.
#[no_mangle]
pub extern "C-unwind" fn shadow_fd_is_not_the_programs(fd: c_int) -> c_int {
    crate::hooks::open::programs_probe_of_ours(fd) as c_int
}

/// `fdtable::relinks`, for a write the C side makes straight (see `fdtable::passed_through`).
#[no_mangle]
pub extern "C-unwind" fn shadow_relinks() -> u64 {
    fdtable::relinks()
}

/// `fdtable::let_goes`, read after the bit test of such a write (see `fdtable::Passing`).
#[no_mangle]
pub extern "C-unwind" fn shadow_let_goes() -> u64 {
    fdtable::let_goes()
}

/// `checked`: `shadow_let_goes()` after the bit test (see `fdtable::Passing`).
#[no_mangle]
pub extern "C-unwind" fn shadow_passed_through(fd: c_int, before: u64, checked: u64) {
    fdtable::passed_through(fd, fdtable::Passing::read(before, checked))
}

#[no_mangle]
pub unsafe extern "C-unwind" fn shadow_write_all(fd: c_int, buf: *const c_char, n: size_t) -> c_long {
    boundary::cancellation_point();
    let data = std::slice::from_raw_parts(buf as *const u8, n);
    boundary::hook(|| crate::hooks::data::write_all(fd, data).map(|n| n as isize), || crate::real::raw::write(fd, buf.cast(), n)) as c_long
}

#[no_mangle]
pub unsafe extern "C-unwind" fn shadow_exec(path: *const c_char, argv: *const *const c_char, envp: *const *const c_char, search: c_int) -> c_int {
    if search != 0 {
        crate::hooks::process::execvpe(path, argv, envp)
    } else {
        crate::hooks::process::execve(path, argv, envp)
    }
}

/// For clone(3) (variadic.c): whether its child gets its own copy of the memory, as a
/// fork's does, while the shim is active.
#[no_mangle]
pub extern "C-unwind" fn shadow_clone_is_fork(flags: c_int) -> c_int {
    let shares = flags as c_long & CLONE_SHARES_VM != 0;
    if shares {
        crate::real::uncounted_thread();
    }
    (crate::set::is_active() && !shares) as c_int
}

/// The fork handlers, for clone(3) (variadic.c), for which glibc runs none.
#[no_mangle]
pub extern "C-unwind" fn shadow_fork_prepare() {
    boundary::before_fork();
}

#[no_mangle]
pub extern "C-unwind" fn shadow_fork_parent() {
    boundary::after_fork_parent();
}

#[no_mangle]
pub extern "C-unwind" fn shadow_fork_child() {
    boundary::after_fork_child();
}

fn failed(e: Errno) -> c_long {
    e.set();
    -1
}

/// syscall(2) with a number whose libc wrapper is hooked: the same hook runs, so a raw
/// system call on a path under the prefix is translated exactly like its wrapper. Numbers
/// that take a path and have no mirrored form are refused (ENOSYS, reported) when the path is
/// under the prefix, never passed on with a virtual path. io_uring is refused while a set is
/// active, so programs take their ordinary fallback instead of submitting writes the shim
/// cannot see.
#[no_mangle]
pub unsafe extern "C-unwind" fn shadow_syscall(n: c_long, a: c_long, b: c_long, c: c_long, d: c_long, e: c_long, f: c_long, handled: *mut c_int) -> c_long {
    use crate::hooks::{data, dir, meta, namespace, open, process, socket};
    *handled = 1;
    let _not_cancellable = crate::boundary::not_a_cancellation_point();
    let fd = a as c_int;
    let p = |x: c_long| x as *const c_char;
    let int = |r: c_int| r as c_long;
    if matches!(n, libc::SYS_munmap | libc::SYS_mremap | libc::SYS_mprotect | libc::SYS_mmap | libc::SYS_madvise | libc::SYS_pkey_mprotect) {
        // The address space changes behind the hooks: pages seen readable are forgotten.
        crate::mem::forget_pages();
    }
    let r: c_long = match n {
        libc::SYS_io_uring_setup | libc::SYS_io_setup if crate::set::is_active() => return failed(Errno(libc::ENOSYS)),
        // Data and descriptors.
        libc::SYS_write => data::write(fd, b as _, c as _) as c_long,
        libc::SYS_pwrite64 => data::pwrite64(fd, b as _, c as _, d) as c_long,
        libc::SYS_writev => data::writev(fd, b as _, c as _) as c_long,
        libc::SYS_pwritev => data::pwritev(fd, b as _, c as _, d) as c_long,
        libc::SYS_pwritev2 => data::pwritev2(fd, b as _, c as _, d, f as _) as c_long,
        libc::SYS_lseek => data::lseek64(fd, b, c as _),
        libc::SYS_ftruncate => int(data::ftruncate(fd, b)),
        libc::SYS_fallocate => int(data::fallocate(fd, b as _, c, d)),
        libc::SYS_fsync => int(data::fsync(fd)),
        libc::SYS_fdatasync => int(data::fdatasync(fd)),
        libc::SYS_syncfs => int(data::syncfs(fd)),
        libc::SYS_sync => {
            data::sync();
            0
        }
        libc::SYS_sync_file_range => int(data::sync_file_range(fd, b, c, d as _)),
        libc::SYS_copy_file_range => data::copy_file_range(fd, b as _, c as _, d as _, e as _, f as _) as c_long,
        libc::SYS_sendfile => data::sendfile(fd, b as _, c as _, d as _) as c_long,
        libc::SYS_splice => data::splice(fd, b as _, c as _, d as _, e as _, f as _) as c_long,
        libc::SYS_ioctl => int(data::ioctl(fd, b as _, c as _)),
        libc::SYS_close => int(open::close(fd)),
        libc::SYS_close_range => int(open::close_range(a as _, b as _, c as _)),
        libc::SYS_dup => int(open::dup(fd)),
        libc::SYS_dup3 => int(open::dup3(fd, b as _, c as _)),
        libc::SYS_fcntl => int(open::fcntl(fd, b as _, c)),
        libc::SYS_fchmod => int(meta::fchmod(fd, b as _)),
        libc::SYS_fchown => int(meta::fchown(fd, b as _, c as _)),
        libc::SYS_fsetxattr => int(meta::fsetxattr(fd, p(b), c as _, d as _, e as _)),
        libc::SYS_fremovexattr => int(meta::fremovexattr(fd, p(b))),
        libc::SYS_fchdir => int(dir::fchdir(fd)),
        // Paths, relative to a directory fd.
        libc::SYS_openat => int(open::openat(fd, p(b), c as _, d as _)),
        libc::SYS_openat2 => int(open::openat2(fd, p(b), c as _, d as _)),
        libc::SYS_mkdirat => int(namespace::mkdirat(fd, p(b), c as _)),
        libc::SYS_unlinkat => int(namespace::unlinkat(fd, p(b), c as _)),
        libc::SYS_renameat => int(namespace::renameat(fd, p(b), c as _, p(d))),
        libc::SYS_renameat2 => int(namespace::renameat2(fd, p(b), c as _, p(d), e as _)),
        libc::SYS_linkat => int(namespace::linkat(fd, p(b), c as _, p(d), e as _)),
        libc::SYS_symlinkat => int(namespace::symlinkat(p(a), b as _, p(c))),
        libc::SYS_mknodat => int(namespace::mknodat(fd, p(b), c as _, d as _)),
        libc::SYS_fchmodat => int(meta::fchmodat(fd, p(b), c as _, 0)),
        SYS_FCHMODAT2 => int(meta::at_change("fchmodat2", fd, p(b), d as _, |fd, path, flags| raw_int(n, [fd as _, path as _, c, flags as _, 0, 0]))),
        // The xattr calls by dirfd, path and AT_ flags (Linux 6.13), and file_setattr (6.17).
        SYS_SETXATTRAT => int(meta::stamp_at(fd, p(b), c as _, p(d), libc::EPERM).unwrap_or_else(|| meta::at_change("setxattrat", fd, p(b), c as _, |fd, path, flags| raw_int(n, [fd as _, path as _, flags as _, d, e, f])))),
        SYS_REMOVEXATTRAT => int(meta::stamp_at(fd, p(b), c as _, p(d), libc::ENODATA).unwrap_or_else(|| meta::at_change("removexattrat", fd, p(b), c as _, |fd, path, flags| raw_int(n, [fd as _, path as _, flags as _, d, 0, 0])))),
        SYS_FILE_SETATTR => int(meta::at_change("file_setattr", fd, p(b), e as _, |fd, path, flags| raw_int(n, [fd as _, path as _, c, d, flags as _, 0]))),
        SYS_GETXATTRAT if meta::stamp_at(fd, p(b), c as _, p(d), libc::ENODATA).is_some() => -1,
        SYS_GETXATTRAT | SYS_LISTXATTRAT | SYS_FILE_GETATTR => {
            let r = meta::at_read("xattr read", fd, p(b), |fd, path| crate::real::raw::syscall(n, fd as _, path as _, c, d, e, f) as isize);
            match n {
                SYS_LISTXATTRAT => meta::listed_at(fd, p(b), c as _, d as _, e as _, r) as c_long,
                _ => r as c_long,
            }
        }
        libc::SYS_fchownat => int(meta::fchownat(fd, p(b), c as _, d as _, e as _)),
        libc::SYS_utimensat => int(meta::utimensat(fd, p(b), c as _, d as _)),
        libc::SYS_newfstatat => int(meta::fstatat64(fd, p(b), c as _, d as _)),
        libc::SYS_statx => int(meta::statx(fd, p(b), c as _, d as _, e as _)),
        libc::SYS_faccessat => int(meta::faccessat(fd, p(b), c as _, 0)),
        libc::SYS_faccessat2 => int(meta::faccessat(fd, p(b), c as _, d as _)),
        libc::SYS_readlinkat => dir::readlinkat(fd, p(b), c as _, d as _) as c_long,
        libc::SYS_execveat => int(process::execveat(fd, p(b), c as _, d as _, e as _)),
        libc::SYS_inotify_add_watch => int(dir::inotify_add_watch(fd, p(b), c as _)),
        libc::SYS_name_to_handle_at => int(dir::name_to_handle_at(fd, p(b), c as _, d as _, e as _)),
        libc::SYS_open_by_handle_at => int(dir::open_by_handle_at(fd, b as _, c as _)),
        libc::SYS_fanotify_mark => int(dir::fanotify_mark(fd, b as _, c as _, d as _, p(e))),
        // Paths.
        libc::SYS_truncate => int(meta::truncate(p(a), b)),
        libc::SYS_chdir => int(dir::chdir(p(a))),
        libc::SYS_chroot => int(dir::chroot(p(a))),
        libc::SYS_getcwd => {
            let r = dir::getcwd(p(a) as *mut c_char, b as _);
            if r.is_null() { -1 } else { libc::strlen(r) as c_long + 1 }
        }
        libc::SYS_statfs => int(meta::statfs(p(a), b as _)),
        libc::SYS_setxattr => int(meta::setxattr(p(a), p(b), c as _, d as _, e as _)),
        libc::SYS_lsetxattr => int(meta::lsetxattr(p(a), p(b), c as _, d as _, e as _)),
        libc::SYS_removexattr => int(meta::removexattr(p(a), p(b))),
        libc::SYS_lremovexattr => int(meta::lremovexattr(p(a), p(b))),
        libc::SYS_getxattr => meta::getxattr(p(a), p(b), c as _, d as _) as c_long,
        libc::SYS_lgetxattr => meta::lgetxattr(p(a), p(b), c as _, d as _) as c_long,
        libc::SYS_listxattr => meta::listxattr(p(a), c as _, d as _) as c_long,
        libc::SYS_llistxattr => meta::llistxattr(p(a), c as _, d as _) as c_long,
        libc::SYS_execve => int(process::execve(p(a), b as _, c as _)),
        libc::SYS_exit_group => process::_exit(a as _),
        libc::SYS_unshare => int(dir::unshare(a as _)),
        // New processes: the shim's fork handling around them (a vfork child would share the
        // parent's memory, and is made a fork child, as by vfork()). Threads and other
        // children that share the address space go through as they are.
        libc::SYS_fork | libc::SYS_vfork => fork_raw(|| crate::real::raw::syscall(libc::SYS_fork, 0, 0, 0, 0, 0, 0)),
        libc::SYS_clone if clone_is_fork(a, b) => fork_raw(|| crate::real::raw::syscall(n, a, b, c, d, e, f)),
        libc::SYS_clone3 if clone3_is_fork(a as *const u64, b as usize) => fork_raw(|| crate::real::raw::syscall(n, a, b, c, d, e, f)),
        libc::SYS_clone | libc::SYS_clone3 => {
            crate::real::uncounted_thread();
            *handled = 0;
            0
        }
        libc::SYS_bind => int(socket::bind(fd, b as _, c as _)),
        libc::SYS_connect => int(socket::connect(fd, b as _, c as _)),
        libc::SYS_sendmsg => socket::sendmsg(fd, b as _, c as _) as c_long,
        libc::SYS_recvmsg => socket::recvmsg(fd, b as _, c as _) as c_long,
        libc::SYS_pidfd_getfd => int(socket::pidfd_getfd(fd, b as _, c as _)),
        libc::SYS_sendmmsg => int(socket::sendmmsg(fd, b as _, c as _, d as _)),
        libc::SYS_recvmmsg => int(socket::recvmmsg(fd, b as _, c as _, d as _, e as _)),
        // Paths the shim has no mirrored form for: refused under the prefix.
        libc::SYS_mount | libc::SYS_umount2 | libc::SYS_swapon | libc::SYS_swapoff | libc::SYS_acct | libc::SYS_quotactl | libc::SYS_pivot_root | SYS_OPEN_TREE | SYS_OPEN_TREE_ATTR | SYS_MOVE_MOUNT | SYS_MOUNT_SETATTR => {
            let paths: [*const c_char; 2] = match n {
                libc::SYS_mount => crate::hooks::dir::mount_paths(p(a), p(b), d as libc::c_ulong),
                libc::SYS_pivot_root => [p(a), p(b)],
                libc::SYS_quotactl | SYS_OPEN_TREE | SYS_OPEN_TREE_ATTR | SYS_MOUNT_SETATTR => [p(b), std::ptr::null()],
                SYS_MOVE_MOUNT => [p(b), p(d)],
                _ => [p(a), std::ptr::null()],
            };
            if let Some(e) = crate::hooks::dir::refusal(&format!("system call {n}"), &paths) {
                return failed(e);
            }
            *handled = 0;
            0
        }
        _ => match legacy(n, a, b, c, d) {
            Some(r) => r,
            None => {
                *handled = 0;
                0
            }
        },
    };
    r
}

const CLONE_SHARES_VM: c_long = (libc::CLONE_VM | libc::CLONE_THREAD | libc::CLONE_VFORK) as c_long;

fn fork_raw(fork: impl FnOnce() -> c_long) -> c_long {
    crate::boundary::fork_without_atfork(|| fork() as libc::pid_t) as c_long
}

/// Whether clone's flags and stack make a process of its own, as fork does.
pub(crate) fn clone_is_fork(flags: c_long, stack: c_long) -> bool {
    flags & CLONE_SHARES_VM == 0 && stack == 0
}

/// Whether clone3's arguments (`struct clone_args`: flags first, the stack at byte 40) make
/// a process of its own, as fork does (unreadable ones go to the kernel, which says EFAULT).
pub(crate) unsafe fn clone3_is_fork(args: *const u64, size: usize) -> bool {
    size >= 48 && crate::mem::readable(args.cast(), 48) && *args as c_long & CLONE_SHARES_VM == 0 && *args.add(5) == 0
}

/// A system call made as it is, its `c_int` result.
fn raw_int(n: c_long, args: [c_long; 6]) -> c_int {
    let [a, b, c, d, e, f] = args;
    unsafe { crate::real::raw::syscall(n, a, b, c, d, e, f) as c_int }
}

const SYS_FCHMODAT2: c_long = 452;
const SYS_SETXATTRAT: c_long = 463;
const SYS_GETXATTRAT: c_long = 464;
const SYS_LISTXATTRAT: c_long = 465;
const SYS_REMOVEXATTRAT: c_long = 466;
const SYS_OPEN_TREE_ATTR: c_long = 467;
const SYS_FILE_GETATTR: c_long = 468;
const SYS_FILE_SETATTR: c_long = 469;
const SYS_OPEN_TREE: c_long = 428;
const SYS_MOVE_MOUNT: c_long = 429;
const SYS_MOUNT_SETATTR: c_long = 442;

/// The path system calls x86_64 keeps from before the `*at` forms.
#[cfg(target_arch = "x86_64")]
unsafe fn legacy(n: c_long, a: c_long, b: c_long, c: c_long, d: c_long) -> Option<c_long> {
    use crate::hooks::{dir, meta, namespace, open};
    let _ = d;
    let p = |x: c_long| x as *const c_char;
    let int = |r: c_int| Some(r as c_long);
    match n {
        libc::SYS_open => int(open::open(p(a), b as _, c as _)),
        libc::SYS_creat => int(open::creat(p(a), b as _)),
        libc::SYS_dup2 => int(open::dup2(a as _, b as _)),
        libc::SYS_stat => int(meta::stat64(p(a), b as _)),
        libc::SYS_lstat => int(meta::lstat64(p(a), b as _)),
        libc::SYS_access => int(meta::access(p(a), b as _)),
        libc::SYS_readlink => Some(dir::readlink(p(a), b as _, c as _) as c_long),
        libc::SYS_mkdir => int(namespace::mkdir(p(a), b as _)),
        libc::SYS_rmdir => int(namespace::rmdir(p(a))),
        libc::SYS_unlink => int(namespace::unlink(p(a))),
        libc::SYS_rename => int(namespace::rename(p(a), p(b))),
        libc::SYS_link => int(namespace::link(p(a), p(b))),
        libc::SYS_symlink => int(namespace::symlink(p(a), p(b))),
        libc::SYS_mknod => int(namespace::mknod(p(a), b as _, c as _)),
        libc::SYS_chmod => int(meta::chmod(p(a), b as _)),
        libc::SYS_chown => int(meta::chown(p(a), b as _, c as _)),
        libc::SYS_lchown => int(meta::lchown(p(a), b as _, c as _)),
        libc::SYS_utime => int(meta::utime(p(a), b as _)),
        libc::SYS_utimes => int(meta::utimes(p(a), b as _)),
        libc::SYS_futimesat => int(meta::futimesat(a as _, p(b), c as _)),
        libc::SYS_uselib if crate::hooks::is_shadowed_path(libc::AT_FDCWD, p(a)) => {
            crate::report::refused("uselib", p(a));
            Some(failed(Errno(libc::ENOSYS)))
        }
        _ => None,
    }
}

#[cfg(not(target_arch = "x86_64"))]
unsafe fn legacy(_: c_long, _: c_long, _: c_long, _: c_long, _: c_long) -> Option<c_long> {
    None
}
