//! Namespace changes: mkdir, rmdir, unlink, rename, link, symlink, mknod/mkfifo, remove,
//! and the mkstemp/mkdtemp family (whose glibc versions open with internal calls).

use super::{follower_path, lead_path, path_hook, resolve_arg, Arg};
use crate::boundary::{self, FfiReturn};
use crate::fdtable;
use crate::real::{raw, Errno, Res};
use crate::resolve::{self, Rel, Target};
use crate::set;
use libc::{c_char, c_int, c_uint, mode_t};
use std::ffi::{CStr, CString};

/// Applies a change to both members by path. The program sees the primary's result; a
/// secondary that fails where the primary succeeded is reported at once.
pub fn on_members<T: FfiReturn>(what: &str, rel: &Rel, op: impl Fn(&CStr) -> T) -> Res<T> {
    let intent = crate::members::intent_begin(rel);
    let r = super::on_lead(rel, what, &op).inspect_err(|_| crate::members::intent_end(intent))?;
    crate::members::record_change(rel, None);
    if let Some(f) = follower_path(rel) {
        if let Err(e) = op(&f).into_res() {
            crate::members::follower_failed(rel, what, e, None)?;
            return Ok(r);
        }
    }
    crate::members::intent_end(intent);
    Ok(r)
}

fn on_members2<T: FfiReturn>(what: &str, a: &Rel, b: &Rel, op: impl Fn(&CStr, &CStr) -> T) -> Res<T> {
    let (ia, ib) = (crate::members::intent_begin(a), crate::members::intent_begin(b));
    let r = match op(&lead_path(a), &lead_path(b)).into_res() {
        Err(e) if crate::members::lead_failed(b, what, e) => op(&lead_path(a), &lead_path(b)).into_res(),
        r => r,
    }
    .inspect_err(|_| {
        crate::members::intent_end(ia);
        crate::members::intent_end(ib);
    })?;
    crate::members::record_change(a, None);
    crate::members::record_change(b, None);
    if let (Some(fa), Some(fb)) = (follower_path(a), follower_path(b)) {
        if let Err(e) = op(&fa, &fb).into_res() {
            crate::members::follower_failed(b, what, e, None)?;
            return Ok(r);
        }
    }
    crate::members::intent_end(ia);
    crate::members::intent_end(ib);
    Ok(r)
}

