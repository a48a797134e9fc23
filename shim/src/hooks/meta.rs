//! Metadata: chmod/chown/utimes/truncate/xattrs by path and by fd (mirrored), and the
//! read side (stat family, access, readlink, statfs, getxattr), answered by the primary.

use super::namespace::{mirror_hooks, on_members};
use super::path_hook;
use crate::boundary::{self, FfiReturn};
use crate::fdtable;
use crate::ocb::times_of;
use crate::real::{self, raw, Errno, Res};
use libc::{c_char, c_int, c_uint, c_void, gid_t, mode_t, off64_t, size_t, ssize_t, uid_t};
use std::ffi::CStr;

mirror_hooks! {
    /// chmod(2)
    fn chmod(path: *const c_char, mode: mode_t) -> c_int = at(libc::AT_FDCWD, path);
    /// fchmodat(2)
    fn fchmodat(dirfd: c_int, path: *const c_char, mode: mode_t, flags: c_int) -> c_int = at(dirfd, path);
    /// chown(2)
    fn chown(path: *const c_char, uid: uid_t, gid: gid_t) -> c_int = at(libc::AT_FDCWD, path);
    /// lchown(2)
    fn lchown(path: *const c_char, uid: uid_t, gid: gid_t) -> c_int = at(libc::AT_FDCWD, path);
    /// truncate(2)
    fn truncate(path: *const c_char, len: off64_t) -> c_int = at(libc::AT_FDCWD, path);
    /// truncate64(2)
    fn truncate64(path: *const c_char, len: off64_t) -> c_int = at(libc::AT_FDCWD, path);
    /// setxattr(2): extended attributes are mirrored.
    fn setxattr(path: *const c_char, name: *const c_char, v: *const c_void, n: size_t, flags: c_int) -> c_int = at(libc::AT_FDCWD, path);
    /// lsetxattr(2)
    fn lsetxattr(path: *const c_char, name: *const c_char, v: *const c_void, n: size_t, flags: c_int) -> c_int = at(libc::AT_FDCWD, path);
    /// removexattr(2)
    fn removexattr(path: *const c_char, name: *const c_char) -> c_int = at(libc::AT_FDCWD, path);
    /// lremovexattr(2)
    fn lremovexattr(path: *const c_char, name: *const c_char) -> c_int = at(libc::AT_FDCWD, path);
}

/// A metadata change through an fd: the program's fd (the primary's), then the secondary's
/// fd, or the secondary's path for OCBs without one (read-only opens, directories).
/// Journalled like any change (the intent stays open when the follower failed), and recorded
/// for a member that is away.
fn on_fd<T: FfiReturn>(fd: c_int, what: &str, op: impl Fn(c_int) -> T, by_path: impl Fn(&CStr) -> T) -> Res<T> {
    let Some(ocb) = fdtable::get(fd) else { return op(fd).into_res() };
    let rel = ocb.rel();
    let intent = crate::members::intent_begin(&rel);
    let r = op(fd).into_res().inspect_err(|_| crate::members::intent_end(intent))?;
    crate::members::record_change(&rel, None);
    let s = match ocb.secondary_fd() {
        Some(sfd) => op(sfd).into_res(),
        None => match super::follower_path(&rel) {
            Some(p) => by_path(&p).into_res(),
            None => Ok(r),
        },
    };
    if let Err(e) = s {
        crate::members::follower_failed(&rel, what, e, Some(&ocb))?;
        return Ok(r);
    }
    crate::members::intent_end(intent);
    Ok(r)
}

