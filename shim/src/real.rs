//! The only module that calls libc through function pointers. Each real function is
//! resolved once with `dlsym(RTLD_NEXT)` (or `dlvsym` where glibc keeps several versions),
//! so calls made from the shim never land in its own hooks. Everything else in the shim
//! uses the typed wrappers at the bottom, which turn `-1`/errno into `Res`.

use libc::{c_char, c_int, c_long, c_uint, c_void, mode_t, off64_t, size_t, ssize_t};
use std::ffi::CStr;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};

/// An errno value. `Res` is how every core function reports failure; the exported hook
/// turns it back into `-1` + errno exactly once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Errno(pub c_int);
pub type Res<T> = Result<T, Errno>;

impl Errno {
    pub fn last() -> Errno {
        Errno(unsafe { *libc::__errno_location() })
    }
    pub fn set(self) {
        unsafe { *libc::__errno_location() = self.0 }
    }
    pub fn describe(self) -> String {
        // strerror_r is not hooked and does not touch files.
        let mut buf = [0 as c_char; 128];
        unsafe { libc::strerror_r(self.0, buf.as_mut_ptr(), buf.len()) };
        unsafe { CStr::from_ptr(buf.as_ptr()) }.to_string_lossy().into_owned()
    }
}

fn cvt<T: PartialEq + From<i8>>(r: T) -> Res<T> {
    if r == T::from(-1) { Err(Errno::last()) } else { Ok(r) }
}

/// The address of the next definition of `name` (NUL-terminated), for hooks that jump to it
/// instead of calling it (see hooks::loader).
pub fn next_address(name: &'static [u8]) -> usize {
    resolve(name, None)
}

/// Resolves a libc symbol or dies loudly: running on without it would mean running
/// un-mirrored, which the user must never be led to believe is mirroring.
fn resolve(name: &'static [u8], version: Option<&'static [u8]>) -> usize {
    let p = unsafe {
        match version {
            Some(v) => libc::dlvsym(libc::RTLD_NEXT, name.as_ptr().cast(), v.as_ptr().cast()),
            None => libc::dlsym(libc::RTLD_NEXT, name.as_ptr().cast()),
        }
    };
    if p.is_null() {
        let msg = b"libshadow: cannot resolve a libc function: ";
        unsafe {
            libc::syscall(libc::SYS_write, 2, msg.as_ptr(), msg.len());
            libc::syscall(libc::SYS_write, 2, name.as_ptr(), name.len() - 1);
            libc::syscall(libc::SYS_write, 2, b"\n".as_ptr(), 1);
            libc::abort();
        }
    }
    p as usize
}

