//! The exported hooks, one module per family. A hook is a thin adapter: it answers "not
//! ours" as cheaply as it can, and otherwise hands a typed call to the core (`ocb`,
//! `namespace` helpers) through `boundary::hook`.

/// glibc's older public names of hooked functions (`__write` for `write`, `_IO_fdopen`
/// for `fdopen`…): a program that calls one directly is mirrored as through the hook
/// (before, `__write` to a shadowed file reached the primary alone, unreported).
macro_rules! aliases {
    ($( $alias:ident => $name:ident($($arg:ident: $ty:ty),*) -> $ret:ty; )*) => {$(
        #[doc = concat!("`", stringify!($name), "` under glibc's name `", stringify!($alias), "`.")]
        #[no_mangle]
        pub unsafe extern "C-unwind" fn $alias($($arg: $ty),*) -> $ret {
            $name($($arg),*)
        }
    )*};
}
pub(crate) use aliases;

pub mod data;
pub mod dir;
pub mod loader;
pub mod lock;
pub mod meta;
pub mod namespace;
pub mod open;
pub mod socket;
pub mod process;
pub mod signal;
pub mod stdio;
pub mod walk;
pub mod wide;

use crate::boundary::{self, FfiReturn};
use crate::fdtable;
use crate::real::Res;
use crate::resolve::{self, At, Spath, Target};
use crate::set;
use libc::{c_char, c_int};
use shadow_core::vpath;
use std::ffi::{CStr, CString};

/// A call that gives the calling thread a working directory or an fd table of its own, in
/// a process that has had a second thread: refused (-1, ENOSYS), reported as a call with
/// no mirrored form (00120). The shim follows one of each per process. None: the call may
/// go ahead (no set is active, or no other thread shares the shim with this one).
pub(crate) fn refused_in_threads(what: &str) -> Option<c_int> {
    if !set::is_active() || !crate::real::may_have_threads() {
        return None;
    }
    let _ = boundary::prepare(|| {
        crate::report::refused_in_threads(what);
        Some(())
    });
    crate::real::Errno(libc::ENOSYS).set();
    Some(-1)
}

/// An absolute path that neither starts with the prefix nor folds: certainly not ours,
/// decided without a lock or an allocation.
#[inline]
fn plainly_outside(p: &CStr) -> bool {
    let b = p.to_bytes();
    b.first() == Some(&b'/') && !b.starts_with(&set::get().prefix) && !vpath::has_dot_components(b) && !resolve::may_name_through_proc(b)
}

/// Runs a hook taking one path (relative to `dirfd`). `shadowed` gets the path under the
/// prefix; `real` is the libc call, given the caller's path or a rewritten one. A pointer
/// the kernel would refuse (NULL, unreadable, no NUL within PATH_MAX) goes to libc as it
/// is, so the program gets the kernel's EFAULT or ENAMETOOLONG.
#[inline]
pub(crate) fn path_hook<T: FfiReturn>(
    dirfd: c_int,
    path: *const c_char,
    shadowed: impl Fn(Spath) -> Res<T>,
    real: impl Fn(*const c_char) -> T,
) -> T {
    path_hook_or_lead(dirfd, path, false, false, |sp| shadowed(sp).map(Ok), real)
}

/// `path_hook` for a call that changes what its path names (or its directory's entries).
#[inline]
pub(crate) fn change_hook<T: FfiReturn>(
    dirfd: c_int,
    path: *const c_char,
    shadowed: impl Fn(Spath) -> Res<T>,
    real: impl Fn(*const c_char) -> T,
) -> T {
    path_hook_or_lead(dirfd, path, false, true, |sp| shadowed(sp).map(Ok), real)
}