/// Declares hooks that change one path on both members.
macro_rules! mirror_hooks {
    ($( $(#[$doc:meta])* fn $name:ident($($arg:ident: $ty:ty),*) -> $ret:ty = at($dirfd:expr, $path:ident); )*) => {$(
        $(#[$doc])*
        #[no_mangle]
        pub unsafe extern "C" fn $name($($arg: $ty),*) -> $ret {
            let call = |$path: *const c_char| raw::$name($($arg),*);
            path_hook($dirfd, $path, |rel| on_members(stringify!($name), &rel, |p| call(p.as_ptr())), call)
        }
    )*};
}
pub(crate) use mirror_hooks;

mirror_hooks! {
    /// mkdir(2)
    fn mkdir(path: *const c_char, mode: mode_t) -> c_int = at(libc::AT_FDCWD, path);
    /// mkdirat(2)
    fn mkdirat(dirfd: c_int, path: *const c_char, mode: mode_t) -> c_int = at(dirfd, path);
    /// rmdir(2)
    fn rmdir(path: *const c_char) -> c_int = at(libc::AT_FDCWD, path);
    /// unlink(2)
    fn unlink(path: *const c_char) -> c_int = at(libc::AT_FDCWD, path);
    /// unlinkat(2)
    fn unlinkat(dirfd: c_int, path: *const c_char, flags: c_int) -> c_int = at(dirfd, path);
    /// mknod(2): FIFOs and device nodes exist in both members; their I/O is the primary's.
    fn mknod(path: *const c_char, mode: mode_t, dev: libc::dev_t) -> c_int = at(libc::AT_FDCWD, path);
    /// mknodat(2)
    fn mknodat(dirfd: c_int, path: *const c_char, mode: mode_t, dev: libc::dev_t) -> c_int = at(dirfd, path);
    /// mkfifo(3)
    fn mkfifo(path: *const c_char, mode: mode_t) -> c_int = at(libc::AT_FDCWD, path);
    /// mkfifoat(3)
    fn mkfifoat(dirfd: c_int, path: *const c_char, mode: mode_t) -> c_int = at(dirfd, path);
}

/// symlink(2): the target is stored verbatim in both members.
#[no_mangle]
pub unsafe extern "C" fn symlink(target: *const c_char, path: *const c_char) -> c_int {
    let call = |path: *const c_char| raw::symlink(target, path);
    path_hook(libc::AT_FDCWD, path, |rel| on_members("symlink", &rel, |p| call(p.as_ptr())), call)
}

/// symlinkat(2)
#[no_mangle]
pub unsafe extern "C" fn symlinkat(target: *const c_char, dirfd: c_int, path: *const c_char) -> c_int {
    let call = |path: *const c_char| raw::symlinkat(target, dirfd, path);
    path_hook(dirfd, path, |rel| on_members("symlinkat", &rel, |p| call(p.as_ptr())), call)
}

/// remove(3): glibc's calls unlink and rmdir internally, out of the hooks' sight.
#[no_mangle]
pub unsafe extern "C" fn remove(path: *const c_char) -> c_int {
    path_hook(
        libc::AT_FDCWD,
        path,
        |rel| {
            let is_dir = crate::real::lstat(&lead_path(&rel)).map(|st| st.st_mode & libc::S_IFMT == libc::S_IFDIR);
            if is_dir? {
                on_members("remove", &rel, |p| raw::rmdir(p.as_ptr()))
            } else {
                on_members("remove", &rel, |p| raw::unlink(p.as_ptr()))
            }
        },
        |p| raw::remove(p),
    )
}

/// Hooks with two paths: both ours → both members; one ours → EXDEV, as between two file
/// systems (mv then copies, through the hooks); neither → libc.
unsafe fn two_paths(
    what: &str,
    da: c_int,
    a: *const c_char,
    db: c_int,
    b: *const c_char,
    call: impl Fn(*const c_char, *const c_char) -> c_int,
) -> c_int {
    if !set::is_active() {
        return call(a, b);
    }
    boundary::hook(
        || match (resolve_arg(da, a), resolve_arg(db, b)) {
            (Arg::Shadowed(ra), Arg::Shadowed(rb)) => on_members2(what, &ra, &rb, |pa, pb| call(pa.as_ptr(), pb.as_ptr())),
            (Arg::Shadowed(_), _) | (_, Arg::Shadowed(_)) => Err(Errno(libc::EXDEV)),
            (x, y) => call(x.ptr(a), y.ptr(b)).into_res(),
        },
        || call(a, b),
    )
}

/// rename(2)
#[no_mangle]
pub unsafe extern "C" fn rename(a: *const c_char, b: *const c_char) -> c_int {
    two_paths("rename", libc::AT_FDCWD, a, libc::AT_FDCWD, b, |a, b| raw::rename(a, b))
}

/// renameat(2)
#[no_mangle]
pub unsafe extern "C" fn renameat(da: c_int, a: *const c_char, db: c_int, b: *const c_char) -> c_int {
    two_paths("renameat", da, a, db, b, |a, b| raw::renameat(da, a, db, b))
}

/// renameat2(2), RENAME_NOREPLACE / RENAME_EXCHANGE / RENAME_WHITEOUT passed to both members.
/// A follower on a file system without rename flags (FUSE: sshfs) answers RENAME_NOREPLACE
/// with EINVAL; the lead has just done it without replacing, and the follower holds what the
/// lead holds, so a plain rename there does the same.
#[no_mangle]
pub unsafe extern "C" fn renameat2(da: c_int, a: *const c_char, db: c_int, b: *const c_char, flags: c_uint) -> c_int {
    two_paths("renameat2", da, a, db, b, |a, b| {
        let r = raw::renameat2(da, a, db, b, flags);
        if r == -1 && flags == libc::RENAME_NOREPLACE && Errno::last().0 == libc::EINVAL && crate::members::in_follower(CStr::from_ptr(a).to_bytes()) {
            return raw::renameat(da, a, db, b);
        }
        r
    })
}

/// link(2)
#[no_mangle]
pub unsafe extern "C" fn link(a: *const c_char, b: *const c_char) -> c_int {
    two_paths("link", libc::AT_FDCWD, a, libc::AT_FDCWD, b, |a, b| raw::link(a, b))
}

/// linkat(2), including giving an O_TMPFILE file its name.
#[no_mangle]
pub unsafe extern "C" fn linkat(da: c_int, a: *const c_char, db: c_int, b: *const c_char, flags: c_int) -> c_int {
    let call = |a: *const c_char, b: *const c_char| raw::linkat(da, a, db, b, flags);
    let src = super::cstr(a);
    let source_fd = if src.is_empty() && flags & libc::AT_EMPTY_PATH != 0 { Some(da).filter(|&fd| fdtable::is_shadowed(fd)) } else { super::proc_fd(a) };
    let Some(sfd_of) = source_fd else {
        return two_paths("linkat", da, a, db, b, call);
    };
    boundary::hook(
        || {
            let Target::Shadowed(rb) = resolve::resolve(db, CStr::from_ptr(b)) else { return Err(Errno(libc::EXDEV)) };
            let ocb = fdtable::get(sfd_of).ok_or(Errno(libc::EBADF))?;
            let intent = crate::members::intent_begin(&rb);
            let r = call(a, lead_path(&rb).as_ptr()).into_res().inspect_err(|_| crate::members::intent_end(intent))?;
            crate::members::record_change(&rb, None);
            let Some(dest) = follower_path(&rb) else {
                crate::members::intent_end(intent);
                return Ok(r);
            };
            let secondary = match ocb.secondary_fd() {
                Some(sfd) if src.is_empty() => raw::linkat(sfd, a, libc::AT_FDCWD, dest.as_ptr(), flags).into_res(),
                Some(sfd) => {
                    let proc = CString::new(format!("/proc/self/fd/{sfd}")).unwrap_or_default();
                    raw::linkat(libc::AT_FDCWD, proc.as_ptr(), libc::AT_FDCWD, dest.as_ptr(), flags).into_res()
                }
                None => Err(Errno(libc::EBADF)),
            };
            if let Err(e) = secondary {
                crate::members::follower_failed(&rb, "linkat", e, None)?;
                return Ok(r);
            }
            crate::members::intent_end(intent);
            Ok(r)
        },
        || call(a, b),
    )
}

/// Fills the `XXXXXX` of a template with fresh letters, as mkstemp does.
fn fill_template(t: &mut [u8], suffix: usize) -> Res<()> {
    const CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let end = t.len().checked_sub(suffix).ok_or(Errno(libc::EINVAL))?;
    let start = end.checked_sub(6).ok_or(Errno(libc::EINVAL))?;
    if &t[start..end] != b"XXXXXX" {
        return Err(Errno(libc::EINVAL));
    }
    let mut rnd = [0u8; 6];
    unsafe { libc::getrandom(rnd.as_mut_ptr().cast(), 6, 0) };
    for (slot, r) in t[start..end].iter_mut().zip(rnd) {
        *slot = CHARS[r as usize % CHARS.len()];
    }
    Ok(())
}

/// mkstemp and friends on a shadowed template: try names until one is free on the primary.
unsafe fn make_temp(template: *mut c_char, suffix: c_int, create: impl Fn(Rel) -> Res<c_int>) -> Res<c_int> {
    let len = libc::strlen(template);
    let t = std::slice::from_raw_parts_mut(template as *mut u8, len);
    let original = t.to_vec();
    for _ in 0..100 {
        fill_template(t, suffix.max(0) as usize)?;
        let Target::Shadowed(rel) = resolve::resolve(libc::AT_FDCWD, CStr::from_ptr(template)) else { return Err(Errno(libc::EINVAL)) };
        match create(rel) {
            Err(Errno(libc::EEXIST)) => t.copy_from_slice(&original),
            other => return other,
        }
    }
    Err(Errno(libc::EEXIST))
}

macro_rules! mkstemp_hooks {
    ($( fn $name:ident($($arg:ident: $ty:ty),*) => ($suffix:expr, $flags:expr); )*) => {$(
        /// mkstemp(3) family
        #[no_mangle]
        pub unsafe extern "C" fn $name(template: *mut c_char $(, $arg: $ty)*) -> c_int {
            let call = |_: *const c_char| raw::$name(template $(, $arg)*);
            path_hook(libc::AT_FDCWD, template, |_| make_temp(template, $suffix, |rel| {
                let flags = libc::O_RDWR | libc::O_CREAT | libc::O_EXCL | ($flags & !libc::O_ACCMODE);
                super::open::open_shadowed(rel, flags, 0o600)
            }), call)
        }
    )*};
}

mkstemp_hooks! {
    fn mkstemp() => (0, 0);
    fn mkstemp64() => (0, 0);
    fn mkostemp(flags: c_int) => (0, flags);
    fn mkostemp64(flags: c_int) => (0, flags);
    fn mkstemps(suffix: c_int) => (suffix, 0);
    fn mkstemps64(suffix: c_int) => (suffix, 0);
    fn mkostemps(suffix: c_int, flags: c_int) => (suffix, flags);
    fn mkostemps64(suffix: c_int, flags: c_int) => (suffix, flags);
}

/// mkdtemp(3)
#[no_mangle]
pub unsafe extern "C" fn mkdtemp(template: *mut c_char) -> *mut c_char {
    let call = |_: *const c_char| raw::mkdtemp(template);
    path_hook(
        libc::AT_FDCWD,
        template,
        |_| {
            make_temp(template, 0, |rel| on_members("mkdtemp", &rel, |p| raw::mkdir(p.as_ptr(), 0o700)))?;
            Ok(template)
        },
        call,
    )
}