macro_rules! real_functions {
    ($( $(#[version = $ver:literal])? fn $name:ident($($arg:ident: $ty:ty),* $(,)?) -> $ret:ty; )*) => {
        /// Raw pointers to the next definition of each hooked function.
        pub mod raw {
            use super::*;
            $(
            #[allow(clippy::missing_safety_doc, non_snake_case)]
            #[inline]
            pub unsafe fn $name($($arg: $ty),*) -> $ret {
                static PTR: AtomicUsize = AtomicUsize::new(0);
                let mut p = PTR.load(Ordering::Relaxed);
                if p == 0 {
                    let version: Option<&'static [u8]> = None $(.or(Some(concat!($ver, "\0").as_bytes())))?;
                    p = resolve(concat!(stringify!($name), "\0").as_bytes(), version);
                    PTR.store(p, Ordering::Relaxed);
                }
                let f: unsafe extern "C-unwind" fn($($ty),*) -> $ret = std::mem::transmute(p);
                f($($arg),*)
            }
            )*
        }
    };
}

pub type FileP = *mut libc::FILE;
/// C's wint_t (the libc crate lacks it): 32 bits unsigned on Linux.
pub type WintT = u32;

// Conversions the shim's wide streams make (hooks/wide.rs); never hooked.
extern "C" {
    pub fn wcrtomb(s: *mut c_char, wc: libc::wchar_t, state: *mut libc::mbstate_t) -> size_t;
    pub fn mbrtowc(wc: *mut libc::wchar_t, s: *const c_char, n: size_t, state: *mut libc::mbstate_t) -> size_t;
}

// Thread cancellation as the shim holds it off (boundary::NoCancel); never hooked, and
// not in the libc crate. glibc's values.
pub const PTHREAD_CANCEL_ENABLE: c_int = 0;
pub const PTHREAD_CANCEL_DISABLE: c_int = 1;
extern "C" {
    pub fn pthread_setcancelstate(state: c_int, old: *mut c_int) -> c_int;
}

/// glibc's `cookie_io_functions_t` (not in the libc crate).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct CookieFunctions {
    pub read: Option<unsafe extern "C-unwind" fn(*mut c_void, *mut c_char, size_t) -> ssize_t>,
    pub write: Option<unsafe extern "C-unwind" fn(*mut c_void, *const c_char, size_t) -> ssize_t>,
    pub seek: Option<unsafe extern "C-unwind" fn(*mut c_void, *mut off64_t, c_int) -> c_int>,
    pub close: Option<unsafe extern "C-unwind" fn(*mut c_void) -> c_int>,
}

real_functions! {
    fn open(path: *const c_char, flags: c_int, mode: mode_t) -> c_int;
    fn open64(path: *const c_char, flags: c_int, mode: mode_t) -> c_int;
    fn openat(dirfd: c_int, path: *const c_char, flags: c_int, mode: mode_t) -> c_int;
    fn openat64(dirfd: c_int, path: *const c_char, flags: c_int, mode: mode_t) -> c_int;
    fn creat(path: *const c_char, mode: mode_t) -> c_int;
    fn creat64(path: *const c_char, mode: mode_t) -> c_int;
    fn __open_2(path: *const c_char, flags: c_int) -> c_int;
    fn __open64_2(path: *const c_char, flags: c_int) -> c_int;
    fn __openat_2(dirfd: c_int, path: *const c_char, flags: c_int) -> c_int;
    fn __openat64_2(dirfd: c_int, path: *const c_char, flags: c_int) -> c_int;
    fn close(fd: c_int) -> c_int;
    fn close_range(first: c_uint, last: c_uint, flags: c_int) -> c_int;
    fn dup(fd: c_int) -> c_int;
    fn dup2(fd: c_int, newfd: c_int) -> c_int;
    fn dup3(fd: c_int, newfd: c_int, flags: c_int) -> c_int;
    fn fcntl(fd: c_int, cmd: c_int, arg: c_long) -> c_int;
    fn sigaction(sig: c_int, act: *const libc::sigaction, old: *mut libc::sigaction) -> c_int;
    fn abort() -> !;
    fn __sigaction(sig: c_int, act: *const libc::sigaction, old: *mut libc::sigaction) -> c_int;
    fn signal(sig: c_int, handler: libc::sighandler_t) -> libc::sighandler_t;
    fn bsd_signal(sig: c_int, handler: libc::sighandler_t) -> libc::sighandler_t;
    fn ssignal(sig: c_int, handler: libc::sighandler_t) -> libc::sighandler_t;
    fn sysv_signal(sig: c_int, handler: libc::sighandler_t) -> libc::sighandler_t;
    fn __sysv_signal(sig: c_int, handler: libc::sighandler_t) -> libc::sighandler_t;
    fn sigset(sig: c_int, disposition: libc::sighandler_t) -> libc::sighandler_t;
    fn siginterrupt(sig: c_int, interrupt: c_int) -> c_int;
    fn fcntl64(fd: c_int, cmd: c_int, arg: c_long) -> c_int;
    fn flock(fd: c_int, op: c_int) -> c_int;
    fn lockf(fd: c_int, cmd: c_int, len: off64_t) -> c_int;
    fn lockf64(fd: c_int, cmd: c_int, len: off64_t) -> c_int;
    fn write(fd: c_int, buf: *const c_void, n: size_t) -> ssize_t;
    fn pwrite(fd: c_int, buf: *const c_void, n: size_t, off: off64_t) -> ssize_t;
    fn pwrite64(fd: c_int, buf: *const c_void, n: size_t, off: off64_t) -> ssize_t;
    fn writev(fd: c_int, iov: *const libc::iovec, cnt: c_int) -> ssize_t;
    fn pwritev(fd: c_int, iov: *const libc::iovec, cnt: c_int, off: off64_t) -> ssize_t;
    fn pwritev64(fd: c_int, iov: *const libc::iovec, cnt: c_int, off: off64_t) -> ssize_t;
    fn pwritev2(fd: c_int, iov: *const libc::iovec, cnt: c_int, off: off64_t, flags: c_int) -> ssize_t;
    fn pwritev64v2(fd: c_int, iov: *const libc::iovec, cnt: c_int, off: off64_t, flags: c_int) -> ssize_t;
    fn pread64(fd: c_int, buf: *mut c_void, n: size_t, off: off64_t) -> ssize_t;
    fn lseek64(fd: c_int, off: off64_t, whence: c_int) -> off64_t;
    fn ftruncate(fd: c_int, len: off64_t) -> c_int;
    fn ftruncate64(fd: c_int, len: off64_t) -> c_int;
    fn truncate(path: *const c_char, len: off64_t) -> c_int;
    fn truncate64(path: *const c_char, len: off64_t) -> c_int;
    fn fallocate(fd: c_int, mode: c_int, off: off64_t, len: off64_t) -> c_int;
    fn fallocate64(fd: c_int, mode: c_int, off: off64_t, len: off64_t) -> c_int;
    fn posix_fallocate(fd: c_int, off: off64_t, len: off64_t) -> c_int;
    fn posix_fallocate64(fd: c_int, off: off64_t, len: off64_t) -> c_int;
    fn fsync(fd: c_int) -> c_int;
    fn fdatasync(fd: c_int) -> c_int;
    fn sync_file_range(fd: c_int, off: off64_t, n: off64_t, flags: c_uint) -> c_int;
    fn copy_file_range(fin: c_int, offin: *mut off64_t, fout: c_int, offout: *mut off64_t, n: size_t, flags: c_uint) -> ssize_t;
    fn sendfile(out: c_int, fin: c_int, off: *mut off64_t, n: size_t) -> ssize_t;
    fn sendfile64(out: c_int, fin: c_int, off: *mut off64_t, n: size_t) -> ssize_t;
    fn splice(fin: c_int, offin: *mut off64_t, fout: c_int, offout: *mut off64_t, n: size_t, flags: c_uint) -> ssize_t;
    fn ioctl(fd: c_int, req: libc::c_ulong, arg: *mut c_void) -> c_int;
    fn mmap(addr: *mut c_void, len: size_t, prot: c_int, flags: c_int, fd: c_int, off: off64_t) -> *mut c_void;
    fn mmap64(addr: *mut c_void, len: size_t, prot: c_int, flags: c_int, fd: c_int, off: off64_t) -> *mut c_void;
    fn munmap(addr: *mut c_void, len: size_t) -> c_int;
    fn mprotect(addr: *mut c_void, len: size_t, prot: c_int) -> c_int;
    fn mremap(old: *mut c_void, old_len: size_t, new_len: size_t, flags: c_int, new: *mut c_void) -> *mut c_void;
    fn msync(addr: *mut c_void, len: size_t, flags: c_int) -> c_int;
    fn aio_write(cb: *mut libc::aiocb) -> c_int;
    fn aio_write64(cb: *mut libc::aiocb) -> c_int;
    fn aio_return(cb: *mut libc::aiocb) -> ssize_t;
    fn aio_return64(cb: *mut libc::aiocb) -> ssize_t;
    fn aio_fsync(op: c_int, cb: *mut libc::aiocb) -> c_int;
    fn aio_fsync64(op: c_int, cb: *mut libc::aiocb) -> c_int;
    fn mkdir(path: *const c_char, mode: mode_t) -> c_int;
    fn mkdirat(dirfd: c_int, path: *const c_char, mode: mode_t) -> c_int;
    fn rmdir(path: *const c_char) -> c_int;
    fn unlink(path: *const c_char) -> c_int;
    fn unlinkat(dirfd: c_int, path: *const c_char, flags: c_int) -> c_int;
    fn rename(a: *const c_char, b: *const c_char) -> c_int;
    fn renameat(da: c_int, a: *const c_char, db: c_int, b: *const c_char) -> c_int;
    fn renameat2(da: c_int, a: *const c_char, db: c_int, b: *const c_char, flags: c_uint) -> c_int;
    fn link(a: *const c_char, b: *const c_char) -> c_int;
    fn linkat(da: c_int, a: *const c_char, db: c_int, b: *const c_char, flags: c_int) -> c_int;
    fn symlink(target: *const c_char, path: *const c_char) -> c_int;
    fn symlinkat(target: *const c_char, dirfd: c_int, path: *const c_char) -> c_int;
    fn mknod(path: *const c_char, mode: mode_t, dev: libc::dev_t) -> c_int;
    fn mknodat(dirfd: c_int, path: *const c_char, mode: mode_t, dev: libc::dev_t) -> c_int;
    fn mkfifo(path: *const c_char, mode: mode_t) -> c_int;
    fn mkfifoat(dirfd: c_int, path: *const c_char, mode: mode_t) -> c_int;
    fn remove(path: *const c_char) -> c_int;
    fn chmod(path: *const c_char, mode: mode_t) -> c_int;
    fn fchmod(fd: c_int, mode: mode_t) -> c_int;
    fn fchmodat(dirfd: c_int, path: *const c_char, mode: mode_t, flags: c_int) -> c_int;
    fn lchmod(path: *const c_char, mode: mode_t) -> c_int;
    fn chown(path: *const c_char, uid: libc::uid_t, gid: libc::gid_t) -> c_int;
    fn lchown(path: *const c_char, uid: libc::uid_t, gid: libc::gid_t) -> c_int;
    fn fchown(fd: c_int, uid: libc::uid_t, gid: libc::gid_t) -> c_int;
    fn fchownat(dirfd: c_int, path: *const c_char, uid: libc::uid_t, gid: libc::gid_t, flags: c_int) -> c_int;
    fn utime(path: *const c_char, times: *const libc::utimbuf) -> c_int;
    fn utimes(path: *const c_char, times: *const libc::timeval) -> c_int;
    fn lutimes(path: *const c_char, times: *const libc::timeval) -> c_int;
    fn futimes(fd: c_int, times: *const libc::timeval) -> c_int;
    fn utimensat(dirfd: c_int, path: *const c_char, times: *const libc::timespec, flags: c_int) -> c_int;
    fn futimesat(dirfd: c_int, path: *const c_char, times: *const libc::timeval) -> c_int;
    fn futimens(fd: c_int, times: *const libc::timespec) -> c_int;
    fn setxattr(path: *const c_char, name: *const c_char, v: *const c_void, n: size_t, flags: c_int) -> c_int;
    fn lsetxattr(path: *const c_char, name: *const c_char, v: *const c_void, n: size_t, flags: c_int) -> c_int;
    fn fsetxattr(fd: c_int, name: *const c_char, v: *const c_void, n: size_t, flags: c_int) -> c_int;
    fn removexattr(path: *const c_char, name: *const c_char) -> c_int;
    fn lremovexattr(path: *const c_char, name: *const c_char) -> c_int;
    fn fremovexattr(fd: c_int, name: *const c_char) -> c_int;
    fn stat(path: *const c_char, buf: *mut libc::stat) -> c_int;
    fn stat64(path: *const c_char, buf: *mut libc::stat64) -> c_int;
    fn lstat(path: *const c_char, buf: *mut libc::stat) -> c_int;
    fn lstat64(path: *const c_char, buf: *mut libc::stat64) -> c_int;
    fn fstat(fd: c_int, buf: *mut libc::stat) -> c_int;
    fn fstat64(fd: c_int, buf: *mut libc::stat64) -> c_int;
    fn __fxstat(ver: c_int, fd: c_int, buf: *mut libc::stat) -> c_int;
    fn __fxstat64(ver: c_int, fd: c_int, buf: *mut libc::stat64) -> c_int;
    fn fstatat(dirfd: c_int, path: *const c_char, buf: *mut libc::stat, flags: c_int) -> c_int;
    fn fstatat64(dirfd: c_int, path: *const c_char, buf: *mut libc::stat64, flags: c_int) -> c_int;
    fn __xstat(ver: c_int, path: *const c_char, buf: *mut libc::stat) -> c_int;
    fn __xstat64(ver: c_int, path: *const c_char, buf: *mut libc::stat64) -> c_int;
    fn __lxstat(ver: c_int, path: *const c_char, buf: *mut libc::stat) -> c_int;
    fn __lxstat64(ver: c_int, path: *const c_char, buf: *mut libc::stat64) -> c_int;
    fn __fxstatat(ver: c_int, dirfd: c_int, path: *const c_char, buf: *mut libc::stat, flags: c_int) -> c_int;
    fn __fxstatat64(ver: c_int, dirfd: c_int, path: *const c_char, buf: *mut libc::stat64, flags: c_int) -> c_int;
    fn statx(dirfd: c_int, path: *const c_char, flags: c_int, mask: c_uint, buf: *mut libc::statx) -> c_int;
    fn statfs(path: *const c_char, buf: *mut libc::statfs) -> c_int;
    fn statfs64(path: *const c_char, buf: *mut libc::statfs64) -> c_int;
    fn statvfs(path: *const c_char, buf: *mut libc::statvfs) -> c_int;
    fn statvfs64(path: *const c_char, buf: *mut libc::statvfs64) -> c_int;
    fn pathconf(path: *const c_char, name: c_int) -> c_long;
    fn access(path: *const c_char, mode: c_int) -> c_int;
    fn faccessat(dirfd: c_int, path: *const c_char, mode: c_int, flags: c_int) -> c_int;
    fn euidaccess(path: *const c_char, mode: c_int) -> c_int;
    fn eaccess(path: *const c_char, mode: c_int) -> c_int;
    fn readlinkat(dirfd: c_int, path: *const c_char, buf: *mut c_char, n: size_t) -> ssize_t;
    fn __readlink_chk(path: *const c_char, buf: *mut c_char, n: size_t, buflen: size_t) -> ssize_t;
    fn __readlinkat_chk(dirfd: c_int, path: *const c_char, buf: *mut c_char, n: size_t, buflen: size_t) -> ssize_t;
    fn __realpath_chk(path: *const c_char, out: *mut c_char, outlen: size_t) -> *mut c_char;
    fn __getcwd_chk(buf: *mut c_char, size: size_t, buflen: size_t) -> *mut c_char;
    fn getxattr(path: *const c_char, name: *const c_char, v: *mut c_void, n: size_t) -> ssize_t;
    fn lgetxattr(path: *const c_char, name: *const c_char, v: *mut c_void, n: size_t) -> ssize_t;
    fn listxattr(path: *const c_char, list: *mut c_char, n: size_t) -> ssize_t;
    fn llistxattr(path: *const c_char, list: *mut c_char, n: size_t) -> ssize_t;
    fn flistxattr(fd: c_int, list: *mut c_char, n: size_t) -> ssize_t;
    fn fgetxattr(fd: c_int, name: *const c_char, v: *mut c_void, n: size_t) -> ssize_t;
    fn opendir(path: *const c_char) -> *mut libc::DIR;
    fn closedir(dir: *mut libc::DIR) -> c_int;
    fn readdir(dir: *mut libc::DIR) -> *mut libc::dirent;
    fn readdir64(dir: *mut libc::DIR) -> *mut libc::dirent64;
    fn fdopendir(fd: c_int) -> *mut libc::DIR;
    fn scandir(path: *const c_char, list: *mut c_void, filter: *mut c_void, cmp: *mut c_void) -> c_int;
    fn scandir64(path: *const c_char, list: *mut c_void, filter: *mut c_void, cmp: *mut c_void) -> c_int;
    fn chdir(path: *const c_char) -> c_int;
    fn fchdir(fd: c_int) -> c_int;
    fn getcwd(buf: *mut c_char, n: size_t) -> *mut c_char;
    #[version = "GLIBC_2.3"]
    fn realpath(path: *const c_char, out: *mut c_char) -> *mut c_char;
    fn canonicalize_file_name(path: *const c_char) -> *mut c_char;
    fn fopen(path: *const c_char, mode: *const c_char) -> FileP;
    fn fopen64(path: *const c_char, mode: *const c_char) -> FileP;
    fn fdopen(fd: c_int, mode: *const c_char) -> FileP;
    fn freopen(path: *const c_char, mode: *const c_char, f: FileP) -> FileP;
    fn freopen64(path: *const c_char, mode: *const c_char, f: FileP) -> FileP;
    fn fclose(f: FileP) -> c_int;
    fn raise(sig: c_int) -> c_int;
    fn gsignal(sig: c_int) -> c_int;
    fn pthread_kill(thread: libc::pthread_t, sig: c_int) -> c_int;
    fn tgkill(tgid: libc::pid_t, tid: libc::pid_t, sig: c_int) -> c_int;
    fn fseek(f: FileP, off: c_long, whence: c_int) -> c_int;
    fn fseeko(f: FileP, off: off64_t, whence: c_int) -> c_int;
    fn fseeko64(f: FileP, off: off64_t, whence: c_int) -> c_int;
    fn ftell(f: FileP) -> c_long;
    fn ftello(f: FileP) -> off64_t;
    fn ftello64(f: FileP) -> off64_t;
    fn fgetpos(f: FileP, pos: *mut libc::fpos_t) -> c_int;
    fn fgetpos64(f: FileP, pos: *mut libc::fpos_t) -> c_int;
    fn fsetpos(f: FileP, pos: *const libc::fpos_t) -> c_int;
    fn fsetpos64(f: FileP, pos: *const libc::fpos_t) -> c_int;
    fn rewind(f: FileP) -> ();
    fn fflush(f: FileP) -> c_int;
    fn fileno(f: FileP) -> c_int;
    fn fopencookie(cookie: *mut c_void, mode: *const c_char, funcs: CookieFunctions) -> FileP;
    fn setvbuf(f: FileP, buf: *mut c_char, mode: c_int, size: size_t) -> c_int;
    fn fwrite(buf: *const c_void, size: size_t, n: size_t, f: FileP) -> size_t;
    fn fgetc(f: FileP) -> c_int;
    fn fwide(f: FileP, mode: c_int) -> c_int;
    fn fputwc(wc: libc::wchar_t, f: FileP) -> WintT;
    fn putwc(wc: libc::wchar_t, f: FileP) -> WintT;
    fn fputwc_unlocked(wc: libc::wchar_t, f: FileP) -> WintT;
    fn putwc_unlocked(wc: libc::wchar_t, f: FileP) -> WintT;
    fn fputws(ws: *const libc::wchar_t, f: FileP) -> c_int;
    fn fputws_unlocked(ws: *const libc::wchar_t, f: FileP) -> c_int;
    fn fgetwc(f: FileP) -> WintT;
    fn getwc(f: FileP) -> WintT;
    fn fgetwc_unlocked(f: FileP) -> WintT;
    fn getwc_unlocked(f: FileP) -> WintT;
    fn fgetws(ws: *mut libc::wchar_t, n: c_int, f: FileP) -> *mut libc::wchar_t;
    fn fgetws_unlocked(ws: *mut libc::wchar_t, n: c_int, f: FileP) -> *mut libc::wchar_t;
    fn __fgetws_chk(ws: *mut libc::wchar_t, size: size_t, n: c_int, f: FileP) -> *mut libc::wchar_t;
    fn __fgetws_unlocked_chk(ws: *mut libc::wchar_t, size: size_t, n: c_int, f: FileP) -> *mut libc::wchar_t;
    fn ungetwc(wc: WintT, f: FileP) -> WintT;
    fn read(fd: c_int, buf: *mut c_void, n: size_t) -> ssize_t;
    fn syscall(n: c_long, a: c_long, b: c_long, c: c_long, d: c_long, e: c_long, f: c_long) -> c_long;
    fn execveat(dirfd: c_int, path: *const c_char, argv: *const *const c_char, envp: *const *const c_char, flags: c_int) -> c_int;
    fn inotify_add_watch(fd: c_int, path: *const c_char, mask: u32) -> c_int;
    fn name_to_handle_at(dirfd: c_int, path: *const c_char, handle: *mut c_void, mount_id: *mut c_int, flags: c_int) -> c_int;
    fn open_by_handle_at(mount_fd: c_int, handle: *mut c_void, flags: c_int) -> c_int;
    fn fanotify_mark(fd: c_int, flags: c_uint, mask: u64, dirfd: c_int, path: *const c_char) -> c_int;
    fn chroot(path: *const c_char) -> c_int;
    fn mount(source: *const c_char, target: *const c_char, fstype: *const c_char, flags: libc::c_ulong, data: *const c_void) -> c_int;
    fn umount(target: *const c_char) -> c_int;
    fn umount2(target: *const c_char, flags: c_int) -> c_int;
    fn swapon(path: *const c_char, flags: c_int) -> c_int;
    fn swapoff(path: *const c_char) -> c_int;
    fn acct(path: *const c_char) -> c_int;
    fn bindtextdomain(domain: *const c_char, dir: *const c_char) -> *mut c_char;
    fn catopen(name: *const c_char, flag: c_int) -> *mut c_void;
    fn setrlimit(resource: c_int, limit: *const libc::rlimit) -> c_int;
    fn setrlimit64(resource: c_int, limit: *const libc::rlimit64) -> c_int;
    fn prlimit(pid: libc::pid_t, resource: c_int, new: *const libc::rlimit, old: *mut libc::rlimit) -> c_int;
    fn prlimit64(pid: libc::pid_t, resource: c_int, new: *const libc::rlimit64, old: *mut libc::rlimit64) -> c_int;
    fn scandirat(dirfd: c_int, path: *const c_char, list: *mut c_void, filter: *mut c_void, cmp: *mut c_void) -> c_int;
    fn scandirat64(dirfd: c_int, path: *const c_char, list: *mut c_void, filter: *mut c_void, cmp: *mut c_void) -> c_int;
    fn __xmknod(ver: c_int, path: *const c_char, mode: mode_t, dev: *mut libc::dev_t) -> c_int;
    fn __xmknodat(ver: c_int, dirfd: c_int, path: *const c_char, mode: mode_t, dev: *mut libc::dev_t) -> c_int;
    fn bind(fd: c_int, addr: *const libc::sockaddr, len: libc::socklen_t) -> c_int;
    fn connect(fd: c_int, addr: *const libc::sockaddr, len: libc::socklen_t) -> c_int;
    fn sendto(fd: c_int, buf: *const c_void, n: size_t, flags: c_int, addr: *const libc::sockaddr, len: libc::socklen_t) -> ssize_t;
    fn sendmsg(fd: c_int, msg: *const libc::msghdr, flags: c_int) -> ssize_t;
    fn getsockname(fd: c_int, addr: *mut libc::sockaddr, len: *mut libc::socklen_t) -> c_int;
    fn getpeername(fd: c_int, addr: *mut libc::sockaddr, len: *mut libc::socklen_t) -> c_int;
    fn accept(fd: c_int, addr: *mut libc::sockaddr, len: *mut libc::socklen_t) -> c_int;
    fn accept4(fd: c_int, addr: *mut libc::sockaddr, len: *mut libc::socklen_t, flags: c_int) -> c_int;
    fn recvfrom(fd: c_int, buf: *mut c_void, n: size_t, flags: c_int, addr: *mut libc::sockaddr, len: *mut libc::socklen_t) -> ssize_t;
    fn recvmsg(fd: c_int, msg: *mut libc::msghdr, flags: c_int) -> ssize_t;
    fn sendmmsg(fd: c_int, msgs: *mut libc::mmsghdr, n: c_uint, flags: c_int) -> c_int;
    fn recvmmsg(fd: c_int, msgs: *mut libc::mmsghdr, n: c_uint, flags: c_int, timeout: *mut libc::timespec) -> c_int;

    fn fork() -> libc::pid_t;
    #[version = "GLIBC_2.34"]
    fn _Fork() -> libc::pid_t;
    fn pthread_cancel(thread: libc::pthread_t) -> c_int;
    fn sigprocmask(how: c_int, set: *const libc::sigset_t, old: *mut libc::sigset_t) -> c_int;
    fn pthread_sigmask(how: c_int, set: *const libc::sigset_t, old: *mut libc::sigset_t) -> c_int;
    fn pthread_create(thread: *mut libc::pthread_t, attr: *const libc::pthread_attr_t, start: extern "C-unwind" fn(*mut c_void) -> *mut c_void, arg: *mut c_void) -> c_int;
    fn syncfs(fd: c_int) -> c_int;
    fn unshare(flags: c_int) -> c_int;
    fn sync() -> ();
    // Called through the table like every other real call, not directly: in a function
    // with landing pads, LLVM leaves a direct call to a function it knows cannot unwind out
    // of the call-site table, and the forced unwind of an acted-upon request, finding no
    // entry there, stops the process.
    fn pthread_testcancel() -> ();
    fn system(command: *const c_char) -> c_int;
    fn popen(command: *const c_char, mode: *const c_char) -> FileP;
    fn wordexp(words: *const c_char, result: *mut libc::c_void, flags: c_int) -> c_int;
    fn execve(path: *const c_char, argv: *const *const c_char, envp: *const *const c_char) -> c_int;
    fn execvpe(file: *const c_char, argv: *const *const c_char, envp: *const *const c_char) -> c_int;
    fn fexecve(fd: c_int, argv: *const *const c_char, envp: *const *const c_char) -> c_int;
    #[version = "GLIBC_2.15"]
    fn posix_spawn(pid: *mut libc::pid_t, path: *const c_char, fa: *const libc::posix_spawn_file_actions_t, attr: *const libc::posix_spawnattr_t, argv: *const *mut c_char, envp: *const *mut c_char) -> c_int;
    #[version = "GLIBC_2.15"]
    fn posix_spawnp(pid: *mut libc::pid_t, file: *const c_char, fa: *const libc::posix_spawn_file_actions_t, attr: *const libc::posix_spawnattr_t, argv: *const *mut c_char, envp: *const *mut c_char) -> c_int;
    fn posix_spawn_file_actions_addopen(fa: *mut libc::posix_spawn_file_actions_t, fd: c_int, path: *const c_char, flags: c_int, mode: mode_t) -> c_int;
    fn posix_spawn_file_actions_init(fa: *mut libc::posix_spawn_file_actions_t) -> c_int;
    fn posix_spawn_file_actions_destroy(fa: *mut libc::posix_spawn_file_actions_t) -> c_int;
    fn posix_spawn_file_actions_addchdir_np(fa: *mut libc::posix_spawn_file_actions_t, path: *const c_char) -> c_int;
    fn lio_listio(mode: c_int, list: *const *mut libc::aiocb, n: c_int, sig: *mut libc::sigevent) -> c_int;
    fn lio_listio64(mode: c_int, list: *const *mut libc::aiocb, n: c_int, sig: *mut libc::sigevent) -> c_int;
    fn glob(pattern: *const c_char, flags: c_int, errfunc: *mut c_void, g: *mut libc::glob_t) -> c_int;
    fn glob64(pattern: *const c_char, flags: c_int, errfunc: *mut c_void, g: *mut libc::glob_t) -> c_int;
    fn nftw(dir: *const c_char, f: *mut c_void, nopenfd: c_int, flags: c_int) -> c_int;
    fn nftw64(dir: *const c_char, f: *mut c_void, nopenfd: c_int, flags: c_int) -> c_int;
    fn ftw(dir: *const c_char, f: *mut c_void, nopenfd: c_int) -> c_int;
    fn ftw64(dir: *const c_char, f: *mut c_void, nopenfd: c_int) -> c_int;
    fn ftok(path: *const c_char, id: c_int) -> libc::key_t;
    fn fts_open(paths: *const *mut c_char, options: c_int, compar: *mut c_void) -> *mut c_void;
    fn fts64_open(paths: *const *mut c_char, options: c_int, compar: *mut c_void) -> *mut c_void;
    fn fts_read(fts: *mut c_void) -> *mut c_void;
    fn fts64_read(fts: *mut c_void) -> *mut c_void;
    fn fts_children(fts: *mut c_void, options: c_int) -> *mut c_void;
    fn fts64_children(fts: *mut c_void, options: c_int) -> *mut c_void;
    fn fts_set(fts: *mut c_void, entry: *mut c_void, instr: c_int) -> c_int;
    fn fts64_set(fts: *mut c_void, entry: *mut c_void, instr: c_int) -> c_int;
    fn fts_close(fts: *mut c_void) -> c_int;
    fn fts64_close(fts: *mut c_void) -> c_int;
    fn mkstemp(t: *mut c_char) -> c_int;
    fn mkstemp64(t: *mut c_char) -> c_int;
    fn mkostemp(t: *mut c_char, flags: c_int) -> c_int;
    fn mkostemp64(t: *mut c_char, flags: c_int) -> c_int;
    fn mkstemps(t: *mut c_char, suffix: c_int) -> c_int;
    fn mkstemps64(t: *mut c_char, suffix: c_int) -> c_int;
    fn mkostemps(t: *mut c_char, suffix: c_int, flags: c_int) -> c_int;
    fn mkostemps64(t: *mut c_char, suffix: c_int, flags: c_int) -> c_int;
    fn mkdtemp(t: *mut c_char) -> *mut c_char;
    fn umask(mask: mode_t) -> mode_t;
    fn setuid(uid: libc::uid_t) -> c_int;
    fn setgid(gid: libc::gid_t) -> c_int;
    fn seteuid(uid: libc::uid_t) -> c_int;
    fn setegid(gid: libc::gid_t) -> c_int;
    fn setreuid(ruid: libc::uid_t, euid: libc::uid_t) -> c_int;
    fn setregid(rgid: libc::gid_t, egid: libc::gid_t) -> c_int;
    fn setresuid(ruid: libc::uid_t, euid: libc::uid_t, suid: libc::uid_t) -> c_int;
    fn setresgid(rgid: libc::gid_t, egid: libc::gid_t, sgid: libc::gid_t) -> c_int;
    fn setfsuid(uid: libc::uid_t) -> c_int;
    fn setfsgid(gid: libc::gid_t) -> c_int;
    fn setgroups(n: size_t, groups: *const libc::gid_t) -> c_int;
}

// Typed wrappers for the calls the core makes itself.

/// Starts a detached shim thread running `start`: a plain pthread rather than std's thread,
/// which allocates its handle, name and result slot (in a fork child, the first malloc that
/// misses the small bins sorts, and so copies page by page, every chunk the parent freed).
/// Started with every signal blocked, which it keeps: the program's handlers never run on it.
pub fn spawn_quiet_thread(name: &CStr, start: extern "C" fn(*mut c_void) -> *mut c_void) -> bool {
    unsafe {
        let mut all: libc::sigset_t = std::mem::zeroed();
        let mut old: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut all);
        libc::pthread_sigmask(libc::SIG_BLOCK, &all, &mut old);
        let mut attr: libc::pthread_attr_t = std::mem::zeroed();
        libc::pthread_attr_init(&mut attr);
        libc::pthread_attr_setdetachstate(&mut attr, libc::PTHREAD_CREATE_DETACHED);
        if single_threaded() {
            SHIM_MADE_THREADED.store(true, Ordering::Relaxed);
        }
        let mut tid: libc::pthread_t = 0;
        SHIM_THREADS.fetch_add(1, Ordering::SeqCst);
        let started = raw::pthread_create(&mut tid, &attr, counted, start as *mut c_void) == 0;
        if !started {
            SHIM_THREADS.fetch_sub(1, Ordering::SeqCst);
        }
        libc::pthread_attr_destroy(&mut attr);
        libc::pthread_sigmask(libc::SIG_SETMASK, &old, std::ptr::null_mut());
        if started {
            libc::pthread_setname_np(tid, name.as_ptr());
        }
        started
    }
}