macro_rules! fd_meta_hooks {
    ($( $(#[$doc:meta])* fn $name:ident(fd: c_int $(, $arg:ident: $ty:ty)*) by_path $path_fn:ident $(($($parg:expr),*))?; )*) => {$(
        $(#[$doc])*
        #[no_mangle]
        pub unsafe extern "C" fn $name(fd: c_int $(, $arg: $ty)*) -> c_int {
            if !fdtable::is_shadowed(fd) {
                return raw::$name(fd $(, $arg)*);
            }
            boundary::hook(
                || on_fd(fd, stringify!($name), |f| raw::$name(f $(, $arg)*), |p| raw::$path_fn(p.as_ptr() $($(, $parg)*)? $(, $arg)*)),
                || raw::$name(fd $(, $arg)*),
            )
        }
    )*};
}

fd_meta_hooks! {
    /// fchmod(2)
    fn fchmod(fd: c_int, mode: mode_t) by_path chmod;
    /// fchown(2)
    fn fchown(fd: c_int, uid: uid_t, gid: gid_t) by_path chown;
    /// fsetxattr(2)
    fn fsetxattr(fd: c_int, name: *const c_char, v: *const c_void, n: size_t, flags: c_int) by_path setxattr;
    /// fremovexattr(2)
    fn fremovexattr(fd: c_int, name: *const c_char) by_path removexattr;
}

/// After a time change reached the primary, the secondary is given the primary's exact
/// times: "now" (NULL, UTIME_NOW) must not become two different nows.
fn copy_times_by_path(rel: &crate::resolve::Rel) -> c_int {
    let p = super::lead_path(rel);
    let Some(s) = super::follower_path(rel) else { return 0 };
    match real::lstat(&p).and_then(|st| real::utimensat(&s, &times_of(&st), libc::AT_SYMLINK_NOFOLLOW)) {
        Ok(_) => 0,
        Err(e) => {
            e.set();
            -1
        }
    }
}

fn times_by_path(rel: crate::resolve::Rel, set_primary: impl Fn(&CStr) -> c_int) -> Res<c_int> {
    let r = set_primary(&super::lead_path(&rel)).into_res()?;
    crate::members::record_change(&rel, None);
    if copy_times_by_path(&rel) != 0 {
        crate::members::follower_failed(&rel, "utimes", Errno::last(), None)?;
    }
    Ok(r)
}

fn times_by_fd(fd: c_int, set_primary: impl Fn() -> c_int) -> Res<c_int> {
    let Some(ocb) = fdtable::get(fd) else { return set_primary().into_res() };
    let r = set_primary().into_res()?;
    let copied = match ocb.secondary_fd() {
        Some(sfd) => real::fstat(fd).and_then(|st| real::futimens(sfd, &times_of(&st))).map(drop),
        None if copy_times_by_path(&ocb.rel()) == 0 => Ok(()),
        None => Err(Errno::last()),
    };
    if let Err(e) = copied {
        crate::members::follower_failed(&ocb.rel(), "utimes", e, Some(&ocb))?;
    }
    Ok(r)
}

macro_rules! path_times_hooks {
    ($( $(#[$doc:meta])* fn $name:ident(path: *const c_char, $targ:ident: $tty:ty); )*) => {$(
        $(#[$doc])*
        #[no_mangle]
        pub unsafe extern "C" fn $name(path: *const c_char, $targ: $tty) -> c_int {
            let call = |path: *const c_char| raw::$name(path, $targ);
            path_hook(libc::AT_FDCWD, path, |rel| times_by_path(rel, |p| call(p.as_ptr())), call)
        }
    )*};
}

path_times_hooks! {
    /// utime(2)
    fn utime(path: *const c_char, times: *const libc::utimbuf);
    /// utimes(2)
    fn utimes(path: *const c_char, times: *const libc::timeval);
    /// lutimes(3)
    fn lutimes(path: *const c_char, times: *const libc::timeval);
}

/// utimensat(2); a NULL path means the fd itself (how futimens is built).
#[no_mangle]
pub unsafe extern "C" fn utimensat(dirfd: c_int, path: *const c_char, times: *const libc::timespec, flags: c_int) -> c_int {
    let call = |path: *const c_char| raw::utimensat(dirfd, path, times, flags);
    let on_fd_itself = path.is_null() || (flags & libc::AT_EMPTY_PATH != 0 && *path == 0);
    if on_fd_itself {
        if !fdtable::is_shadowed(dirfd) {
            return call(path);
        }
        return boundary::hook(|| times_by_fd(dirfd, || call(path)), || call(path));
    }
    path_hook(dirfd, path, |rel| times_by_path(rel, |p| call(p.as_ptr())), call)
}

/// futimens(3)
#[no_mangle]
pub unsafe extern "C" fn futimens(fd: c_int, times: *const libc::timespec) -> c_int {
    if !fdtable::is_shadowed(fd) {
        return raw::futimens(fd, times);
    }
    boundary::hook(|| times_by_fd(fd, || raw::futimens(fd, times)), || raw::futimens(fd, times))
}

/// futimes(3)
#[no_mangle]
pub unsafe extern "C" fn futimes(fd: c_int, times: *const libc::timeval) -> c_int {
    if !fdtable::is_shadowed(fd) {
        return raw::futimes(fd, times);
    }
    boundary::hook(|| times_by_fd(fd, || raw::futimes(fd, times)), || raw::futimes(fd, times))
}

/// fchownat(2); AT_EMPTY_PATH with an empty path means the fd itself.
#[no_mangle]
pub unsafe extern "C" fn fchownat(dirfd: c_int, path: *const c_char, uid: uid_t, gid: gid_t, flags: c_int) -> c_int {
    let call = |path: *const c_char| raw::fchownat(dirfd, path, uid, gid, flags);
    if flags & libc::AT_EMPTY_PATH != 0 && !path.is_null() && *path == 0 {
        if !fdtable::is_shadowed(dirfd) {
            return call(path);
        }
        return boundary::hook(|| on_fd(dirfd, "fchownat", |f| raw::fchown(f, uid, gid), |p| raw::chown(p.as_ptr(), uid, gid)), || call(path));
    }
    path_hook(dirfd, path, |rel| on_members("fchownat", &rel, |p| call(p.as_ptr())), call)
}

/// Declares read-side hooks: a shadowed path is answered by the primary's file.
macro_rules! primary_hooks {
    ($( fn $name:ident($($arg:ident: $ty:ty),*) -> $ret:ty = at($dirfd:expr, $path:ident); )*) => {$(
        /// Read-side call answered by the primary member.
        #[no_mangle]
        pub unsafe extern "C" fn $name($($arg: $ty),*) -> $ret {
            let call = |$path: *const c_char| raw::$name($($arg),*);
            path_hook($dirfd, $path, |rel| super::on_lead(&rel, stringify!($name), |p| call(p.as_ptr())), call)
        }
    )*};
}

primary_hooks! {
    fn stat(path: *const c_char, buf: *mut libc::stat) -> c_int = at(libc::AT_FDCWD, path);
    fn stat64(path: *const c_char, buf: *mut libc::stat64) -> c_int = at(libc::AT_FDCWD, path);
    fn lstat(path: *const c_char, buf: *mut libc::stat) -> c_int = at(libc::AT_FDCWD, path);
    fn lstat64(path: *const c_char, buf: *mut libc::stat64) -> c_int = at(libc::AT_FDCWD, path);
    fn fstatat(dirfd: c_int, path: *const c_char, buf: *mut libc::stat, flags: c_int) -> c_int = at(dirfd, path);
    fn fstatat64(dirfd: c_int, path: *const c_char, buf: *mut libc::stat64, flags: c_int) -> c_int = at(dirfd, path);
    fn __xstat(ver: c_int, path: *const c_char, buf: *mut libc::stat) -> c_int = at(libc::AT_FDCWD, path);
    fn __xstat64(ver: c_int, path: *const c_char, buf: *mut libc::stat64) -> c_int = at(libc::AT_FDCWD, path);
    fn __lxstat(ver: c_int, path: *const c_char, buf: *mut libc::stat) -> c_int = at(libc::AT_FDCWD, path);
    fn __lxstat64(ver: c_int, path: *const c_char, buf: *mut libc::stat64) -> c_int = at(libc::AT_FDCWD, path);
    fn __fxstatat(ver: c_int, dirfd: c_int, path: *const c_char, buf: *mut libc::stat, flags: c_int) -> c_int = at(dirfd, path);
    fn __fxstatat64(ver: c_int, dirfd: c_int, path: *const c_char, buf: *mut libc::stat64, flags: c_int) -> c_int = at(dirfd, path);
    fn statx(dirfd: c_int, path: *const c_char, flags: c_int, mask: c_uint, buf: *mut libc::statx) -> c_int = at(dirfd, path);
    fn statfs(path: *const c_char, buf: *mut libc::statfs) -> c_int = at(libc::AT_FDCWD, path);
    fn statfs64(path: *const c_char, buf: *mut libc::statfs64) -> c_int = at(libc::AT_FDCWD, path);
    fn statvfs(path: *const c_char, buf: *mut libc::statvfs) -> c_int = at(libc::AT_FDCWD, path);
    fn statvfs64(path: *const c_char, buf: *mut libc::statvfs64) -> c_int = at(libc::AT_FDCWD, path);
    fn access(path: *const c_char, mode: c_int) -> c_int = at(libc::AT_FDCWD, path);
    fn faccessat(dirfd: c_int, path: *const c_char, mode: c_int, flags: c_int) -> c_int = at(dirfd, path);
    fn euidaccess(path: *const c_char, mode: c_int) -> c_int = at(libc::AT_FDCWD, path);
    fn eaccess(path: *const c_char, mode: c_int) -> c_int = at(libc::AT_FDCWD, path);
    fn readlink(path: *const c_char, buf: *mut c_char, n: size_t) -> ssize_t = at(libc::AT_FDCWD, path);
    fn readlinkat(dirfd: c_int, path: *const c_char, buf: *mut c_char, n: size_t) -> ssize_t = at(dirfd, path);
    fn getxattr(path: *const c_char, name: *const c_char, v: *mut c_void, n: size_t) -> ssize_t = at(libc::AT_FDCWD, path);
    fn lgetxattr(path: *const c_char, name: *const c_char, v: *mut c_void, n: size_t) -> ssize_t = at(libc::AT_FDCWD, path);
    fn listxattr(path: *const c_char, list: *mut c_char, n: size_t) -> ssize_t = at(libc::AT_FDCWD, path);
    fn llistxattr(path: *const c_char, list: *mut c_char, n: size_t) -> ssize_t = at(libc::AT_FDCWD, path);
}
