//! Variadic hooks (dprintf, vdprintf, syscall, execl, execlp, execle). Their bodies are C
//! (variadic.c); the exported symbols are naked jumps into it, so the C function receives
//! the caller's registers untouched. The C side calls back into the `shadow_*` functions.

use crate::boundary;
use crate::fdtable;
use crate::real::{Errno, Res};
use libc::{c_char, c_int, c_long, size_t};

extern "C" {
    fn shadow_c_dprintf();
    fn shadow_c_vdprintf();
    fn shadow_c_syscall();
    fn shadow_c_execl();
    fn shadow_c_execlp();
    fn shadow_c_execle();
}

macro_rules! jump_to_c {
    ($($name:ident => $target:ident),*) => {$(
        /// Variadic hook: continues in variadic.c with every register intact.
        #[no_mangle]
        #[unsafe(naked)]
        pub unsafe extern "C" fn $name() {
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
    execle => shadow_c_execle
}

#[no_mangle]
pub extern "C" fn shadow_fd_is_shadowed(fd: c_int) -> c_int {
    (fdtable::is_shadowed(fd) && crate::set::is_active()) as c_int
}

#[no_mangle]
pub unsafe extern "C" fn shadow_write_all(fd: c_int, buf: *const c_char, n: size_t) -> c_long {
    let data = std::slice::from_raw_parts(buf as *const u8, n);
    boundary::hook(|| crate::hooks::data::write_all(fd, data).map(|n| n as isize), || crate::real::raw::write(fd, buf.cast(), n)) as c_long
}

#[no_mangle]
pub unsafe extern "C" fn shadow_exec(path: *const c_char, argv: *const *const c_char, envp: *const *const c_char, search: c_int) -> c_int {
    if search != 0 {
        crate::hooks::process::execvpe(path, argv, envp)
    } else {
        crate::hooks::process::execve(path, argv, envp)
    }
}

fn failed(e: Errno) -> c_long {
    e.set();
    -1
}

/// syscall(2) with a number whose libc wrapper is hooked: the same hook runs. io_uring is
/// refused while a set is active, so programs take their ordinary fallback instead of
/// submitting writes the shim cannot see.
#[no_mangle]
pub unsafe extern "C" fn shadow_syscall(n: c_long, a: c_long, b: c_long, c: c_long, d: c_long, e: c_long, _f: c_long, handled: *mut c_int) -> c_long {
    use crate::hooks::{data, meta, namespace, open};
    *handled = 1;
    let fd = a as c_int;
    let p = |x: c_long| x as *const c_char;
    let r: Res<c_long> = Ok(match n {
        libc::SYS_io_uring_setup | libc::SYS_io_setup if crate::set::is_active() => return failed(Errno(libc::ENOSYS)),
        libc::SYS_write => data::write(fd, b as _, c as _) as c_long,
        libc::SYS_pwrite64 => data::pwrite64(fd, b as _, c as _, d) as c_long,
        libc::SYS_writev => data::writev(fd, b as _, c as _) as c_long,
        libc::SYS_pwritev => data::pwritev(fd, b as _, c as _, d) as c_long,
        libc::SYS_ftruncate => data::ftruncate(fd, b) as c_long,
        libc::SYS_fallocate => data::fallocate(fd, b as _, c, d) as c_long,
        libc::SYS_fsync => data::fsync(fd) as c_long,
        libc::SYS_fdatasync => data::fdatasync(fd) as c_long,
        libc::SYS_close => open::close(fd) as c_long,
        libc::SYS_open => open::open(p(a), b as _, c as _) as c_long,
        libc::SYS_openat => open::openat(fd, p(b), c as _, d as _) as c_long,
        libc::SYS_unlink => namespace::unlink(p(a)) as c_long,
        libc::SYS_unlinkat => namespace::unlinkat(fd, p(b), c as _) as c_long,
        libc::SYS_mkdir => namespace::mkdir(p(a), b as _) as c_long,
        libc::SYS_mkdirat => namespace::mkdirat(fd, p(b), c as _) as c_long,
        libc::SYS_rename => namespace::rename(p(a), p(b)) as c_long,
        libc::SYS_renameat2 => namespace::renameat2(fd, p(b), c as _, p(d), e as _) as c_long,
        libc::SYS_copy_file_range => data::copy_file_range(fd, b as _, c as _, d as _, e as _, _f as _) as c_long,
        libc::SYS_chmod => meta::chmod(p(a), b as _) as c_long,
        libc::SYS_fchmod => meta::fchmod(fd, b as _) as c_long,
        _ => {
            *handled = 0;
            0
        }
    });
    r.unwrap_or_else(failed)
}