/// A shim thread's start (`spawn_quiet_thread`): runs `start`, then leaves the count of the
/// shim's threads, before glibc's count of threads (`program_may_have_threads`: the process
/// seems to have one thread more meanwhile, never one less). The shim's threads block every
/// signal and are never cancelled: they leave by returning.
extern "C-unwind" fn counted(start: *mut c_void) -> *mut c_void {
    // SAFETY: `spawn_quiet_thread` passes its `start` here.
    let start: extern "C" fn(*mut c_void) -> *mut c_void = unsafe { std::mem::transmute(start) };
    let r = start(std::ptr::null_mut());
    SHIM_THREADS.fetch_sub(1, Ordering::SeqCst);
    r
}

/// The shim's threads started and not yet ended (`counted`).
static SHIM_THREADS: AtomicU32 = AtomicU32::new(0);

/// glibc's count of the process's threads (`__nptl_nthreads`, which `pthread_create` raises
/// before the thread runs and a thread lowers as it ends, and which a fork child starts
/// again at 1); 0 where glibc has none (then every thread is taken for the program's).
static NTHREADS: AtomicUsize = AtomicUsize::new(0);

/// The program made a thread without `pthread_create` (a `clone` that shares the memory),
/// which glibc neither counts nor flags (`__libc_single_threaded` stays set): from then on
/// the process is taken to have threads of the program's.
static UNCOUNTED_THREADS: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// A `clone` sharing the memory was made (variadic.rs).
pub fn uncounted_thread() {
    UNCOUNTED_THREADS.store(true, Ordering::SeqCst);
}