/// `path_hook` whose `shadowed` may hand the call back as the lead's full path
/// (`Err(path)`), for `real` to make outside the shim (see open::open_shadowed_or_lead).
/// `follows`: the call follows a final symlink, so another process's `/proc/PID/fd/N` is
/// its file, a cwd link the directory (`resolve::followed_link`). `changes`: the call may
/// change a file or a directory's entries, looked at only for a path relative to a
/// directory number (`relative_passed_through`).
#[inline]
pub(crate) fn path_hook_or_lead<T: FfiReturn>(
    dirfd: c_int,
    path: *const c_char,
    follows: bool,
    changes: bool,
    shadowed: impl Fn(Spath) -> Res<Result<T, CString>>,
    real: impl Fn(*const c_char) -> T,
) -> T {
    if !set::is_active_for(path) {
        return real(path);
    }
    let before = (changes && dirfd >= 0).then(fdtable::relinks);
    let Some(p) = crate::mem::path(path) else { return real(path) };
    if relative_to_ours(dirfd, path) {
        crate::real::Errno(libc::EBADF).set();
        return T::FAILED;
    }
    let linked = follows && resolve::may_be_followed_link(p.to_bytes());
    if plainly_outside(p) && !linked {
        return real(path);
    }
    let target = || match linked.then(|| resolve::followed_link(p)).flatten() {
        Some(sp) => Target::Shadowed(sp),
        None => resolve::resolve(dirfd, p),
    };
    // Paths that are not ours are left to libc outside the shim: the call may block.
    boundary::hook_or_outside(
        || match target() {
            Target::Outside => Ok(Err(None)),
            Target::Rewritten(abs) => Ok(Err(Some(abs))),
            Target::Shadowed(sp) => through_links(shadowed(sp), target, |sp| shadowed(sp)).map(|r| r.map_err(Some)),
        },
        |abs: Option<CString>| {
            let passing = before.filter(|_| abs.is_none()).map(fdtable::Passing::checked);
            let r = real(abs.as_ref().map_or(path, |a| a.as_ptr()));
            relative_passed_through(dirfd, passing, r == T::FAILED);
            r
        },
        || real(path),
    )
}

/// A shadowed call's answer, or where the lead answered ENOENT and a symlink on the path
/// leads where a member's kernel cannot follow it (`Spath::through_links`: `/shadow/d`
/// stored verbatim), the answer of the same call made through where the link leads (a
/// path it takes out of the prefix: handed back for the call outside, `Err`). Before, every
/// call through an absolute symlink into the prefix failed ENOENT.
pub(crate) fn through_links<T>(
    first: Res<Result<T, CString>>,
    target: impl Fn() -> Target,
    shadowed: impl Fn(Spath) -> Res<Result<T, CString>>,
) -> Res<Result<T, CString>> {
    if !matches!(first, Err(crate::real::Errno(libc::ENOENT))) {
        return first;
    }
    let Target::Shadowed(sp) = target() else { return first };
    let mut answer = first;
    for t in sp.through_links().into_iter().flatten() {
        answer = match t? {
            Target::Shadowed(sp) => shadowed(sp),
            Target::Rewritten(abs) => Ok(Err(abs)),
            Target::Outside => return answer,
        };
        if !matches!(answer, Err(crate::real::Errno(libc::ENOENT))) {
            break;
        }
    }
    answer
}

/// Whether `path` is relative to `dirfd` and that is one of the shim's fds (a member root,
/// a follower's directory): to the program that number is not open (EBADF). Made, the
/// call reached that member alone.
pub(crate) fn relative_to_ours(dirfd: c_int, path: *const c_char) -> bool {
    dirfd >= 0 && open::programs_probe_of_ours(dirfd) && crate::mem::path(path).is_some_and(|p| p.to_bytes().first() != Some(&b'/'))
}

