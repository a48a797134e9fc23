//! The exported hooks, one module per family. A hook is a thin adapter: it answers "not
//! ours" as cheaply as it can, and otherwise hands a typed call to the core (`ocb`,
//! `namespace` helpers) through `boundary::hook`.

pub mod data;
pub mod dir;
pub mod meta;
pub mod namespace;
pub mod open;
pub mod process;
pub mod stdio;
pub mod walk;

use crate::boundary::{self, FfiReturn};
use crate::real::Res;
use crate::resolve::{self, Rel, Target};
use crate::set;
use libc::{c_char, c_int};
use shadow_core::vpath;
use std::ffi::{CStr, CString};

/// An absolute path that neither starts with the prefix nor folds: certainly not ours,
/// decided without a lock or an allocation.
#[inline]
fn plainly_outside(p: &CStr) -> bool {
    let b = p.to_bytes();
    b.first() == Some(&b'/') && !b.starts_with(&set::get().prefix) && !vpath::has_dot_components(b)
}

/// Runs a hook taking one path (relative to `dirfd`). `shadowed` gets the path under the
/// prefix; `real` is the libc call, given the caller's path or a rewritten one.
#[inline]
pub(crate) fn path_hook<T: FfiReturn>(
    dirfd: c_int,
    path: *const c_char,
    shadowed: impl FnOnce(Rel) -> Res<T>,
    real: impl Fn(*const c_char) -> T,
) -> T {
    if path.is_null() || !set::is_active() {
        return real(path);
    }
    let p = unsafe { CStr::from_ptr(path) };
    if plainly_outside(p) {
        return real(path);
    }
    boundary::hook(
        || match resolve::resolve(dirfd, p) {
            Target::Outside => real(path).into_res(),
            Target::Rewritten(abs) => real(abs.as_ptr()).into_res(),
            Target::Shadowed(rel) => shadowed(rel),
        },
        || real(path),
    )
}

/// A path argument after resolution, for hooks with two paths (rename, link).
pub(crate) enum Arg {
    Keep,
    Path(CString),
    Shadowed(Rel),
}

pub(crate) fn resolve_arg(dirfd: c_int, path: *const c_char) -> Arg {
    if path.is_null() {
        return Arg::Keep;
    }
    match resolve::resolve(dirfd, unsafe { CStr::from_ptr(path) }) {
        Target::Outside => Arg::Keep,
        Target::Rewritten(p) => Arg::Path(p),
        Target::Shadowed(rel) => Arg::Shadowed(rel),
    }
}

impl Arg {
    pub(crate) fn ptr(&self, original: *const c_char) -> *const c_char {
        match self {
            Arg::Path(p) => p.as_ptr(),
            _ => original,
        }
    }
}

/// The real path of `rel` in the lead member (reads, stat, the program's own fds).
pub(crate) fn lead_path(rel: &Rel) -> CString {
    let v = crate::members::view();
    v.path(v.lead, &rel.0)
}

/// Runs `op` on `rel` in the lead member; if the lead is found gone (and the policy allows),
/// the follower takes over and `op` runs there instead.
pub(crate) fn on_lead<T: FfiReturn>(rel: &Rel, what: &str, op: impl Fn(&CStr) -> T) -> Res<T> {
    match op(&lead_path(rel)).into_res() {
        Err(e) if crate::members::lead_failed(rel, what, e) => op(&lead_path(rel)).into_res(),
        r => r,
    }
}

/// The real path of `rel` in the follower, when one is being written.
pub(crate) fn follower_path(rel: &Rel) -> Option<CString> {
    let v = crate::members::view();
    v.follower.map(|m| v.path(m, &rel.0))
}

pub(crate) unsafe fn cstr<'a>(p: *const c_char) -> &'a [u8] {
    if p.is_null() { b"" } else { CStr::from_ptr(p).to_bytes() }
}

/// The shadowed fd a `/proc/self/fd/N`, `/proc/<pid>/fd/N`, `/dev/fd/N` or `/dev/std*`
/// path names, if any. Cheap for every other path: one byte compare.
pub(crate) fn proc_fd(path: *const c_char) -> Option<c_int> {
    if path.is_null() {
        return None;
    }
    let p = unsafe { CStr::from_ptr(path) }.to_bytes();
    if !p.starts_with(b"/proc/") && !p.starts_with(b"/dev/") {
        return None;
    }
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
            std::str::from_utf8(n).ok()?.parse().ok()?
        }
    };
    (crate::fdtable::is_shadowed(fd) && set::is_active()).then_some(fd)
}

/// A real path in the primary, back in virtual terms (other paths unchanged).
pub(crate) fn to_virtual(real: &[u8]) -> Vec<u8> {
    match crate::members::view().rel_in_any(real) {
        Some(rest) => vpath::join(&set::get().prefix, &rest),
        None => real.to_vec(),
    }
}