/// In a fork child: the parent's threads, the shim's among them, are not there.
pub fn forked_child_threads() {
    SHIM_THREADS.store(0, Ordering::SeqCst);
}

/// Whether a thread other than the calling one and the shim's own may run the program's
/// code now: glibc's count of threads against the shim's, so that a shim thread (the
/// write-behind queue's, the follower's flushes) does not make a single-threaded program
/// pay for threads it does not have (a readable file's writes then looked at the position
/// before and after each; every hook held cancellation off). Threads glibc starts for the
/// program (a SIGEV_THREAD timer's) count as the program's.
pub fn program_may_have_threads() -> bool {
    if UNCOUNTED_THREADS.load(Ordering::SeqCst) {
        return true;
    }
    if single_threaded() {
        return false;
    }
    let count = NTHREADS.load(Ordering::Relaxed);
    if count == 0 {
        return true;
    }
    // SAFETY: an `unsigned int` glibc keeps for the process's life.
    let live = unsafe { std::ptr::read_volatile(count as *const libc::c_uint) };
    live > 1 + SHIM_THREADS.load(Ordering::SeqCst)
}

/// Whether the program has started threads of its own: then a shim thread costs it nothing
/// new. Once a thread has been started glibc wraps every cancellable call for good, and
/// while one runs the kernel takes a file reference on every fd call, so a shim thread
/// costs a single-threaded program on each of its syscalls. Known only until the shim
/// starts a thread in a single-threaded process (glibc's flag then says "threaded" for
/// good): from then on, taken as no.
pub fn program_threaded() -> bool {
    !single_threaded() && !SHIM_MADE_THREADED.load(Ordering::Relaxed)
}