/// After a change made outside the shim relative to directory number `dirfd`, held by no
/// open of the shim's when it looked (`passing`: `fdtable::relinks()` taken first, and
/// again after the look): another thread's close and open (or dup2) may have made the
/// number a directory under the prefix meanwhile, and the call then changed its lead
/// alone (`fdtable::passed_through`). Before, helper-50's F2 repro left 1-13 entries a run
/// on one member, unreported.
#[inline]
pub(crate) fn relative_passed_through(dirfd: c_int, passing: Option<fdtable::Passing>, failed: bool) {
    if let Some(passing) = passing.filter(|_| !failed && dirfd >= 0) {
        fdtable::passed_through(dirfd, passing);
    }
}

/// A path argument after resolution, for hooks with two paths (rename, link) and for exec.
pub(crate) enum Arg {
    Keep,
    Path(CString),
    Shadowed(Spath),
}

/// `None` when the kernel would refuse the pointer itself (see `path_hook`).
pub(crate) fn resolve_arg(dirfd: c_int, path: *const c_char) -> Option<Arg> {
    let p = crate::mem::path(path)?;
    Some(match resolve::resolve(dirfd, p) {
        Target::Outside => Arg::Keep,
        Target::Rewritten(p) => Arg::Path(p),
        Target::Shadowed(sp) => Arg::Shadowed(sp),
    })
}

/// Whether a path names something under the prefix (for calls the shim refuses there).
pub(crate) fn is_shadowed_path(dirfd: c_int, path: *const c_char) -> bool {
    set::is_active() && boundary::prepare(|| Some(matches!(resolve_arg(dirfd, path)?, Arg::Shadowed(_)))).unwrap_or(false)
}

impl Arg {
    pub(crate) fn ptr(&self, original: *const c_char) -> *const c_char {
        match self {
            Arg::Path(p) => p.as_ptr(),
            _ => original,
        }
    }
}

/// Runs `op` on the path in the lead member; if the lead is found gone (and the policy
/// allows), the follower takes over and `op` runs there instead.
pub(crate) fn on_lead<T: FfiReturn>(sp: &Spath, what: &str, op: impl Fn(&At) -> T) -> Res<T> {
    on_lead_res(sp, what, |at| op(at).into_res())
}

/// Runs `op` on the path in the follower, when one is being written. An answer that says
/// another process's change has reached the lead but not yet the follower (no such entry,
/// exists…) is given a second try once every operation in flight has finished.
pub(crate) fn on_follower<T: FfiReturn>(sp: &Spath, op: impl Fn(&At) -> T) -> Option<Res<T>> {
    on_follower_res(sp, |at| op(at).into_res())
}

/// `on_follower` for an operation that reports its own failure.
pub(crate) fn on_follower_res<T>(sp: &Spath, op: impl Fn(&At) -> Res<T>) -> Option<Res<T>> {
    let once = || {
        let v = crate::members::view();
        let f = v.follower?;
        Some(sp.at(&v, f).and_then(|at| op(&at)))
    };
    crate::members::retry_racing(once(), once)
}

/// `on_lead` for an operation that reports its own failure.
pub(crate) fn on_lead_res<T>(sp: &Spath, what: &str, op: impl Fn(&At) -> Res<T>) -> Res<T> {
    let once = || {
        let v = crate::members::view();
        sp.at_lead(&v).and_then(|at| op(&at))
    };
    match once() {
        Err(e) if crate::members::lead_failed(crate::members::Changed::Path(sp), what, e) => once(),
        r => r,
    }
}

/// The lead member's file by its full path, for a call that hands the path on to another
/// program or to a later moment (exec, a spawn's file actions, glibc's tree walkers), when
/// the shim's fds may be gone or the path is shown back to the program.
pub(crate) fn lead_file(sp: &Spath) -> CString {
    let v = crate::members::view();
    match followable(sp.clone()) {
        Target::Rewritten(abs) => abs,
        Target::Shadowed(sp) => v.path(v.lead, &sp.rel().0),
        Target::Outside => v.path(v.lead, &sp.rel().0),
    }
}