/// Whether the process may have a second thread now (or had one: glibc's flag does not
/// go back), the program's or the shim's.
pub fn may_have_threads() -> bool {
    !single_threaded() || UNCOUNTED_THREADS.load(Ordering::Relaxed)
}

/// The shim's own thread made the process multi-threaded.
static SHIM_MADE_THREADED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// glibc's `__libc_single_threaded` (glibc 2.32 on), or 1 where glibc has no such flag;
/// 0 until `find_thread_flag`.
static THREAD_FLAG: AtomicUsize = AtomicUsize::new(0);

/// Looks the flag up, at start-up: `dlsym` takes the loader's lock, which the shim must not
/// wait for while it holds one of its own (a thread is started under the write-behind
/// queue's lock, and another thread may be in `dlopen`, in a constructor that writes).
pub fn find_thread_flag() {
    let p = (unsafe { libc::dlsym(libc::RTLD_DEFAULT, c"__libc_single_threaded".as_ptr()) } as usize).max(1);
    THREAD_FLAG.store(p, Ordering::Relaxed);
    NTHREADS.store(unsafe { libc::dlsym(libc::RTLD_DEFAULT, c"__nptl_nthreads".as_ptr()) } as usize, Ordering::Relaxed);
}

/// Whether the process has never had a second thread, as glibc knows it (without the flag,
/// or before start-up looked for it: taken as no).
fn single_threaded() -> bool {
    let p = THREAD_FLAG.load(Ordering::Relaxed);
    // SAFETY: a `char` glibc keeps for the process's life.
    p > 1 && unsafe { std::ptr::read_volatile(p as *const c_char) } != 0
}

/// Sleeps while `word` holds `val` (FUTEX_WAIT, process-private), for at most `timeout`
/// (monotonic, relative). Returns on a wake, a signal, a timeout or a value already
/// changed: the caller looks again.
pub fn futex_wait(word: &std::sync::atomic::AtomicU32, val: u32, timeout: Option<&libc::timespec>) {
    let timeout = timeout.map_or(std::ptr::null(), |t| t as *const libc::timespec);
    unsafe { raw::syscall(libc::SYS_futex, word.as_ptr() as c_long, (libc::FUTEX_WAIT | libc::FUTEX_PRIVATE_FLAG) as c_long, val as c_long, timeout as c_long, 0, 0) };
}

/// The calling thread's id.
pub fn gettid() -> u32 {
    unsafe { raw::syscall(libc::SYS_gettid, 0, 0, 0, 0, 0, 0) as u32 }
}

/// `futex_wait` on a word in memory shared with other processes.
pub fn futex_wait_shared(word: &std::sync::atomic::AtomicU32, val: u32, timeout: &libc::timespec) {
    unsafe { raw::syscall(libc::SYS_futex, word.as_ptr() as c_long, libc::FUTEX_WAIT as c_long, val as c_long, timeout as *const libc::timespec as c_long, 0, 0) };
}