/// `sp` as the lead's kernel can walk it, for a call made with the lead's path outside
/// `path_hook_or_lead` (which retries itself, see `through_links`): where it names nothing
/// on the lead and a symlink on its way leads where a member's kernel cannot follow it, the
/// place the link leads to, final link included. One stat of the path; the links are read
/// only when it names nothing.
pub(crate) fn followable(sp: Spath) -> Target {
    let v = crate::members::view();
    let missing = sp.at_lead(&v).is_ok_and(|at| crate::real::fstatat(at.fd, &at.path, 0).err() == Some(crate::real::Errno(libc::ENOENT)));
    if !missing {
        return Target::Shadowed(sp);
    }
    let [beneath, last] = sp.through_links();
    last.or(beneath).and_then(Result::ok).unwrap_or(Target::Shadowed(sp))
}

pub(crate) unsafe fn cstr<'a>(p: *const c_char) -> &'a [u8] {
    if p.is_null() { b"" } else { CStr::from_ptr(p).to_bytes() }
}

/// Another process's `/proc/PID/fd/N` to a file whose name was removed while it keeps
/// another (resolve::other_process_link_unnamed): `call` is made (the kernel changes the
/// lead's file alone) and, when it succeeds, reported (members::changed_unnamed). None for
/// any other path.
pub(crate) fn lead_only_unnamed<T: FfiReturn>(path: *const c_char, call: impl Fn() -> T) -> Option<T> {
    if !set::is_active_for(path) {
        return None;
    }
    let p = crate::mem::path(path).filter(|p| resolve::may_be_followed_link(p.to_bytes()))?;
    let removed = boundary::prepare(|| resolve::other_process_link_unnamed(p))?;
    Some(boundary::hook(
        || {
            let r = call().into_res()?;
            crate::members::changed_unnamed(&removed, "a change");
            Ok(r)
        },
        || call(),
    ))
}

/// The shadowed fd a `/proc/self/fd/N`, `/proc/<pid>/fd/N`, `/dev/fd/N` or `/dev/std*`
/// path names, if any. Cheap for every other path: one byte compare.
pub(crate) fn proc_fd(path: *const c_char) -> Option<c_int> {
    proc_fd_number(path).filter(|&fd| crate::fdtable::is_shadowed(fd))
}

/// The fd such a path names, whatever file it holds.
pub(crate) fn proc_fd_number(path: *const c_char) -> Option<c_int> {
    if !set::is_active_for(path) {
        return None;
    }
    let p = crate::mem::path(path)?.to_bytes();
    if !p.starts_with(b"/proc/") && !p.starts_with(b"/dev/") {
        return None;
    }
    let plain = resolve::proc_respelled(p);
    let p = plain.as_deref().unwrap_or(p);
    let fd = match p {
        b"/dev/stdin" => 0,
        b"/dev/stdout" => 1,
        b"/dev/stderr" => 2,
        _ => {
            let own = format!("/proc/{}/fd/", std::process::id());
            let n = p
                .strip_prefix(b"/proc/self/fd/")
                .or_else(|| p.strip_prefix(b"/dev/fd/"))
                .or_else(|| p.strip_prefix(own.as_bytes()))?;
            fd_number(n)?
        }
    };
    Some(fd)
}

/// An fd number as /proc names it: decimal digits, no sign, no leading zero (the kernel has
/// no `/proc/self/fd/03`).
pub(crate) fn fd_number(n: &[u8]) -> Option<c_int> {
    let canonical = !n.is_empty() && n.iter().all(u8::is_ascii_digit) && (n[0] != b'0' || n.len() == 1);
    canonical.then(|| std::str::from_utf8(n).ok()?.parse().ok()).flatten()
}

/// A real path in the primary, back in virtual terms (other paths unchanged).
pub(crate) fn to_virtual(real: &[u8]) -> Vec<u8> {
    match crate::members::view().rel_in_any(real) {
        Some(rest) => vpath::join(&set::get().prefix, &rest),
        None => real.to_vec(),
    }
}