/// Wakes `n` sleepers on a word in memory shared with other processes.
pub fn futex_wake_shared(word: &std::sync::atomic::AtomicU32, n: c_int) {
    unsafe { raw::syscall(libc::SYS_futex, word.as_ptr() as c_long, libc::FUTEX_WAKE as c_long, n as c_long, 0, 0, 0) };
}

/// Wakes every sleeper on `word`. An address, not a reference: the word may be gone by
/// now (its owner saw the change and returned), and then the wake finds nobody.
pub fn futex_wake_all(word: *const std::sync::atomic::AtomicU32) {
    unsafe { raw::syscall(libc::SYS_futex, word as c_long, (libc::FUTEX_WAKE | libc::FUTEX_PRIVATE_FLAG) as c_long, c_int::MAX as c_long, 0, 0, 0) };
}

pub fn open(path: &CStr, flags: c_int, mode: mode_t) -> Res<c_int> {
    cvt(unsafe { raw::open64(path.as_ptr(), flags, mode) })
}
pub fn openat(dirfd: c_int, path: &CStr, flags: c_int, mode: mode_t) -> Res<c_int> {
    cvt(unsafe { raw::openat64(dirfd, path.as_ptr(), flags, mode) })
}
/// openat2(2) with its `open_how` (flags, mode, resolve).
pub fn openat2(dirfd: c_int, path: &CStr, flags: c_int, mode: mode_t, resolve: u64) -> Res<c_int> {
    let how = [flags as u32 as u64, openat2_mode(flags, mode as u64), resolve];
    let size = std::mem::size_of_val(&how) as libc::c_long;
    cvt(unsafe { raw::syscall(libc::SYS_openat2, dirfd as libc::c_long, path.as_ptr() as libc::c_long, how.as_ptr() as libc::c_long, size, 0, 0) } as c_int)
}
/// The mode an openat2 with `flags` may be given: it refuses any (EINVAL) without O_CREAT
/// or O_TMPFILE, where open(2) ignores it, so an open the shim makes with fewer flags than
/// the program's (the follower's open of a file the lead's found there) drops it.
pub fn openat2_mode(flags: c_int, mode: u64) -> u64 {
    if flags & libc::O_CREAT != 0 || flags & libc::O_TMPFILE == libc::O_TMPFILE { mode } else { 0 }
}
pub fn fchdir(fd: c_int) -> Res<c_int> {
    cvt(unsafe { raw::fchdir(fd) })
}
pub fn unlinkat(dirfd: c_int, path: &CStr, flags: c_int) -> Res<c_int> {
    cvt(unsafe { raw::unlinkat(dirfd, path.as_ptr(), flags) })
}
pub fn close(fd: c_int) -> Res<c_int> {
    cvt(unsafe { raw::close(fd) })
}
pub fn sigaction(sig: c_int, act: Option<&libc::sigaction>, old: Option<&mut libc::sigaction>) -> Res<c_int> {
    let act = act.map_or(std::ptr::null(), |a| a as *const libc::sigaction);
    let old = old.map_or(std::ptr::null_mut(), |o| o as *mut libc::sigaction);
    cvt(unsafe { raw::sigaction(sig, act, old) })
}
pub fn write(fd: c_int, buf: &[u8]) -> Res<usize> {
    cvt(unsafe { raw::write(fd, buf.as_ptr().cast(), buf.len()) }).map(|n| n as usize)
}
/// The process's RLIMIT_FSIZE (its soft limit; `u64::MAX`: none), learnt at start-up and
/// at each change the program makes (hooks::process).
static FILE_SIZE_LIMIT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(u64::MAX);

pub fn learn_file_size_limit() {
    let mut limit = libc::rlimit64 { rlim_cur: libc::RLIM64_INFINITY, rlim_max: libc::RLIM64_INFINITY };
    if unsafe { libc::getrlimit64(libc::RLIMIT_FSIZE, &mut limit) } == 0 {
        let cur = if limit.rlim_cur == libc::RLIM64_INFINITY { u64::MAX } else { limit.rlim_cur };
        FILE_SIZE_LIMIT.store(cur, Ordering::Relaxed);
    }
}

/// A write to one of the shim's own state files (the journal, the change list, the
/// history), which grow past any size a program may limit its files to: never past the
/// program's RLIMIT_FSIZE, where the kernel would send SIGXFSZ, whose default action kills
/// the process (`ulimit -f 8; echo x > /shadow/f` died of it once the journal was larger).
/// Refused with EFBIG instead, as a failed write of that file (the journal is marked lost,
/// so `recover` verifies everything; a history line is dropped). Another process's append
/// between the look and the write can still take the file past the limit. Async-signal-safe.
pub fn state_write(fd: c_int, buf: &[u8]) -> Res<usize> {
    let limit = FILE_SIZE_LIMIT.load(Ordering::Relaxed);
    if limit != u64::MAX && fstat(fd)?.st_size as u64 + buf.len() as u64 > limit {
        return Err(Errno(libc::EFBIG));
    }
    write(fd, buf)
}

/// Whether fd `a` of process `pid_a` and fd `b` of `pid_b` are one open file description
/// (kcmp KCMP_FILE; false where the kernel cannot tell or will not say).
pub fn same_description(pid_a: u32, a: c_int, pid_b: u32, b: c_int) -> bool {
    const KCMP_FILE: c_long = 0;
    unsafe { raw::syscall(libc::SYS_kcmp, pid_a as c_long, pid_b as c_long, KCMP_FILE, a as c_long, b as c_long, 0) == 0 }
}

/// A copy in this process, close-on-exec, of process `pid`'s fd `fd`: the same open file
/// description (pidfd_getfd; the caller must be allowed to ptrace `pid`).
pub fn fd_of_process(pid: u32, fd: c_int) -> Res<c_int> {
    let pidfd = cvt(unsafe { raw::syscall(libc::SYS_pidfd_open, pid as c_long, 0, 0, 0, 0, 0) })? as c_int;
    let got = cvt(unsafe { raw::syscall(libc::SYS_pidfd_getfd, pidfd as c_long, fd as c_long, 0, 0, 0, 0) });
    let _ = close(pidfd);
    got.map(|f| f as c_int)
}

/// What glibc's `_exit` does (the shim's `_exit` hook cannot call itself through libc).
pub fn exit_group(status: c_int) -> ! {
    loop {
        unsafe { raw::syscall(libc::SYS_exit_group, status as c_long, 0, 0, 0, 0, 0) };
    }
}

pub fn fdatasync(fd: c_int) -> Res<()> {
    cvt(unsafe { raw::fdatasync(fd) }).map(|_| ())
}
pub fn pwrite(fd: c_int, buf: &[u8], off: i64) -> Res<usize> {
    cvt(unsafe { raw::pwrite64(fd, buf.as_ptr().cast(), buf.len(), off) }).map(|n| n as usize)
}
pub fn pread(fd: c_int, buf: &mut [u8], off: i64) -> Res<usize> {
    cvt(unsafe { raw::pread64(fd, buf.as_mut_ptr().cast(), buf.len(), off) }).map(|n| n as usize)
}
pub fn lseek(fd: c_int, off: i64, whence: c_int) -> Res<i64> {
    cvt(unsafe { raw::lseek64(fd, off, whence) })
}
pub fn fstat(fd: c_int) -> Res<libc::stat64> {
    let mut st = unsafe { std::mem::zeroed() };
    cvt(unsafe { raw::fstat64(fd, &mut st) }).map(|_| st)
}
pub fn fstatat(dirfd: c_int, path: &CStr, flags: c_int) -> Res<libc::stat64> {
    let mut st = unsafe { std::mem::zeroed() };
    cvt(unsafe { raw::fstatat64(dirfd, path.as_ptr(), &mut st, flags) }).map(|_| st)
}
pub fn ftruncate(fd: c_int, len: i64) -> Res<c_int> {
    cvt(unsafe { raw::ftruncate64(fd, len) })
}
pub fn fcntl(fd: c_int, cmd: c_int, arg: c_long) -> Res<c_int> {
    cvt(unsafe { raw::fcntl(fd, cmd, arg) })
}
pub fn fchmod(fd: c_int, mode: mode_t) -> Res<c_int> {
    cvt(unsafe { raw::fchmod(fd, mode) })
}
pub fn fchown(fd: c_int, uid: libc::uid_t, gid: libc::gid_t) -> Res<c_int> {
    cvt(unsafe { raw::fchown(fd, uid, gid) })
}
pub fn futimens(fd: c_int, times: &[libc::timespec; 2]) -> Res<c_int> {
    cvt(unsafe { raw::futimens(fd, times.as_ptr()) })
}
pub fn utimensat_at(dirfd: c_int, path: &CStr, times: &[libc::timespec; 2], flags: c_int) -> Res<c_int> {
    cvt(unsafe { raw::utimensat(dirfd, path.as_ptr(), times.as_ptr(), flags) })
}
/// A PATH_MAX buffer on the stack, not initialised: the answers below are copied out at
/// their length. A zeroed vector of that size cost more than the system call (a process
/// start reads a link per inherited fd).
type PathSpace = std::mem::MaybeUninit<[u8; libc::PATH_MAX as usize]>;

pub fn readlink(path: &CStr) -> Res<Vec<u8>> {
    readlinkat(libc::AT_FDCWD, path)
}

pub fn readlinkat(dirfd: c_int, path: &CStr) -> Res<Vec<u8>> {
    let mut buf = PathSpace::uninit();
    let n = cvt(unsafe { raw::readlinkat(dirfd, path.as_ptr(), buf.as_mut_ptr().cast(), libc::PATH_MAX as usize) })?;
    // SAFETY: the kernel wrote the first n bytes.
    Ok(unsafe { std::slice::from_raw_parts(buf.as_ptr().cast::<u8>(), n as usize) }.to_vec())
}
/// The name of an entry of the directory open at `dir` whose inode is `ino` (getdents64,
/// which the shim does not hook; `.` and `..` never answer).
pub fn entry_of_inode(dir: c_int, ino: u64) -> Option<Vec<u8>> {
    let mut named = None;
    find_entry(dir, |i, name| {
        let hit = i == ino && name != b"." && name != b"..";
        if hit {
            named = Some(name.to_vec());
        }
        hit
    });
    named
}
/// Gives `each` the entries of the directory open at `dir` (inode, name), from its
/// position, until it answers true: whether one did (getdents64, allocation-free).
fn find_entry(dir: c_int, mut each: impl FnMut(u64, &[u8]) -> bool) -> bool {
    let mut buf = [0u8; 8192];
    loop {
        let n = unsafe { raw::syscall(libc::SYS_getdents64, dir as c_long, buf.as_mut_ptr() as c_long, buf.len() as c_long, 0, 0, 0) };
        if n <= 0 {
            return false;
        }
        let mut at = 0;
        while at + 19 < n as usize {
            // struct linux_dirent64: d_ino u64, d_off i64, d_reclen u16, d_type u8, d_name.
            let rec = &buf[at..n as usize];
            let len = u16::from_ne_bytes([rec[16], rec[17]]) as usize;
            let name = &rec[19..len.min(rec.len())];
            let name = &name[..name.iter().position(|&b| b == 0).unwrap_or(name.len())];
            if each(u64::from_ne_bytes([rec[0], rec[1], rec[2], rec[3], rec[4], rec[5], rec[6], rec[7]]), name) {
                return true;
            }
            at += len.max(1);
        }
    }
}
/// Whether one of process `pid`'s fds is `found` (read from /proc/PID/fd, allocation-free).
pub fn fds_of_process(pid: u32, found: impl Fn(c_int) -> bool) -> bool {
    let mut path = [0u8; 32];
    let mut w = std::io::Cursor::new(&mut path[..]);
    if std::io::Write::write_fmt(&mut w, format_args!("/proc/{pid}/fd\0")).is_err() {
        return false;
    }
    let dir = unsafe { raw::open(path.as_ptr().cast(), libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC, 0) };
    if dir < 0 {
        return false;
    }
    let hit = find_entry(dir, |_, name| std::str::from_utf8(name).ok().and_then(|s| s.parse().ok()).is_some_and(&found));
    unsafe { raw::close(dir) };
    hit
}
pub fn getcwd() -> Res<Vec<u8>> {
    let mut buf = PathSpace::uninit();
    let p = unsafe { raw::getcwd(buf.as_mut_ptr().cast(), libc::PATH_MAX as usize) };
    if p.is_null() {
        return Err(Errno::last());
    }
    // SAFETY: getcwd wrote a NUL-terminated path there.
    Ok(unsafe { CStr::from_ptr(p) }.to_bytes().to_vec())
}
/// tee(2), which the shim does not hook.
pub fn tee(fin: c_int, fout: c_int, n: usize, flags: c_uint) -> Res<usize> {
    cvt(unsafe { libc::tee(fin, fout, n, flags) }).map(|n| n as usize)
}
/// pipe2(2) with O_CLOEXEC, which the shim does not hook.
pub fn pipe() -> Res<[c_int; 2]> {
    let mut ends = [-1; 2];
    cvt(unsafe { libc::pipe2(ends.as_mut_ptr(), libc::O_CLOEXEC) }).map(|_| ends)
}
pub fn read(fd: c_int, buf: &mut [u8]) -> Res<usize> {
    cvt(unsafe { raw::read(fd, buf.as_mut_ptr().cast(), buf.len()) }).map(|n| n as usize)
}
pub fn copy_file_range(fin: c_int, offin: &mut i64, fout: c_int, offout: &mut i64, n: usize) -> Res<usize> {
    cvt(unsafe { raw::copy_file_range(fin, offin, fout, offout, n, 0) }).map(|n| n as usize)
}
